/** Command line of `token-get` (oidc-token compatible where the options overlap). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError, ExitCode, processIo, runAction, type Io } from '../../output.js';
import { btConflict, btMode, outputMode } from './modes.js';
import { run, type GetOptions } from './run.js';

export function parseSeconds(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number of seconds');
  return Number(value);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function createProgram(onOptions: (o: GetOptions) => void): Command {
  return new Command('token-get')
    .description('Print a valid access token for an account (or an issuer) from the running agent.')
    .argument('<account|issuer>', 'account short name, or an issuer URL (https://…)')
    .option('-s, --scope <scope>', 'request this scope (repeatable; space-separated lists allowed)', collect, [])
    .option('--aud <aud>', 'request this audience (repeatable)', collect, [])
    .addOption(new Option('--audience <aud>').argParser(collect).default([]).hideHelp())
    .option('-t, --min-valid <seconds>', 'the token must stay valid this long (alias --time)', parseSeconds)
    .addOption(new Option('--time <seconds>').argParser(parseSeconds).hideHelp())
    .option('-f, --force-new', 'always get a new token from the OP')
    .option('--name <app>', 'application name shown in the agent log', 'token-get')
    .option('-c, --env', 'print OIDC_AT, OIDC_ISS and OIDC_EXP as sh exports')
    .option('--json', 'print access_token, issuer and expires_at as JSON')
    .option('-a, --all', 'print the token, the issuer and the expiry time on three lines (as oidc-token)')
    .addOption(new Option('-o, --token', 'print the token (the default; as oidc-token)'))
    .option('--bearer', 'print "Bearer <token>"')
    .option('--auth-header', 'print "Authorization: Bearer <token>" (no newline, as oidc-token)')
    .option('-i, --issuer', 'print the issuer (with --expires-at: both as sh exports)')
    .option('-e, --expires-at', 'print the expiry time of the token (Unix seconds)')
    .option('--id-token', 'print an id token instead of an access token (the agent asks for a confirmation unless always allowed)')
    .option('--watch', 'have the agent keep a valid token in the bearer-token file (WLCG discovery) until --unwatch; -t: seconds it keeps at least (default 60)')
    .option('--unwatch', 'stop keeping the bearer-token file; it is removed')
    .option('--bt', 'write a token to the bearer-token file once')
    .option('--bt-file <path>', 'that file instead of $BEARER_TOKEN_FILE, else $XDG_RUNTIME_DIR/bt_u$UID, else /tmp/bt_u$UID')
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent, 4 account not loaded/unknown, 6 re-authentication needed.')
    .showHelpAfterError('(add --help for usage)')
    .action((target: string, o: { scope: string[]; aud: string[]; audience: string[]; minValid?: number; time?: number; forceNew?: boolean; name: string; env?: boolean; json?: boolean; bearer?: boolean; authHeader?: boolean; all?: boolean; token?: boolean; idToken?: boolean; issuer?: boolean; expiresAt?: boolean; watch?: boolean; unwatch?: boolean; bt?: boolean; btFile?: string }) => {
      const bt = btMode(o);
      if ('error' in bt) throw new CliError(bt.error, ExitCode.usage);
      const options: GetOptions = {
        target,
        scopes: o.scope,
        audiences: [...o.aud, ...o.audience],
        minValid: o.minValid ?? o.time,
        forceNew: o.forceNew === true,
        appName: o.name,
        output: outputMode(o),
        bt: bt.mode,
        btFile: o.btFile,
      };
      const conflict = btConflict(options);
      if (conflict !== undefined) throw new CliError(conflict, ExitCode.usage);
      if (o.idToken === true) {
        if (options.bt !== undefined || options.output !== 'token' || options.forceNew || options.audiences.length > 0) {
          throw new CliError('--id-token prints the id token alone: it goes only with -s/--scope and --name', ExitCode.usage);
        }
        options.idToken = true;
      }
      onOptions(options);
    });
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let options: GetOptions | undefined;
  const program = createProgram((o) => (options = o)).exitOverride();
  return runAction('token-get', io, async () => {
    program.parse(argv);
    if (options !== undefined) await run(options, io);
  });
}
