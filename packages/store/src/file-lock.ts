/**
 * A lock file between processes of the same user: `LOCK` created with O_CREAT|O_EXCL holds
 * "PID HOST". Node has no flock(2); this is the portable way, and it works on NFS home
 * directories shared by login nodes.
 *
 * - A lock of a process that is gone (same host, no such pid) is broken: a crash while holding
 *   it does not block the next run. So is one still empty after 10 s (its writer died between
 *   creating and writing it). A lock from another host is waited for (its pid means
 *   nothing here), and broken only when it is older than `staleMs`.
 * - A lock file that is not a regular file of ours (another user's, a symlink) is never waited
 *   for nor removed: that is an error at once, naming the file (or, with `foreign`, no lock).
 * - Waiting ends at `waitMs` with `busy(holder)`'s error.
 */
import { closeSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { StoreError, StoreErrorCode, errnoCode } from './errors.js';

export interface FileLockOptions {
  /** How long to wait for another holder. */
  waitMs: number;
  /** A lock from another host older than this is taken as stale. Default 10 minutes. */
  staleMs?: number;
  /** The error when the wait ends; `holder` is "pid N on HOST" (or "pid ?" while being written). */
  busy: (holder: string) => Error;
  /** Poll interval while waiting. Default 25 ms. */
  pollMs?: number;
  /**
   * What a lock file that is not a regular file of ours means. By default an error. With this set,
   * `fn` runs without the lock after `foreign` is told why (for a lock in a shared directory such
   * as /tmp, where another user may have put something first).
   */
  foreign?: (why: string) => void;
}

/** A lock file still without a pid after this long was left by a writer that died. */
const UNWRITTEN_STALE_MS = 10_000;

function holderAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/** Creates `lockPath` holding `me`; false when it exists; throws on other errors. */
function tryCreate(lockPath: string, me: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', 0o600);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, me);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Runs `fn` holding `lockPath`; the lock file is removed afterwards, also when `fn` throws. */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, options: FileLockOptions): Promise<T> {
  const host = hostname();
  const me = `${process.pid} ${host}\n`;
  const staleMs = options.staleMs ?? 10 * 60_000;
  const deadline = Date.now() + options.waitMs;
  const uid = process.getuid?.();
  while (!tryCreate(lockPath, me)) {
    let st;
    try {
      st = lstatSync(lockPath);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue; // released meanwhile
      throw err;
    }
    if (!st.isFile() || (uid !== undefined && st.uid !== uid)) {
      const why = `lock file ${lockPath} is not a file of yours (owner uid ${st.uid}); not touching it`;
      if (options.foreign === undefined) throw new StoreError(StoreErrorCode.IO, why);
      options.foreign(why);
      return fn();
    }
    let text = '';
    try {
      text = readFileSync(lockPath, 'utf8');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    const [pidText, ...rest] = text.trim().split(/\s+/);
    const pid = Number(pidText);
    const lockHost = rest.join(' ') || host; // a bare pid: written on this host
    const known = Number.isSafeInteger(pid) && pid > 0;
    const age = Date.now() - st.mtimeMs;
    // No pid in it: being written right now, or its writer died in between (then it is old).
    const stale = known ? (lockHost === host ? !holderAlive(pid) : age > staleMs) : age > UNWRITTEN_STALE_MS;
    if (stale) {
      // Only if it still is the lock we judged (not one taken meanwhile by someone else).
      try {
        if (readFileSync(lockPath, 'utf8') === text) unlinkSync(lockPath);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      continue;
    }
    if (Date.now() >= deadline) throw options.busy(known ? `pid ${pid} on ${lockHost}` : 'pid ?');
    await new Promise((r) => setTimeout(r, options.pollMs ?? 25));
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lockPath);
    } catch {
      // Already gone (broken as stale by someone who judged wrongly): nothing to undo.
    }
  }
}
