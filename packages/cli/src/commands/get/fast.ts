/**
 * The hot path of `token-get`, and all that bundle/token-get.cjs runs for the common case: the
 * fast parser accepted the command line, the token is printed alone (no --json, --env, bt file…)
 * and the socket is in the environment. It asks the agent with the protocol client, writes the
 * token with write(2) and exits at once: no process.stdout stream, no commander, no store, no
 * libsodium. Everything else — other outputs, bt files, the default socket, every failure,
 * autoload, help — is the full command (main.ts, its own bundle file), loaded only then.
 */
import { writeSync } from 'node:fs';
import { AgentErrorText, ProtocolError, request, socketPathFromEnv } from '@token-agent/protocol';
import { ACCESS_TOKEN_TIMEOUT_MS, accessTokenParams } from './access-token-request.js';
import { parseFast } from './fast-args.js';

/** What the hot path did: got the token; hands the command over; or got a failure to report. */
export type FastResult = { kind: 'token'; text: string } | { kind: 'defer' } | { kind: 'failed'; error: unknown } | { kind: 'status'; status: string };

/** Runs the hot path for `args` (argv without node and script); never prints. */
export async function fastGet(args: readonly string[], env: NodeJS.ProcessEnv): Promise<FastResult> {
  const options = parseFast(args);
  if (options === undefined || options.output !== 'token' || options.bt !== undefined || options.idToken) return { kind: 'defer' };
  const socketPath = socketPathFromEnv(env);
  // The per-user default socket needs its directory checked first: the full command does that.
  if (socketPath === undefined) return { kind: 'defer' };
  let reply;
  try {
    reply = await request('access_token', accessTokenParams(options), { socketPath, timeoutMs: ACCESS_TOKEN_TIMEOUT_MS });
  } catch (error) {
    // The full command asks again (the agent answers this at once, without the OP) and may load
    // the account (autoload); every other failure is reported as it is, not asked twice.
    if (error instanceof ProtocolError && error.agentError === AgentErrorText.accountNotLoaded) return { kind: 'defer' };
    return { kind: 'failed', error };
  }
  if (reply.status !== 'success') return { kind: 'status', status: reply.status };
  return { kind: 'token', text: `${(reply as { access_token: string }).access_token}\n` };
}

/**
 * Writes `text` to fd 1 and exits 0. A synchronous write(2) needs no stream; a non-blocking stdout
 * that is full falls back to the stream; a reader that went away (EPIPE) is not an error, as in
 * output.ts. Returns only when the stream fallback is still writing (it exits when done).
 */
export function printAndExit(text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(1, bytes, offset);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') {
      process.stdout.write(bytes.subarray(offset), () => process.exit(0));
      return;
    }
    if (code !== 'EPIPE') {
      process.stderr.write(`token-get: cannot write the token to stdout (${code ?? String(err)})\n`);
      process.exit(1);
    }
  }
  process.exit(0);
}
