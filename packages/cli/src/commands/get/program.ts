/** Command line of `token-get` (oidc-token compatible where the options overlap). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError, ExitCode, processIo, runAction, type Io } from '../../output.js';
import { btConflict, btMode, exportNames, isShellVarName, outputMode } from './modes.js';
import { run, type GetOptions } from './run.js';

export function parseSeconds(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number of seconds');
  return Number(value);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The oidc-token options with an optional `=VAR`, by long name, and the hidden option that carries VAR. */
const OPTIONAL_VAR: Record<string, string> = { '--token': '--token-var', '--issuer': '--issuer-var', '--expires-at': '--expires-at-var' };
const SHORT_OPTIONAL_VAR: Record<string, string> = { o: '--token-var', i: '--issuer-var', e: '--expires-at-var' };
/** Options whose value is the next argument (it is not rewritten). */
const TAKES_VALUE = new Set(['-s', '--scope', '--aud', '--audience', '-t', '--min-valid', '--time', '--name', '--bt-file']);

/**
 * Rewrites oidc-token's optional-value options (argp's rules) into forms commander can parse:
 * `--token=VAR` → `--token --token-var=VAR`; `-oVAR` → `-o --token-var=VAR` (the rest of a
 * short-option cluster after o, i or e is the name, so `-oie` names the variable "ie", as in
 * oidc-token); a bare `-o` / `--token` never takes the next argument.
 */
export function normalizeArgv(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (TAKES_VALUE.has(arg)) {
      out.push(arg);
      if (i + 1 < args.length) out.push(args[++i]!);
      continue;
    }
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0 && OPTIONAL_VAR[arg.slice(0, eq)] !== undefined) {
      out.push(arg.slice(0, eq), `${OPTIONAL_VAR[arg.slice(0, eq)]}=${arg.slice(eq + 1)}`);
      continue;
    }
    if (/^-[^-]/.test(arg)) {
      let done = false;
      for (let k = 1; k < arg.length && !done; k++) {
        const c = arg[k]!;
        if (c === 's' || c === 't') {
          // Its value is the rest of the cluster, or the next argument.
          if (k === arg.length - 1 && i + 1 < args.length) {
            out.push(arg, args[++i]!);
            done = true;
          }
          break;
        }
        const hidden = SHORT_OPTIONAL_VAR[c];
        if (hidden !== undefined && k < arg.length - 1) {
          out.push(arg.slice(0, k + 1), `${hidden}=${arg.slice(k + 1)}`);
          done = true;
        }
      }
      if (done) continue;
    }
    out.push(arg);
  }
  return out;
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
    .addOption(new Option('-o, --token', 'print the token (the default); -oVAR / --token=VAR: as the sh export VAR (as oidc-token)'))
    .option('--bearer', 'print "Bearer <token>"')
    .option('--auth-header', 'print "Authorization: Bearer <token>" (no newline, as oidc-token)')
    .option('-i, --issuer', 'print the issuer; -iVAR / --issuer=VAR: as the sh export VAR (default OIDC_ISS)')
    .option('-e, --expires-at', 'print the expiry time of the token (Unix seconds); -eVAR / --expires-at=VAR: as the sh export VAR (default OIDC_EXP)')
    .addOption(new Option('--token-var <name>').hideHelp())
    .addOption(new Option('--issuer-var <name>').hideHelp())
    .addOption(new Option('--expires-at-var <name>').hideHelp())
    .option('--id-token', 'print an id token instead of an access token (the agent asks for a confirmation unless always allowed)')
    .option('--watch', 'have the agent keep a valid token in the bearer-token file (WLCG discovery) until --unwatch; -t: seconds it keeps at least (default 60)')
    .option('--unwatch', 'stop keeping the bearer-token file; it is removed')
    .option('--bt', 'write a token to the bearer-token file once')
    .option('--bt-file <path>', 'that file instead of $BEARER_TOKEN_FILE, else $XDG_RUNTIME_DIR/bt_u$UID, else /tmp/bt_u$UID')
    .addHelpText('after', '\nOf -o, -i and -e: one prints its value alone; several, or one with =VAR, print sh export lines (OIDC_AT, OIDC_ISS, OIDC_EXP unless named).\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent, 4 account not loaded/unknown, 6 re-authentication needed.')
    .showHelpAfterError('(add --help for usage)')
    .action((target: string, o: { scope: string[]; aud: string[]; audience: string[]; minValid?: number; time?: number; forceNew?: boolean; name: string; env?: boolean; json?: boolean; bearer?: boolean; authHeader?: boolean; all?: boolean; token?: boolean; idToken?: boolean; issuer?: boolean; expiresAt?: boolean; tokenVar?: string; issuerVar?: string; expiresAtVar?: string; watch?: boolean; unwatch?: boolean; bt?: boolean; btFile?: string }) => {
      for (const [option, name] of [['-o/--token', o.tokenVar], ['-i/--issuer', o.issuerVar], ['-e/--expires-at', o.expiresAtVar]] as const) {
        if (name !== undefined && !isShellVarName(name)) throw new CliError(`${option}=VAR: VAR must be a shell variable name (letters, digits and _, not starting with a digit)`, ExitCode.usage);
      }
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
      if (options.output === 'env') options.exports = exportNames(o);
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
    program.parse([...argv.slice(0, 2), ...normalizeArgv(argv.slice(2))]);
    if (options !== undefined) await run(options, io);
  });
}
