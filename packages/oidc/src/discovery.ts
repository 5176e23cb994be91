import type { ServerMetadata } from 'openid-client';
import { OIDC_ERROR_CODES, OidcError, statusError } from './errors.js';
import { createPolicyFetch, type CallOptions, type HttpOptions, type PolicyFetch } from './http.js';
import { parseIssuerUrl, sameIssuer } from './issuer-url.js';
import { readJsonObject, type JsonObject } from './json.js';

/** How long discovered metadata is reused in this process. */
export const DISCOVERY_TTL_MS = 60 * 60 * 1000;

export interface DiscoverOptions extends HttpOptions, CallOptions {
  /** Allow an `http://` issuer on a loopback host (the agent sets it from TOKEN_AGENT_ALLOW_HTTP_LOOPBACK). */
  allowInsecureLoopback?: boolean;
  /** Skip the in-process cache and fetch the document again. */
  refresh?: boolean;
}

/** An OP's metadata, checked, as discovered from its well-known document. */
export interface DiscoveredIssuer {
  /** The issuer as the document states it (what ID tokens must carry in `iss`). */
  readonly issuer: string;
  /** Where the document was found. */
  readonly discoveryUrl: string;
  /** True when the issuer is plain http on loopback (requests to it need the opt-in). */
  readonly insecureLoopback: boolean;
  readonly metadata: Readonly<ServerMetadata>;
}

interface CacheEntry {
  at: number;
  promise: Promise<DiscoveredIssuer>;
}

const cache = new Map<string, CacheEntry>();

/** Forgets every cached discovery (tests; an agent told that an OP changed). */
export function clearDiscoveryCache(): void {
  cache.clear();
}

function cacheKey(url: URL): string {
  return url.href.replace(/\/+$/, '');
}

/**
 * Where to look, in order: OpenID Connect Discovery (`<issuer>/.well-known/openid-configuration`),
 * then RFC 8414 (`/.well-known/oauth-authorization-server` inserted before the issuer's path), then
 * the appended form some servers use for path issuers.
 */
export function discoveryCandidates(issuer: URL): string[] {
  const path = issuer.pathname.replace(/\/+$/, '');
  const out = [`${issuer.origin}${path}/.well-known/openid-configuration`];
  out.push(`${issuer.origin}/.well-known/oauth-authorization-server${path}`);
  if (path !== '') out.push(`${issuer.origin}${path}/.well-known/oauth-authorization-server`);
  return out;
}

const ENDPOINT_KEYS = [
  'token_endpoint',
  'authorization_endpoint',
  'device_authorization_endpoint',
  'registration_endpoint',
  'revocation_endpoint',
  'introspection_endpoint',
  'userinfo_endpoint',
  'end_session_endpoint',
  'jwks_uri',
] as const;

function validateMetadata(doc: JsonObject, expected: URL, where: string): ServerMetadata {
  const issuer = doc['issuer'];
  if (typeof issuer !== 'string' || issuer.length === 0) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `discovery document at ${where} has no "issuer"`);
  }
  if (!sameIssuer(issuer, expected.href)) {
    throw new OidcError(
      OIDC_ERROR_CODES.BAD_RESPONSE,
      `discovery document at ${where} names issuer "${issuer.slice(0, 200)}", expected "${expected.href}"`,
    );
  }
  for (const key of ENDPOINT_KEYS) {
    const v = doc[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !URL.canParse(v)) {
      throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"${key}" in the discovery document at ${where} is not a URL`);
    }
  }
  if (doc['token_endpoint'] === undefined) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `discovery document at ${where} has no "token_endpoint"`);
  }
  for (const key of ['scopes_supported', 'grant_types_supported'] as const) {
    const v = doc[key];
    if (v !== undefined && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) {
      throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"${key}" in the discovery document at ${where} is not a list of strings`);
    }
  }
  return Object.freeze({ ...doc, issuer }) as ServerMetadata;
}

async function fetchDocument(issuer: URL, fetchFn: PolicyFetch): Promise<DiscoveredIssuer> {
  let firstMiss: OidcError | undefined;
  for (const candidate of discoveryCandidates(issuer)) {
    const res = await fetchFn(candidate, { method: 'GET', headers: { accept: 'application/json' } });
    // Only a clear "not here" moves on to the next location; anything else is this OP's answer.
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      firstMiss ??= new OidcError(
        OIDC_ERROR_CODES.BAD_RESPONSE,
        `no discovery document for ${issuer.href} (HTTP ${res.status} at ${candidate})`,
        { status: res.status },
      );
      continue;
    }
    if (res.status !== 200) throw statusError(res.status, `discovery at ${candidate}`);
    const doc = await readJsonObject(res, `discovery at ${candidate}`);
    return Object.freeze({
      issuer: (doc['issuer'] as string | undefined) ?? issuer.href,
      discoveryUrl: candidate,
      insecureLoopback: issuer.protocol === 'http:',
      metadata: validateMetadata(doc, issuer, candidate),
    });
  }
  throw firstMiss as OidcError;
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new OidcError(OIDC_ERROR_CODES.ABORTED, `${what} cancelled`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new OidcError(OIDC_ERROR_CODES.ABORTED, `${what} cancelled`));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Discovers an OP: fetches its well-known metadata (OpenID Connect Discovery, falling back to
 * RFC 8414), checks that the document names the issuer we asked for (a trailing slash aside) and
 * that its endpoints are URLs. Results are cached per issuer in this process for
 * {@link DISCOVERY_TTL_MS}; failures are not cached. Concurrent calls share one fetch; a caller's
 * `signal` cancels only its own wait.
 *
 * Plain-http issuers are refused (`OIDC_INSECURE_ISSUER`) unless the host is loopback and
 * `allowInsecureLoopback` is set.
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html §4
 * @see https://www.rfc-editor.org/rfc/rfc8414 §3
 */
export async function discover(issuer: string, options: DiscoverOptions = {}): Promise<DiscoveredIssuer> {
  const allowInsecure = options.allowInsecureLoopback === true;
  const url = parseIssuerUrl(issuer, allowInsecure);
  const key = cacheKey(url);
  const now = Date.now();
  let entry = cache.get(key);
  if (options.refresh || !entry || now - entry.at > DISCOVERY_TTL_MS) {
    const { signal: _signal, ...httpOptions } = options;
    const fetchFn = createPolicyFetch({ ...httpOptions, allowInsecureLoopback: allowInsecure });
    const promise = fetchDocument(url, fetchFn);
    const fresh: CacheEntry = { at: now, promise };
    entry = fresh;
    cache.set(key, fresh);
    promise.catch(() => {
      if (cache.get(key) === fresh) cache.delete(key);
    });
  }
  return raceSignal(entry.promise, options.signal, `discovery of ${url.href}`);
}
