import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StoreError, StoreErrorCode, errnoCode, invalidArgument } from './errors.js';

/** Options of {@link writeFileAtomic}. */
export type WriteFileAtomicOptions = {
  /** File mode, applied exactly (not through the umask). Default 0600. */
  mode?: number;
  /** Replace an existing file (default). When false, `STORE_EXISTS` if the target exists. */
  overwrite?: boolean;
};

/** fsync a directory so a rename or unlink in it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await handle.sync();
  } catch (err) {
    // Some file systems (and Windows) cannot fsync a directory; the rename itself is done.
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') {
      throw new StoreError(StoreErrorCode.IO, `cannot sync directory ${dir}`, { cause: err });
    }
  } finally {
    await handle?.close();
  }
}

async function checkTarget(path: string, overwrite: boolean): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  if (!overwrite) throw new StoreError(StoreErrorCode.EXISTS, `${path} already exists`);
  if (st.isSymbolicLink()) throw new StoreError(StoreErrorCode.UNSAFE_PATH, `refusing to replace ${path}: it is a symbolic link`);
  if (!st.isFile()) throw new StoreError(StoreErrorCode.UNSAFE_PATH, `refusing to replace ${path}: it is not a regular file`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new StoreError(StoreErrorCode.UNSAFE_PATH, `refusing to replace ${path}: it is owned by uid ${st.uid}, not by us`);
  }
}

/**
 * Replaces `path` with `data` so that a crash at any instant leaves the old file or the new one:
 * same-directory temp file (`.<name>.tmp-<hex>`, O_EXCL|O_NOFOLLOW, 0600) → write → fsync →
 * rename (or link, when not overwriting) → fsync the directory. Refuses to replace a symlink,
 * a non-regular file or a file owned by someone else (`STORE_UNSAFE_PATH`). Does not create
 * the directory.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '') throw invalidArgument('path must be a non-empty string');
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw invalidArgument('data must be a string or Uint8Array');
  const mode = options.mode ?? 0o600;
  const overwrite = options.overwrite ?? true;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(8).toString('hex')}`);

  let handle: FileHandle | undefined;
  let tmpExists = false;
  try {
    handle = await open(
      tmp,
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
      0o600,
    );
    tmpExists = true;
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;

    await checkTarget(path, overwrite);
    if (overwrite) {
      await rename(tmp, path);
    } else {
      // link() fails with EEXIST atomically, where rename() would silently replace.
      try {
        await link(tmp, path);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') throw new StoreError(StoreErrorCode.EXISTS, `${path} already exists`, { cause: err });
        throw err;
      }
      tmpExists = false;
      // The new file is in place under its name; a leftover temp name is only clutter.
      await unlink(tmp).catch(() => {});
    }
    tmpExists = false;
    await syncDirectory(dir);
  } catch (err) {
    await handle?.close().catch(() => {});
    if (tmpExists) await unlink(tmp).catch(() => {});
    if (err instanceof StoreError) throw err;
    throw new StoreError(StoreErrorCode.IO, `cannot write ${path}`, { cause: err });
  }
}
