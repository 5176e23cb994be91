/**
 * Where clients find the agent's socket, and the `sun_path` limit every path must fit.
 */
import { lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ProtocolError, ProtocolErrorCode } from './errors.js';

/** Environment variables, in the order our clients read them. */
export const SOCKET_ENV = ['TOKEN_AGENT_SOCK', 'OIDC_SOCK'] as const;

/** Linux `sun_path` is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The socket path from `TOKEN_AGENT_SOCK`, else `OIDC_SOCK`; undefined when neither is set. */
export function socketPathFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of SOCKET_ENV) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') return v;
  }
  return undefined;
}

/**
 * The stable per-user socket every CLI and the launcher use when no variable is set:
 * `$XDG_RUNTIME_DIR/token-agent/agent.sock` when that directory exists, else
 * `${TMPDIR:-/tmp}/token-agent-$UID/agent.sock` (a fixed directory that must be private, see
 * {@link checkPrivateSocketDir}).
 */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_RUNTIME_DIR'];
  if (xdg) {
    try {
      if (statSync(xdg).isDirectory()) return join(xdg, 'token-agent', 'agent.sock');
    } catch {
      // not there: fall through
    }
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(env['TMPDIR'] || '/tmp', `token-agent-${uid}`, 'agent.sock');
}

/** The socket from the environment, else the per-user default; `fromEnv` says which. */
export function resolveSocketPath(env: NodeJS.ProcessEnv = process.env): { path: string; fromEnv: boolean } {
  const e = socketPathFromEnv(env);
  return e !== undefined ? { path: e, fromEnv: true } : { path: defaultSocketPath(env), fromEnv: false };
}

/**
 * Why the directory `dir` may not hold our socket (undefined: fine, or it does not exist yet):
 * it must be a real directory owned by this user with no group/other access. In a shared /tmp
 * another user could create `token-agent-$UID` first and put a socket of theirs in it.
 */
export function checkPrivateSocketDir(dir: string): string | undefined {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return undefined;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (!st.isDirectory()) return `socket directory ${dir} is not a directory; refusing to use it`;
  if (st.uid !== uid) return `socket directory ${dir} is owned by uid ${st.uid}, not by you (uid ${uid}); refusing to use it`;
  if ((st.mode & 0o077) !== 0) return `socket directory ${dir} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, group/other can access it; refusing to use it (chmod 700 it or remove it)`;
  return undefined;
}

/** Throws `PROTOCOL_PATH_TOO_LONG` when `path` does not fit into a Unix socket address. */
export function assertSocketPathFits(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new ProtocolError(
      ProtocolErrorCode.pathTooLong,
      `socket path is ${bytes} bytes, more than the ${MAX_SOCKET_PATH_BYTES} a Unix socket allows: ${path} (choose a shorter directory, e.g. set TMPDIR=/tmp)`,
    );
  }
}
