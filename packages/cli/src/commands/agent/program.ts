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
    .option('--always-allow-idtoken', 'id_token requests need no confirmation (as oidc-agent)')
    .option('--always-allow-mytoken', 'new sub-mytokens (the mytoken request) need no confirmation (oidc-agent always asks)')
    .option('--no-autoload', 'token-get does not load an account that is not loaded (it tells to run token-add instead)')
    .option('-d, --console', 'run the agent in the foreground, logging to stderr (print the exports first); Ctrl-C stops it')
    .option('--restricted-socket <path>', 'also listen on PATH, serving only access_token (for --allow) and check: the socket to forward')
    .option('--allow <account[:scopes]>', 'on the restricted socket: ACCOUNT, optionally only SCOPE,SCOPE… (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--forward', 'print the ssh options that forward the (restricted) agent socket to a remote host, and the remote environment')
    .option('--ssh-host <host>', 'with --forward: the ssh host (default: HOST)')
    .option('--remote-socket <path>', 'with --forward: the socket path on the remote host (default /tmp/token-agent-fwd-$USER.sock)')
    .option('--write-ssh-config', 'with --forward --ssh-host: add the forward to ~/.ssh/config')
    .option('--print-service [kind]', 'print a service definition that runs the agent on the default socket: systemd (user unit, default on Linux), socket (with a socket unit), launchd (macOS)')
    .option('--install-service [kind]', 'write that service definition (~/.config/systemd/user or ~/Library/LaunchAgents) and print how to enable it')
    .addOption(new Option('--completion <shell>', 'print the shell completion for all token-* commands').choices(['bash', 'zsh', 'fish']))
    .addOption(new Option('--log-level <level>', 'agent log level').choices(['debug', 'info', 'warn', 'error']))
    .passThroughOptions()
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent; with COMMAND: its exit code.')
    .showHelpAfterError('(add --help for usage)')
    .action((command: string[], o: Record<string, unknown>) => {
      const shell: Shell = o['csh'] ? 'csh' : o['fish'] ? 'fish' : (io.env['SHELL'] ?? '').endsWith('csh') && !o['sh'] ? 'csh' : 'sh';
      const confirm = o['confirm'] === true;
      const confirmCmd = o['confirmCmd'] as string | undefined;
      onOptions({
        action: o['kill'] ? 'kill' : o['status'] ? 'status' : o['console'] ? 'console' : o['completion'] !== undefined ? 'completion' : o['forward'] ? 'forward' : o['printService'] !== undefined || o['installService'] !== undefined ? 'service' : command.length > 0 ? 'run' : 'start',
        shell,
        json: o['json'] === true,
        quiet: o['quiet'] === true,
        lifetime: o['lifetime'] as number | undefined,
        socketPath: o['socketPath'] as string | undefined,
        logLevel: o['logLevel'] as string | undefined,
        command,
        confirm,
        confirmCmd,
        alwaysAllowIdToken: o['alwaysAllowIdtoken'] === true,
        alwaysAllowMytoken: o['alwaysAllowMytoken'] === true,
        autoload: o['autoload'] !== false,
        restrictedSocket: o['restrictedSocket'] as string | undefined,
        allow: o['allow'] as string[] | undefined,
        sshHost: o['sshHost'] as string | undefined,
        remoteSocket: o['remoteSocket'] as string | undefined,
        writeSshConfig: o['writeSshConfig'] === true,
        serviceKind: o['installService'] ?? o['printService'],
        installService: o['installService'] !== undefined,
        completion: o['completion'] as string | undefined,
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
