/** Command line of `token-add` (oidc-add compatible where the options overlap). */
import { Command } from 'commander';
import { CliError, ExitCode, processIo, runAction, type Io } from '../../output.js';
import { addPasswordOptions, passwordOptionsFrom } from '../../passwords.js';
import { parseSeconds } from '../get/program.js';
import { run, type AddOptions } from './run.js';

export function createProgram(onOptions: (o: AddOptions) => void): Command {
  const cmd = new Command('token-add')
    .description('Load an account into the running agent (decrypts its file; asks for the password).')
    .argument('[name]', 'account short name')
    .option('-t, --lifetime <seconds>', 'unload the account after this many seconds', parseSeconds)
    .option('-r, --remove', 'unload the account from the agent')
    .option('-R, --remove-all', 'unload all accounts from the agent')
    .option('-l, --list', 'list configured accounts (account files)')
    .option('-a, --loaded', 'list accounts loaded in the agent');
  return addPasswordOptions(cmd)
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent, 4 unknown account, 5 wrong password / no password source, 6 re-authentication needed.')
    .showHelpAfterError('(add --help for usage)')
    .action((name: string | undefined, o: Record<string, unknown>) => {
      if (o['list']) return onOptions({ action: 'list' });
      if (o['loaded']) return onOptions({ action: 'loaded' });
      if (o['removeAll']) return onOptions({ action: 'remove-all' });
      if (name === undefined) throw new CliError('an account name is required (see --help)', ExitCode.usage);
      if (o['remove']) return onOptions({ action: 'remove', name });
      onOptions({ action: 'add', name, lifetime: o['lifetime'] as number | undefined, password: passwordOptionsFrom(o) });
    });
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let options: AddOptions | undefined;
  const program = createProgram((o) => (options = o)).exitOverride();
  return runAction('token-add', io, async () => {
    program.parse(argv);
    if (options !== undefined) await run(options, io);
  });
}
