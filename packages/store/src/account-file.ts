import { timingSafeEqual } from 'node:crypto';
import { StoreError, StoreErrorCode, invalidArgument } from './errors.js';
import { loadSodium } from './sodium.js';

// oidc-agent's password-encrypted file format (since 2.1.0), `crypt.c` `crypt_encrypt`:
//   1 ciphertext length   2 base64 nonce   3 base64 salt
//   4 nonce_len:salt_len:mac_len:key_len:b64variant:opslimit:memlimit:alg
//   5 base64 ciphertext   6 base64 hash key   7 "Generated using version: X.Y.Z" (no newline)

/**
 * The version line we write. oidc-agent parses it as a numeric version and falls back to the
 * pre-2.1 hex format below 2.1.0, so it must name an oidc-agent version, not our product.
 */
export const ACCOUNT_FILE_VERSION_LINE = 'Generated using version: 5.3.3';

const NONCE_BYTES = 24;
const SALT_BYTES = 16;
const MAC_BYTES = 16;
const KEY_BYTES = 32;
const DERIVED_BYTES = 2 * KEY_BYTES;
const BASE64_VARIANT_ORIGINAL = 1;
const ALG_ARGON2ID13 = 2;

/** Argon2id opslimit oidc-agent uses (`crypto_pwhash_OPSLIMIT_INTERACTIVE`). */
export const DEFAULT_OPSLIMIT = 2;
/** Argon2id memlimit oidc-agent uses (`crypto_pwhash_MEMLIMIT_INTERACTIVE`, 64 MiB). */
export const DEFAULT_MEMLIMIT = 67108864;

// A file may carry other limits; we honour them within bounds (oidc-agent itself always uses
// the defaults) but refuse values that would make a hostile file cost minutes or gigabytes.
const MIN_OPSLIMIT = 1;
const MAX_OPSLIMIT = 16;
const MIN_MEMLIMIT = 8192;
const MAX_MEMLIMIT = 1024 * 1024 * 1024;

/**
 * Key material of one account file: enough to re-encrypt it without the password.
 * `derived` is the 64-byte KDF output (secretbox key ‖ hash key): as secret as the password.
 */
export type FileKey = {
  readonly salt: Uint8Array;
  readonly derived: Uint8Array;
  readonly opslimit: number;
  readonly memlimit: number;
};

/** A {@link FileKey} as JSON-safe values (standard base64 with padding). */
export type SerializedFileKey = {
  salt: string;
  derived: string;
  opslimit: number;
  memlimit: number;
};

type ParsedAccountFile = {
  nonce: Uint8Array;
  salt: Uint8Array;
  opslimit: number;
  memlimit: number;
  ciphertext: Uint8Array;
  hashKey: Uint8Array;
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^(?:0|[1-9][0-9]{0,9})$/;
const HEX_FORMAT = /^[0-9]+:[0-9a-fA-F]+:[0-9a-fA-F]+:[0-9a-fA-F]+$/;
const PGP_ARMOR = '-----BEGIN PGP MESSAGE-----';

function corrupt(message: string): StoreError {
  return new StoreError(StoreErrorCode.CORRUPT_FILE, `corrupt account file: ${message}`);
}

function unsupported(message: string): StoreError {
  return new StoreError(StoreErrorCode.UNSUPPORTED_FORMAT, message);
}

/** Strict standard base64 (padding required, canonical), or undefined. */
function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const buf = Buffer.from(text, 'base64');
  // Non-zero trailing bits decode "successfully" but are not what any encoder writes.
  if (buf.toString('base64') !== text) return undefined;
  return new Uint8Array(buf);
}

function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function decodeField(line: string, lineNo: number, what: string, length?: number): Uint8Array {
  const bytes = decodeBase64(line);
  if (bytes === undefined) throw corrupt(`line ${lineNo} (${what}) is not valid base64`);
  if (length !== undefined && bytes.length !== length) {
    throw corrupt(`line ${lineNo} (${what}) must be ${length} bytes, found ${bytes.length}`);
  }
  return bytes;
}

function splitLines(text: string): string[] {
  let body = text;
  if (body.endsWith('\n')) body = body.slice(0, -1);
  if (body.endsWith('\r')) body = body.slice(0, -1);
  return body.split(/\r?\n/);
}

function checkLimits(opslimit: number, memlimit: number): void {
  if (!inRange(opslimit, MIN_OPSLIMIT, MAX_OPSLIMIT)) {
    throw unsupported(`unsupported account file: Argon2id opslimit ${opslimit} is outside ${MIN_OPSLIMIT}..${MAX_OPSLIMIT}`);
  }
  if (!inRange(memlimit, MIN_MEMLIMIT, MAX_MEMLIMIT)) {
    throw unsupported(`unsupported account file: Argon2id memlimit ${memlimit} is outside ${MIN_MEMLIMIT}..${MAX_MEMLIMIT}`);
  }
}

/** Parses the 7-line layout without any cryptography; throws on anything unexpected. */
function parseAccountFileText(text: string): ParsedAccountFile {
  if (text.trimStart().startsWith(PGP_ARMOR)) {
    throw unsupported(
      'unsupported account file format: gpg-encrypted (oidc-gen --gpg); decrypt it with oidc-agent or re-create the account',
    );
  }
  const lines = splitLines(text);
  if (lines.length <= 2 && HEX_FORMAT.test(lines[0] ?? '')) {
    throw unsupported(
      'unsupported account file format: pre-2.1 hex encoding (oidc-agent < 2.1.0); re-save it with a newer oidc-gen or re-create the account',
    );
  }
  if (lines.length !== 7) throw corrupt(`expected 7 lines, found ${lines.length}`);
  const [lenLine, nonceLine, saltLine, paramsLine, cipherLine, hashLine] = lines as [
    string, string, string, string, string, string, string,
  ];

  if (!DECIMAL.test(lenLine)) throw corrupt('line 1 (ciphertext length) is not a decimal number');
  const cipherLen = Number(lenLine);

  const params = paramsLine.split(':');
  if (params.length !== 8 || !params.every((p) => DECIMAL.test(p))) {
    throw corrupt('line 4 (parameters) is not eight colon-separated decimal numbers');
  }
  const [nonceLen, saltLen, macLen, keyLen, variant, opslimit, memlimit, alg] = params.map(Number) as [
    number, number, number, number, number, number, number, number,
  ];
  if (
    nonceLen !== NONCE_BYTES ||
    saltLen !== SALT_BYTES ||
    macLen !== MAC_BYTES ||
    keyLen !== KEY_BYTES ||
    variant !== BASE64_VARIANT_ORIGINAL
  ) {
    throw unsupported(`unsupported account file parameters "${nonceLen}:${saltLen}:${macLen}:${keyLen}:${variant}"`);
  }
  if (alg !== ALG_ARGON2ID13) throw unsupported(`unsupported key derivation algorithm ${alg} (expected 2, Argon2id)`);
  checkLimits(opslimit, memlimit);

  const nonce = decodeField(nonceLine, 2, 'nonce', NONCE_BYTES);
  const salt = decodeField(saltLine, 3, 'salt', SALT_BYTES);
  const ciphertext = decodeField(cipherLine, 5, 'ciphertext');
  if (ciphertext.length < MAC_BYTES) throw corrupt('line 5 (ciphertext) is shorter than its MAC');
  if (ciphertext.length !== cipherLen) {
    throw corrupt(`line 1 says ${cipherLen} ciphertext bytes, line 5 holds ${ciphertext.length}`);
  }
  const hashKey = decodeField(hashLine, 6, 'hash key', KEY_BYTES);
  // Line 7 (version) is informational for files in this layout: any text is accepted.
  return { nonce, salt, opslimit, memlimit, ciphertext, hashKey };
}

function checkPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string') throw invalidArgument('password must be a string');
  // oidc-agent hashes the password as a C string: bytes after a NUL would be ignored there.
  if (password.includes('\0')) throw invalidArgument('password must not contain NUL characters');
}

function inRange(n: unknown, min: number, max: number): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max;
}

function checkFileKey(key: unknown): asserts key is FileKey {
  const k = key as Partial<FileKey> | null;
  if (
    typeof k !== 'object' ||
    k === null ||
    !(k.salt instanceof Uint8Array) ||
    k.salt.length !== SALT_BYTES ||
    !(k.derived instanceof Uint8Array) ||
    k.derived.length !== DERIVED_BYTES ||
    !inRange(k.opslimit, MIN_OPSLIMIT, MAX_OPSLIMIT) ||
    !inRange(k.memlimit, MIN_MEMLIMIT, MAX_MEMLIMIT)
  ) {
    throw invalidArgument('key must be a FileKey (16-byte salt, 64-byte derived key, Argon2id limits in range)');
  }
}

/**
 * Encrypts `plaintext` under an already-derived key: a fresh nonce, the same salt and hash key,
 * so the result still opens with the original password. Does not touch the disk.
 */
export async function encryptWithKey(plaintext: string, key: FileKey): Promise<string> {
  if (typeof plaintext !== 'string') throw invalidArgument('plaintext must be a string');
  checkFileKey(key);
  const bytes = new TextEncoder().encode(plaintext);
  // oidc-agent reads the plaintext back as a C string.
  if (bytes.includes(0)) throw invalidArgument('plaintext must not contain NUL characters');
  const sodium = await loadSodium();
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const ciphertext = sodium.crypto_secretbox_easy(bytes, nonce, key.derived.subarray(0, KEY_BYTES));
  bytes.fill(0);
  return [
    String(ciphertext.length),
    encodeBase64(nonce),
    encodeBase64(key.salt),
    `${NONCE_BYTES}:${SALT_BYTES}:${MAC_BYTES}:${KEY_BYTES}:${BASE64_VARIANT_ORIGINAL}:${key.opslimit}:${key.memlimit}:${ALG_ARGON2ID13}`,
    encodeBase64(ciphertext),
    encodeBase64(key.derived.subarray(KEY_BYTES)),
    ACCOUNT_FILE_VERSION_LINE,
  ].join('\n');
}

/**
 * Encrypts `plaintext` with `password` into oidc-agent's 7-line account file text
 * (Argon2id, 64 MiB, fresh salt and nonce). Returns the text and its {@link FileKey}.
 * Does not write anything.
 */
export async function encryptAccountFile(plaintext: string, password: string): Promise<{ text: string; key: FileKey }> {
  if (typeof plaintext !== 'string') throw invalidArgument('plaintext must be a string');
  checkPassword(password);
  const sodium = await loadSodium();
  const salt = sodium.randombytes_buf(SALT_BYTES);
  const derived = sodium.crypto_pwhash(DERIVED_BYTES, password, salt, DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT, ALG_ARGON2ID13);
  const key: FileKey = { salt, derived, opslimit: DEFAULT_OPSLIMIT, memlimit: DEFAULT_MEMLIMIT };
  return { text: await encryptWithKey(plaintext, key), key };
}

/**
 * Decrypts oidc-agent account file text (format ≥ 2.1) with `password`.
 * Wrong password → `STORE_WRONG_PASSWORD`; malformed or tampered → `STORE_CORRUPT_FILE`;
 * pre-2.1 hex, gpg or odd parameters → `STORE_UNSUPPORTED_FORMAT`. Does not parse the JSON.
 */
export async function decryptAccountFile(text: string, password: string): Promise<{ plaintext: string; key: FileKey }> {
  if (typeof text !== 'string') throw invalidArgument('text must be a string');
  checkPassword(password);
  const file = parseAccountFileText(text);
  const sodium = await loadSodium();
  const derived = sodium.crypto_pwhash(DERIVED_BYTES, password, file.salt, file.opslimit, file.memlimit, ALG_ARGON2ID13);
  // The hash key tells a wrong password from a damaged file; compare in constant time.
  if (!sodium.memcmp(derived.subarray(KEY_BYTES), file.hashKey)) {
    derived.fill(0);
    throw new StoreError(StoreErrorCode.WRONG_PASSWORD, 'wrong password');
  }
  let opened: Uint8Array;
  try {
    opened = sodium.crypto_secretbox_open_easy(file.ciphertext, file.nonce, derived.subarray(0, KEY_BYTES));
  } catch {
    derived.fill(0);
    throw corrupt('authentication failed (the password is right, the content was altered)');
  }
  let plaintext: string;
  try {
    plaintext = new TextDecoder('utf-8', { fatal: true }).decode(opened);
  } catch {
    throw corrupt('decrypted content is not UTF-8 text');
  } finally {
    opened.fill(0);
  }
  return { plaintext, key: { salt: file.salt, derived, opslimit: file.opslimit, memlimit: file.memlimit } };
}

/**
 * Whether account file `text` is encrypted under `key` (same salt and hash key), so that a file
 * written with {@link encryptWithKey} still opens with the password the file has now. False for
 * a file re-encrypted with another password, or any text that is not a readable account file.
 * No key derivation, no decryption.
 */
export function fileKeyMatches(text: string, key: FileKey): boolean {
  checkFileKey(key);
  let file: ParsedAccountFile;
  try {
    file = parseAccountFileText(text);
  } catch {
    return false;
  }
  return (
    Buffer.from(file.salt).equals(Buffer.from(key.salt)) &&
    timingSafeEqual(Buffer.from(file.hashKey), Buffer.from(key.derived.subarray(KEY_BYTES)))
  );
}

/** Converts a {@link FileKey} to JSON-safe values (for the 0600 agent socket, never for disk). */
export function serializeFileKey(key: FileKey): SerializedFileKey {
  checkFileKey(key);
  return {
    salt: encodeBase64(key.salt),
    derived: encodeBase64(key.derived),
    opslimit: key.opslimit,
    memlimit: key.memlimit,
  };
}

/** Validates and decodes a {@link SerializedFileKey} received from a peer; `STORE_INVALID_KEY` on any flaw. */
export function parseFileKey(value: unknown): FileKey {
  const bad = (message: string): StoreError => new StoreError(StoreErrorCode.INVALID_KEY, message);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('file key must be an object');
  const v = value as Record<string, unknown>;
  const bytes = (field: 'salt' | 'derived', length: number): Uint8Array => {
    const s = v[field];
    if (typeof s !== 'string') throw bad(`"${field}" must be a string`);
    const decoded = decodeBase64(s);
    if (decoded === undefined) throw bad(`"${field}" must be standard base64`);
    if (decoded.length !== length) throw bad(`"${field}" must be ${length} bytes`);
    return decoded;
  };
  const int = (field: 'opslimit' | 'memlimit', min: number, max: number): number => {
    const n = v[field];
    if (!inRange(n, min, max)) throw bad(`"${field}" must be an integer between ${min} and ${max}`);
    return n as number;
  };
  return {
    salt: bytes('salt', SALT_BYTES),
    derived: bytes('derived', DERIVED_BYTES),
    opslimit: int('opslimit', MIN_OPSLIMIT, MAX_OPSLIMIT),
    memlimit: int('memlimit', MIN_MEMLIMIT, MAX_MEMLIMIT),
  };
}
