import { constants } from 'node:fs';
import { lstat, open, readdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAccountConfig, serializeAccountConfig } from './account-config.js';
import type { AccountConfig } from './account-config.js';
import { decryptAccountFile, encryptAccountFile, encryptWithKey } from './account-file.js';
import type { FileKey } from './account-file.js';
import { syncDirectory, writeFileAtomic } from './atomic-write.js';
import { StoreError, StoreErrorCode, errnoCode, invalidArgument } from './errors.js';
import { ensurePrivateDir } from './paths.js';

/** Longest short name, in UTF-8 bytes (file names allow 255; the temp-file prefix and suffix need room). */
export const MAX_ACCOUNT_NAME_BYTES = 200;

// An account file is a few KiB; anything far larger is not one and is not read into memory.
const MAX_ACCOUNT_FILE_BYTES = 1024 * 1024;

// Other files in oidc-agent's directory (`config`, `issuer.config`, `oidc-agent.stats`,
// `oidc-agent-service.options`, pre-4 `*.clientconfig[N]`), per oidc-agent's own listing.
function reservedReason(name: string): string | undefined {
  if (name === 'config' || name.endsWith('.config') || name.endsWith('.stats') || name.endsWith('.log')) {
    return 'oidc-agent reserves "config", "*.config", "*.stats" and "*.log" for other files';
  }
  if (/\.clientconfig[0-9]*$/.test(name)) return 'oidc-agent reserves "*.clientconfig" for client files';
  if (name === 'oidc-agent-service.options') return 'oidc-agent reserves this name for its service options';
  return undefined;
}

function nameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name === '.' || name === '..') return `"${name}" is not a file name`;
  if (name.startsWith('.')) return 'it starts with "." (hidden and temporary files are not accounts)';
  if (name.includes('/')) return 'it contains "/"';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains a control character';
  if (Buffer.byteLength(name, 'utf8') > MAX_ACCOUNT_NAME_BYTES) return `it is longer than ${MAX_ACCOUNT_NAME_BYTES} bytes`;
  return reservedReason(name);
}

/** Throws `STORE_INVALID_NAME` (with the reason) unless `name` can be an account file name. */
export function validateAccountName(name: string): void {
  if (typeof name !== 'string') throw invalidArgument('account name must be a string');
  const problem = nameProblem(name);
  if (problem !== undefined) {
    // JSON.stringify keeps control characters in the name from reaching a terminal raw.
    throw new StoreError(StoreErrorCode.INVALID_NAME, `invalid account name ${JSON.stringify(name)}: ${problem}`);
  }
}

/** Whether `name` is a valid account short name (see {@link validateAccountName}). */
export function isValidAccountName(name: string): boolean {
  return typeof name === 'string' && nameProblem(name) === undefined;
}

function accountPath(dir: string, name: string): string {
  if (typeof dir !== 'string' || dir === '') throw invalidArgument('dir must be a non-empty string');
  validateAccountName(name);
  return join(dir, name);
}

/**
 * Short names of the accounts in `dir`, sorted: regular files with valid names only (no
 * dotfiles or temp files, directories, symlinks, or oidc-agent's other files). A missing
 * directory has no accounts.
 */
export async function listAccounts(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw new StoreError(StoreErrorCode.IO, `cannot list ${dir}`, { cause: err });
  }
  return entries
    .filter((e) => e.isFile() && isValidAccountName(e.name))
    .map((e) => e.name)
    .sort();
}

/** Whether anything (file, symlink, directory) is at the account's path, so a new account would collide. */
export async function accountExists(dir: string, name: string): Promise<boolean> {
  const path = accountPath(dir, name);
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw new StoreError(StoreErrorCode.IO, `cannot check ${path}`, { cause: err });
  }
}

/**
 * Reads an encrypted account file's text. `STORE_NOT_FOUND` if missing; `STORE_UNSAFE_PATH`
 * for a symlink or a non-regular file; `STORE_CORRUPT_FILE` above 1 MiB. Does not decrypt.
 */
export async function readAccountFile(dir: string, name: string): Promise<string> {
  const path = accountPath(dir, name);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted under the name must not block the open.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') throw new StoreError(StoreErrorCode.NOT_FOUND, `no account named "${name}" in ${dir}`, { cause: err });
    if (code === 'ELOOP') throw new StoreError(StoreErrorCode.UNSAFE_PATH, `refusing to read ${path}: it is a symbolic link`, { cause: err });
    throw new StoreError(StoreErrorCode.IO, `cannot open ${path}`, { cause: err });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new StoreError(StoreErrorCode.UNSAFE_PATH, `refusing to read ${path}: it is not a regular file`);
    if (st.size > MAX_ACCOUNT_FILE_BYTES) throw new StoreError(StoreErrorCode.CORRUPT_FILE, `corrupt account file: ${path} is too large`);
    return await handle.readFile({ encoding: 'utf8' });
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(StoreErrorCode.IO, `cannot read ${path}`, { cause: err });
  } finally {
    await handle.close();
  }
}

/** Options of {@link writeAccountFile} and {@link saveAccount}. */
export type WriteAccountOptions = {
  /** Replace an existing account (default). When false, `STORE_EXISTS` if it exists. */
  overwrite?: boolean;
};

/**
 * Writes an account file atomically with mode 0600, creating `dir` (0700) if needed.
 * Refuses to replace a symlink or someone else's file (`STORE_UNSAFE_PATH`).
 */
export async function writeAccountFile(dir: string, name: string, text: string, options: WriteAccountOptions = {}): Promise<void> {
  const path = accountPath(dir, name);
  if (typeof text !== 'string') throw invalidArgument('text must be a string');
  await ensurePrivateDir(dir);
  await writeFileAtomic(path, text, { mode: 0o600, overwrite: options.overwrite ?? true });
}

/** Removes an account file (a symlink in its place is removed, not followed). `STORE_NOT_FOUND` if missing. */
export async function deleteAccountFile(dir: string, name: string): Promise<void> {
  const path = accountPath(dir, name);
  try {
    const st = await lstat(path);
    if (st.isDirectory()) throw new StoreError(StoreErrorCode.UNSAFE_PATH, `refusing to delete ${path}: it is a directory`);
    await unlink(path);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    if (errnoCode(err) === 'ENOENT') throw new StoreError(StoreErrorCode.NOT_FOUND, `no account named "${name}" in ${dir}`, { cause: err });
    throw new StoreError(StoreErrorCode.IO, `cannot delete ${path}`, { cause: err });
  }
  await syncDirectory(dir);
}

/**
 * Reads, decrypts and parses an account. Returns its config and the {@link FileKey} to save
 * it again without the password. Does not check that the account is usable.
 */
export async function loadAccount(dir: string, name: string, password: string): Promise<{ config: AccountConfig; key: FileKey }> {
  const text = await readAccountFile(dir, name);
  const { plaintext, key } = await decryptAccountFile(text, password);
  return { config: parseAccountConfig(plaintext), key };
}

/**
 * Serialises, encrypts (with a password: fresh salt and KDF; with a {@link FileKey}: no KDF)
 * and atomically writes an account. Returns the key the file is now encrypted under.
 */
export async function saveAccount(
  dir: string,
  name: string,
  config: AccountConfig,
  secret: string | FileKey,
  options: WriteAccountOptions = {},
): Promise<FileKey> {
  validateAccountName(name);
  const plaintext = serializeAccountConfig(config);
  let text: string;
  let key: FileKey;
  if (typeof secret === 'string') {
    ({ text, key } = await encryptAccountFile(plaintext, secret));
  } else {
    text = await encryptWithKey(plaintext, secret);
    key = secret;
  }
  await writeAccountFile(dir, name, text, options);
  return key;
}
