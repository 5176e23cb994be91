/** Command line of `token-gen` (oidc-gen compatible where the options overlap). */
import { Command, Option } from 'commander';
import { CliError, ExitCode, processIo, runAction, type Io } from '../../output.js';
import { addPasswordOptions, passwordOptionsFrom } from '../../passwords.js';
import { run, type Flow, type GenOptions } from './run.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function createProgram(onOptions: (o: GenOptions) => void, io: Io = processIo): Command {
  const cmd = new Command('token-gen')
    .description('Create an account: register a client at the OP, log in, store the refresh token encrypted.')
    .argument('[name]', 'account short name')
    .option('--issuer <url>', 'the OpenID Provider (issuer URL)')
    .addOption(new Option('-w, --flow <flow>', 'how to log in').choices(['device', 'password', 'refresh']).default('device'))
    .option('-s, --scope <scope>', 'scope to request (repeatable; "max" = all the OP offers)', collect, [])
    .option('--aud <aud>', 'audience to restrict tokens to (repeatable)', collect, [])
    .option('--client-id <id>', 'use this registered client instead of dynamic registration')
    .option('--client-secret <secret>', 'secret of --client-id (visible in the process list: prefer --client-secret-env)')
    .option('--client-secret-env <var>', 'read the client secret from this environment variable')
    .option('--username <name>', 'password flow: the user name at the OP')
    .option('--op-password-env <var>', 'password flow: read the OP password from this environment variable')
    .option('--op-password-file <file>', 'password flow: read the OP password from this file')
    .option('--rt-env [var]', 'refresh flow: read the refresh token from this environment variable (default OIDC_REFRESH_TOKEN)')
    .option('--rt-file <file>', 'refresh flow: read the refresh token from this file')
    .option('--no-qr', 'do not show a QR code for the device flow')
    .option('-l, --list', 'list configured accounts')
    .option('-p, --print', 'print the decrypted account configuration')
    .option('--show-secrets', 'with --print: include refresh token and client secret')
    .option('-d, --delete', 'revoke the refresh token at the OP and delete the account');
  return addPasswordOptions(cmd)
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent, 4 unknown account, 5 wrong password / no password source.')
    .showHelpAfterError('(add --help for usage)')
    .action((name: string | undefined, o: Record<string, unknown>) => {
      if (o['list']) return onOptions({ action: 'list' });
      if (name === undefined) throw new CliError('an account name is required (see --help)', ExitCode.usage);
      const password = passwordOptionsFrom(o);
      if (o['print']) return onOptions({ action: 'print', name, showSecrets: o['showSecrets'] === true, password });
      if (o['delete']) return onOptions({ action: 'delete', name, password });
      const issuer = o['issuer'] as string | undefined;
      if (issuer === undefined) throw new CliError('--issuer URL is required to create an account', ExitCode.usage);
      let flow = o['flow'] as Flow;
      if ((o['rtEnv'] !== undefined || o['rtFile'] !== undefined) && flow === 'device') flow = 'refresh';
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
        flow,
        scopes: o['scope'] as string[],
        audiences: o['aud'] as string[],
        clientId: o['clientId'] as string | undefined,
        clientSecret,
        username: o['username'] as string | undefined,
        opPasswordEnv: o['opPasswordEnv'] as string | undefined,
        opPasswordFile: o['opPasswordFile'] as string | undefined,
        rtEnv: o['rtEnv'] === true ? undefined : (o['rtEnv'] as string | undefined),
        rtFile: o['rtFile'] as string | undefined,
        password,
        qr: o['qr'] !== false,
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
