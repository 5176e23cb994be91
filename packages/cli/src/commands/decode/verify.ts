/**
 * `token-decode --verify`: the signature against the issuer's keys (JWKS found through the
 * issuer's discovery document), `exp`, `nbf` and, when asked, the audience. jose is loaded only
 * here. Plain-http issuers follow the agent's rule: loopback hosts only, and only with
 * `TOKEN_AGENT_ALLOW_HTTP_LOOPBACK=1`.
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-7.2 (validating a JWT)
 */
import { isIPv4 } from 'node:net';
import { duration, localTime } from './jwt.js';

/** A token that did not verify; `message` is the reason, fit for the user. */
export class VerifyError extends Error {
  override readonly name = 'VerifyError';
}

/** Audiences that mean "any relying party" (WLCG common JWT profile, SciTokens). */
export const ANY_AUDIENCE = ['https://wlcg.cern.ch/jwt/v1/any', 'ANY'] as const;

const ALLOW_HTTP_LOOPBACK_ENV = 'TOKEN_AGENT_ALLOW_HTTP_LOOPBACK';

function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h === '[::1]' || (isIPv4(h) && h.startsWith('127.'));
}

/** Parses a URL we are about to fetch and refuses what the agent would refuse. */
export function checkUrl(raw: string, env: NodeJS.ProcessEnv, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new VerifyError(`the ${what} "${raw.slice(0, 200)}" is not a URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol !== 'http:') throw new VerifyError(`the ${what} ${url.href} is not https`);
  if (!isLoopback(url.hostname)) throw new VerifyError(`the ${what} ${url.origin} uses plain http; only https is trusted`);
  const opt = env[ALLOW_HTTP_LOOPBACK_ENV];
  if (opt !== '1' && opt !== 'true') {
    throw new VerifyError(`the ${what} ${url.origin} uses plain http: set ${ALLOW_HTTP_LOOPBACK_ENV}=1 to allow http:// on loopback hosts`);
  }
  return url;
}

async function getJson(url: URL, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new VerifyError(`cannot fetch ${url.href} (${cause})`);
  }
  if (res.status === 404) return undefined;
  if (!res.ok) throw new VerifyError(`${url.href} answered HTTP ${res.status}`);
  const body: unknown = await res.json().catch(() => undefined);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new VerifyError(`${url.href} did not answer a JSON object`);
  return body as Record<string, unknown>;
}

/** The issuer's `jwks_uri`, from OpenID Connect Discovery, else RFC 8414. */
export async function discoverJwksUri(issuer: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<URL> {
  const iss = checkUrl(issuer, env, 'issuer');
  const path = iss.pathname.replace(/\/+$/, '');
  const candidates = [`${iss.origin}${path}/.well-known/openid-configuration`, `${iss.origin}/.well-known/oauth-authorization-server${path}`];
  for (const c of candidates) {
    const meta = await getJson(new URL(c), timeoutMs);
    if (meta === undefined) continue;
    if (typeof meta['issuer'] !== 'string' || meta['issuer'].replace(/\/+$/, '') !== issuer.replace(/\/+$/, '')) {
      throw new VerifyError(`${c} names the issuer ${String(meta['issuer'])}, not ${issuer}`);
    }
    if (typeof meta['jwks_uri'] !== 'string') throw new VerifyError(`${c} has no jwks_uri`);
    return checkUrl(meta['jwks_uri'], env, 'jwks_uri');
  }
  throw new VerifyError(`the issuer ${issuer} publishes no discovery document (${candidates.join(', ')})`);
}

function audiences(payload: Record<string, unknown>): string[] {
  const aud = payload['aud'];
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

export interface VerifyOptions {
  /** The audience the token must carry (a WLCG/SciTokens "any" audience also passes). */
  audience?: string | undefined;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Resolves when the token verifies; rejects with a {@link VerifyError} saying why not. */
export async function verifyToken(token: string, header: Record<string, unknown>, payload: Record<string, unknown>, o: VerifyOptions): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (typeof header['alg'] !== 'string' || header['alg'] === 'none') throw new VerifyError('the token is not signed (alg none)');
  const iss = payload['iss'];
  if (typeof iss !== 'string' || iss === '') throw new VerifyError('the token has no "iss" claim: its issuer\'s keys cannot be found');
  const jwksUri = await discoverJwksUri(iss, o.env, timeoutMs);
  const aud = audiences(payload);
  const anyAudience = aud.some((a) => (ANY_AUDIENCE as readonly string[]).includes(a));
  const jose = await import('jose');
  const keys = jose.createRemoteJWKSet(jwksUri, { timeoutDuration: timeoutMs });
  try {
    await jose.jwtVerify(token, keys, { issuer: iss, ...(o.audience !== undefined && !anyAudience ? { audience: o.audience } : {}) });
  } catch (err) {
    throw new VerifyError(reason(err, payload, jwksUri, header, o.audience));
  }
}

function reason(err: unknown, payload: Record<string, unknown>, jwksUri: URL, header: Record<string, unknown>, audience: string | undefined): string {
  const e = err as { code?: string; claim?: string; message?: string };
  const now = Math.floor(Date.now() / 1000);
  switch (e.code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad signature: the token was altered, or not signed by its issuer';
    case 'ERR_JWT_EXPIRED': {
      const exp = payload['exp'];
      return typeof exp === 'number' ? `expired at ${localTime(exp)} (${duration(now - exp)} ago)` : 'expired';
    }
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      if (e.claim === 'nbf') {
        const nbf = payload['nbf'];
        return typeof nbf === 'number' ? `not valid before ${localTime(nbf)} (in ${duration(nbf - now)})` : 'not yet valid (nbf)';
      }
      if (e.claim === 'aud') return `wrong audience: the token is for ${audiences(payload).join(', ') || 'no audience'}, not ${audience ?? '?'}`;
      return `claim "${e.claim ?? '?'}" is invalid: ${e.message ?? ''}`;
    }
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return `no key of the issuer (${jwksUri.href}) matches the token${typeof header['kid'] === 'string' ? ` (kid ${header['kid']})` : ''}`;
    case 'ERR_JWKS_TIMEOUT':
      return `timed out fetching the issuer's keys from ${jwksUri.href}`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return `unsupported signature algorithm ${String(header['alg'])}`;
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWT_CLAIM_INVALID':
      return `malformed token: ${e.message ?? ''}`;
    case 'ERR_JWKS_INVALID':
      return `the issuer's key set at ${jwksUri.href} is invalid`;
    default:
      if (err instanceof TypeError || (e.message ?? '').includes('fetch')) return `cannot fetch the issuer's keys from ${jwksUri.href}`;
      return `verification failed (${e.code ?? (err as Error).name ?? 'error'})`;
  }
}
