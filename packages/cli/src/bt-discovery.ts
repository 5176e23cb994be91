/**
 * WLCG Bearer Token Discovery from the client's side: where a token file is looked for (and, for
 * `token-get --watch`, written), and how a token found there is read.
 * @see ../../../../shared/reference/mytoken-wlcg.md §4.1
 */
import { statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** The effective uid, as the spec's `$ID` (0 where there is none, e.g. Windows). */
export function effectiveUid(): number {
  return process.geteuid?.() ?? 0;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** `$XDG_RUNTIME_DIR` when it is set, absolute and an existing directory. */
export function xdgRuntimeDir(env: NodeJS.ProcessEnv): string | undefined {
  const v = env['XDG_RUNTIME_DIR'];
  return v && isAbsolute(v) && isDirectory(v) ? v : undefined;
}

/**
 * The file a tool finds without being told: `$BEARER_TOKEN_FILE` if set, else
 * `$XDG_RUNTIME_DIR/bt_u$UID` if that directory exists, else `/tmp/bt_u$UID`. Absolute (a
 * relative `BEARER_TOKEN_FILE` is taken from `cwd`), because the agent writes it.
 */
export function defaultTokenFile(env: NodeJS.ProcessEnv, uid = effectiveUid(), cwd = process.cwd()): string {
  const fromEnv = env['BEARER_TOKEN_FILE'];
  if (fromEnv) return resolve(cwd, fromEnv);
  const xdg = xdgRuntimeDir(env);
  return xdg !== undefined ? join(xdg, `bt_u${uid}`) : `/tmp/bt_u${uid}`;
}

/** Strips leading and trailing C99 `isspace` characters (space, \f, \n, \r, \t, \v), as the spec says. */
export function trimToken(s: string): string {
  return s.replace(/^[ \f\n\r\t\v]+|[ \f\n\r\t\v]+$/g, '');
}

/** RFC 6750 §2.1 b64token: a valid bearer token. */
export function isBearerToken(s: string): boolean {
  return /^[A-Za-z0-9\-._~+/]+=*$/.test(s);
}
