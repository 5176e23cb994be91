/** `token-get`: ask the agent for an access token and print it. Loads nothing heavy. */
import { AgentErrorText, FORCE_NEW_TOKEN, ProtocolError, request, type Reply } from '@token-agent/protocol';
import { CliError, ExitCode, shellQuote, type Io } from '../../output.js';
import { requireSocket } from '../../socket.js';
import type { BtMode, OutputMode } from './modes.js';

export interface GetOptions {
  /** Account short name, or an issuer URL. */
  target: string;
  scopes: string[];
  audiences: string[];
  minValid: number | undefined;
  forceNew: boolean;
  appName: string;
  output: OutputMode;
  /** Have the agent keep (`watch`), stop keeping (`unwatch`) or write once (`once`) a bearer-token file. */
  bt: BtMode | undefined;
  /** `--bt-file`: that file instead of the discovery default. */
  btFile: string | undefined;
  /** `--id-token`: an id token instead of an access token (commander only; the fast parser defers). */
  idToken?: boolean;
}

/** True when the positional argument names an issuer rather than an account (as oidc-token decides). */
export function isIssuerUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

export function formatToken(reply: Reply<'access_token'>, output: GetOptions['output']): string {
  switch (output) {
    case 'token':
      return `${reply.access_token}\n`;
    case 'json':
      return `${JSON.stringify({ access_token: reply.access_token, issuer: reply.issuer, expires_at: reply.expires_at })}\n`;
    case 'env':
      return [
        `OIDC_AT=${shellQuote(reply.access_token)}; export OIDC_AT;`,
        `OIDC_ISS=${shellQuote(reply.issuer)}; export OIDC_ISS;`,
        `OIDC_EXP=${reply.expires_at}; export OIDC_EXP;`,
        '',
      ].join('\n');
    case 'all':
      return `${reply.access_token}\n${reply.issuer}\n${reply.expires_at}\n`;
    case 'bearer':
      return `Bearer ${reply.access_token}\n`;
    case 'auth-header':
      // oidc-token prints the header without a newline.
      return `Authorization: Bearer ${reply.access_token}`;
    case 'issuer':
      return `${reply.issuer}\n`;
    case 'expires-at':
      return `${reply.expires_at}\n`;
    case 'issuer-expires-at':
      return `OIDC_ISS=${shellQuote(reply.issuer)}; export OIDC_ISS;\nOIDC_EXP=${reply.expires_at}; export OIDC_EXP;\n`;
  }
}

export async function run(options: GetOptions, io: Io): Promise<void> {
  const socketPath = requireSocket(io.env);
  if (options.bt !== undefined) {
    const { runBt } = await import('./bt.js');
    return runBt(options, io, socketPath);
  }
  const scope = options.scopes.flatMap((s) => s.split(/\s+/)).filter(Boolean);
  const audience = options.audiences.flatMap((s) => s.split(/\s+/)).filter(Boolean);
  const issuer = isIssuerUrl(options.target);
  if (options.idToken) {
    const reply = await request(
      'id_token',
      { ...(issuer ? { issuer: options.target } : { account: options.target }), scope: scope.length > 0 ? scope.join(' ') : undefined, application_hint: options.appName },
      { socketPath, timeoutMs: 120_000 },
    );
    io.stdout.write(`${(reply as Reply<'id_token'>).id_token}\n`);
    return;
  }
  const ask = () =>
    request(
      'access_token',
      {
        ...(issuer ? { issuer: options.target } : { account: options.target }),
        min_valid_period: options.forceNew ? FORCE_NEW_TOKEN : (options.minValid ?? 0),
        scope: scope.length > 0 ? scope.join(' ') : undefined,
        audience: audience.length > 0 ? audience.join(' ') : undefined,
        application_hint: options.appName,
      },
      { socketPath, timeoutMs: 60_000 },
    );
  let reply;
  try {
    reply = await ask();
  } catch (err) {
    // Autoload: a configured account that is not loaded is loaded here, on a terminal only.
    if (issuer || !(err instanceof ProtocolError) || err.agentError !== AgentErrorText.accountNotLoaded || !(await canPrompt(io))) throw err;
    await autoload(options.target, io);
    reply = await ask();
  }
  if (reply.status !== 'success') throw new CliError(`unexpected reply status ${reply.status}`, ExitCode.failure);
  io.stdout.write(formatToken(reply as Reply<'access_token'>, options.output));
}

async function canPrompt(io: Io): Promise<boolean> {
  // isatty(0), not process.stdin: creating that stream would compete with token-add for the keys.
  const { isatty } = await import('node:tty');
  return isatty(0) && (io.stderr as { isTTY?: boolean }).isTTY === true;
}

/**
 * Runs `token-add NAME` (keychain first, then the password prompt) on this terminal, as a child
 * process so that token-get itself never loads the store or libsodium. Its messages are its own;
 * its failure is ours, with its exit code.
 */
async function autoload(name: string, io: Io): Promise<void> {
  const [{ spawn }, { existsSync }, { fileURLToPath }] = await Promise.all([import('node:child_process'), import('node:fs'), import('node:url')]);
  // Bundled: bundle/token-add.cjs beside this file; unbundled: dist/bin/token-add.js.
  const candidates = [new URL('./token-add.cjs', import.meta.url), new URL('../../bin/token-add.js', import.meta.url)].map((u) => fileURLToPath(u));
  const bin = candidates.find((p) => existsSync(p));
  if (bin === undefined) throw new CliError(`account '${name}' is not loaded: run token-add ${name}`, ExitCode.account);
  io.stderr.write(`Account '${name}' is not loaded; loading it (token-add ${name}).\n`);
  const code = await new Promise<number>((resolve) => {
    // Its stdout goes to our stderr: ours may be captured ($(token-get …)) and must hold only the token.
    const child = spawn(process.execPath, [bin, name, '--try-keyring'], { stdio: [0, 2, 2], env: io.env });
    child.once('error', () => resolve(ExitCode.failure));
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : ExitCode.failure)));
  });
  if (code !== 0) throw new CliError('', code as ExitCode);
}
