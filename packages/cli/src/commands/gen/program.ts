/** Command line of `token-gen` (oidc-gen compatible where the options overlap). */
import { Command, Option } from 'commander';
import { CliError, ExitCode, processIo, runAction, type Io } from '../../output.js';
import { addPasswordOptions, passwordOptionsFrom, type PasswordOptions } from '../../passwords.js';
import { canOpenBrowser } from './browser.js';
import { run, type CreateOptions, type Flow, type GenOptions, type LoginOptions } from './run.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function port(value: string, previous: number[]): number[] {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n > 65535) throw new CliError(`--port must be a port number (0 = any free port), not '${value}'`, ExitCode.usage);
  return [...previous, n];
}

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n < 1) throw new CliError(`--timeout must be a number of seconds, not '${value}'`, ExitCode.usage);
  return n;
}

/** The flow when none is given: a refresh-token import, else the browser when one can be opened, else the device flow. */
export function defaultFlow(o: Record<string, unknown>, env: NodeJS.ProcessEnv): Flow {
  if (o['flow'] !== undefined) return o['flow'] as Flow;
  // A mytoken account logs in at its mytoken server, unless a mytoken is imported (--rt*) or a transfer code redeemed.
  if (o['mytoken'] !== undefined && o['rtEnv'] === undefined && o['rtFile'] === undefined && o['rt'] === undefined) return 'mytoken';
  if (o['rtEnv'] !== undefined || o['rtFile'] !== undefined || o['rt'] !== undefined) return 'refresh';
  if (o['username'] !== undefined) return 'password';
  return canOpenBrowser(env) ? 'code' : 'device';
}

export function createProgram(onOptions: (o: GenOptions) => void, io: Io = processIo): Command {
  const cmd = new Command('token-gen')
    .description('Create an account: register a client at the OP, log in, store the refresh token encrypted.')
    .argument('[name]', 'account short name')
    .option('--issuer <url>', 'the OpenID Provider (issuer URL)')
    .addOption(new Option('--iss <url>', 'alias of --issuer (oidc-gen)').hideHelp())
    .option('--scope-max', 'all the scopes the OP offers (as --scope max; alias --scope-all)')
    .addOption(new Option('--scope-all').hideHelp())
    .addOption(
      new Option('-w, --flow <flow>', 'how to log in (default: code when a browser can be opened, else device)').choices(['code', 'device', 'password', 'refresh']),
    )
    .option('-s, --scope <scope>', 'scope to request (repeatable; "max" = all the OP offers)', collect, [])
    .option('--aud <aud>', 'audience to restrict tokens to (repeatable)', collect, [])
    .option('--pub', "use the issuer's public client from the provider list (issuer.config) instead of registering one")
    .option('--client-id <id>', 'use this registered client instead of dynamic registration')
    .option('--client-secret <secret>', 'secret of --client-id (visible in the process list: prefer --client-secret-env)')
    .option('--client-secret-env <var>', 'read the client secret from this environment variable')
    .option('--username <name>', 'password flow: the user name at the OP')
    .addOption(new Option('--op-username <name>', 'alias of --username (oidc-gen)').hideHelp())
    .option('--op-password-env <var>', 'password flow: read the OP password from this environment variable')
    .option('--op-password-file <file>', 'password flow: read the OP password from this file')
    .option('--rt-env [var]', 'refresh flow: read the refresh token from this environment variable (default OIDC_REFRESH_TOKEN)')
    .option('--rt-file <file>', 'refresh flow: read the refresh token from this file')
    .option('--rt <->', 'refresh flow: --rt=- reads the refresh token from stdin (a token itself is refused: the process list would show it)')
    .addOption(new Option('--refresh-token <->', 'alias of --rt (oidc-gen)').hideHelp())
    .addOption(new Option('--refresh-token-env [var]', 'alias of --rt-env (oidc-gen)').hideHelp())
    .option('--only-at', 'print an access token from the login and store nothing (needs --client-id or --pub, as in oidc-gen)')
    .option('--no-save', 'load the new account into the agent but write no file: it is gone when the agent stops')
    .option('-m, --manual', 'no dynamic client registration: use --client-id/--client-secret-env or --pub (on a terminal, asks for the client id)')
    .option('--mytoken [url]', 'a mytoken account: log in at this mytoken server (default: oidc-gen.default_mytoken_server in the config file, else https://mytoken.data.kit.edu); with --rt-env/--rt-file an existing mytoken is imported')
    .addOption(new Option('--mytoken-issuer [url]', 'alias of --mytoken (oidc-gen)').hideHelp())
    .option('--mytoken-profile <profile>', "the account's mytoken: a JSON object (capabilities, restrictions, rotation, name…) or a server profile name (default capabilities: AT, create_mytoken, tokeninfo)")
    .option('--TC <code>', 'with --mytoken: redeem this transfer code (single use, minutes long) for the account\'s mytoken instead of logging in')
    .option('--TC-env <var>', 'as --TC, the transfer code read from this environment variable (keeps it out of the process list)')
    .option('--no-qr', 'do not show a QR code for the device flow')
    .option('--no-url-call', 'code flow: print the URL but do not open a browser')
    .option('--port <port>', 'code flow: redirect-listener port to try (repeatable; default 4242, 8080, 43985; 0 = any free port)', port, [])
    .option('--timeout <seconds>', `code flow: how long to wait for the browser (default 300)`, seconds)
    .option('--json', 'device flow: print the device-authorization fields as JSON on stdout')
    .option('--reauthenticate', 'log in again for an existing account: new refresh token, client and settings kept')
    .option('--rename <new-name>', 'rename an account (file and, if loaded, the agent)')
    .option('-u, --update', 're-encrypt an account file, e.g. under a new password')
    .option('--new-pw-env <var>', 'with --update: read the new encryption password from this environment variable')
    .option('--new-pw-file <file>', 'with --update: read the new encryption password from this file')
    .option('-l, --list', 'list configured accounts')
    .option('-p, --print', 'print the decrypted account configuration')
    .option('--show-secrets', 'with --print: include refresh token and client secret')
    .option('-d, --delete', 'revoke the refresh token at the OP and delete the account')
    .option('--keyring', 'save the encryption password in the OS keychain (with --print/--delete: read it from there; --delete also removes it)');
  return addPasswordOptions(cmd)
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent, 4 unknown account, 5 wrong password / no password source.')
    .showHelpAfterError('(add --help for usage)')
    .action((name: string | undefined, o: Record<string, unknown>) => {
      // oidc-gen's spellings.
      if (o['issuer'] === undefined && o['iss'] !== undefined) o['issuer'] = o['iss'];
      if (o['username'] === undefined && o['opUsername'] !== undefined) o['username'] = o['opUsername'];
      if (o['rt'] === undefined && o['refreshToken'] !== undefined) o['rt'] = o['refreshToken'];
      if (o['rtEnv'] === undefined && o['refreshTokenEnv'] !== undefined) o['rtEnv'] = o['refreshTokenEnv'];
      if (o['rt'] !== undefined && o['rt'] !== '-') {
        // Never echo the value: it is most likely a refresh token.
        throw new CliError(
          '--rt takes no refresh token on the command line (other users see it in the process list, and it stays in the shell history): use --rt=- to read it from stdin, --rt-env VAR or --rt-file FILE',
          ExitCode.usage,
        );
      }
      const onlyAt = o['onlyAt'] === true;
      const noSave = o['save'] === false;
      if (onlyAt || noSave) {
        const other = ['list', 'print', 'delete', 'rename', 'update', 'reauthenticate'].find((k) => o[k] !== undefined && o[k] !== false);
        if (other !== undefined) throw new CliError(`${onlyAt ? '--only-at' : '--no-save'} creates nothing to ${other}: it goes only with a new login`, ExitCode.usage);
        if (o['keyring']) throw new CliError(`${onlyAt ? '--only-at' : '--no-save'} stores no password: it does not go with --keyring`, ExitCode.usage);
        if (onlyAt && noSave) throw new CliError('--only-at already stores nothing: leave out --no-save', ExitCode.usage);
      }
      // --only-at needs no name: nothing is saved or loaded under it.
      if (onlyAt && name === undefined) name = 'only-at';
      if (o['scopeMax'] === true || o['scopeAll'] === true) o['scope'] = [...((o['scope'] as string[] | undefined) ?? []), 'max'];
      if (o['list']) return onOptions({ action: 'list' });
      if (name === undefined) throw new CliError('an account name is required (see --help)', ExitCode.usage);
      const password = passwordOptionsFrom(o);
      const keyring = o['keyring'] === true;
      if (o['print']) return onOptions({ action: 'print', name, showSecrets: o['showSecrets'] === true, password, keyring });
      if (o['delete']) return onOptions({ action: 'delete', name, password, keyring });
      if (o['rename'] !== undefined) return onOptions({ action: 'rename', name, newName: o['rename'] as string, password, keyring });
      if (o['update']) {
        const newPassword: PasswordOptions = {};
        if (o['newPwEnv'] !== undefined) newPassword.pwEnv = o['newPwEnv'] as string;
        if (o['newPwFile'] !== undefined) newPassword.pwFile = o['newPwFile'] as string;
        return onOptions({ action: 'update', name, password, keyring, newPassword });
      }
      const flow = defaultFlow(o, io.env);
      if (onlyAt && flow === 'refresh') {
        throw new CliError('--only-at does not go with a refresh-token import: a rotated refresh token would be lost (create the account, then use token-get)', ExitCode.usage);
      }
      const loginOptions: LoginOptions = {
        flow,
        qr: o['qr'] !== false,
        urlCall: o['urlCall'] !== false,
        ports: o['port'] as number[],
        timeout: o['timeout'] as number | undefined,
        json: o['json'] === true,
      };
      if (o['reauthenticate']) {
        return onOptions({
          action: 'reauthenticate',
          name,
          password,
          keyring,
          login: loginOptions,
          username: o['username'] as string | undefined,
          opPasswordEnv: o['opPasswordEnv'] as string | undefined,
          opPasswordFile: o['opPasswordFile'] as string | undefined,
        });
      }
      const issuer = o['issuer'] as string | undefined;
      if (o['pub'] && o['clientId'] !== undefined) throw new CliError('--pub and --client-id exclude each other', ExitCode.usage);
      if (onlyAt && !o['pub'] && o['clientId'] === undefined && !o['manual']) {
        throw new CliError('--only-at needs a registered client: --client-id (with --client-secret-env) or --pub; a client is not registered for one access token', ExitCode.usage);
      }
      let clientSecret = o['clientSecret'] as string | undefined;
      const secretEnv = o['clientSecretEnv'] as string | undefined;
      if (secretEnv !== undefined) {
        clientSecret = io.env[secretEnv];
        if (!clientSecret) throw new CliError(`environment variable ${secretEnv} holds no client secret`, ExitCode.usage);
      }
      onOptions({
        action: 'create',
        name,
        issuer,
        pub: o['pub'] === true,
        scopes: o['scope'] as string[],
        audiences: o['aud'] as string[],
        clientId: o['clientId'] as string | undefined,
        clientSecret,
        username: o['username'] as string | undefined,
        opPasswordEnv: o['opPasswordEnv'] as string | undefined,
        opPasswordFile: o['opPasswordFile'] as string | undefined,
        rtEnv: o['rtEnv'] === true ? undefined : (o['rtEnv'] as string | undefined),
        rtFile: o['rtFile'] as string | undefined,
        ...mytokenOptions(o, io),
        rtStdin: o['rt'] === '-',
        onlyAt,
        save: !noSave,
        manual: o['manual'] === true,
        password,
        keyring,
        ...loginOptions,
      });
    });
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let options: GenOptions | undefined;
  const program = createProgram((o) => (options = o), io).exitOverride();
  return runAction('token-gen', io, async () => {
    program.parse(argv);
    if (options !== undefined) await run(options, io);
  });
}

/** `--mytoken[=URL]`, `--mytoken-profile`, `--TC`, checked. */
function mytokenOptions(o: Record<string, unknown>, io: Io): Pick<CreateOptions, 'mytoken' | 'mytokenProfile' | 'transferCode'> {
  const env = io.env;
  const mt = o['mytoken'] ?? o['mytokenIssuer'];
  if (o['TCEnv'] !== undefined) {
    if (o['TC'] !== undefined) throw new CliError('--TC and --TC-env exclude each other', ExitCode.usage);
    const code = env[String(o['TCEnv'])]?.trim();
    if (!code) throw new CliError(`environment variable ${String(o['TCEnv'])} holds no transfer code`, ExitCode.usage);
    o['TC'] = code;
  }
  const out: Pick<CreateOptions, 'mytoken' | 'mytokenProfile' | 'transferCode'> = {};
  if (mt === undefined) {
    if (o['mytokenProfile'] !== undefined || o['TC'] !== undefined) throw new CliError('--mytoken-profile and --TC go with --mytoken', ExitCode.usage);
    return out;
  }
  if (o['onlyAt'] === true) throw new CliError('--only-at does not go with --mytoken: a mytoken is made to be kept (for a single access token, use a normal login with --only-at)', ExitCode.usage);
  out.mytoken = mt === true ? true : String(mt);
  if (o['mytokenProfile'] !== undefined) out.mytokenProfile = String(o['mytokenProfile']);
  if (o['TC'] !== undefined) out.transferCode = String(o['TC']);
  if (out.transferCode !== undefined && o['TCEnv'] === undefined) {
    // Whoever sees the process list could redeem it first, and so own the mytoken.
    io.stderr.write('token-gen: warning: a transfer code on the command line is visible to other users of this machine until redeemed; use --TC-env VAR\n');
  }
  for (const k of ['pub', 'clientId', 'username'] as const) if (o[k] !== undefined && o[k] !== false) throw new CliError(`--mytoken does not go with --${k === 'clientId' ? 'client-id' : k}: the mytoken server is the client`, ExitCode.usage);
  if (out.transferCode !== undefined && out.mytokenProfile !== undefined) throw new CliError('--TC redeems an existing mytoken: its profile was chosen when it was made (leave out --mytoken-profile)', ExitCode.usage);
  return out;
}
