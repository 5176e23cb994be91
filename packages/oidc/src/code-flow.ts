import {
  buildAuthorizationUrl,
  calculatePKCECodeChallenge,
  genericGrantRequest,
  randomNonce,
  randomPKCECodeVerifier,
  randomState,
} from 'openid-client';
import { clientSecretOf, configurationFor, type OidcClient } from './client.js';
import { OIDC_ERROR_CODES, OidcError, atBoundary, oauthError } from './errors.js';
import type { CallOptions } from './http.js';
import { appendResources, scopeList, valueList } from './params.js';
import { registerClient, type RegisteredClient, type RegistrationOptions } from './registration.js';
import { toTokenSet, type TokenSet } from './tokens.js';

/**
 * One authorization request in progress. `codeVerifier` is a secret (PKCE); `state` and `nonce`
 * must come back unchanged. Keep it in memory only, for the lifetime of the flow.
 */
export interface AuthorizationRequest {
  /** The URL to open in the user's browser. */
  url: string;
  redirectUri: string;
  state: string;
  /** Absent when the scope has no `openid` (an OAuth 2 issuer issues no ID token). */
  nonce?: string;
  codeVerifier: string;
}

export interface AuthorizationRequestOptions extends CallOptions {
  /** The loopback redirect URI the listener serves, e.g. `http://127.0.0.1:4242/`. */
  redirectUri: string;
  /** Space-separated string or list. */
  scope?: string | readonly string[];
  /** RFC 8707 resource indicators, one `resource` parameter each. */
  resource?: string | readonly string[];
  /** e.g. `consent` to make sure the OP asks (and so issues a refresh token for `offline_access`). */
  prompt?: string;
}

/**
 * Builds an authorization request (RFC 6749 §4.1.1) with PKCE S256 (RFC 7636), a fresh `state`
 * and, for OpenID scopes, a fresh `nonce`. Fetches nothing but the discovery document; does not
 * open a browser or listen anywhere.
 *
 * `redirect_uri` is sent exactly as given, not normalised: an OP compares it with the registered
 * one by simple string comparison (RFC 6749 §3.1.2.3), and clients registered by oidc-gen have
 * `http://localhost:PORT` without the `/` a URL parser would add. The code exchange repeats the
 * same string.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
export async function startAuthorizationRequest(
  client: OidcClient,
  options: AuthorizationRequestOptions,
): Promise<AuthorizationRequest> {
  return atBoundary({ what: 'authorization endpoint', secrets: [clientSecretOf(client)] }, async () => {
    const config = await configurationFor(client, options);
    if (typeof config.serverMetadata().authorization_endpoint !== 'string') {
      throw new OidcError(OIDC_ERROR_CODES.UNSUPPORTED, `the OP ${client.issuer} offers no authorization endpoint (code flow)`);
    }
    const redirectUri = options.redirectUri;
    if (!URL.canParse(redirectUri)) throw new TypeError('"redirectUri" must be an absolute URL');
    const codeVerifier = randomPKCECodeVerifier();
    const state = randomState();
    const scope = scopeList(options.scope);
    const params = new URLSearchParams({
      redirect_uri: redirectUri,
      response_type: 'code',
      code_challenge: await calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
    });
    if (scope) params.set('scope', scope.join(' '));
    let nonce: string | undefined;
    if (scope?.includes('openid')) {
      nonce = randomNonce();
      params.set('nonce', nonce);
    }
    if (options.prompt) params.set('prompt', options.prompt);
    appendResources(params, valueList(options.resource));
    const url = buildAuthorizationUrl(config, params).href;
    const out: AuthorizationRequest = { url, redirectUri, state, codeVerifier };
    if (nonce !== undefined) out.nonce = nonce;
    return out;
  });
}

/** What came back to the redirect URI, judged before anything is sent to the OP. */
export type CallbackVerdict =
  /** Not for this request (wrong or missing `state`, no `code` and no `error`): answer 400, keep waiting. */
  | { kind: 'foreign'; reason: string }
  /** The OP reports an error for this request (`access_denied`, …): the flow has failed. */
  | { kind: 'error'; error: OidcError }
  /** A code for this request: exchange it. */
  | { kind: 'code' };

/**
 * Sorts a request that arrived at the redirect URI (RFC 6749 §4.1.2). A callback whose `state`
 * does not match, or that has neither `code` nor `error`, is not the OP's answer to this request:
 * it must not end the flow (anything on the machine, or a web page, can send one).
 */
export function judgeCallback(request: AuthorizationRequest, callback: URL): CallbackVerdict {
  const q = callback.searchParams;
  if (q.getAll('state').length !== 1 || q.get('state') !== request.state) return { kind: 'foreign', reason: 'state does not match' };
  if (q.has('error')) {
    return { kind: 'error', error: oauthError(q.get('error'), q.get('error_description'), { secrets: [request.codeVerifier] }) };
  }
  if (q.getAll('code').length !== 1 || q.get('code') === '') return { kind: 'foreign', reason: 'no code' };
  return { kind: 'code' };
}

/**
 * Exchanges the code of a callback (RFC 6749 §4.1.3) with the PKCE verifier and the exact
 * `redirect_uri` of the request. Checked here: `state`, `code`, `iss` (RFC 9207: must name the OP
 * when present, and be present when the OP says it sends it), the ID token's `nonce`; by
 * openid-client: the ID token's `iss`, `aud`, `azp` and lifetimes. The code and the verifier never
 * appear in an error.
 */
export async function exchangeAuthorizationCode(
  client: OidcClient,
  request: AuthorizationRequest,
  callback: URL,
  options: CallOptions = {},
): Promise<TokenSet> {
  const code = callback.searchParams.get('code') ?? undefined;
  const ctx = { what: 'token endpoint', secrets: [code, request.codeVerifier, clientSecretOf(client)] };
  return atBoundary(ctx, async () => {
    const config = await configurationFor(client, options);
    // openid-client's authorizationCodeGrant would send the callback URL as redirect_uri, which a
    // URL always gives a path (`http://localhost:4242/`): the exchange is sent with the exact
    // string of the authorization request instead, and the callback checked here as it would:
    // state, code, and the issuer (RFC 9207).
    const verdict = judgeCallback(request, callback);
    if (verdict.kind === 'error') throw verdict.error;
    if (verdict.kind === 'foreign') throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `the callback is not the answer to this request (${verdict.reason})`);
    const meta = config.serverMetadata();
    const iss = callback.searchParams.getAll('iss');
    if (iss.length > 1 || (iss.length === 1 ? iss[0] !== meta.issuer : meta.authorization_response_iss_parameter_supported === true)) {
      throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `the callback's "iss" does not name the OP ${meta.issuer} (RFC 9207)`);
    }
    const response = await genericGrantRequest(config, 'authorization_code', {
      code: code!,
      redirect_uri: request.redirectUri,
      code_verifier: request.codeVerifier,
    });
    // The ID token's iss, aud, azp and times are checked by openid-client; the nonce is ours.
    if (request.nonce !== undefined) {
      const claims = response.claims();
      if (claims === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, 'the OP sent no ID token for an openid request');
      if (claims.nonce !== request.nonce) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, 'the ID token does not carry the nonce of this request');
    }
    return toTokenSet(response);
  });
}

/** Matches an OP's refusal of loopback redirect URIs for a `web` client. */
function refusedForWeb(err: unknown): boolean {
  if (!(err instanceof OidcError) || err.code !== OIDC_ERROR_CODES.REGISTRATION_REFUSED) return false;
  return (
    err.error === 'invalid_redirect_uri' ||
    (err.error === 'invalid_client_metadata' && /redirect/i.test(err.message)) ||
    /redirect_uri.*(web|not allowed)|web client/i.test(err.message)
  );
}

/**
 * Registers a client for the code flow with loopback redirect URIs. Tries as a `web` client first
 * (what most OPs expect by default); when the OP refuses custom/loopback redirect URIs for web
 * clients (OpenID Connect Registration §2: `web` clients must use https and no localhost), retries
 * once as `native`, as oidc-agent does.
 */
export async function registerCodeFlowClient(
  issuer: string,
  options: RegistrationOptions & { redirectUris: readonly string[] },
): Promise<RegisteredClient> {
  if (options.applicationType !== undefined) return registerClient(issuer, options);
  try {
    return await registerClient(issuer, options);
  } catch (err) {
    if (!refusedForWeb(err)) throw err;
    return registerClient(issuer, { ...options, applicationType: 'native' });
  }
}
