/**
 * Where `token-mytoken` takes the parent mytoken from when no account is named, in the mytoken
 * client's order: `--MT-prompt`, `--MT-env VAR`, `--MT-file FILE`, else discovery
 * (`BEARER_TOKEN`, `BEARER_TOKEN_FILE`, then `mt_u$UID` and `bt_u$UID` in `$XDG_RUNTIME_DIR`
 * and in `/tmp`). And where a rotated mytoken goes: back into the file it came from (atomically,
 * 0600), else to stderr with a warning, as the mytoken client does.
 * @see ../../../../../shared/reference/mytoken-wlcg.md §1.6, §1.11, §4.1
 */
import { realpathSync } from 'node:fs';
import { writeFileAtomic } from '@token-agent/store';
import { effectiveUid, isBearerToken, ownedDiscoveryFiles, readTokenFile as readSmall, trimToken } from '../../bt-discovery.js';
import { CliError, ExitCode, type Io } from '../../output.js';
import { decodeToken } from '../decode/jwt.js';

export interface SourceOptions {
  mtFile?: string;
  mtEnv?: string;
  mtPrompt?: boolean;
}

export interface MytokenSource {
  token: string;
  /** For messages: `file /path`, `$MY_MT`, `the prompt`. Never the token. */
  label: string;
  /** The file a rotated token is written back to; undefined: print it to stderr. */
  file?: string;
}

function checked(token: string, label: string): string {
  if (!isBearerToken(token)) throw new CliError(`the token from ${label} is not a valid token (RFC 6750 characters only)`);
  const d = decodeToken(token);
  // A bt_u file usually holds an access token: do not send that to a mytoken server.
  if (d.kind === 'jwt' && d.header['typ'] !== 'MT+JWT' && d.payload['token_type'] !== 'mytoken') {
    throw new CliError(`the token from ${label} is a JWT but not a mytoken (no typ MT+JWT); give the mytoken with --MT-file, --MT-env or --MT-prompt`);
  }
  return token;
}

/** The first line of a file, whitespace trimmed (the mytoken client reads the first line). */
function firstLine(text: string): string {
  return trimToken(text.split(/\r?\n/, 1)[0] ?? '');
}

/** Resolves the parent mytoken; `prompt` asks without echo. */
export async function resolveSource(o: SourceOptions, io: Io, prompt: (question: string) => Promise<string>, uid = effectiveUid()): Promise<MytokenSource> {
  const given = [o.mtPrompt === true, o.mtEnv !== undefined, o.mtFile !== undefined].filter(Boolean).length;
  if (given > 1) throw new CliError('give one of --MT-prompt, --MT-env and --MT-file', ExitCode.usage);
  if (o.mtPrompt) {
    const token = trimToken(await prompt('Mytoken: '));
    if (token === '') throw new CliError('no mytoken entered');
    return { token: checked(token, 'the prompt'), label: 'the prompt' };
  }
  if (o.mtEnv !== undefined) {
    const label = `$${o.mtEnv}`;
    const token = trimToken(io.env[o.mtEnv] ?? '');
    if (token === '') throw new CliError(`${label} is not set or empty`);
    return { token: checked(token, label), label };
  }
  if (o.mtFile !== undefined) {
    const label = `file ${o.mtFile}`;
    const token = firstLine(readSmall(o.mtFile, '--MT-file'));
    if (token === '') throw new CliError(`${o.mtFile} is empty`);
    return { token: checked(token, label), label, file: o.mtFile };
  }
  return discover(io, uid);
}

/** The token in `source.file` now (another command may have rotated it since it was found). */
export function reread(source: MytokenSource & { file: string }): MytokenSource {
  const token = firstLine(readSmall(source.file, source.label));
  if (token === '') throw new CliError(`${source.file} is empty`);
  return { ...source, token: checked(token, source.label) };
}

function discover(io: Io, uid: number): MytokenSource {
  const inline = trimToken(io.env['BEARER_TOKEN'] ?? '');
  if (inline !== '') return { token: checked(inline, 'BEARER_TOKEN'), label: 'BEARER_TOKEN' };
  const tried = ['BEARER_TOKEN'];
  const named = io.env['BEARER_TOKEN_FILE'];
  if (named) {
    tried.push(`BEARER_TOKEN_FILE (${named})`);
    let text = '';
    try {
      text = readSmall(named, 'BEARER_TOKEN_FILE');
    } catch {
      text = '';
    }
    const token = firstLine(text);
    if (token !== '') return { token: checked(token, `BEARER_TOKEN_FILE (${named})`), label: `BEARER_TOKEN_FILE (${named})`, file: named };
  }
  const skip = (note: string) => io.stderr.write(`token-mytoken: ${note}\n`);
  for (const path of ownedDiscoveryFiles(io.env, uid, [`mt_u${uid}`, `bt_u${uid}`], tried, skip)) {
    const token = firstLine(readSmall(path, path));
    if (token !== '') return { token: checked(token, path), label: path, file: path };
  }
  throw new CliError(`no mytoken: give an account, --MT-file, --MT-env or --MT-prompt (discovery looked at ${tried.join(', ')})`, ExitCode.usage);
}

/**
 * Keeps a rotated mytoken: the old one is dead once the server answered, so the new one must not
 * be lost. Written back atomically (0600) to the file it came from (through a symlink, to its
 * target); if there is no file or the write fails, it goes to stderr with a warning.
 */
export async function keepRotated(source: MytokenSource, newToken: string, io: Io): Promise<void> {
  if (newToken === source.token) return;
  if (source.file !== undefined) {
    try {
      await writeFileAtomic(realpathSync(source.file), `${newToken}\n`, { mode: 0o600 });
      io.stderr.write(`token-mytoken: the mytoken was rotated; the new one is saved in ${source.file}\n`);
      source.token = newToken;
      return;
    } catch (err) {
      io.stderr.write(`token-mytoken: warning: the mytoken was rotated but cannot be written to ${source.file} (${(err as Error).message})\n`);
    }
  }
  io.stderr.write(`token-mytoken: warning: the mytoken from ${source.label} was rotated; the old one no longer works. Keep the new one:\n${newToken}\n`);
  source.token = newToken;
}
