import { isIPv4 } from 'node:net';
import { OIDC_ERROR_CODES, OidcError } from './errors.js';

/** The environment variable the agent reads to set `allowInsecureLoopback`; named in error messages. */
export const ALLOW_HTTP_LOOPBACK_ENV = 'TOKEN_AGENT_ALLOW_HTTP_LOOPBACK';

/**
 * True for `localhost`, 127.0.0.0/8 and ::1: hosts whose traffic never leaves the machine.
 * Takes `URL.hostname` (IPv6 in brackets).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost') return true;
  if (host === '[::1]' || host === '::1') return true;
  return isIPv4(host) && host.startsWith('127.');
}

/**
 * Refuses a URL we must not talk to: anything but https, except http to a loopback host when the
 * caller opted in. The message says how to opt in, because a dev OP on 127.0.0.1 is the common case.
 */
export function assertSecureUrl(url: URL, allowInsecureLoopback: boolean, what = 'OP URL'): void {
  if (url.protocol === 'https:') return;
  if (url.protocol !== 'http:') {
    throw new OidcError(OIDC_ERROR_CODES.INVALID_ISSUER, `${what} must use https:// (got ${url.protocol})`);
  }
  if (!isLoopbackHost(url.hostname)) {
    throw new OidcError(
      OIDC_ERROR_CODES.INSECURE_ISSUER,
      `${what} ${url.origin} uses plain http: only loopback hosts (127.0.0.0/8, ::1, localhost) may, and only with ${ALLOW_HTTP_LOOPBACK_ENV}=1`,
    );
  }
  if (!allowInsecureLoopback) {
    throw new OidcError(
      OIDC_ERROR_CODES.INSECURE_ISSUER,
      `${what} ${url.origin} uses plain http: set ${ALLOW_HTTP_LOOPBACK_ENV}=1 to allow http:// on loopback hosts`,
    );
  }
}

/**
 * Parses and checks an issuer identifier (OpenID Connect Discovery §2: https, no query, no fragment).
 * A caller's typo is an operational error here (it comes from a user), not a TypeError.
 */
export function parseIssuerUrl(issuer: string, allowInsecureLoopback: boolean): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new OidcError(OIDC_ERROR_CODES.INVALID_ISSUER, `issuer "${issuer.slice(0, 200)}" is not a URL`);
  }
  assertSecureUrl(url, allowInsecureLoopback, 'issuer');
  if (url.search || url.hash || url.username || url.password) {
    throw new OidcError(
      OIDC_ERROR_CODES.INVALID_ISSUER,
      `issuer ${url.origin}${url.pathname} must not carry a query, fragment or credentials`,
    );
  }
  return url;
}

/** Issuer comparison that forgives a trailing slash, as oidc-agent users write both forms. */
export function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
