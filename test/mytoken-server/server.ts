/**
 * A mytoken-compatible server for tests: the public mytoken API (server 0.10, api v0) in front of
 * the dev OP, in process, on http://127.0.0.1. State is in memory; every time check goes through
 * the injectable clock. NOT for real use.
 *
 * It registers itself at the OP as a confidential client and holds one OP refresh token per login
 * ("family"); every mytoken of that login (sub-tokens, ssh-grant tokens) shares it.
 * @see /work/shared/reference/mytoken-wlcg.md §1 (the facts this follows) and README.md here.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { SignJWT, compactVerify, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import {
  DEFAULT_CAPABILITIES,
  RESTRICTION_KEYS,
  RequestError,
  clauseHash,
  findClause,
  hasCapability,
  intersectCapabilities,
  parseCapabilities,
  parseRestrictions,
  tighten,
  tokenExp,
  tokenNbf,
  type Clause,
  type UseContext,
} from './restrictions.ts';

export { RequestError };

export const API = {
  mytoken: '/api/v0/token/my',
  access: '/api/v0/token/access',
  revoke: '/api/v0/token/revoke',
  transfer: '/api/v0/token/transfer',
  tokeninfo: '/api/v0/tokeninfo',
  settings: '/api/v0/settings',
  grants: '/api/v0/settings/grants',
  sshGrant: '/api/v0/settings/grants/ssh',
  jwks: '/jwks',
  redirect: '/redirect',
  consent: '/c/',
  /** Internal: called by the sshd ForceCommand (ssh-force-command.mjs), authenticated by a secret. */
  sshInternal: '/__ssh',
  stats: '/__stats',
} as const;

export interface MytokenServerOptions {
  /** The OP to front (a DevOp, or anything with its issuer). */
  op: { issuer: string };
  /** Milliseconds since the epoch, like Date.now (the default). Every time check uses it. */
  clock?: () => number;
  /** `interval` of polling codes in seconds (default 1; the real server says 5). */
  pollingInterval?: number;
  /** Lifetime of polling and transfer codes in seconds (default 300, as the real server). */
  codeLifetime?: number;
  /** Country code of a client IP (default: unknown for every address, see README). */
  geoip?: (ip: string) => string | undefined;
  /** Scopes asked for at login and listed in providers_supported (default: the OP's scopes_supported). */
  scopes?: string[];
}

export interface MytokenStats {
  requests: Record<string, number>;
  /** Requests to the mytoken endpoint by grant_type. */
  mytokenGrants: Record<string, number>;
  /** tokeninfo requests by action. */
  tokeninfo: Record<string, number>;
  /** What this server did at the OP. */
  op: { registration: number; code_exchange: number; refresh: number; revocation: number };
}

export interface SshAttachment {
  host: string;
  port: number;
  /** The local login every ssh-grant key uses (OpenSSH needs an existing account). */
  user: string;
  /** `[{type, fingerprint}]` for the configuration document. */
  hostKeys: { type: string; fingerprint: string }[];
  /** Called whenever the set of registered keys changes, with authorized_keys lines. */
  writeAuthorizedKeys(lines: string[]): void;
}

export interface MytokenServer {
  /** `http://127.0.0.1:PORT`, no trailing slash; equal to `issuer`. */
  readonly url: string;
  readonly issuer: string;
  readonly port: number;
  /** The client this server registered at the OP. */
  readonly opClient: { clientId: string; clientSecret: string };
  /** Shared secret of the internal ssh endpoint (for the ForceCommand). */
  readonly sshSecret: string;
  close(): Promise<void>;
  stats(): MytokenStats;
  resetStats(): void;
  /** Used by startMytokenSshd: makes the ssh grant available. */
  attachSsh(ssh: SshAttachment): void;
  /** The mom_id of a mytoken string, or undefined when unknown (for tests). */
  momIdOf(token: string): Promise<string | undefined>;
}

// ---------------------------------------------------------------------------------------------
// State

interface Rotation {
  on_AT?: boolean;
  on_other?: boolean;
  lifetime?: number;
  auto_revoke?: boolean;
}

type Form = 'token' | 'short_token';
type ResponseType = Form | 'transfer_code';

interface Family {
  id: string;
  oidcSub: string;
  /** The OP refresh token; replaced when the OP rotates it. */
  rt: string;
  scope: string;
  /** Serializes every use of this family's tokens (OP refresh + rotation are read-modify-write). */
  queue: Promise<unknown>;
  live: Set<string>;
  rtRevoked: boolean;
}

interface MtEvent {
  event: string;
  time: number;
  comment?: string;
  ip: string;
  user_agent: string;
  mom_id?: string;
}

interface Mytoken {
  jti: string;
  momId: string;
  family: Family;
  parent?: string;
  children: string[];
  seqNo: number;
  iat: number;
  nbf?: number;
  exp?: number;
  authTime: number;
  name?: string;
  restrictions?: Clause[];
  capabilities: string[];
  rotation?: Rotation;
  applicationName?: string;
  created: number;
  ip: string;
  userAgent: string;
  revoked: boolean;
  usage: Map<string, { AT: number; other: number }>;
  events: MtEvent[];
}

interface Spec {
  restrictions?: Clause[];
  capabilities?: string[];
  name?: string;
  responseType: ResponseType;
  maxTokenLen?: number;
  rotation?: Rotation;
  applicationName?: string;
}

type Pending =
  | {
      kind: 'oidc';
      state: string;
      verifier: string;
      authorizeUrl: string;
      spec: Spec;
      ip: string;
      userAgent: string;
      expiresAt: number;
      status: 'pending' | 'done' | 'denied';
      jti?: string;
    }
  | {
      kind: 'ssh';
      parentJti: string;
      spec: Spec;
      key: SshKeyInput;
      ip: string;
      userAgent: string;
      expiresAt: number;
      status: 'pending' | 'done' | 'denied';
    };

interface SshKeyInput {
  line: string;
  fingerprint: string;
  name?: string;
}

interface SshKey extends SshKeyInput {
  jti: string;
  oidcSub: string;
  user: string;
  created: number;
  lastUsed?: number;
}

interface Ctx {
  ip: string;
  userAgent: string;
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
}

/** A mytoken as presented: the record, the form it came in and the string. */
interface Presented {
  mt: Mytoken;
  form: Form;
}

const JSON_TYPE = 'application/json';
const MAX_BODY = 1 << 20;
const SHORT_TOKEN_LEN = 64;
const MIN_SHORT_TOKEN_LEN = 32;
const CODE_LEN = 8;
const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomString(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHANUM[randomInt(ALPHANUM.length)];
  return s;
}

const fail = (status: number, error: string, description: string) => new RequestError(status, error, description);
const invalidToken = (description = 'invalid token') => fail(401, 'invalid_token', description);
const invalidRequest = (description: string) => fail(400, 'invalid_request', description);

function str(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalidRequest(`"${key}" must be a string`);
  return v;
}

function bool(body: Record<string, unknown>, key: string): boolean {
  const v = body[key];
  return v === true || v === 'true' || v === '1';
}

function spaceList(value: unknown, key: string): string[] {
  if (value === undefined || value === null || value === '') return [];
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.flatMap((v) => v.split(/\s+/)).filter(Boolean);
  throw invalidRequest(`"${key}" must be a space-separated string`);
}

// ---------------------------------------------------------------------------------------------

/** Starts the server, registers it at the OP, and returns once it answers. */
export async function startMytokenServer(options: MytokenServerOptions): Promise<MytokenServer> {
  const clock = options.clock ?? Date.now;
  const now = () => Math.floor(clock() / 1000);
  const pollingInterval = options.pollingInterval ?? 1;
  const codeLifetime = options.codeLifetime ?? 300;
  const geoip = options.geoip ?? (() => undefined);
  const opIssuer = options.op.issuer.replace(/\/$/, '');

  const opConfig = (await (await fetch(`${opIssuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  const opScopes = options.scopes ?? ((opConfig['scopes_supported'] as string[] | undefined) ?? ['openid', 'offline_access']);

  const { privateKey, publicKey } = await generateKeyPair('ES512', { extractable: true });
  const kid = randomUUID();
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES512', use: 'sig' };

  const stats: MytokenStats = { requests: {}, mytokenGrants: {}, tokeninfo: {}, op: { registration: 0, code_exchange: 0, refresh: 0, revocation: 0 } };
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

  const tokens = new Map<string, Mytoken>(); // jti →
  const byMomId = new Map<string, Mytoken>();
  const shortTokens = new Map<string, { jti: string; seqNo: number }>();
  const transferCodes = new Map<string, { jti: string; form: Form; expiresAt: number; createdWithToken: boolean }>();
  const pending = new Map<string, Pending>(); // polling code →
  const consentCodes = new Map<string, string>(); // consent code → polling code
  const states = new Map<string, string>(); // OAuth state → polling code
  const sshEnabled = new Set<string>(); // oidc subs with the ssh grant enabled
  const sshKeys = new Map<string, SshKey>(); // fingerprint →
  let ssh: SshAttachment | undefined;
  const sshSecret = randomBytes(24).toString('base64url');

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: 'internal_server_error', error_description: 'internal error' });
      else res.destroy();
      if (!(err instanceof RequestError)) console.error('mytoken test server:', err);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const redirectUri = `${issuer}${API.redirect}`;

  // Register at the OP (RFC 7591).
  stats.op.registration++;
  const regRes = await fetch(String(opConfig['registration_endpoint']), {
    method: 'POST',
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify({
      client_name: 'mytoken test server',
      application_type: 'web',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: opScopes.join(' '),
    }),
  });
  if (!regRes.ok) {
    server.close();
    throw new Error(`mytoken test server: registration at the OP failed (${regRes.status}): ${await regRes.text()}`);
  }
  const reg = (await regRes.json()) as { client_id: string; client_secret: string };
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(reg.client_id)}:${encodeURIComponent(reg.client_secret)}`).toString('base64')}`;

  const configuration = () => ({
    issuer,
    access_token_endpoint: `${issuer}${API.access}`,
    token_endpoint: `${issuer}${API.access}`,
    mytoken_endpoint: `${issuer}${API.mytoken}`,
    tokeninfo_endpoint: `${issuer}${API.tokeninfo}`,
    revocation_endpoint: `${issuer}${API.revoke}`,
    token_transfer_endpoint: `${issuer}${API.transfer}`,
    usersettings_endpoint: `${issuer}${API.settings}`,
    jwks_uri: `${issuer}${API.jwks}`,
    providers_supported: [{ issuer: opIssuer, name: 'dev OP', scopes_supported: opScopes }],
    token_signing_alg_value: 'ES512',
    tokeninfo_endpoint_actions_supported: ['introspect', 'event_history', 'subtokens', 'list_mytokens'],
    access_token_endpoint_grant_types_supported: ['mytoken'],
    mytoken_endpoint_grant_types_supported: ['oidc_flow', 'mytoken', 'polling_code', 'transfer_code', ...(ssh ? ['ssh'] : [])],
    mytoken_endpoint_oidc_flows_supported: ['authorization_code'],
    response_types_supported: ['token', 'short_token', 'transfer_code'],
    restriction_claims_supported: [...RESTRICTION_KEYS],
    ...(ssh ? { ssh_keys: ssh.hostKeys } : {}),
    service_documentation: 'test/mytoken-server/README.md',
    version: '0.10.2-test',
  });

  // -------------------------------------------------------------------------------------------
  // HTTP plumbing

  function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : JSON_TYPE, 'cache-control': 'no-store', ...headers });
    res.end(text);
  }

  async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw invalidRequest('request body too large');
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text.trim()) return {};
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidRequest('the body must be a JSON object');
      return parsed as Record<string, unknown>;
    } catch (err) {
      if (err instanceof RequestError) throw err;
      // fiber's BodyParser also takes a form body without the content type.
      if (/^[\w.%+-]+=/.test(text)) return Object.fromEntries(new URLSearchParams(text));
      throw invalidRequest('the body is neither JSON nor a form');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const ctx: Ctx = {
      ip: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      userAgent: String(req.headers['user-agent'] ?? ''),
      body: {},
      headers: req.headers,
    };
    try {
      if (method === 'GET' && (path === '/.well-known/mytoken-configuration' || path === '/.well-known/openid-configuration')) {
        bump(stats.requests, 'configuration');
        return send(res, 200, configuration());
      }
      if (method === 'GET' && path === API.jwks) {
        bump(stats.requests, 'jwks');
        return send(res, 200, { keys: [publicJwk] });
      }
      if (method === 'GET' && path === API.stats) return send(res, 200, stats);
      if (method === 'GET' && path.startsWith(API.consent)) {
        bump(stats.requests, 'consent');
        return consentPage(res, path.slice(API.consent.length), url);
      }
      if (method === 'POST' && path === '/c') {
        // oidc-agent renders the consent for a sub-token request this way before sending it.
        bump(stats.requests, 'consent');
        const request = await readBody(req);
        const rows = ['name', 'capabilities', 'restrictions', 'rotation', 'response_type']
          .filter((k) => request[k] !== undefined)
          .map((k) => `<tr><th>${k}</th><td><code>${escapeHtml(JSON.stringify(request[k]))}</code></td></tr>`)
          .join('');
        return send(res, 200, page('mytoken-consent-preview', `<p>A new mytoken is requested.</p><table>${rows}</table>`));
      }
      if (method === 'POST' && path.startsWith(API.consent)) {
        bump(stats.requests, 'consent');
        const form = await readBody(req);
        return consentDecision(res, path.slice(API.consent.length), form);
      }
      if (method === 'GET' && path === API.redirect) {
        bump(stats.requests, 'redirect');
        return await oidcCallback(res, url.searchParams);
      }
      if (path === API.sshInternal && method === 'POST') {
        bump(stats.requests, 'ssh');
        ctx.body = await readBody(req);
        const out = await sshCommand(ctx);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-exit-code': String(out.code) });
        res.end(out.text);
        return;
      }
      const routes: Record<string, (ctx: Ctx, url: URL) => Promise<[number, unknown?]>> = {
        [`POST ${API.mytoken}`]: mytokenEndpoint,
        [`POST ${API.access}`]: accessTokenEndpoint,
        [`POST ${API.revoke}`]: revocationEndpoint,
        [`POST ${API.transfer}`]: transferEndpoint,
        [`POST ${API.tokeninfo}`]: tokeninfoEndpoint,
        [`GET ${API.grants}`]: grantsInfo,
        [`POST ${API.grants}`]: (c) => grantsChange(c, true),
        [`DELETE ${API.grants}`]: (c) => grantsChange(c, false),
        [`GET ${API.sshGrant}`]: sshInfo,
        [`POST ${API.sshGrant}`]: sshAdd,
        [`DELETE ${API.sshGrant}`]: sshDelete,
      };
      const route = routes[`${method} ${path}`];
      if (!route) {
        bump(stats.requests, 'not_found');
        return send(res, 404, { error: 'not_found', error_description: `no ${method} ${path}` });
      }
      bump(stats.requests, path.slice('/api/v0/'.length).replace(/\//g, '_'));
      ctx.body = await readBody(req);
      const [status, body] = await route(ctx, url);
      return send(res, status, body);
    } catch (err) {
      if (err instanceof RequestError) return send(res, err.status, { error: err.error, error_description: err.message });
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Tokens

  function event(mt: Mytoken, ctx: Pick<Ctx, 'ip' | 'userAgent'>, name: string, extra: { comment?: string; mom_id?: string } = {}) {
    mt.events.push({ event: name, time: now(), ip: ctx.ip, user_agent: ctx.userAgent, ...extra });
  }

  function newToken(family: Family, spec: Spec, ctx: Pick<Ctx, 'ip' | 'userAgent'>, parent?: Mytoken): Mytoken {
    const jti = randomUUID();
    const t = now();
    const mt: Mytoken = {
      jti,
      momId: createHash('sha512').update(jti).digest('base64url').slice(0, 43),
      family,
      children: [],
      seqNo: 1,
      iat: t,
      authTime: parent?.authTime ?? t,
      capabilities: spec.capabilities ?? [...DEFAULT_CAPABILITIES],
      created: t,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
      revoked: false,
      usage: new Map(),
      events: [],
    };
    if (parent) {
      mt.parent = parent.jti;
      parent.children.push(jti);
    }
    if (spec.restrictions?.length) mt.restrictions = spec.restrictions;
    const exp = tokenExp(spec.restrictions);
    if (exp) mt.exp = exp;
    const nbf = tokenNbf(spec.restrictions);
    if (nbf) mt.nbf = nbf;
    if (spec.rotation && (spec.rotation.on_AT || spec.rotation.on_other)) {
      mt.rotation = spec.rotation;
      if (spec.rotation.lifetime) mt.exp = Math.min(mt.exp ?? Infinity, t + spec.rotation.lifetime);
    }
    if (spec.name) mt.name = spec.name;
    if (spec.applicationName) mt.applicationName = spec.applicationName;
    tokens.set(jti, mt);
    byMomId.set(mt.momId, mt);
    family.live.add(jti);
    event(mt, ctx, 'created');
    return mt;
  }

  function claims(mt: Mytoken): Record<string, unknown> {
    return {
      ver: '0.7',
      token_type: 'mytoken',
      iss: issuer,
      sub: createHash('sha256').update(`${mt.family.oidcSub}@${opIssuer}`).digest('base64url'),
      ...(mt.exp ? { exp: mt.exp } : {}),
      nbf: mt.nbf ?? mt.iat,
      iat: mt.iat,
      auth_time: mt.authTime,
      jti: mt.jti,
      seq_no: mt.seqNo,
      ...(mt.name ? { name: mt.name } : {}),
      aud: issuer,
      oidc_sub: mt.family.oidcSub,
      oidc_iss: opIssuer,
      ...(mt.restrictions ? { restrictions: mt.restrictions } : {}),
      capabilities: mt.capabilities,
      ...(mt.rotation ? { rotation: mt.rotation } : {}),
    };
  }

  async function jwt(mt: Mytoken): Promise<string> {
    return new SignJWT(claims(mt)).setProtectedHeader({ alg: 'ES512', typ: 'MT+JWT', kid }).sign(privateKey as CryptoKey);
  }

  /** A MytokenResponse in the requested form. */
  async function tokenResponse(mt: Mytoken, type: ResponseType, maxTokenLen?: number): Promise<Record<string, unknown>> {
    const common = {
      mom_id: mt.momId,
      ...(mt.restrictions ? { restrictions: mt.restrictions } : {}),
      capabilities: mt.capabilities,
      ...(mt.rotation ? { rotation: mt.rotation } : {}),
    };
    let form: ResponseType = type;
    let token: string | undefined;
    if (maxTokenLen !== undefined) {
      token = await jwt(mt);
      form = token.length <= maxTokenLen ? 'token' : maxTokenLen >= SHORT_TOKEN_LEN ? 'short_token' : 'transfer_code';
    }
    if (form === 'transfer_code') {
      const code = newTransferCode(mt, 'token', true);
      return { mytoken_type: 'transfer_code', transfer_code: code, expires_in: codeLifetime, ...common };
    }
    const expiresIn = mt.exp ? { expires_in: Math.max(0, mt.exp - now()) } : {};
    if (form === 'short_token') {
      const short = randomString(SHORT_TOKEN_LEN);
      shortTokens.set(short, { jti: mt.jti, seqNo: mt.seqNo });
      return { mytoken: short, mytoken_type: 'short_token', ...expiresIn, ...common };
    }
    return { mytoken: token ?? (await jwt(mt)), mytoken_type: 'token', ...expiresIn, ...common };
  }

  function newTransferCode(mt: Mytoken, form: Form, createdWithToken: boolean): string {
    let code = randomString(CODE_LEN);
    while (transferCodes.has(code) || pending.has(code)) code = randomString(CODE_LEN);
    transferCodes.set(code, { jti: mt.jti, form, expiresAt: now() + codeLifetime, createdWithToken });
    return code;
  }

  /** Resolves a presented mytoken string (JWT or short token); `undefined` when it does not parse. */
  async function lookupToken(token: string): Promise<{ mt: Mytoken | undefined; form: Form; seqNo: number } | undefined> {
    if (token.split('.').length === 3) {
      try {
        const { payload } = await compactVerify(token, publicKey);
        const c = JSON.parse(new TextDecoder().decode(payload)) as { jti?: unknown; seq_no?: unknown; iss?: unknown };
        if (c.iss !== issuer || typeof c.jti !== 'string' || typeof c.seq_no !== 'number') return undefined;
        return { mt: tokens.get(c.jti), form: 'token', seqNo: c.seq_no };
      } catch {
        return undefined;
      }
    }
    if (token.length >= MIN_SHORT_TOKEN_LEN) {
      const s = shortTokens.get(token);
      return s ? { mt: tokens.get(s.jti), form: 'short_token', seqNo: s.seqNo } : undefined;
    }
    return undefined;
  }

  /** A usable mytoken or 401 invalid_token. A stale one (rotated away) with auto_revoke revokes the tree. */
  async function resolve(token: string | undefined, ctx: Ctx): Promise<Presented> {
    if (!token) throw invalidToken('required parameter "mytoken" missing');
    const found = await lookupToken(token);
    if (!found?.mt) throw invalidToken();
    const { mt, form } = found;
    if (mt.revoked) throw invalidToken('token has been revoked');
    if (found.seqNo < mt.seqNo) {
      if (mt.rotation?.auto_revoke) {
        event(mt, ctx, 'revoked', { comment: 'outdated token presented (auto_revoke)' });
        revokeTree(mt, true);
      }
      throw invalidToken('token has been revoked');
    }
    const t = now();
    if (mt.exp && t > mt.exp) throw invalidToken('token expired');
    if (mt.nbf && t < mt.nbf) throw invalidToken('token not yet valid');
    return { mt, form };
  }

  function presentedToken(ctx: Ctx, ...fields: string[]): string | undefined {
    for (const f of fields) {
      const v = str(ctx.body, f);
      if (v) return v;
    }
    const auth = ctx.headers.authorization;
    if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
    const cookie = /(?:^|;\s*)mytoken=([^;]+)/.exec(ctx.headers.cookie ?? '');
    return cookie ? decodeURIComponent(cookie[1]!) : undefined;
  }

  function requireCapability(mt: Mytoken, capability: string, read = false) {
    if (!hasCapability(mt.capabilities, capability, read)) {
      throw fail(403, 'insufficient_capabilities', `The provided token does not have the required capability for this operation. Required capabilities: ${capability}`);
    }
  }

  function useContext(mt: Mytoken, ctx: Ctx, kind: 'AT' | 'other', extra: Partial<UseContext> = {}): UseContext {
    return { kind, now: now(), ip: ctx.ip, country: geoip(ctx.ip)?.toLowerCase(), usage: mt.usage, ...extra };
  }

  /** The clause to charge (null: unrestricted) or 403 usage_restricted. */
  async function usableClause(mt: Mytoken, use: UseContext): Promise<Clause | null> {
    const clause = await findClause(mt.restrictions, use);
    if (clause === undefined) throw fail(403, 'usage_restricted', 'No matching restriction clause: the token may not be used for this request');
    return clause;
  }

  function charge(mt: Mytoken, clause: Clause | null, kind: 'AT' | 'other') {
    if (!clause) return;
    const key = clauseHash(clause);
    const used = mt.usage.get(key) ?? { AT: 0, other: 0 };
    used[kind]++;
    mt.usage.set(key, used);
  }

  /** Rotates after a use when the token asks for it; returns the token_update to send. */
  async function maybeRotate(p: Presented, kind: 'AT' | 'other', ctx: Ctx): Promise<Record<string, unknown> | undefined> {
    const r = p.mt.rotation;
    if (!r || !(kind === 'AT' ? r.on_AT : r.on_other)) return undefined;
    const mt = p.mt;
    mt.seqNo++;
    mt.iat = now();
    mt.nbf = mt.iat;
    if (r.lifetime) mt.exp = mt.iat + r.lifetime;
    event(mt, ctx, 'token_rotated');
    return tokenResponse(mt, p.form);
  }

  function revokeTree(mt: Mytoken, recursive: boolean) {
    const revokeOne = (t: Mytoken) => {
      if (t.revoked) return;
      t.revoked = true;
      t.family.live.delete(t.jti);
      for (const [fp, k] of sshKeys) if (k.jti === t.jti) sshKeys.delete(fp);
    };
    revokeOne(mt);
    if (recursive) {
      const stack = [...mt.children];
      while (stack.length) {
        const child = tokens.get(stack.pop()!);
        if (!child) continue;
        revokeOne(child);
        stack.push(...child.children);
      }
    }
    updateAuthorizedKeys();
    const family = mt.family;
    if (family.live.size === 0 && !family.rtRevoked) {
      family.rtRevoked = true;
      stats.op.revocation++;
      void fetch(String(opConfig['revocation_endpoint']), {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: family.rt, token_type_hint: 'refresh_token' }),
      }).catch(() => undefined);
    }
  }

  /** Runs `fn` alone among the uses of this family (the OP refresh token and rotation are shared state). */
  function serialized<T>(family: Family, fn: () => Promise<T>): Promise<T> {
    const run = family.queue.then(fn, fn);
    family.queue = run.catch(() => undefined);
    return run;
  }

  // -------------------------------------------------------------------------------------------
  // Request parsing

  const PROFILES: Record<string, (ip: string) => Partial<Spec>> = {
    agent: () => ({ capabilities: parseCapabilities(['@all'])! }),
    'web-default': (ip) => ({
      capabilities: [...DEFAULT_CAPABILITIES],
      restrictions: [{ exp: now() + 12 * 3600, hosts: [ip], usages_AT: 15 }],
    }),
  };

  function parseRotation(value: unknown): Rotation | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw invalidRequest('"rotation" must be an object');
    const r = value as Record<string, unknown>;
    const out: Rotation = {};
    for (const k of ['on_AT', 'on_other', 'auto_revoke'] as const) {
      if (r[k] === undefined) continue;
      if (typeof r[k] !== 'boolean') throw invalidRequest(`"rotation.${k}" must be a boolean`);
      if (r[k]) out[k] = true;
    }
    if (r['lifetime'] !== undefined) {
      if (typeof r['lifetime'] !== 'number' || !Number.isSafeInteger(r['lifetime']) || r['lifetime'] < 0) throw invalidRequest('"rotation.lifetime" must be a non-negative integer');
      if (r['lifetime']) out.lifetime = r['lifetime'];
    }
    return out;
  }

  function parseSpec(ctx: Ctx): Spec {
    const b = ctx.body;
    let base: Partial<Spec> = {};
    const include = b['include'];
    if (include !== undefined) {
      const names = typeof include === 'string' ? [include] : Array.isArray(include) ? include : undefined;
      if (!names?.every((n) => typeof n === 'string')) throw invalidRequest('"include" must be a string or an array of strings');
      for (const n of names as string[]) {
        const profile = PROFILES[n.replace(/^@/, '')];
        if (!profile) throw invalidRequest(`unknown profile "${n}" (this test server knows: ${Object.keys(PROFILES).join(', ')})`);
        base = { ...base, ...profile(ctx.ip) };
      }
    }
    const responseType = str(b, 'response_type') ?? 'token';
    if (responseType !== 'token' && responseType !== 'short_token' && responseType !== 'transfer_code') throw invalidRequest(`unsupported response_type "${responseType}"`);
    const spec: Spec = { ...base, responseType };
    const restrictions = parseRestrictions(b['restrictions'], ctx.ip);
    if (restrictions) spec.restrictions = restrictions;
    const capabilities = parseCapabilities(b['capabilities']);
    if (capabilities) spec.capabilities = capabilities;
    const rotation = parseRotation(b['rotation']);
    if (rotation) spec.rotation = rotation;
    const name = str(b, 'name');
    if (name) spec.name = name;
    const app = str(b, 'application_name');
    if (app) spec.applicationName = app;
    if (b['max_token_len'] !== undefined) {
      const m = Number(b['max_token_len']);
      if (!Number.isSafeInteger(m) || m <= 0) throw invalidRequest('"max_token_len" must be a positive integer');
      spec.maxTokenLen = m;
    }
    const t = now();
    if (spec.restrictions?.some((c) => c.exp && c.exp < t)) throw invalidRequest('token would be expired: a restriction "exp" is in the past');
    return spec;
  }

  function checkIssuer(b: Record<string, unknown>) {
    const iss = str(b, 'oidc_issuer');
    if (iss !== undefined && iss.replace(/\/$/, '') !== opIssuer) throw invalidRequest(`the issuer "${iss}" is not supported by this server`);
  }

  // -------------------------------------------------------------------------------------------
  // Mytoken endpoint

  async function mytokenEndpoint(ctx: Ctx, url: URL): Promise<[number, unknown?]> {
    const grant = str(ctx.body, 'grant_type') ?? url.searchParams.get('grant_type') ?? '';
    bump(stats.mytokenGrants, grant || '(none)');
    switch (grant) {
      case 'oidc_flow':
        return oidcFlowStart(ctx);
      case 'polling_code':
        return pollOidc(ctx);
      case 'mytoken':
        return subToken(ctx);
      case 'transfer_code':
        return redeemTransferCode(ctx);
      default:
        throw fail(400, 'invalid_grant', 'Unsupported grant_type');
    }
  }

  function newPollingCode(): string {
    let code = randomString(CODE_LEN);
    while (pending.has(code) || transferCodes.has(code)) code = randomString(CODE_LEN);
    return code;
  }

  function newConsent(pollingCode: string): string {
    const consent = randomBytes(16).toString('base64url');
    consentCodes.set(consent, pollingCode);
    return consent;
  }

  async function oidcFlowStart(ctx: Ctx): Promise<[number, unknown]> {
    const b = ctx.body;
    const flow = str(b, 'oidc_flow');
    if (flow !== 'authorization_code') throw invalidRequest(`unsupported oidc_flow "${flow ?? ''}"`);
    if (!str(b, 'oidc_issuer')) throw invalidRequest('required parameter "oidc_issuer" missing');
    checkIssuer(b);
    const spec = parseSpec(ctx);
    const state = randomBytes(16).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL(String(opConfig['authorization_endpoint']));
    authorize.search = new URLSearchParams({
      client_id: reg.client_id,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: opScopes.join(' '),
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      prompt: 'consent',
    }).toString();
    const code = newPollingCode();
    pending.set(code, {
      kind: 'oidc',
      state,
      verifier,
      authorizeUrl: authorize.href,
      spec,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
      expiresAt: now() + codeLifetime,
      status: 'pending',
    });
    states.set(state, code);
    const consent = newConsent(code);
    return [200, { consent_uri: `${issuer}${API.consent}${consent}`, polling_code: code, expires_in: codeLifetime, interval: pollingInterval }];
  }

  /** Common polling logic: 428 pending, 401 access_denied / expired_token / invalid_token. */
  function pollState(code: string | undefined, kind: Pending['kind']): Pending {
    if (!code) throw invalidRequest('required parameter "polling_code" missing');
    const p = pending.get(code);
    if (!p || p.kind !== kind) throw invalidToken('Bad polling or transfer code');
    if (now() > p.expiresAt) {
      pending.delete(code);
      throw fail(401, 'expired_token', 'polling code has expired');
    }
    if (p.status === 'denied') {
      pending.delete(code);
      throw fail(401, 'access_denied', 'the user declined the authorization request');
    }
    if (p.status === 'pending') throw fail(428, 'authorization_pending', 'the user has not yet completed the authorization');
    pending.delete(code);
    return p;
  }

  async function pollOidc(ctx: Ctx): Promise<[number, unknown]> {
    const p = pollState(str(ctx.body, 'polling_code'), 'oidc');
    if (p.kind !== 'oidc' || !p.jti) throw invalidToken('Bad polling or transfer code');
    const mt = tokens.get(p.jti)!;
    return [200, await tokenResponse(mt, p.spec.responseType, p.spec.maxTokenLen)];
  }

  function consentPage(res: ServerResponse, code: string, _url: URL) {
    const pollingCode = consentCodes.get(code);
    const p = pollingCode ? pending.get(pollingCode) : undefined;
    if (!p || p.status !== 'pending') return send(res, 404, page('error', '<p class="error">Unknown or used consent code.</p>'));
    // The real consent page lets the user edit the token's properties first; here it goes
    // straight on to the OP (oidc flow) or asks Allow/Deny (ssh key).
    if (p.kind === 'oidc') return send(res, 302, undefined, { location: p.authorizeUrl });
    return send(
      res,
      200,
      page(
        'mytoken-consent',
        `<p>Allow the ssh key ${escapeHtml(p.key.fingerprint)} to obtain tokens?</p>
<form method="post" action="${API.consent}${code}"><button type="submit" name="decision" value="approve">Allow</button><button type="submit" name="decision" value="deny">Deny</button></form>`,
      ),
    );
  }

  function consentDecision(res: ServerResponse, code: string, form: Record<string, unknown>) {
    const pollingCode = consentCodes.get(code);
    const p = pollingCode ? pending.get(pollingCode) : undefined;
    if (!p || p.kind !== 'ssh' || p.status !== 'pending') return send(res, 404, page('error', '<p class="error">Unknown or used consent code.</p>'));
    consentCodes.delete(code);
    if (form['decision'] !== 'approve') {
      p.status = 'denied';
      return send(res, 200, page('mytoken-denied', '<p>Denied.</p>'));
    }
    const parent = tokens.get(p.parentJti);
    if (!parent || parent.revoked) {
      p.status = 'denied';
      return send(res, 200, page('error', '<p class="error">The mytoken is no longer valid.</p>'));
    }
    const mt = newToken(parent.family, p.spec, p, parent);
    mt.name ??= `SSH Key${p.key.name ? `: ${p.key.name}` : ''}`;
    sshKeys.set(p.key.fingerprint, { ...p.key, jti: mt.jti, oidcSub: parent.family.oidcSub, user: ssh?.user ?? 'mytoken', created: now() });
    updateAuthorizedKeys();
    p.status = 'done';
    return send(res, 200, page('mytoken-success', '<p>The ssh key was added. You can close this window.</p>'));
  }

  async function oidcCallback(res: ServerResponse, params: URLSearchParams) {
    const state = params.get('state') ?? '';
    const code = states.get(state);
    const p = code ? pending.get(code) : undefined;
    if (!code || !p || p.kind !== 'oidc' || p.status !== 'pending') return send(res, 400, page('error', '<p class="error">Unknown or used state.</p>'));
    states.delete(state);
    const error = params.get('error');
    if (error) {
      p.status = 'denied';
      return send(res, 200, page('mytoken-denied', `<p class="error">${escapeHtml(error)}</p>`));
    }
    stats.op.code_exchange++;
    const r = await fetch(String(opConfig['token_endpoint']), {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code') ?? '', redirect_uri: redirectUri, code_verifier: p.verifier }),
    });
    const body = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    if (!r.ok || typeof body['refresh_token'] !== 'string' || typeof body['id_token'] !== 'string') {
      p.status = 'denied';
      return send(res, 502, page('error', `<p class="error">The OP answered ${r.status} ${escapeHtml(String(body['error'] ?? 'without a refresh token'))}.</p>`));
    }
    const idClaims = JSON.parse(Buffer.from(body['id_token'].split('.')[1]!, 'base64url').toString('utf8')) as { sub: string };
    const family: Family = {
      id: randomUUID(),
      oidcSub: idClaims.sub,
      rt: body['refresh_token'],
      scope: typeof body['scope'] === 'string' ? body['scope'] : opScopes.join(' '),
      queue: Promise.resolve(),
      live: new Set(),
      rtRevoked: false,
    };
    const mt = newToken(family, p.spec, p);
    p.jti = mt.jti;
    p.status = 'done';
    return send(res, 200, page('mytoken-success', '<p>Authorization complete. You can close this window and return to your application.</p>'));
  }

  async function subToken(ctx: Ctx): Promise<[number, unknown]> {
    checkIssuer(ctx.body);
    const p = await resolve(presentedToken(ctx, 'mytoken'), ctx);
    return serialized(p.mt.family, async () => {
      await resolve(presentedToken(ctx, 'mytoken'), ctx); // again, inside the queue: it may have rotated meanwhile
      requireCapability(p.mt, 'create_mytoken');
      const clause = await usableClause(p.mt, useContext(p.mt, ctx, 'other'));
      const spec = parseSpec(ctx);
      const { clauses, ok } = tighten(p.mt.restrictions, spec.restrictions);
      if (!ok && bool(ctx.body, 'error_on_restrictions')) {
        throw invalidRequest('the requested restrictions are not a subset of the restrictions of the parent mytoken');
      }
      const childSpec: Spec = { ...spec, capabilities: intersectCapabilities(p.mt.capabilities, spec.capabilities ?? DEFAULT_CAPABILITIES) };
      if (clauses) childSpec.restrictions = clauses;
      else delete childSpec.restrictions;
      const child = newToken(p.mt.family, childSpec, ctx, p.mt);
      charge(p.mt, clause, 'other');
      event(p.mt, ctx, 'MT_created', { mom_id: child.momId });
      const response = await tokenResponse(child, spec.responseType, spec.maxTokenLen);
      const update = await maybeRotate(p, 'other', ctx);
      return [200, { ...response, ...(update ? { token_update: update } : {}) }] as [number, unknown];
    });
  }

  async function redeemTransferCode(ctx: Ctx): Promise<[number, unknown]> {
    const code = str(ctx.body, 'transfer_code');
    if (!code) throw invalidRequest('required parameter "transfer_code" missing');
    const tc = transferCodes.get(code);
    if (!tc) throw invalidToken('Bad polling or transfer code');
    transferCodes.delete(code);
    if (now() > tc.expiresAt) throw fail(401, 'expired_token', 'transfer code has expired');
    const mt = tokens.get(tc.jti);
    if (!mt || mt.revoked) throw invalidToken('token has been revoked');
    event(mt, ctx, 'transfer_code_used');
    return [200, await tokenResponse(mt, tc.form)];
  }

  // -------------------------------------------------------------------------------------------
  // Access tokens

  interface AtRequest {
    scopes: string[];
    audiences: string[];
    comment?: string;
  }

  /** Gets an OP access token for `p` (shared by the HTTP endpoint and the ssh grant). */
  async function accessToken(p: Presented, request: AtRequest, ctx: Ctx): Promise<Record<string, unknown>> {
    const mt = p.mt;
    requireCapability(mt, 'AT');
    const clause = await usableClause(mt, useContext(mt, ctx, 'AT', { scopes: request.scopes, audiences: request.audiences }));
    const scopes = request.scopes.length ? request.scopes : clause?.scope ? clause.scope.split(' ') : [];
    const audiences = request.audiences.length ? request.audiences : (clause?.audience ?? []);
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: mt.family.rt });
    if (scopes.length) form.set('scope', scopes.join(' '));
    for (const a of audiences) form.append('resource', a);
    stats.op.refresh++;
    const r = await fetch(String(opConfig['token_endpoint']), {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    const body = (await r.json().catch(() => ({}))) as Record<string, unknown>;
    if (!r.ok || typeof body['access_token'] !== 'string') {
      throw fail(r.ok ? 502 : r.status, 'oidc_error', `${String(body['error'] ?? 'error')}: ${String(body['error_description'] ?? 'the OP refused the refresh')}`);
    }
    if (typeof body['refresh_token'] === 'string') mt.family.rt = body['refresh_token'];
    charge(mt, clause, 'AT');
    event(mt, ctx, 'AT_created', request.comment ? { comment: request.comment } : {});
    const at = body['access_token'];
    let audience: string[] = [];
    try {
      const aud = (JSON.parse(Buffer.from(at.split('.')[1] ?? '', 'base64url').toString('utf8')) as { aud?: unknown }).aud;
      audience = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
    } catch {
      audience = [];
    }
    const update = await maybeRotate(p, 'AT', ctx);
    return {
      access_token: at,
      token_type: body['token_type'] ?? 'Bearer',
      expires_in: body['expires_in'],
      scope: body['scope'] ?? scopes.join(' '),
      audience,
      ...(update ? { token_update: update } : {}),
    };
  }

  async function accessTokenEndpoint(ctx: Ctx): Promise<[number, unknown]> {
    const b = ctx.body;
    const grant = str(b, 'grant_type') ?? 'mytoken';
    if (grant !== 'mytoken' && grant !== 'refresh_token') throw fail(400, 'invalid_grant', 'Unsupported grant_type');
    checkIssuer(b);
    const token = presentedToken(ctx, grant === 'refresh_token' ? 'refresh_token' : 'mytoken', 'mytoken', 'refresh_token');
    const first = await resolve(token, ctx);
    const request: AtRequest = { scopes: spaceList(b['scope'], 'scope'), audiences: spaceList(b['audience'], 'audience') };
    const comment = str(b, 'comment');
    if (comment) request.comment = comment;
    return serialized(first.mt.family, async () => [200, await accessToken(await resolve(token, ctx), request, ctx)] as [number, unknown]);
  }

  // -------------------------------------------------------------------------------------------
  // Revocation, transfer, tokeninfo

  async function revocationEndpoint(ctx: Ctx): Promise<[number, unknown?]> {
    const b = ctx.body;
    const token = str(b, 'token') ?? presentedToken(ctx, 'mytoken');
    const recursive = bool(b, 'recursive');
    const momId = str(b, 'mom_id');
    if (momId) {
      const p = await resolve(token, ctx);
      return serialized(p.mt.family, async () => {
        await resolve(token, ctx);
        const target = byMomId.get(momId);
        if (!target || target.revoked) throw invalidRequest('unknown mom_id');
        const isAncestor = (() => {
          for (let t: Mytoken | undefined = target; t; t = t.parent ? tokens.get(t.parent) : undefined) if (t.jti === p.mt.jti) return true;
          return false;
        })();
        if (!isAncestor && !(hasCapability(p.mt.capabilities, 'manage_mytokens:revoke') && target.family.oidcSub === p.mt.family.oidcSub)) {
          throw fail(403, 'insufficient_capabilities', 'The provided token does not have the required capability for this operation. Required capabilities: manage_mytokens:revoke');
        }
        const clause = await usableClause(p.mt, useContext(p.mt, ctx, 'other'));
        charge(p.mt, clause, 'other');
        event(target, ctx, 'revoked', { mom_id: p.mt.momId });
        revokeTree(target, recursive);
        if (target.jti === p.mt.jti) return [204] as [number];
        const update = await maybeRotate(p, 'other', ctx);
        return (update ? [200, { token_update: update }] : [204]) as [number, unknown?];
      });
    }
    if (!token) return [204];
    if (token.length < MIN_SHORT_TOKEN_LEN && token.split('.').length !== 3) {
      const tc = transferCodes.get(token);
      if (tc) {
        transferCodes.delete(token);
        const mt = tokens.get(tc.jti);
        if (tc.createdWithToken && mt && !mt.revoked) revokeTree(mt, recursive);
      }
      return [204];
    }
    const found = await lookupToken(token);
    if (found?.mt && !found.mt.revoked && found.seqNo === found.mt.seqNo) {
      event(found.mt, ctx, 'revoked');
      revokeTree(found.mt, recursive);
    }
    return [204];
  }

  async function transferEndpoint(ctx: Ctx): Promise<[number, unknown]> {
    const p = await resolve(presentedToken(ctx, 'mytoken'), ctx);
    const code = newTransferCode(p.mt, p.form, false);
    return [200, { mytoken_type: 'transfer_code', transfer_code: code, expires_in: codeLifetime }];
  }

  function treeOf(mt: Mytoken): Record<string, unknown> {
    const children = mt.children.map((j) => tokens.get(j)!).filter((c) => !c.revoked);
    return {
      token: {
        mom_id: mt.momId,
        ...(mt.name ? { name: mt.name } : {}),
        created: mt.created,
        ...(mt.exp ? { expires_at: mt.exp } : {}),
        ip: mt.ip,
        user_agent: mt.userAgent,
      },
      ...(children.length ? { children: children.map(treeOf) } : {}),
    };
  }

  async function tokeninfoEndpoint(ctx: Ctx): Promise<[number, unknown]> {
    const action = str(ctx.body, 'action') ?? '';
    bump(stats.tokeninfo, action || '(none)');
    const token = presentedToken(ctx, 'mytoken');
    const needs: Record<string, string> = {
      introspect: 'tokeninfo:introspect',
      event_history: 'tokeninfo:history',
      subtokens: 'tokeninfo:subtokens',
      list_mytokens: 'manage_mytokens:list',
    };
    const capability = needs[action];
    if (!capability) throw invalidRequest(`unknown action "${action}"`);
    const first = await resolve(token, ctx);
    return serialized(first.mt.family, async () => {
      const p = await resolve(token, ctx);
      requireCapability(p.mt, capability, true);
      if (action === 'introspect') {
        // Introspection neither counts as a use nor rotates.
        const c = claims(p.mt);
        if (p.mt.restrictions) {
          c['restrictions'] = p.mt.restrictions.map((r) => {
            const used = p.mt.usage.get(clauseHash(r)) ?? { AT: 0, other: 0 };
            return { ...r, ...(r.usages_AT !== undefined ? { usages_AT_done: used.AT } : {}), ...(r.usages_other !== undefined ? { usages_other_done: used.other } : {}) };
          });
        }
        return [200, { valid: true, token_type: p.form, token: c, mom_id: p.mt.momId }] as [number, unknown];
      }
      const clause = await usableClause(p.mt, useContext(p.mt, ctx, 'other'));
      charge(p.mt, clause, 'other');
      let result: Record<string, unknown>;
      if (action === 'event_history') result = { events: p.mt.events.map((e) => ({ ...e })) };
      else if (action === 'subtokens') result = { mytokens: treeOf(p.mt) };
      else {
        const roots = [...tokens.values()].filter(
          (t) => !t.revoked && t.family.oidcSub === p.mt.family.oidcSub && (!t.parent || tokens.get(t.parent)!.revoked),
        );
        result = { mytokens: roots.map(treeOf) };
      }
      const update = await maybeRotate(p, 'other', ctx);
      return [200, { ...result, ...(update ? { token_update: update } : {}) }] as [number, unknown];
    });
  }

  // -------------------------------------------------------------------------------------------
  // Settings: grants and ssh keys

  /** A settings request: needs `capability`, counts as an "other" use and may rotate. */
  async function settingsUse(ctx: Ctx, capability: string, read: boolean, fn: (p: Presented) => Promise<Record<string, unknown> | undefined>): Promise<[number, unknown?]> {
    const token = presentedToken(ctx, 'mytoken');
    const first = await resolve(token, ctx);
    return serialized(first.mt.family, async () => {
      const p = await resolve(token, ctx);
      requireCapability(p.mt, capability, read);
      const clause = await usableClause(p.mt, useContext(p.mt, ctx, 'other'));
      const result = await fn(p);
      charge(p.mt, clause, 'other');
      const update = await maybeRotate(p, 'other', ctx);
      const body = { ...(result ?? {}), ...(update ? { token_update: update } : {}) };
      return (Object.keys(body).length ? [200, body] : [204]) as [number, unknown?];
    });
  }

  function grantsInfo(ctx: Ctx): Promise<[number, unknown?]> {
    return settingsUse(ctx, 'settings:grants', true, async (p) => ({
      grant_types: [{ grant_type: 'ssh', enabled: sshEnabled.has(p.mt.family.oidcSub) }],
    }));
  }

  function grantsChange(ctx: Ctx, enable: boolean): Promise<[number, unknown?]> {
    return settingsUse(ctx, 'settings:grants', false, async (p) => {
      const grant = str(ctx.body, 'grant_type');
      if (grant !== 'ssh') throw invalidRequest(`unknown grant_type "${grant ?? ''}"`);
      if (enable) sshEnabled.add(p.mt.family.oidcSub);
      else sshEnabled.delete(p.mt.family.oidcSub);
      return undefined;
    });
  }

  function sshInfo(ctx: Ctx): Promise<[number, unknown?]> {
    return settingsUse(ctx, 'settings:grants:ssh', true, async (p) => ({
      grant_enabled: sshEnabled.has(p.mt.family.oidcSub),
      ssh_keys: [...sshKeys.values()]
        .filter((k) => k.oidcSub === p.mt.family.oidcSub)
        .map((k) => ({ ...(k.name ? { name: k.name } : {}), ssh_key_fp: k.fingerprint, created: k.created, ...(k.lastUsed ? { last_used: k.lastUsed } : {}) })),
    }));
  }

  async function sshAdd(ctx: Ctx): Promise<[number, unknown?]> {
    const grant = str(ctx.body, 'grant_type') ?? 'mytoken';
    if (grant === 'polling_code') {
      pollState(str(ctx.body, 'polling_code'), 'ssh');
      const user = ssh?.user ?? 'mytoken';
      return [200, { ssh_user: user, ssh_host_config: hostConfig(user) }];
    }
    if (grant !== 'mytoken') throw fail(400, 'invalid_grant', 'Unsupported grant_type');
    if (!ssh) throw fail(400, 'invalid_request', 'the ssh grant is not available on this server (no sshd attached)');
    return settingsUse(ctx, 'settings:grants:ssh', false, async (p) => {
      if (!sshEnabled.has(p.mt.family.oidcSub)) throw invalidRequest('the ssh grant is not enabled for this user');
      const key = parseSshKey(str(ctx.body, 'ssh_key'));
      if (sshKeys.has(key.fingerprint)) throw invalidRequest('this ssh key is already in use');
      const name = str(ctx.body, 'name');
      if (name) key.name = name;
      const spec = parseSpec(ctx);
      const { clauses } = tighten(p.mt.restrictions, spec.restrictions);
      const keySpec: Spec = { ...spec, capabilities: intersectCapabilities(p.mt.capabilities, spec.capabilities ?? ['AT']) };
      if (clauses) keySpec.restrictions = clauses;
      else delete keySpec.restrictions;
      const code = newPollingCode();
      pending.set(code, { kind: 'ssh', parentJti: p.mt.jti, spec: keySpec, key, ip: ctx.ip, userAgent: ctx.userAgent, expiresAt: now() + codeLifetime, status: 'pending' });
      const consent = newConsent(code);
      return { consent_uri: `${issuer}${API.consent}${consent}`, polling_code: code, expires_in: codeLifetime, interval: pollingInterval };
    });
  }

  function sshDelete(ctx: Ctx): Promise<[number, unknown?]> {
    return settingsUse(ctx, 'settings:grants:ssh', false, async (p) => {
      const fp = str(ctx.body, 'ssh_key_fp') ?? (str(ctx.body, 'ssh_key') ? parseSshKey(str(ctx.body, 'ssh_key')).fingerprint : undefined);
      const key = fp ? sshKeys.get(fp) : undefined;
      if (!key || key.oidcSub !== p.mt.family.oidcSub) throw invalidRequest('unknown ssh key');
      sshKeys.delete(key.fingerprint);
      const mt = tokens.get(key.jti);
      if (mt && !mt.revoked) revokeTree(mt, true);
      updateAuthorizedKeys();
      return undefined;
    });
  }

  function hostConfig(user: string): string {
    return `Host mytoken\n    HostName ${ssh?.host ?? '127.0.0.1'}\n    Port ${ssh?.port ?? 2222}\n    User ${user}\n`;
  }

  function updateAuthorizedKeys() {
    ssh?.writeAuthorizedKeys([...sshKeys.values()].map((k) => `restrict ${k.line}`));
  }

  /** The ForceCommand's request: `{secret, user, auth, command, connection}` → one line of output. */
  async function sshCommand(ctx: Ctx): Promise<{ code: number; text: string }> {
    const b = ctx.body;
    if (b['secret'] !== sshSecret) return { code: 1, text: 'error: not authorized\n' };
    const authLine = String(b['auth'] ?? '')
      .split('\n')
      .find((l) => l.startsWith('publickey '));
    const fp = authLine ? fingerprint(authLine.slice('publickey '.length)) : undefined;
    const key = fp ? sshKeys.get(fp) : undefined;
    if (!key || key.user !== b['user']) return { code: 1, text: 'error: unknown ssh key\n' };
    const sshCtx: Ctx = { ...ctx, ip: String(b['connection'] ?? '').split(' ')[0] || ctx.ip, userAgent: 'ssh' };
    const mt = tokens.get(key.jti);
    if (!mt || mt.revoked) return { code: 1, text: 'error: invalid_token: token has been revoked\n' };
    key.lastUsed = now();
    try {
      const words = shellWords(String(b['command'] ?? ''));
      if (words.length !== 1 && words.length !== 3) throw invalidRequest('expected: ACTION [MIMETYPE DATA]');
      let data: Record<string, unknown> = {};
      if (words.length === 3) {
        const mime = words[1]!.toLowerCase().replace(/\s+/g, '');
        const raw = mime === 'application/json;base64' ? Buffer.from(words[2]!, 'base64').toString('utf8') : mime === 'application/json' ? words[2]! : undefined;
        if (raw === undefined) throw invalidRequest(`unsupported mimetype "${words[1]}"`);
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidRequest('the data must be a JSON object');
        data = parsed as Record<string, unknown>;
      }
      const p: Presented = { mt, form: 'token' };
      sshCtx.body = data;
      const action = words[0]!;
      const out = await serialized(mt.family, async () => {
        if (mt.revoked) throw invalidToken('token has been revoked');
        if (mt.exp && now() > mt.exp) throw invalidToken('token expired');
        if (action === 'AT') {
          const r = await accessToken(p, { scopes: spaceList(data['scope'], 'scope'), audiences: spaceList(data['audience'], 'audience'), ...(typeof data['comment'] === 'string' ? { comment: data['comment'] } : {}) }, sshCtx);
          return String(r['access_token']);
        }
        if (action === 'MT') {
          requireCapability(mt, 'create_mytoken');
          const clause = await usableClause(mt, useContext(mt, sshCtx, 'other'));
          const spec = parseSpec(sshCtx);
          const { clauses, ok } = tighten(mt.restrictions, spec.restrictions);
          if (!ok && bool(data, 'error_on_restrictions')) throw invalidRequest('the requested restrictions are not a subset of the restrictions of the parent mytoken');
          const childSpec: Spec = { ...spec, capabilities: intersectCapabilities(mt.capabilities, spec.capabilities ?? DEFAULT_CAPABILITIES) };
          if (clauses) childSpec.restrictions = clauses;
          else delete childSpec.restrictions;
          const child = newToken(mt.family, childSpec, sshCtx, mt);
          charge(mt, clause, 'other');
          event(mt, sshCtx, 'MT_created', { mom_id: child.momId });
          const r = await tokenResponse(child, spec.responseType, spec.maxTokenLen);
          return String(r['mytoken'] ?? r['transfer_code']);
        }
        throw invalidRequest(`unsupported action "${action}" (this test server answers AT and MT)`);
      });
      return { code: 0, text: `${out}\n` };
    } catch (err) {
      if (err instanceof RequestError) return { code: 1, text: `error: ${err.error}: ${err.message}\n` };
      if (err instanceof SyntaxError) return { code: 1, text: 'error: invalid_request: the data is not valid JSON\n' };
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------

  return {
    url: issuer,
    issuer,
    port,
    opClient: { clientId: reg.client_id, clientSecret: reg.client_secret },
    sshSecret,
    close: () =>
      new Promise<void>((resolveClose, reject) => {
        server.close((err) => (err ? reject(err) : resolveClose()));
        server.closeAllConnections();
      }),
    stats: () => structuredClone(stats),
    resetStats() {
      stats.requests = {};
      stats.mytokenGrants = {};
      stats.tokeninfo = {};
      stats.op = { registration: 0, code_exchange: 0, refresh: 0, revocation: 0 };
    },
    attachSsh(attachment) {
      ssh = attachment;
      updateAuthorizedKeys();
    },
    async momIdOf(token) {
      return (await lookupToken(token))?.mt?.momId;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

function page(name: string, content: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>mytoken (test)</title></head><body data-page="${name}">${content}</body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `type base64 [comment]` → the SHA256 fingerprint as ssh-keygen prints it. */
export function fingerprint(keyLine: string): string | undefined {
  const [, b64] = keyLine.trim().split(/\s+/);
  if (!b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return undefined;
  return `SHA256:${createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

function parseSshKey(value: string | undefined): SshKeyInput {
  if (!value) throw invalidRequest('required parameter "ssh_key" missing');
  const [type, b64] = value.trim().split(/\s+/);
  const fp = fingerprint(value);
  if (!type || !b64 || !fp || !/^(ssh-|ecdsa-|sk-)/.test(type)) throw invalidRequest('"ssh_key" is not an ssh public key');
  return { line: `${type} ${b64}`, fingerprint: fp };
}

/** Splits a command line the way a POSIX shell would (quotes and backslashes; no expansions). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw invalidRequest('unterminated quote in the ssh command');
      current += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) i++;
        current += line[i];
      }
      if (i >= line.length) throw invalidRequest('unterminated quote in the ssh command');
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}
