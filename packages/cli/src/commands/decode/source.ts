/**
 * Where `token-decode` takes its token from: the argument (a file if one exists by that name,
 * else the token itself, `-` for stdin), else WLCG Bearer Token Discovery: `BEARER_TOKEN`,
 * `BEARER_TOKEN_FILE`, `$XDG_RUNTIME_DIR/bt_u$UID`, `/tmp/bt_u$UID`. Whitespace around the token
 * is trimmed; an empty value means "try the next".
 * @see ../../../../../shared/reference/mytoken-wlcg.md §4.1
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { effectiveUid, isBearerToken, ownedDiscoveryFiles, readTokenFile as readSmall, trimToken, xdgRuntimeDir } from '../../bt-discovery.js';
import { CliError, ExitCode } from '../../output.js';

export interface Found {
  token: string;
  /** Where it came from, for the user: `BEARER_TOKEN_FILE (/path)`. */
  source: string;
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
  const name = `bt_u${uid}`;
  for (const path of ownedDiscoveryFiles(env, uid, [name], tried, (note) => notes.push(note))) {
    const token = trimToken(readSmall(path));
    if (token !== '') return checked({ token, source: xdg !== undefined && path === join(xdg, name) ? `$XDG_RUNTIME_DIR/${name} (${path})` : path });
  }
  throw new CliError(`no token found (looked at ${tried.join(', ')}); give one as an argument or: token-get NAME --bt`);
}
