/**
 * Where clients find the agent's socket, and the `sun_path` limit every path must fit.
 */
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
