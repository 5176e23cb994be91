/** `token-get`: ask the agent for an access token and print it. Loads nothing heavy. */
import { AgentErrorText, ProtocolError, request, type Reply } from '@token-agent/protocol';
import { CliError, ExitCode, shellQuote, type Io } from '../../output.js';
import { requireSocket } from '../../socket.js';
import { ACCESS_TOKEN_TIMEOUT_MS, accessTokenParams, isIssuerUrl, splitWords } from './access-token-request.js';
import { DEFAULT_EXPORT_NAMES, type BtMode, type ExportNames, type OutputMode } from './modes.js';

export interface GetOptions {
  /** Account short name, or an issuer URL. */
  target: string;
  scopes: string[];
  audiences: string[];
  minValid: number | undefined;
  forceNew: boolean;
  appName: string;
  output: OutputMode;
  /** With output `env`: the values exported and their variable names (absent: all three, oidc-token's names). */
  exports?: ExportNames;
  /** Have the agent keep (`watch`), stop keeping (`unwatch`) or write once (`once`) a bearer-token file. */
  bt: BtMode | undefined;
  /** `--bt-file`: that file instead of the discovery default. */
  btFile: string | undefined;
  /** `--id-token`: an id token instead of an access token (commander only; the fast parser defers). */
  idToken?: boolean;
}

export { isIssuerUrl } from './access-token-request.js';

export function formatToken(reply: Reply<'access_token'>, output: GetOptions['output'], exports: ExportNames = DEFAULT_EXPORT_NAMES): string {
  switch (output) {
    case 'token':
      return `${reply.access_token}\n`;
    case 'json':
      return `${JSON.stringify({ access_token: reply.access_token, issuer: reply.issuer, expires_at: reply.expires_at })}\n`;
    case 'env': {
      // oidc-token's order and form; the values quoted only when the shell needs it.
      const lines: string[] = [];
      const line = (name: string, value: string) => lines.push(`${name}=${value}; export ${name};\n`);
      if (exports.token !== undefined) line(exports.token, shellQuote(reply.access_token));
      if (exports.issuer !== undefined) line(exports.issuer, shellQuote(reply.issuer));
      if (exports.expiresAt !== undefined) line(exports.expiresAt, String(reply.expires_at));
      return lines.join('');
    }
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
  }
}

export async function run(options: GetOptions, io: Io): Promise<void> {
  const socketPath = requireSocket(io.env);
  if (options.bt !== undefined) {
    const { runBt } = await import('./bt.js');
    return runBt(options, io, socketPath);
  }
  const scope = splitWords(options.scopes);
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
  // The same request as the hot path's (fast.ts).
  const ask = () => request('access_token', accessTokenParams(options), { socketPath, timeoutMs: ACCESS_TOKEN_TIMEOUT_MS });
  let reply;
  try {
    reply = await ask();
  } catch (err) {
    // Autoload: a configured account that is not loaded is loaded here, on a terminal only.
    if (issuer || !(err instanceof ProtocolError) || err.agentError !== AgentErrorText.accountNotLoaded || !(await canPrompt(io))) throw err;
    // `token-agent --no-autoload`: the agent's error already says to run token-add.
    if (!(await agentAutoloads(socketPath))) throw err;
    await autoload(options.target, io);
    reply = await ask();
  }
  if (reply.status !== 'success') throw new CliError(`unexpected reply status ${reply.status}`, ExitCode.failure);
  io.stdout.write(formatToken(reply as Reply<'access_token'>, options.output, options.exports));
}

/** Whether the agent lets clients load accounts (false under `--no-autoload`; an older agent does). */
async function agentAutoloads(socketPath: string): Promise<boolean> {
  const r = await request('status_json', {}, { socketPath, timeoutMs: 10_000 }).catch(() => undefined);
  return (r as { info?: { autoload?: unknown } } | undefined)?.info?.autoload !== false;
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
