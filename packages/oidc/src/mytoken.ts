/**
 * The mytoken server's API (mytoken 0.10, api v0): discovery, the OIDC login with polling, access
 * tokens from a mytoken, sub-mytokens, transfer codes, revocation and tokeninfo. Plain JSON POSTs
 * through the same HTTP policy as OP calls (deadline per exchange, retries on timeouts and 5xx).
 *
 * A mytoken is a secret: it is never part of an error message (the server's texts are scrubbed of
 * it), and a mytoken that may rotate is never sent twice (see {@link mayRotate}).
 *
 * What it does not do: keep a rotated mytoken. A `mytoken_update` in a result is the only valid
 * mytoken from then on; the caller must store it before anything else.
 *
 * @see ../../../../shared/reference/mytoken-wlcg.md §1
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { OIDC_ERROR_CODES, OidcError, displayUrl, oauthError, sanitizeOpText, statusError } from './errors.js';
import { createPolicyFetch, type CallOptions, type HttpOptions } from './http.js';
import { parseIssuerUrl, sameIssuer } from './issuer-url.js';
import { optionalNumber, optionalString, optionalStringArray, readJsonObject, type JsonObject } from './json.js';
import { valueList } from './params.js';
import { DEFAULT_EXPIRES_IN_S, checkTokenChars, isTokenChars, jwtExpiry, tokenCharsError } from './tokens.js';

/** The server oidc-agent and the mytoken CLI use when none is configured. */
export const DEFAULT_MYTOKEN_SERVER = 'https://mytoken.data.kit.edu';
/** The server's polling interval when it names none (its default). */
export const DEFAULT_MYTOKEN_POLL_INTERVAL_S = 5;

/** HTTP settings for mytoken calls; {@link discoverMytokenServer} keeps them on the server object. */
export interface MytokenHttpOptions extends HttpOptions, CallOptions {
  /** Allow a plain-http server on a loopback host (tests, a dev server). */
  allowInsecureLoopback?: boolean;
}

/** A mytoken server, as discovered from `/.well-known/mytoken-configuration`. */
export interface MytokenServer {
  /** The server URL (the `iss` and `aud` of its JWT mytokens). */
  issuer: string;
  mytoken_endpoint: string;
  access_token_endpoint: string;
  revocation_endpoint?: string;
  tokeninfo_endpoint?: string;
  token_transfer_endpoint?: string;
  /** The whole configuration document (providers_supported, grant types, …). */
  config: Record<string, unknown>;
  /** HTTP settings for later calls (from the discovery's options); per-call options win. */
  http?: MytokenHttpOptions;
}

/** A mytoken (or transfer code) the server issued. */
export interface MytokenResult {
  /** The mytoken; for `mytoken_type` `transfer_code`, the transfer code. */
  mytoken: string;
  mytoken_type: string;
  transfer_code?: string;
  /** Seconds left, as the server said (for a transfer code: the code's life). */
  expires_in?: number;
  /** Unix seconds: receipt + `expires_in`, else the JWT's `exp`. Absent: no expiry. */
  expires_at?: number;
  /** The server's `mom_id`: an id safe to show, for revoke/tokeninfo of other tokens. */
  mytoken_id?: string;
  restrictions?: unknown;
  capabilities?: string[];
  rotation?: unknown;
  /** The *parent's* new mytoken when it rotated (`token_update.mytoken`): store it, the old one is dead. */
  mytoken_update?: string;
  /** The server's answer, minus `token_update` (which holds the parent's new mytoken). */
  raw: Record<string, unknown>;
}

export interface MytokenAccessToken {
  access_token: string;
  /** Unix seconds. */
  expires_at: number;
  scope?: string;
  token_type?: string;
  audience?: string[];
  /** The new mytoken when the one used rotated: store it before using the access token. */
  mytoken_update?: string;
}

export type TokeninfoAction = 'introspect' | 'event_history' | 'subtoken_tree' | 'list_mytokens';

/** Our action names → the server's (`subtoken_tree` is `subtokens` on the wire). */
const TOKENINFO_WIRE: Record<TokeninfoAction, string> = {
  introspect: 'introspect',
  event_history: 'event_history',
  subtoken_tree: 'subtokens',
  list_mytokens: 'list_mytokens',
};

function typeError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw typeError(`"${name}" must be a non-empty string`);
  return value;
}

function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether presenting this mytoken may rotate it: a JWT mytoken says so in its `rotation` claim; an
 * opaque short token does not tell, so it may. A request with such a token is sent once, never
 * retried: if the server did process a try whose answer we lost, a second try presents a stale
 * token, which with `auto_revoke` revokes the whole token tree.
 */
export function mayRotate(mytoken: string): boolean {
  const claims = decodeJwtPayload(mytoken);
  if (claims === undefined) return true;
  const r = claims['rotation'];
  if (r === undefined || r === null || typeof r !== 'object') return false;
  const rot = r as { on_AT?: unknown; on_other?: unknown };
  return rot.on_AT === true || rot.on_other === true;
}

function httpOf(server: MytokenServer, opts: MytokenHttpOptions | undefined, once: boolean): MytokenHttpOptions {
  const merged: MytokenHttpOptions = { ...server.http, ...opts };
  if (once) merged.maxAttempts = 1;
  return merged;
}

function where(server: MytokenServer | string): string {
  return `mytoken server ${typeof server === 'string' ? server : server.issuer}`;
}

/**
 * POSTs a JSON body and returns the answer's JSON object (or undefined for an empty 2xx). A 4xx/5xx
 * with an OAuth-style body becomes the server's `error: description` naming the server; secrets are
 * scrubbed from whatever the server says.
 */
async function postJson(
  server: MytokenServer,
  url: string,
  body: Record<string, unknown>,
  what: string,
  secrets: readonly (string | undefined)[],
  opts: MytokenHttpOptions,
): Promise<{ status: number; doc: JsonObject | undefined }> {
  const { signal, allowInsecureLoopback, ...http } = opts;
  const fetchFn = createPolicyFetch({ ...http, allowInsecureLoopback: allowInsecureLoopback === true, ...(signal ? { signal } : {}) });
  const label = `${where(server)}, ${what}`;
  const res = await fetchFn(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status >= 200 && res.status < 300) {
    const text = await res.clone().text();
    if (res.status === 204 || text.trim() === '') return { status: res.status, doc: undefined };
    return { status: res.status, doc: await readJsonObject(res, label) };
  }
  let doc: JsonObject | undefined;
  try {
    doc = await readJsonObject(res, label);
  } catch {
    doc = undefined;
  }
  if (doc !== undefined && typeof doc['error'] === 'string') {
    const e = oauthError(doc['error'], doc['error_description'], { status: res.status, secrets });
    const opts2: ConstructorParameters<typeof OidcError>[2] = { status: res.status, cause: e };
    if (e.error !== undefined) opts2.error = e.error;
    if (e.error_description !== undefined) opts2.error_description = e.error_description;
    throw new OidcError(e.code, `${e.message} (${label})`, opts2);
  }
  throw statusError(res.status, label);
}

function endpoint(doc: JsonObject, key: string, at: string, required: boolean): string | undefined {
  const v = doc[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `the configuration at ${at} has no "${key}"`);
    return undefined;
  }
  if (typeof v !== 'string' || !URL.canParse(v)) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"${key}" in the configuration at ${at} is not a URL`);
  }
  return v;
}

/**
 * Discovers a mytoken server: `GET {url}/.well-known/mytoken-configuration` (falling back to
 * `/.well-known/openid-configuration`, which mytoken serves too), checks that it names `url` as its
 * issuer (a trailing slash aside) and that its endpoints are URLs. Not cached: the agent keeps the
 * result per account.
 */
export async function discoverMytokenServer(url: string, opts: MytokenHttpOptions = {}): Promise<MytokenServer> {
  const base = parseIssuerUrl(url, opts.allowInsecureLoopback === true);
  const root = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
  const { signal, allowInsecureLoopback, ...http } = opts;
  const fetchFn = createPolicyFetch({ ...http, allowInsecureLoopback: allowInsecureLoopback === true, ...(signal ? { signal } : {}) });
  let doc: JsonObject | undefined;
  let at = '';
  for (const candidate of [`${root}/.well-known/mytoken-configuration`, `${root}/.well-known/openid-configuration`]) {
    at = candidate;
    const res = await fetchFn(candidate, { method: 'GET', headers: { accept: 'application/json' } });
    if (res.status === 404) continue;
    if (res.status !== 200) throw statusError(res.status, `mytoken configuration at ${candidate}`);
    doc = await readJsonObject(res, `mytoken configuration at ${candidate}`);
    break;
  }
  if (doc === undefined) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${root} is not a mytoken server: no /.well-known/mytoken-configuration (HTTP 404)`, { status: 404 });
  }
  const issuer = doc['issuer'];
  if (typeof issuer !== 'string' || !sameIssuer(issuer, root)) {
    throw new OidcError(
      OIDC_ERROR_CODES.BAD_RESPONSE,
      `the mytoken configuration at ${at} names issuer ${JSON.stringify(sanitizeOpText(issuer, 200) ?? null)}, expected "${root}"`,
    );
  }
  const mytokenEndpoint = endpoint(doc, 'mytoken_endpoint', at, false);
  if (mytokenEndpoint === undefined) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${root} is not a mytoken server: its configuration at ${at} has no "mytoken_endpoint"`);
  }
  const atEndpoint = endpoint(doc, 'access_token_endpoint', at, false) ?? endpoint(doc, 'token_endpoint', at, true)!;
  const server: MytokenServer = { issuer, mytoken_endpoint: mytokenEndpoint, access_token_endpoint: atEndpoint, config: doc };
  for (const key of ['revocation_endpoint', 'tokeninfo_endpoint', 'token_transfer_endpoint'] as const) {
    const v = endpoint(doc, key, at, false);
    if (v !== undefined) server[key] = v;
  }
  if (Object.keys(http).length > 0 || allowInsecureLoopback !== undefined) {
    server.http = { ...http, ...(allowInsecureLoopback !== undefined ? { allowInsecureLoopback } : {}) };
  }
  return server;
}

/** The issuers of the OPs the server fronts (`providers_supported`). */
export function mytokenProviders(server: MytokenServer): string[] {
  const p = server.config['providers_supported'];
  if (!Array.isArray(p)) return [];
  return p.flatMap((x) => (x !== null && typeof x === 'object' && typeof (x as { issuer?: unknown }).issuer === 'string' ? [(x as { issuer: string }).issuer] : []));
}

function parseMytokenResponse(doc: JsonObject, what: string, receivedAt: number): MytokenResult {
  const type = optionalString(doc, 'mytoken_type', what) ?? 'token';
  const transfer = optionalString(doc, 'transfer_code', what);
  let token = optionalString(doc, 'mytoken', what);
  if (!token && type === 'transfer_code' && transfer) token = transfer;
  if (!token) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `the answer from ${what} has no "mytoken"`);
  checkTokenChars(token, type === 'transfer_code' && token === transfer ? 'transfer_code' : 'mytoken', what);
  if (transfer) checkTokenChars(transfer, 'transfer_code', what);
  const { token_update: update, ...raw } = doc;
  const out: MytokenResult = { mytoken: token, mytoken_type: type, raw };
  if (transfer) out.transfer_code = transfer;
  const expiresIn = optionalNumber(doc, 'expires_in', what);
  if (expiresIn !== undefined && expiresIn > 0) {
    out.expires_in = expiresIn;
    out.expires_at = receivedAt + Math.floor(expiresIn);
  } else if (type !== 'transfer_code') {
    const exp = jwtExpiry(token);
    if (exp !== undefined) out.expires_at = exp;
  }
  const mom = optionalString(doc, 'mom_id', what) ?? optionalString(doc, 'mytoken_id', what);
  if (mom) out.mytoken_id = mom;
  if (doc['restrictions'] !== undefined && doc['restrictions'] !== null) out.restrictions = doc['restrictions'];
  const caps = optionalStringArray(doc, 'capabilities', what);
  if (caps) out.capabilities = caps;
  if (doc['rotation'] !== undefined && doc['rotation'] !== null) out.rotation = doc['rotation'];
  const next = tokenUpdate(update, what);
  if (next !== undefined) out.mytoken_update = next;
  return out;
}

/** The new mytoken inside `token_update` (a full mytoken response), if any. */
function tokenUpdate(update: unknown, what: string): string | undefined {
  if (update === undefined || update === null) return undefined;
  if (typeof update !== 'object' || Array.isArray(update)) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"token_update" in the answer from ${what} must be an object`);
  }
  const t = (update as { mytoken?: unknown }).mytoken;
  if (typeof t !== 'string' || t.length === 0) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"token_update" in the answer from ${what} has no "mytoken"`);
  }
  return checkTokenChars(t, 'token_update.mytoken', what);
}

const now = (): number => Math.floor(Date.now() / 1000);

/** What {@link startMytokenOidcFlow} sends besides the grant fields. */
export interface MytokenOidcFlowRequest {
  oidc_issuer: string;
  name?: string;
  restrictions?: unknown;
  capabilities?: string[];
  rotation?: unknown;
  application_name?: string;
  [k: string]: unknown;
}

export interface MytokenOidcFlow {
  /** The consent page (`consent_uri`) the user opens; it leads to the OP's login. */
  authorization_url: string;
  /** Secret: whoever has it gets the mytoken. */
  polling_code: string;
  expires_in: number;
  interval: number;
}

/**
 * Starts the server's OIDC authorization-code flow for a new mytoken (`grant_type` `oidc_flow`,
 * native client): the user opens `authorization_url`, then {@link pollMytokenOidcFlow} fetches the
 * mytoken. `request` is the profile: restrictions, capabilities, rotation, name, … sent as given.
 */
export async function startMytokenOidcFlow(
  server: MytokenServer,
  request: MytokenOidcFlowRequest,
  opts?: MytokenHttpOptions,
): Promise<MytokenOidcFlow> {
  requireString(request?.oidc_issuer, 'oidc_issuer');
  const body: Record<string, unknown> = {
    response_type: 'token',
    ...request,
    grant_type: 'oidc_flow',
    oidc_flow: 'authorization_code',
    client_type: 'native',
  };
  const what = 'mytoken endpoint';
  const { doc } = await postJson(server, server.mytoken_endpoint, body, what, [], httpOf(server, opts, false));
  if (doc === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${where(server)} answered the login request with no content`);
  const label = `${where(server)}, ${what}`;
  const uri = optionalString(doc, 'consent_uri', label) ?? optionalString(doc, 'authorization_uri', label);
  const code = optionalString(doc, 'polling_code', label);
  if (!code) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `the answer from ${label} has no "polling_code"`);
  const expiresIn = optionalNumber(doc, 'expires_in', label);
  const interval = optionalNumber(doc, 'interval', label);
  return {
    authorization_url: displayUrl(uri, 'consent_uri', label),
    polling_code: code,
    expires_in: expiresIn !== undefined && expiresIn > 0 ? Math.floor(expiresIn) : 300,
    interval: interval !== undefined && interval > 0 ? Math.ceil(interval) : DEFAULT_MYTOKEN_POLL_INTERVAL_S,
  };
}

const TRANSIENT: ReadonlySet<string> = new Set([OIDC_ERROR_CODES.TIMEOUT, OIDC_ERROR_CODES.NETWORK, OIDC_ERROR_CODES.UNAVAILABLE]);
const MAX_TRANSIENT_FAILURES = 3;

/**
 * Polls the mytoken endpoint (`grant_type` `polling_code`) until the user has logged in: HTTP 428
 * `authorization_pending` means wait `interval` s more (the server sends no `slow_down`; one is
 * honoured anyway). Stops with `OIDC_ACCESS_DENIED` (user declined), `OIDC_EXPIRED_TOKEN` (code
 * expired, or `expiresIn` seconds passed), `OIDC_ABORTED` when `signal` fires. Up to 3 transient
 * failures in a row are waited out.
 */
export async function pollMytokenOidcFlow(
  server: MytokenServer,
  pollingCode: string,
  opts: { interval: number; expiresIn: number; signal?: AbortSignal } & MytokenHttpOptions,
): Promise<MytokenResult> {
  requireString(pollingCode, 'pollingCode');
  const { interval: i0, expiresIn, ...http } = opts;
  let interval = Number.isFinite(i0) && i0 > 0 ? i0 : DEFAULT_MYTOKEN_POLL_INTERVAL_S;
  const deadline = Date.now() + (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 300) * 1000;
  let failures = 0;
  for (;;) {
    if (Date.now() + interval * 1000 > deadline) {
      throw new OidcError(OIDC_ERROR_CODES.EXPIRED_TOKEN, `expired_token: the login at ${where(server)} was not completed in time`, { error: 'expired_token' });
    }
    try {
      await sleep(interval * 1000, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch (cause) {
      throw new OidcError(OIDC_ERROR_CODES.ABORTED, 'mytoken login cancelled', { cause });
    }
    try {
      const body = { grant_type: 'polling_code', polling_code: pollingCode };
      const { doc } = await postJson(server, server.mytoken_endpoint, body, 'mytoken endpoint', [pollingCode], httpOf(server, http, false));
      if (doc === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${where(server)} answered a poll with no content`);
      return parseMytokenResponse(doc, `${where(server)}, mytoken endpoint`, now());
    } catch (err) {
      if (err instanceof OidcError) {
        if (err.error === 'authorization_pending') {
          failures = 0;
          continue;
        }
        if (err.error === 'slow_down') {
          interval += 5;
          continue;
        }
        if (TRANSIENT.has(err.code) && ++failures < MAX_TRANSIENT_FAILURES) continue;
      }
      throw err;
    }
  }
}

/**
 * An OP access token from a mytoken (`grant_type` `mytoken` at the access-token endpoint), narrowed
 * to `scope` and `audience` (the server reads only `audience`, space-separated). The server caches
 * nothing: every call is a refresh at the OP, so cache the result. When the mytoken rotated, the
 * new one is in `mytoken_update` and the old one is dead.
 */
export async function accessTokenFromMytoken(
  server: MytokenServer,
  mytoken: string,
  opts: { scope?: string | string[]; audience?: string | string[]; comment?: string } & MytokenHttpOptions = {},
): Promise<MytokenAccessToken> {
  requireString(mytoken, 'mytoken');
  const { scope, audience, comment, ...http } = opts;
  const body: Record<string, unknown> = { grant_type: 'mytoken', mytoken };
  const s = valueList(scope);
  if (s) body['scope'] = s.join(' ');
  const a = valueList(audience);
  if (a) body['audience'] = a.join(' ');
  if (comment) body['comment'] = comment;
  const what = 'access-token endpoint';
  const label = `${where(server)}, ${what}`;
  const { doc } = await postJson(server, server.access_token_endpoint, body, what, [mytoken], httpOf(server, http, mayRotate(mytoken)));
  if (doc === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${label} answered with no content`);
  // Read the update first: even if the rest is unusable, the old mytoken is gone.
  const update = tokenUpdate(doc['token_update'], label);
  const at = optionalString(doc, 'access_token', label);
  if (!at || !isTokenChars(at)) {
    const e = at ? tokenCharsError('access_token', label) : new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `the answer from ${label} has no "access_token"`);
    if (update !== undefined) Object.defineProperty(e, 'mytoken_update', { value: update, enumerable: false });
    throw e;
  }
  const t = now();
  const expiresIn = optionalNumber(doc, 'expires_in', label);
  let expiresAt: number;
  const exp = jwtExpiry(at);
  if (expiresIn !== undefined && expiresIn > 0) {
    expiresAt = t + Math.floor(expiresIn);
    if (exp !== undefined && exp > t && exp < expiresAt) expiresAt = exp;
  } else {
    expiresAt = exp !== undefined && exp > t ? exp : t + DEFAULT_EXPIRES_IN_S;
  }
  const out: MytokenAccessToken = { access_token: at, expires_at: expiresAt };
  const sc = optionalString(doc, 'scope', label);
  if (sc) out.scope = sc;
  const tt = optionalString(doc, 'token_type', label);
  if (tt) out.token_type = tt;
  const aud = doc['audience'];
  if (Array.isArray(aud) && aud.every((x) => typeof x === 'string')) out.audience = aud as string[];
  if (update !== undefined) out.mytoken_update = update;
  return out;
}

/**
 * A new mytoken from an existing one (`grant_type` `mytoken`; needs capability `create_mytoken`).
 * `request` holds the child's properties (name, restrictions, capabilities, rotation,
 * application_name, …); `mytoken_type` (`token` | `short_token` | `transfer_code`) selects the
 * form (`response_type` on the wire). `error_on_restrictions` defaults to true: restrictions the
 * parent does not allow are an error, not silently tightened. A rotated parent comes back in
 * `mytoken_update`.
 */
export async function subMytoken(
  server: MytokenServer,
  mytoken: string,
  request: Record<string, unknown>,
  opts?: MytokenHttpOptions,
): Promise<MytokenResult> {
  requireString(mytoken, 'mytoken');
  if (request === null || typeof request !== 'object' || Array.isArray(request)) throw typeError('"request" must be an object');
  const { mytoken_type: type, ...rest } = request;
  const body: Record<string, unknown> = { error_on_restrictions: true, ...rest, grant_type: 'mytoken', mytoken };
  if (type !== undefined) body['response_type'] = type;
  const what = 'mytoken endpoint';
  const { doc } = await postJson(server, server.mytoken_endpoint, body, what, [mytoken], httpOf(server, opts, mayRotate(mytoken)));
  if (doc === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${where(server)}, ${what} answered with no content`);
  return parseMytokenResponse(doc, `${where(server)}, ${what}`, now());
}

/** Redeems a transfer code (single use) for the mytoken it stands for. */
export async function exchangeTransferCode(server: MytokenServer, code: string, opts?: MytokenHttpOptions): Promise<MytokenResult> {
  requireString(code, 'code');
  const what = 'mytoken endpoint';
  const body = { grant_type: 'transfer_code', transfer_code: code };
  // Single use: a retried exchange whose first try went through would fail.
  const { doc } = await postJson(server, server.mytoken_endpoint, body, what, [code], httpOf(server, opts, true));
  if (doc === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${where(server)}, ${what} answered with no content`);
  return parseMytokenResponse(doc, `${where(server)}, ${what}`, now());
}

/**
 * Makes a transfer code for an existing mytoken (`token_transfer_endpoint`), to move it to another
 * machine. `OIDC_UNSUPPORTED` when the server has transfer codes turned off.
 */
export async function createTransferCode(server: MytokenServer, mytoken: string, opts?: MytokenHttpOptions): Promise<MytokenResult> {
  requireString(mytoken, 'mytoken');
  if (server.token_transfer_endpoint === undefined) {
    throw new OidcError(OIDC_ERROR_CODES.UNSUPPORTED, `${where(server)} offers no transfer codes (no token_transfer_endpoint)`);
  }
  const what = 'transfer endpoint';
  const { doc } = await postJson(server, server.token_transfer_endpoint, { mytoken }, what, [mytoken], httpOf(server, opts, mayRotate(mytoken)));
  if (doc === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${where(server)}, ${what} answered with no content`);
  return parseMytokenResponse({ mytoken_type: 'transfer_code', ...doc }, `${where(server)}, ${what}`, now());
}

/**
 * Revokes a mytoken, short token or transfer code (`recursive`: its sub-tokens too). Success is
 * 204 (also for a token the server cannot parse, RFC 7009 style). `OIDC_UNSUPPORTED` when the
 * server offers no revocation.
 */
export async function revokeMytoken(
  server: MytokenServer,
  token: string,
  opts: { recursive?: boolean } & MytokenHttpOptions = {},
): Promise<void> {
  requireString(token, 'token');
  if (server.revocation_endpoint === undefined) {
    throw new OidcError(OIDC_ERROR_CODES.UNSUPPORTED, `${where(server)} offers no revocation (no revocation_endpoint)`);
  }
  const { recursive, ...http } = opts;
  const body: Record<string, unknown> = { token };
  if (recursive) body['recursive'] = true;
  await postJson(server, server.revocation_endpoint, body, 'revocation endpoint', [token], httpOf(server, http, false));
}

/**
 * Tokeninfo: `introspect` (claims, usage counters; does not rotate), `event_history`,
 * `subtoken_tree` (the server's `subtokens`), `list_mytokens`. `info` is the server's answer without
 * `token_update`; a rotated mytoken comes back in `mytoken_update`.
 */
export async function mytokenTokeninfo(
  server: MytokenServer,
  mytoken: string,
  action: TokeninfoAction,
  opts?: MytokenHttpOptions,
): Promise<{ info: unknown; mytoken_update?: string }> {
  requireString(mytoken, 'mytoken');
  const wire = Object.hasOwn(TOKENINFO_WIRE, action) ? TOKENINFO_WIRE[action] : undefined;
  if (wire === undefined) throw typeError(`"action" must be one of ${Object.keys(TOKENINFO_WIRE).join(', ')}`);
  if (server.tokeninfo_endpoint === undefined) {
    throw new OidcError(OIDC_ERROR_CODES.UNSUPPORTED, `${where(server)} offers no tokeninfo (no tokeninfo_endpoint)`);
  }
  const what = 'tokeninfo endpoint';
  const once = action !== 'introspect' && mayRotate(mytoken);
  const { doc } = await postJson(server, server.tokeninfo_endpoint, { action: wire, mytoken }, what, [mytoken], httpOf(server, opts, once));
  if (doc === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${where(server)}, ${what} answered with no content`);
  const { token_update: update, ...info } = doc;
  const next = tokenUpdate(update, `${where(server)}, ${what}`);
  return next === undefined ? { info } : { info, mytoken_update: next };
}
