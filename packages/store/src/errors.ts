/** Stable codes of {@link StoreError}; callers branch on these, never on message text. */
export const StoreErrorCode = {
  /** The password does not match the file's stored hash key. */
  WRONG_PASSWORD: 'STORE_WRONG_PASSWORD',
  /** The file is malformed, truncated, or fails authentication with the right password. */
  CORRUPT_FILE: 'STORE_CORRUPT_FILE',
  /** The file is in a format we recognise but do not read (pre-2.1 hex, gpg, odd KDF parameters). */
  UNSUPPORTED_FORMAT: 'STORE_UNSUPPORTED_FORMAT',
  /** No account file with that name. */
  NOT_FOUND: 'STORE_NOT_FOUND',
  /** An account file with that name already exists (exclusive create). */
  EXISTS: 'STORE_EXISTS',
  /** The short name cannot be an account file name. */
  INVALID_NAME: 'STORE_INVALID_NAME',
  /** The decrypted account JSON has a field of the wrong type or is not JSON. */
  INVALID_CONFIG: 'STORE_INVALID_CONFIG',
  /** A serialized file key (from a peer) is malformed. */
  INVALID_KEY: 'STORE_INVALID_KEY',
  /** The account lacks what is needed to get tokens (issuer, client id, refresh token). */
  ACCOUNT_INCOMPLETE: 'STORE_ACCOUNT_INCOMPLETE',
  /** A path is a symlink, not ours, or not the kind of file expected. */
  UNSAFE_PATH: 'STORE_UNSAFE_PATH',
  /** An issuer.config file (oidc-agent's provider list) is malformed; the message names file and field. */
  INVALID_ISSUER_CONFIG: 'STORE_INVALID_ISSUER_CONFIG',
  /** A password source (env, file, command, prompt) failed or is unavailable. */
  PASSWORD_SOURCE: 'STORE_PASSWORD_SOURCE',
  /** Any other file-system failure; see `cause`. */
  IO: 'STORE_IO',
} as const;

/** One of the {@link StoreErrorCode} values. */
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/** An operational failure of the store; `code` is stable, the message never contains secrets. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Misuse by a caller: a TypeError with a Node-style code. */
export function invalidArgument(message: string): TypeError {
  const err = new TypeError(message) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

/** Node's `err.code` for a system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
