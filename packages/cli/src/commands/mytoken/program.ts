/** Command line of `token-mytoken`. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError, ExitCode, processIo, runAction, type Io } from '../../output.js';
import { INFO_ACTIONS, TOKEN_TYPES, type InfoAction, type TokenType } from './request.js';
import type { ClauseOptions } from './restrictions.js';
import type { MytokenOptions } from './run.js';

// No default value ([]) on the repeatable options: commander would print "(default: [])" in --help.
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseTimeout(value: string): number {
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number of seconds ≥ 1');
  return Number(value);
}

/** What commander hands over: the single-clause options plus the rest. */
interface Raw extends ClauseOptions {
  at?: boolean;
  revoke?: boolean;
  recursive?: boolean;
  info?: InfoAction;
  MTFile?: string;
  MTEnv?: string;
  MTPrompt?: boolean;
  mytokenServer?: string;
  restriction?: string;
  capability?: string[];
  name?: string;
  tokenType?: TokenType;
  comment?: string;
  json?: boolean;
  ssh?: string;
  timeout: number;
}

/** Options → `MytokenOptions`; one mode at most. */
export function toOptions(account: string | undefined, o: Raw): MytokenOptions {
  const modes = [o.at && '--at', o.revoke && '--revoke', o.info !== undefined && '--info'].filter((m): m is string => typeof m === 'string');
  if (modes.length > 1) throw new CliError(`give one of ${modes.join(', ')}`, ExitCode.usage);
  const out: MytokenOptions = {
    mode: o.at ? 'at' : o.revoke ? 'revoke' : o.info !== undefined ? 'info' : 'mt',
    recursive: o.recursive === true,
    source: {},
    clause: { scope: o.scope ?? [], aud: o.aud ?? [], host: o.host ?? [], geoIpAllow: o.geoIpAllow ?? [], geoIpDisallow: o.geoIpDisallow ?? [] },
    capabilities: o.capability ?? [],
    json: o.json === true,
    timeout: o.timeout,
  };
  if (account !== undefined) out.account = account;
  if (o.info !== undefined) out.info = o.info;
  if (o.MTFile !== undefined) out.source.mtFile = o.MTFile;
  if (o.MTEnv !== undefined) out.source.mtEnv = o.MTEnv;
  if (o.MTPrompt) out.source.mtPrompt = true;
  if (o.mytokenServer !== undefined) out.server = o.mytokenServer;
  if (o.restriction !== undefined) out.restriction = o.restriction;
  if (o.nbf !== undefined) out.clause.nbf = o.nbf;
  if (o.exp !== undefined) out.clause.exp = o.exp;
  if (o.usagesAt !== undefined) out.clause.usagesAt = o.usagesAt;
  if (o.usagesOther !== undefined) out.clause.usagesOther = o.usagesOther;
  if (o.name !== undefined) out.name = o.name;
  if (o.tokenType !== undefined) out.tokenType = o.tokenType;
  if (o.comment !== undefined) out.comment = o.comment;
  if (o.ssh !== undefined) out.ssh = o.ssh;
  return out;
}

export function createProgram(onOptions: (o: MytokenOptions) => void): Command {
  return new Command('token-mytoken')
    .description(
      'Mytokens: create a sub-mytoken with restrictions (default), get an access token (--at), revoke (--revoke) or inspect (--info) a mytoken. ' +
        'The parent mytoken comes from ACCOUNT (through the agent), or from --MT-file/--MT-env/--MT-prompt, else WLCG discovery ' +
        '($BEARER_TOKEN, $BEARER_TOKEN_FILE, mt_u$UID and bt_u$UID in $XDG_RUNTIME_DIR and /tmp), or from the server itself with --ssh.',
    )
    .argument('[account]', 'an agent account whose mytoken is the parent (sub-mytoken creation only)')
    .option('--at', 'get an access token instead (with -s/--aud for its scope and audience)')
    .option('--revoke', 'revoke the mytoken')
    .option('-r, --recursive', 'with --revoke: its sub-tokens too')
    .addOption(new Option('--info <what>', 'show what the server knows about the mytoken, as JSON').choices(Object.keys(INFO_ACTIONS)))
    .option('--MT-file <file>', 'read the mytoken from the first line of a file (a rotated mytoken is written back, atomically, 0600)')
    .option('--MT-env <var>', 'read the mytoken from an environment variable')
    .option('--MT-prompt', 'ask for the mytoken (no echo)')
    .option('--mytoken-server <url>', "the mytoken server (default: the mytoken's iss; needed for short tokens, or MYTOKEN_URL)")
    .option('--restriction <file|json>', 'restrictions as JSON: one clause object or a list of clauses (times may be strings in the time syntax)')
    .option('--nbf <time>', 'not before: unix time, +DURATION (+3d12h30m; y w d h m s) or "YYYY-MM-DD HH:MM" (local)')
    .option('--exp <time>', 'expires: same syntax as --nbf')
    .option('-s, --scope <scope>', 'restrict to this scope (with --at: request it); repeatable', collect)
    .option('--aud <aud>', 'restrict to this audience (with --at: request it); repeatable', collect)
    .option('--host <host>', 'usable only from this IP, subnet or host name; "this" = this host\'s names and addresses; repeatable', collect)
    .option('--geo-ip-allow <cc>', 'usable only from these countries (two-letter codes); repeatable', collect)
    .option('--geo-ip-disallow <cc>', 'not usable from these countries; repeatable', collect)
    .option('--usages-at <n>', 'at most N access tokens')
    .option('--usages-other <n>', 'at most N other uses (sub-tokens, tokeninfo, …)')
    .option('--capability <cap>', 'a capability of the new mytoken (AT, create_mytoken, tokeninfo, …); repeatable', collect)
    .option('--name <name>', 'a name for the new mytoken')
    .addOption(new Option('--token-type <type>', 'the form of the new mytoken (transfer: a short-lived single-use code)').choices(Object.keys(TOKEN_TYPES)))
    .option('--comment <text>', 'with --at: a comment stored with the access token at the server')
    .option('--json', 'print the server\'s answer as one line of JSON')
    .option('--ssh <host>', 'use the server\'s ssh grant: ssh HOST (may include ssh options, e.g. "-p 2222 user@host")')
    .option('--timeout <seconds>', 'deadline of an --ssh call', parseTimeout, 60)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  token-mytoken --MT-file ~/.mt --exp +7d -s storage.read:/ --usages-at 10 > job.mt\n' +
        '  token-mytoken myaccount --restriction \'[{"exp":"+1d","hosts":["this"]}]\' --capability AT\n' +
        '  token-mytoken --MT-env MT --at -s openid\n' +
        '  token-mytoken --MT-file job.mt --info introspect\n' +
        '  token-mytoken --MT-file ~/.mt --revoke --recursive\n' +
        '  token-mytoken --ssh mytoken --at -s openid\n' +
        '\nExit codes: 0 ok, 1 refused (by the server or the agent), 2 usage (bad option, time, restriction or capability), 3 no agent, 4 unknown account.',
    )
    .showHelpAfterError('(add --help for usage)')
    .action((account: string | undefined, o: Raw) => {
      onOptions(toOptions(account, o));
    });
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let options: MytokenOptions | undefined;
  return runAction('token-mytoken', io, async () => {
    createProgram((o) => (options = o))
      .exitOverride()
      .parse(argv);
    if (options !== undefined) {
      const { run } = await import('./run.js');
      await run(options, io);
    }
  });
}
