import type { TokenEndpointAuthMethod } from './client.js';
import { discover } from './discovery.js';
import {
  OIDC_ERROR_CODES,
  OidcError,
  atBoundary,
  isUnavailableStatus,
  oauthError,
  sanitizeOpText,
  statusError,
} from './errors.js';
import { createPolicyFetch, type CallOptions, type HttpOptions } from './http.js';
import { assertSecureUrl } from './issuer-url.js';
import { optionalNumber, optionalString, optionalStringArray, readJsonObject, type JsonObject } from './json.js';
import { scopeList } from './params.js';

/** What to tell a user whose OP will not register a client for us. */
export const MANUAL_CLIENT_HINT =
  'register a client with the OP yourself and pass --client-id (and --client-secret for a confidential client)';

export interface RegistrationOptions extends HttpOptions, CallOptions {
  clientName: string;
  /** Scope the client may ask for; space-separated string or list. */
  scope?: string | readonly string[];
  /** e.g. `refresh_token`, `urn:ietf:params:oauth:grant-type:device_code`, `authorization_code`. */
  grantTypes: readonly string[];
  redirectUris?: readonly string[];
  /** Default `["code"]` when `grantTypes` has `authorization_code`, else `[]`. */
  responseTypes?: readonly string[];
  applicationType?: 'web' | 'native';
  /** Default `client_secret_basic`. */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** RFC 7591 §3: some OPs only register with an initial access token. */
  initialAccessToken?: string;
  allowInsecureLoopback?: boolean;
}

/**
 * The registered client (RFC 7591 §3.2.1). `client_secret` and `registration_access_token` are
 * secrets: store them encrypted with the account.
 */
export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  /** 0 = never expires. */
  client_secret_expires_at?: number;
  client_id_issued_at?: number;
  /** RFC 7592 management URI, for {@link deleteClient}. */
  registration_client_uri?: string;
  registration_access_token?: string;
  /** The scope the OP actually granted the client; may be less than asked for. */
  scope?: string;
  grant_types?: string[];
  response_types?: string[];
  redirect_uris?: string[];
  token_endpoint_auth_method?: string;
  client_name?: string;
  application_type?: string;
}

function refused(issuer: string, detail: string, extra: { status?: number; error?: OidcError } = {}): OidcError {
  const { error } = extra;
  return new OidcError(OIDC_ERROR_CODES.REGISTRATION_REFUSED, `${issuer} refused to register a client (${detail}): ${MANUAL_CLIENT_HINT}`, {
    ...(extra.status === undefined ? {} : { status: extra.status }),
    ...(error?.error === undefined ? {} : { error: error.error }),
    ...(error?.error_description === undefined ? {} : { error_description: error.error_description }),
    ...(error ? { cause: error } : {}),
  });
}

function parseRegistered(doc: JsonObject, what: string): RegisteredClient {
  const clientId = optionalString(doc, 'client_id', what);
  if (!clientId) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `answer from ${what} has no "client_id"`);
  const out: RegisteredClient = { client_id: clientId };
  for (const key of [
    'client_secret',
    'registration_client_uri',
    'registration_access_token',
    'scope',
    'token_endpoint_auth_method',
    'client_name',
    'application_type',
  ] as const) {
    const v = optionalString(doc, key, what);
    if (v) out[key] = v;
  }
  for (const key of ['client_secret_expires_at', 'client_id_issued_at'] as const) {
    const v = optionalNumber(doc, key, what);
    if (v !== undefined) out[key] = v;
  }
  for (const key of ['grant_types', 'response_types', 'redirect_uris'] as const) {
    const v = optionalStringArray(doc, key, what);
    if (v) out[key] = v;
  }
  if (out.registration_client_uri !== undefined && !URL.canParse(out.registration_client_uri)) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"registration_client_uri" in the answer from ${what} is not a URL`);
  }
  return out;
}

/**
 * Dynamic client registration (RFC 7591) at the issuer's `registration_endpoint`.
 * `OIDC_REGISTRATION_REFUSED` (message says to pass --client-id/--client-secret) when the OP offers
 * no registration or answers 4xx; `OIDC_UNAVAILABLE` when it keeps failing with 5xx.
 * Not retried on a 4xx; like every call, retried on timeouts and 502/503/504, which can in rare
 * cases leave an orphan client at the OP.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-3
 */
export async function registerClient(issuer: string, options: RegistrationOptions): Promise<RegisteredClient> {
  return atBoundary({ what: 'registration endpoint', secrets: [options.initialAccessToken] }, async () => {
    const server = await discover(issuer, options);
    const endpoint = server.metadata.registration_endpoint;
    if (typeof endpoint !== 'string') {
      throw refused(server.issuer, 'it offers no dynamic client registration');
    }
    const grantTypes = [...options.grantTypes];
    const body: Record<string, unknown> = {
      client_name: options.clientName,
      grant_types: grantTypes,
      response_types: options.responseTypes
        ? [...options.responseTypes]
        : grantTypes.includes('authorization_code')
          ? ['code']
          : [],
      token_endpoint_auth_method: options.tokenEndpointAuthMethod ?? 'client_secret_basic',
    };
    if (options.redirectUris) body['redirect_uris'] = [...options.redirectUris];
    const scope = scopeList(options.scope);
    if (scope) body['scope'] = scope.join(' ');
    if (options.applicationType) body['application_type'] = options.applicationType;

    const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
    if (options.initialAccessToken) headers['authorization'] = `Bearer ${options.initialAccessToken}`;
    const fetchFn = createPolicyFetch({ ...options, allowInsecureLoopback: options.allowInsecureLoopback === true });
    const res = await fetchFn(endpoint, { method: 'POST', headers, body: JSON.stringify(body) });
    const what = `registration endpoint of ${server.issuer}`;
    if (res.status === 201 || res.status === 200) return parseRegistered(await readJsonObject(res, what), what);
    if (isUnavailableStatus(res.status)) throw statusError(res.status, what);
    if (res.status >= 400 && res.status < 500) {
      let opError: OidcError | undefined;
      try {
        const doc = await readJsonObject(res, what);
        if (typeof doc['error'] === 'string') {
          opError = oauthError(doc['error'], doc['error_description'], {
            status: res.status,
            secrets: [options.initialAccessToken],
          });
        }
      } catch {
        // A 4xx with an HTML page still means no.
      }
      throw refused(server.issuer, opError ? opError.message : `HTTP ${res.status}`, {
        status: res.status,
        ...(opError ? { error: opError } : {}),
      });
    }
    throw statusError(res.status, what);
  });
}

export interface DeleteClientOptions extends HttpOptions, CallOptions {
  allowInsecureLoopback?: boolean;
}

/**
 * Deletes a dynamically registered client (RFC 7592 §2.3), as `oidc-gen --delete` does.
 * A 401 usually means the client is already gone (§2.3: the OP answers 401 for unknown clients);
 * it is still reported, as `OIDC_OP_ERROR`, so the caller can say so.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7592#section-2.3
 */
export async function deleteClient(
  registrationClientUri: string,
  registrationAccessToken: string,
  options: DeleteClientOptions = {},
): Promise<void> {
  await atBoundary({ what: 'client configuration endpoint', secrets: [registrationAccessToken] }, async () => {
    let url: URL;
    try {
      url = new URL(registrationClientUri);
    } catch {
      throw Object.assign(new TypeError('"registrationClientUri" must be a URL'), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    assertSecureUrl(url, options.allowInsecureLoopback === true, 'client configuration endpoint');
    const fetchFn = createPolicyFetch({ ...options, allowInsecureLoopback: options.allowInsecureLoopback === true });
    const res = await fetchFn(url.href, {
      method: 'DELETE',
      headers: { accept: 'application/json', authorization: `Bearer ${registrationAccessToken}` },
    });
    if (res.status >= 200 && res.status < 300) return;
    const what = `client configuration endpoint ${url.origin}${url.pathname}`;
    if (isUnavailableStatus(res.status)) throw statusError(res.status, what);
    if (res.status >= 400 && res.status < 500) {
      let doc: JsonObject | undefined;
      try {
        doc = await readJsonObject(res, what);
      } catch {
        doc = undefined;
      }
      if (doc && typeof doc['error'] === 'string') {
        throw oauthError(doc['error'], doc['error_description'], { status: res.status, secrets: [registrationAccessToken] });
      }
      const challenge = sanitizeOpText(res.headers.get('www-authenticate'), 200, [registrationAccessToken]);
      throw new OidcError(
        OIDC_ERROR_CODES.OP_ERROR,
        `${what} refused to delete the client (HTTP ${res.status}${challenge ? `, ${challenge}` : ''})`,
        { status: res.status },
      );
    }
    throw statusError(res.status, what);
  });
}
