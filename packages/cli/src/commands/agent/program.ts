/** Command line of `token-agent` (oidc-agent / ssh-agent style). */
import { Command, Option } from 'commander';
import { processIo, runAction, type Io } from '../../output.js';
import { parseSeconds } from '../get/program.js';
import { run, type AgentCliOptions, type Shell } from './run.js';

export function createProgram(onOptions: (o: AgentCliOptions) => void, io: Io = processIo): Command {
  return new Command('token-agent')
    .description('Start the token agent (or reuse a running one) and print the shell environment for it: eval $(token-agent)')
    .argument('[command...]', 'run COMMAND with the agent environment set; the agent stops when it exits')
    .option('-s, --sh', 'print sh/bash/zsh commands (default)')
    .option('-c, --csh', 'print csh/tcsh commands')
    .option('--fish', 'print fish commands')
    .option('--json', 'print socket and pid as JSON')
    .option('-q, --quiet', 'do not print "Agent pid N"')
    .option('-k, --kill', 'stop the agent the environment points at')
    .option('--status', 'show the status of the running agent')
    .option('-t, --lifetime <seconds>', 'default lifetime of loaded accounts (0 = until the agent stops)', parseSeconds)
    .option('-a, --socket-path <path>', 'listen on this socket path')
    .option('--confirm', 'every token request needs a yes from the prompt command (--confirm-cmd)')
    .option('--confirm-cmd <command>', 'confirmation prompt command (default $TOKEN_AGENT_CONFIRM_CMD); exit 0 = yes')
    .addOption(new Option('--log-level <level>', 'agent log level').choices(['debug', 'info', 'warn', 'error']))
    .passThroughOptions()
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent; with COMMAND: its exit code.')
    .showHelpAfterError('(add --help for usage)')
    .action((command: string[], o: Record<string, unknown>) => {
      const shell: Shell = o['csh'] ? 'csh' : o['fish'] ? 'fish' : (io.env['SHELL'] ?? '').endsWith('csh') && !o['sh'] ? 'csh' : 'sh';
      const confirm = o['confirm'] === true;
      const confirmCmd = o['confirmCmd'] as string | undefined;
      onOptions({
        action: o['kill'] ? 'kill' : o['status'] ? 'status' : command.length > 0 ? 'run' : 'start',
        shell,
        json: o['json'] === true,
        quiet: o['quiet'] === true,
        lifetime: o['lifetime'] as number | undefined,
        socketPath: o['socketPath'] as string | undefined,
        logLevel: o['logLevel'] as string | undefined,
        command,
        confirm,
        confirmCmd,
      });
    });
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let options: AgentCliOptions | undefined;
  let code = 0;
  const program = createProgram((o) => (options = o), io).exitOverride();
  const rc = await runAction('token-agent', io, async () => {
    program.parse(argv);
    if (options !== undefined) code = await run(options, io);
  });
  return rc !== 0 ? rc : code;
}
