import { ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';

/**
 * Stable codes of {@link OidcError}. Callers branch on these, never on message text.
 */
export const OIDC_ERROR_CODES = {
  /** The OP refused the grant: refresh token expired or revoked, wrong password, used device code. */
  INVALID_GRANT: 'OIDC_INVALID_GRANT',
  /** The user denied the request (device flow) or the OP refused access. */
  ACCESS_DENIED: 'OIDC_ACCESS_DENIED',
  /** The device code expired before the user approved it. */
  EXPIRED_TOKEN: 'OIDC_EXPIRED_TOKEN',
  /** Any other OAuth error from the OP; `error` and `error_description` are kept. */
  OP_ERROR: 'OIDC_OP_ERROR',
  /** No answer within the deadline (after all tries). */
  TIMEOUT: 'OIDC_TIMEOUT',
  /** Connection refused or reset, DNS failure, TLS failure (after all tries). */
  NETWORK: 'OIDC_NETWORK',
  /** The OP kept answering 5xx / 408 / 429 (after all tries). */
  UNAVAILABLE: 'OIDC_UNAVAILABLE',
  /** The OP answered something that is not what the protocol says (HTML, bad JSON, missing fields, wrong issuer). */
  BAD_RESPONSE: 'OIDC_BAD_RESPONSE',
  /** A plain-http URL without the loopback opt-in, or for a host that is not loopback. */
  INSECURE_ISSUER: 'OIDC_INSECURE_ISSUER',
  /** The issuer given to us is not a usable URL (not a URL, a query or fragment, not http(s)). */
  INVALID_ISSUER: 'OIDC_INVALID_ISSUER',
  /** Dynamic client registration is not offered or was refused. */
  REGISTRATION_REFUSED: 'OIDC_REGISTRATION_REFUSED',
  /** The OP does not offer what was asked (no device endpoint, no revocation endpoint, …). */
  UNSUPPORTED: 'OIDC_UNSUPPORTED',
  /** The caller cancelled the operation through its AbortSignal. */
  ABORTED: 'OIDC_ABORTED',
  /** Something failed that this package did not expect: a bug, please report. */
  INTERNAL: 'OIDC_INTERNAL',
} as const;

export type OidcErrorCode = (typeof OIDC_ERROR_CODES)[keyof typeof OIDC_ERROR_CODES];

export interface OidcErrorOptions {
  cause?: unknown;
  /** OAuth `error` value from the OP. */
  error?: string;
  /** OAuth `error_description` value from the OP. */
  error_description?: string;
  /** HTTP status of the OP's answer, when there was one. */
  status?: number;
  /** How many HTTP tries were made before giving up. */
  attempts?: number;
}

/**
 * Operational failure while talking to an OP.
 *
 * `cause` is chained but not enumerable: an OP error body or a foreign error can hold a token, and
 * nothing that serialises this error (JSON.stringify, a structured logger) should see it.
 * The message never contains a token, a refresh token, a client secret or a password.
 */
export class OidcError extends Error {
  override readonly name = 'OidcError';
  readonly code: OidcErrorCode;
  readonly error?: string;
  readonly error_description?: string;
  readonly status?: number;
  readonly attempts?: number;

  constructor(code: OidcErrorCode, message: string, options: OidcErrorOptions = {}) {
    super(message);
    this.code = code;
    if (options.error !== undefined) this.error = options.error;
    if (options.error_description !== undefined) this.error_description = options.error_description;
    if (options.status !== undefined) this.status = options.status;
    if (options.attempts !== undefined) this.attempts = options.attempts;
    if (options.cause !== undefined) {
      Object.defineProperty(this, 'cause', {
        value: options.cause,
        enumerable: false,
        writable: false,
        configurable: true,
      });
    }
  }
}

export function isOidcError(err: unknown, code?: OidcErrorCode): err is OidcError {
  return err instanceof OidcError && (code === undefined || err.code === code);
}

/** What the translator needs to know about the call that failed. */
export interface TranslateContext {
  /** Human name of what was called, e.g. "token endpoint". */
  what: string;
  /** Values that must never show up in a message (the refresh token, the password, …). */
  secrets?: readonly (string | undefined)[];
}

const MAX_ERROR_LEN = 100;
const MAX_DESCRIPTION_LEN = 500;

/**
 * Makes an OP-supplied string safe to show: no control characters, bounded length, no secrets.
 */
export function sanitizeOpText(
  text: unknown,
  maxLen: number,
  secrets: readonly (string | undefined)[] = [],
): string | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  // eslint-disable-next-line no-control-regex
  let out = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  if (out.length > maxLen) out = `${out.slice(0, maxLen)}…`;
  return out.length > 0 ? out : undefined;
}

/**
 * A URL from an OP or mytoken server that the user is shown (verification_uri, consent_uri): it
 * must be an http(s) URL, and it is returned in its parsed form, where control characters are
 * percent-encoded, so a hostile server cannot put terminal escape sequences on the user's screen.
 */
export function displayUrl(value: unknown, field: string, from: string): string {
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `the answer from ${from} has no usable "${field}" (an http(s) URL)`);
  }
  return url.href;
}

/** Maps an OAuth `error` value to our code. */
function codeForOAuthError(error: string): OidcErrorCode {
  switch (error) {
    case 'invalid_grant':
      return OIDC_ERROR_CODES.INVALID_GRANT;
    case 'access_denied':
      return OIDC_ERROR_CODES.ACCESS_DENIED;
    case 'expired_token':
      return OIDC_ERROR_CODES.EXPIRED_TOKEN;
    default:
      return OIDC_ERROR_CODES.OP_ERROR;
  }
}

/**
 * Builds the error for an OAuth error answer, with oidc-agent's `error: description` message.
 */
export function oauthError(
  rawError: unknown,
  rawDescription: unknown,
  options: { status?: number; cause?: unknown; secrets?: readonly (string | undefined)[] } = {},
): OidcError {
  const error = sanitizeOpText(rawError, MAX_ERROR_LEN, options.secrets) ?? 'unknown_error';
  const description = sanitizeOpText(rawDescription, MAX_DESCRIPTION_LEN, options.secrets);
  const opts: OidcErrorOptions = { error, cause: options.cause };
  if (description !== undefined) opts.error_description = description;
  if (options.status !== undefined) opts.status = options.status;
  return new OidcError(codeForOAuthError(error), description ? `${error}: ${description}` : error, opts);
}

/** Statuses that mean "the OP is overloaded or down" rather than "the OP said no". */
export function isUnavailableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function statusError(status: number, what: string, cause?: unknown): OidcError {
  if (isUnavailableStatus(status)) {
    return new OidcError(OIDC_ERROR_CODES.UNAVAILABLE, `${what} is unavailable (HTTP ${status})`, { status, cause });
  }
  return new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `unexpected HTTP status ${status} from ${what}`, {
    status,
    cause,
  });
}

function findOidcError(err: unknown): OidcError | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 8 && cur !== null && typeof cur === 'object'; depth++) {
    if (cur instanceof OidcError) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function responseStatus(value: unknown): number | undefined {
  return value instanceof Response ? value.status : undefined;
}

function causeMessage(err: Error): string | undefined {
  const cause = (err as { cause?: unknown }).cause;
  // oauth4webapi's OperationProcessingError messages name fields, never values.
  if (cause instanceof Error && cause.message && cause.message !== err.message) return cause.message;
  return undefined;
}

/**
 * The one translator at the OP boundary: turns anything openid-client, oauth4webapi, fetch or our
 * own HTTP layer throws into an {@link OidcError}. Caller misuse (`TypeError` with a Node-style
 * `code`) is rethrown unchanged.
 */
export function translateError(err: unknown, ctx: TranslateContext): OidcError | TypeError {
  const ours = findOidcError(err);
  if (ours) return ours;

  if (err instanceof ResponseBodyError) {
    return oauthError(err.error, err.error_description, { status: err.status, cause: err, secrets: ctx.secrets });
  }
  if (err instanceof WWWAuthenticateChallengeError) {
    const params = err.cause.find((c) => c.parameters.error !== undefined)?.parameters;
    if (params) {
      return oauthError(params.error, params.error_description, {
        status: err.status,
        cause: err,
        secrets: ctx.secrets,
      });
    }
    return statusError(err.status, ctx.what, err);
  }
  if (err instanceof ClientError) {
    switch (err.code) {
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM': {
        const status = responseStatus((err as { cause?: unknown }).cause);
        if (status !== undefined) return statusError(status, ctx.what, err);
        return new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `unexpected answer from ${ctx.what}`, { cause: err });
      }
      case 'OAUTH_RESPONSE_IS_NOT_JSON': {
        const status = responseStatus((err as { cause?: unknown }).cause);
        const detail = status === undefined ? '' : ` (HTTP ${status})`;
        return new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${ctx.what} did not answer with JSON${detail}`, {
          cause: err,
          ...(status === undefined ? {} : { status }),
        });
      }
      case 'OAUTH_PARSE_ERROR':
        return new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${ctx.what} answered with malformed JSON`, {
          cause: err,
        });
      case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
        return new OidcError(
          OIDC_ERROR_CODES.INSECURE_ISSUER,
          `refusing a plain-http request to ${ctx.what}: the OP's metadata points to an http:// endpoint`,
          { cause: err },
        );
      case 'OAUTH_MISSING_SERVER_METADATA':
        return new OidcError(
          OIDC_ERROR_CODES.UNSUPPORTED,
          `the OP does not offer this: ${causeMessage(err) ?? err.message}`,
          { cause: err },
        );
      case 'OAUTH_TIMEOUT':
        return new OidcError(OIDC_ERROR_CODES.TIMEOUT, `no answer from ${ctx.what} in time`, { cause: err });
      case 'OAUTH_ABORT':
        return new OidcError(OIDC_ERROR_CODES.ABORTED, `request to ${ctx.what} cancelled`, { cause: err });
      case 'OAUTH_INVALID_RESPONSE':
      case 'OAUTH_INVALID_SERVER_METADATA':
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      case 'OAUTH_REQUEST_PROTOCOL_FORBIDDEN':
      case 'OAUTH_UNSUPPORTED_OPERATION':
        return new OidcError(
          OIDC_ERROR_CODES.BAD_RESPONSE,
          `invalid answer from ${ctx.what}: ${causeMessage(err) ?? err.message}`,
          { cause: err },
        );
      default:
        break;
    }
  }
  if (err instanceof TypeError) {
    const code: unknown = (err as TypeError & { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_INVALID_ARG')) return err;
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return err.name === 'TimeoutError'
      ? new OidcError(OIDC_ERROR_CODES.TIMEOUT, `no answer from ${ctx.what} in time`, { cause: err })
      : new OidcError(OIDC_ERROR_CODES.ABORTED, `request to ${ctx.what} cancelled`, { cause: err });
  }
  const name = err instanceof Error ? err.name : typeof err;
  return new OidcError(OIDC_ERROR_CODES.INTERNAL, `unexpected ${name} while talking to ${ctx.what}`, { cause: err });
}

/** Runs one OP call and translates whatever it throws. */
export async function atBoundary<T>(ctx: TranslateContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateError(err, ctx);
  }
}
