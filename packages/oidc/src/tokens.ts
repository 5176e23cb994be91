import { OIDC_ERROR_CODES, OidcError } from './errors.js';

/**
 * Lifetime assumed when the OP gives no `expires_in` and the access token is not a JWT with `exp`.
 * Short on purpose: a too-long guess hands out dead tokens, a too-short one only costs a refresh.
 */
export const DEFAULT_EXPIRES_IN_S = 60;

/** A token endpoint answer, checked and normalised. */
export interface TokenSet {
  access_token: string;
  /** `Bearer` or `DPoP`, canonical spelling whatever case the OP used. */
  token_type: 'Bearer' | 'DPoP';
  /** Unix seconds: receipt time + `expires_in` (or the JWT's `exp`, or {@link DEFAULT_EXPIRES_IN_S}). */
  expires_at: number;
  /** Present when the OP issued one; a new one replaces (rotation) the one used. */
  refresh_token?: string;
  id_token?: string;
  /** Space-separated scope granted, when the OP says (RFC 6749 §5.1: absent = as requested). */
  scope?: string;
}

/** Reads `exp` from a JWS compact access token without verifying it (we are not its audience). */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
      const exp = (payload as { exp?: unknown }).exp;
      if (typeof exp === 'number' && Number.isFinite(exp)) return Math.floor(exp);
    }
  } catch {
    // Not a JWT after all: an opaque token may contain dots.
  }
  return undefined;
}

function bad(message: string): OidcError {
  return new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, message);
}

/** RFC 6749 Appendix A.12/A.17: an access or refresh token is 1*VSCHAR (printable ASCII, space). */
const VSCHAR = /^[\x20-\x7e]+$/;

/**
 * Returns `value` when it is a token's characters, else throws naming `field` (never the value).
 * Tokens are printed to terminals, written to token files and sent in headers: a control character
 * from a hostile or broken server must not get that far.
 */
export function checkTokenChars(value: string, field: string, what: string): string {
  if (!VSCHAR.test(value)) throw tokenCharsError(field, what);
  return value;
}

/** Whether `value` has only a token's characters (see {@link checkTokenChars}). */
export function isTokenChars(value: string): boolean {
  return VSCHAR.test(value);
}

/** The error for a token with characters outside VSCHAR. */
export function tokenCharsError(field: string, what: string): OidcError {
  return bad(`"${field}" in the answer from ${what} has characters no token may have (RFC 6749: printable ASCII only)`);
}

/**
 * Checks a token endpoint answer and turns it into a {@link TokenSet}.
 *
 * `expires_at` is computed from `expires_in` at `receivedAt` (ms). Without `expires_in`, the JWT
 * access token's `exp` is used when it lies in the future; otherwise {@link DEFAULT_EXPIRES_IN_S}.
 * Messages name fields, never values.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function toTokenSet(body: unknown, receivedAt: number = Date.now(), what = 'token endpoint'): TokenSet {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw bad(`answer from ${what} is not a JSON object`);
  }
  const b = body as Record<string, unknown>;
  if (typeof b['access_token'] !== 'string' || b['access_token'].length === 0) {
    throw bad(`answer from ${what} has no "access_token"`);
  }
  const accessToken = checkTokenChars(b['access_token'], 'access_token', what);

  const rawType = b['token_type'];
  if (typeof rawType !== 'string') throw bad(`answer from ${what} has no "token_type"`);
  let tokenType: TokenSet['token_type'];
  switch (rawType.toLowerCase()) {
    case 'bearer':
      tokenType = 'Bearer';
      break;
    case 'dpop':
      tokenType = 'DPoP';
      break;
    default:
      throw bad(`answer from ${what} has an unsupported "token_type"`);
  }

  const nowS = Math.floor(receivedAt / 1000);
  let expiresAt: number;
  const rawExpiresIn = b['expires_in'];
  if (rawExpiresIn !== undefined && rawExpiresIn !== null) {
    const expiresIn = typeof rawExpiresIn === 'string' && rawExpiresIn.trim() !== '' ? Number(rawExpiresIn) : rawExpiresIn;
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw bad(`"expires_in" in the answer from ${what} must be a positive number`);
    }
    expiresAt = nowS + Math.floor(expiresIn);
    // Never claim more than the token itself says: `expires_in` counted from our receipt can end a
    // second after the JWT's own `exp` (the OP issued it in the previous second).
    const exp = jwtExpiry(accessToken);
    if (exp !== undefined && exp > nowS && exp < expiresAt) expiresAt = exp;
  } else {
    const exp = jwtExpiry(accessToken);
    expiresAt = exp !== undefined && exp > nowS ? exp : nowS + DEFAULT_EXPIRES_IN_S;
  }

  const out: TokenSet = { access_token: accessToken, token_type: tokenType, expires_at: expiresAt };
  for (const key of ['refresh_token', 'id_token', 'scope'] as const) {
    const v = b[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw bad(`"${key}" in the answer from ${what} must be a string`);
    if (v.length > 0) out[key] = key === 'scope' ? v : checkTokenChars(v, key, what);
  }
  return out;
}
