/**
 * WLCG Bearer Token Discovery from the client's side: where a token file is looked for (and, for
 * `token-get --watch`, written), and how a token found there is read.
 * @see ../../../../shared/reference/mytoken-wlcg.md §4.1
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { CliError } from './output.js';

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

/** Larger files are not token files (XRootD caps them too). */
export const MAX_TOKEN_FILE = 64 * 1024;

/**
 * Reads a token file: a regular file of at most {@link MAX_TOKEN_FILE} bytes, else a `CliError`
 * (prefixed with `label` when given). A file that cannot be stat'ed throws the system error, or a
 * `CliError` naming `label` when one is given.
 */
export function readTokenFile(path: string, label?: string): string {
  const prefix = label === undefined ? '' : `${label}: `;
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (label === undefined) throw err;
    throw new CliError(`${label}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!st.isFile()) throw new CliError(`${prefix}${path} is not a regular file`);
  if (st.size > MAX_TOKEN_FILE) throw new CliError(`${prefix}${path} is too large for a token file (${st.size} bytes)`);
  return readFileSync(path, 'utf8');
}

/**
 * The discovery files that exist, in order: each of `names` in `$XDG_RUNTIME_DIR` (when usable),
 * then in `/tmp`. Every path looked at goes into `tried`; a file of another user is left out and
 * reported to `skip` (the spec's proposed ownership rule for shared directories). Lazy: a caller
 * that stops at the first usable file looks no further.
 */
export function* ownedDiscoveryFiles(env: NodeJS.ProcessEnv, uid: number, names: readonly string[], tried: string[], skip: (note: string) => void): Generator<string> {
  const dirs = [xdgRuntimeDir(env), '/tmp'].filter((d): d is string => d !== undefined);
  for (const dir of dirs) {
    for (const name of names) {
      const path = join(dir, name);
      tried.push(path);
      let st;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      if (st.uid !== uid) {
        skip(`ignoring ${path}: it belongs to uid ${st.uid}, not to you`);
        continue;
      }
      yield path;
    }
  }
}
