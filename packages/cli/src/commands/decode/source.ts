/**
 * Where `token-decode` takes its token from: the argument (a file if one exists by that name,
 * else the token itself, `-` for stdin), else WLCG Bearer Token Discovery: `BEARER_TOKEN`,
 * `BEARER_TOKEN_FILE`, `$XDG_RUNTIME_DIR/bt_u$UID`, `/tmp/bt_u$UID`. Whitespace around the token
 * is trimmed; an empty value means "try the next".
 * @see ../../../../../shared/reference/mytoken-wlcg.md §4.1
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { effectiveUid, isBearerToken, trimToken, xdgRuntimeDir } from '../../bt-discovery.js';
import { CliError, ExitCode } from '../../output.js';

export interface Found {
  token: string;
  /** Where it came from, for the user: `BEARER_TOKEN_FILE (/path)`. */
  source: string;
}

/** Larger files are not token files (XRootD caps them too). */
const MAX_TOKEN_FILE = 64 * 1024;

function readSmall(path: string): string {
  const st = statSync(path);
  if (!st.isFile()) throw new CliError(`${path} is not a regular file`);
  if (st.size > MAX_TOKEN_FILE) throw new CliError(`${path} is too large for a token file (${st.size} bytes)`);
  return readFileSync(path, 'utf8');
}

function checked(found: Found): Found {
  if (!isBearerToken(found.token)) throw new CliError(`the token from ${found.source} is not a valid bearer token (RFC 6750 characters only)`);
  return found;
}

/** The token named on the command line. */
export function fromArgument(arg: string, readStdin: () => string): Found {
  if (arg === '-') {
    const token = trimToken(readStdin());
    if (token === '') throw new CliError('no token on stdin');
    return checked({ token, source: 'stdin' });
  }
  let isFile = false;
  try {
    isFile = statSync(arg).isFile();
  } catch {
    isFile = false;
  }
  if (isFile) {
    const token = trimToken(readSmall(arg));
    if (token === '') throw new CliError(`${arg} is empty`);
    return checked({ token, source: `file ${arg}` });
  }
  const token = trimToken(arg);
  if (!isBearerToken(token)) throw new CliError(`${arg} is neither a file nor a token`, ExitCode.usage);
  return { token, source: 'the command line' };
}

/**
 * The first token of the discovery order; `notes` gets what was skipped and why (a foreign file
 * in a shared directory is ignored, as the proposed ownership rule of the spec says).
 */
export function discover(env: NodeJS.ProcessEnv, notes: string[], uid = effectiveUid()): Found {
  const tried: string[] = [];
  const inline = trimToken(env['BEARER_TOKEN'] ?? '');
  if (inline !== '') return checked({ token: inline, source: 'BEARER_TOKEN' });
  tried.push('BEARER_TOKEN');

  const named = env['BEARER_TOKEN_FILE'];
  if (named) {
    let text: string | undefined;
    try {
      text = readSmall(named);
    } catch (err) {
      if (err instanceof CliError) throw err;
      notes.push(`BEARER_TOKEN_FILE=${named} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const token = trimToken(text ?? '');
    if (token !== '') return checked({ token, source: `BEARER_TOKEN_FILE (${named})` });
  }
  tried.push('BEARER_TOKEN_FILE');

  const xdg = xdgRuntimeDir(env);
  const candidates: [string, string][] = [];
  if (xdg !== undefined) candidates.push([join(xdg, `bt_u${uid}`), `$XDG_RUNTIME_DIR/bt_u${uid}`]);
  candidates.push([`/tmp/bt_u${uid}`, `/tmp/bt_u${uid}`]);
  for (const [path, label] of candidates) {
    tried.push(path);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    if (st.uid !== uid) {
      notes.push(`ignoring ${path}: it belongs to uid ${st.uid}, not to you`);
      continue;
    }
    const token = trimToken(readSmall(path));
    if (token !== '') return checked({ token, source: label === path ? path : `${label} (${path})` });
  }
  throw new CliError(`no token found (looked at ${tried.join(', ')}); give one as an argument or: token-get NAME --bt`);
}
