/** Command line of `token-add` (oidc-add compatible where the options overlap). */
import { Command, Option } from 'commander';
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
    .option('-a, --loaded', 'list accounts loaded in the agent (names; details on a terminal or with --long)')
    .option('--long', 'with --loaded: time left, last refresh and last error per account')
    .option('--json', 'with --loaded: the details as JSON')
    .option('-c, --confirm', 'every token request for this account needs a yes from the agent\'s prompt command')
    .option('-f, --force', 'load the account from its file even when it is loaded (replaces the loaded one, as oidc-add -f)')
    .option('--always-allow-idtoken', 'id-token requests for this account need no confirmation (as oidc-add)')
    .option('-x, --lock', 'lock the agent with a password (only unlock is served until then)')
    .option('-X, --unlock', 'unlock the agent')
    .option('--keyring', 'take the password from the OS keychain (and save it there after a successful load)')
    .addOption(new Option('--try-keyring').hideHelp());
  return addPasswordOptions(cmd)
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent, 4 unknown account, 5 wrong password / no password source, 6 re-authentication needed.')
    .showHelpAfterError('(add --help for usage)')
    .action((name: string | undefined, o: Record<string, unknown>) => {
      if (o['list']) return onOptions({ action: 'list' });
      if ((o['lock'] || o['unlock']) && name !== undefined) {
        // A password typed as an argument would already be in the process list: refuse it loudly.
        throw new CliError('--lock/--unlock take no argument: the password comes from the prompt or --pw-env/--pw-file/--pw-cmd', ExitCode.usage);
      }
      if (o['lock']) return onOptions({ action: 'lock', password: passwordOptionsFrom(o) });
      if (o['unlock']) return onOptions({ action: 'unlock', password: passwordOptionsFrom(o) });
      if (o['loaded']) {
        const tty = (process.stdout as { isTTY?: boolean }).isTTY === true;
        return onOptions({ action: 'loaded', format: o['json'] ? 'json' : o['long'] || tty ? 'long' : 'names' });
      }
      if (o['removeAll']) return onOptions({ action: 'remove-all' });
      if (name === undefined) throw new CliError('an account name is required (see --help)', ExitCode.usage);
      if (o['remove']) return onOptions({ action: 'remove', name });
      onOptions({
        action: 'add',
        name,
        lifetime: o['lifetime'] as number | undefined,
        confirm: o['confirm'] === true,
        ...(o['alwaysAllowIdtoken'] === true ? { alwaysAllowIdToken: true } : {}),
        ...(o['force'] === true ? { force: true } : {}),
        keyring: o['keyring'] ? 'use' : o['tryKeyring'] ? 'try' : false,
        password: passwordOptionsFrom(o),
      });
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
