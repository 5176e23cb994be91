/**
 * Writing and removing bearer-token files where other users may have been first (a sticky /tmp):
 * the token alone on one line, mode 0600 (XRootD refuses any group/other bit), through a
 * same-directory temp file created O_EXCL|O_NOFOLLOW and renamed over the target, so a reader
 * sees the old file or the new one, never a partial one. A symlink, a non-regular file or a file
 * owned by someone else is refused and left untouched; removal only takes our own file back.
 * @see ../../../../../shared/reference/mytoken-wlcg.md §4.1, §3 (htgettoken's writeTokenSafely)
 */
import { constants } from 'node:fs';
import { lstat, open, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreError, writeFileAtomic } from '@token-agent/store';
import { AgentError } from '../errors.js';
import { describeOwner } from './owner.js';

/** RFC 6750 §2.1 b64token: what may stand alone on the line. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function myUid(): number | undefined {
  return process.geteuid?.();
}

/** Why `path` must not be replaced, or undefined when it is absent or a regular file of ours. */
async function refusal(path: string): Promise<string | undefined> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    return `cannot inspect ${path} (${code(err) ?? 'error'})`;
  }
  if (st.isSymbolicLink()) return `refusing to write ${path}: it is a symbolic link (a token is never written through one)`;
  if (!st.isFile()) return `refusing to write ${path}: it is not a regular file`;
  const uid = myUid();
  if (uid !== undefined && st.uid !== uid) return `refusing to replace ${path}: it is owned by ${describeOwner(st.uid)}, not by you`;
  return undefined;
}

/**
 * Throws the {@link AgentError} {@link writeTokenFile} would throw for `path` (missing directory,
 * symlink, not a regular file, someone else's file), without writing anything.
 */
export async function checkTokenPath(path: string): Promise<void> {
  const dir = dirname(path);
  try {
    const d = await stat(dir);
    if (!d.isDirectory()) throw new AgentError(`cannot write ${path}: ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof AgentError) throw err;
    if (code(err) === 'ENOENT') throw new AgentError(`cannot write ${path}: the directory ${dir} does not exist`);
    throw new AgentError(`cannot write ${path}: cannot reach ${dir} (${code(err) ?? 'error'})`);
  }
  const why = await refusal(path);
  if (why !== undefined) throw new AgentError(why);
}

/**
 * Writes `token` and a newline to `path`. Throws an {@link AgentError} that names the path (and
 * the owner) when the directory is missing or the target is not ours to replace; nothing is
 * written then. Does not create directories.
 */
export async function writeTokenFile(path: string, token: string): Promise<void> {
  if (!B64TOKEN.test(token)) throw new AgentError('the OP returned an access token that cannot be written to a token file');
  await checkTokenPath(path);
  try {
    // writeFileAtomic checks the target again right before the rename, and rename replaces a
    // symlink planted in between instead of writing through it.
    await writeFileAtomic(path, `${token}\n`, { mode: 0o600 });
  } catch (err) {
    const again = await refusal(path);
    if (again !== undefined) throw new AgentError(again);
    const cause = err instanceof StoreError ? code(err.cause) : code(err);
    throw new AgentError(`cannot write ${path} (${cause ?? 'error'})`);
  }
}

/** Reads a small regular file without following a symlink; undefined when absent or not one. */
export async function readOwnFile(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = await handle.stat();
    const uid = myUid();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || st.size > 64 * 1024) return undefined;
    return await handle.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

export type RemoveOutcome = 'removed' | 'absent' | 'kept';

/**
 * Removes `path` if it is a regular file of ours and, when `expected` is given, still holds
 * exactly that content (a file someone else put there since is not ours to delete).
 */
export async function removeTokenFile(path: string, expected?: string): Promise<RemoveOutcome> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return 'absent';
  const uid = myUid();
  if (!st.isFile() || (uid !== undefined && st.uid !== uid)) return 'kept';
  if (expected !== undefined && (await readOwnFile(path)) !== expected) return 'kept';
  try {
    await unlink(path);
    return 'removed';
  } catch (err) {
    return code(err) === 'ENOENT' ? 'absent' : 'kept';
  }
}
