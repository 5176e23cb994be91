/**
 * mytoken accounts (oidc-agent 5's layout: `mytoken_url` set, the mytoken stored as
 * `refresh_token`, `issuer_url` = the OP): creating one (`gen` with flow `mytoken`: the server's
 * OIDC login, a transfer code, or an imported mytoken) and the `mytoken` request (a sub-mytoken
 * of the account's mytoken, with a profile). Access tokens go through tokens.ts's `refreshFor`,
 * which asks the mytoken server instead of the OP.
 *
 * Every use of an account's mytoken runs in the account's queue, one at a time: a rotating mytoken
 * is valid once, and a stale one presented again may revoke the whole token tree (`auto_revoke`).
 * A rotated mytoken is kept in memory at once and written to the account file before the result
 * is handed out (accounts/write-back.ts).
 * @see ../../../../../shared/reference/mytoken-wlcg.md §1, §2
 */
import { hostname } from 'node:os';
import { AgentErrorText, Status, type RequestParams, type Results } from '@token-agent/protocol';
import { DEFAULT_MYTOKEN_SERVER, OidcError } from '@token-agent/oidc';
import type { LoadedAccount } from '../accounts/registry.js';
import { writeBack } from '../accounts/write-back.js';
import type { AgentContext } from '../context.js';
import { AgentError, toFailure } from '../errors.js';
import type { MytokenIssued } from '../op.js';
import { confirmUse, needsConfirmation } from '../security/confirm.js';
import { parseConfig } from './accounts.js';
import { resolveAccount } from './tokens.js';

/** The profile of an account's own mytoken when token-gen is given none. */
export const DEFAULT_ACCOUNT_CAPABILITIES = ['AT', 'create_mytoken', 'tokeninfo'] as const;
/** A sub-mytoken's life when the `mytoken` request's profile sets no restrictions (oidc-agent's `web-default`: 12 h). */
export const DEFAULT_SUB_MYTOKEN_LIFETIME_S = 12 * 3600;

const TOKEN_TYPES = new Set(['token', 'short_token', 'transfer_code']);
const NAME_RE = /^[A-Za-z0-9_@./:+-]{1,128}$/;

function bad(field: string, what: string): AgentError {
  return new AgentError(`Bad Request: "${field}" ${what}`, 'a mytoken profile is a JSON object such as {"capabilities":["AT"],"restrictions":[{"scope":"openid","exp":1900000000}],"rotation":{"on_AT":true}}, or the name of a server profile');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strings(v: unknown, field: string, max = 64): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 2048)) throw bad(field, 'must be an array of strings');
  if (v.length > max) throw bad(field, `must have at most ${max} entries`);
  return v as string[];
}

function nonNegInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(field, 'must be a non-negative integer');
  return v;
}

function stringOrList(v: unknown, field: string): string | string[] {
  if (typeof v === 'string' && v.length > 0 && v.length <= 256) return v;
  return strings(v, field);
}

const CLAUSE_FIELDS: Record<string, (v: unknown, f: string) => unknown> = {
  nbf: nonNegInt,
  exp: nonNegInt,
  scope: (v, f) => {
    if (typeof v !== 'string' || v.length > 4096) throw bad(f, 'must be a space-separated string');
    return v;
  },
  audience: strings,
  hosts: strings,
  geoip_allow: strings,
  geoip_disallow: strings,
  usages_AT: nonNegInt,
  usages_other: nonNegInt,
  include: stringOrList,
};

const ROTATION_FIELDS: Record<string, (v: unknown, f: string) => unknown> = {
  on_AT: bool,
  on_other: bool,
  auto_revoke: bool,
  lifetime: nonNegInt,
  include: stringOrList,
};

function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw bad(field, 'must be true or false');
  return v;
}

function text(max: number) {
  return (v: unknown, field: string): string => {
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw bad(field, `must be a non-empty string of at most ${max} characters`);
    return v;
  };
}

function tokenType(v: unknown, field: string): string {
  if (typeof v !== 'string' || !TOKEN_TYPES.has(v)) throw bad(field, 'must be one of token, short_token, transfer_code');
  return v;
}

function checked(obj: Record<string, unknown>, fields: Record<string, (v: unknown, f: string) => unknown>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const check = Object.hasOwn(fields, k) ? fields[k] : undefined;
    if (check === undefined) throw bad(`${prefix}.${k}`, `is not a mytoken profile field (known: ${Object.keys(fields).join(', ')})`);
    if (v === null) continue;
    out[k] = check(v, `${prefix}.${k}`);
  }
  return out;
}

const PROFILE_FIELDS: Record<string, (v: unknown, f: string) => unknown> = {
  name: text(200),
  application_name: text(200),
  capabilities: (v, f) => strings(v, f),
  subtoken_capabilities: (v, f) => strings(v, f),
  restrictions: (v, f) => {
    if (typeof v === 'string') return text(256)(v, f);
    if (!Array.isArray(v) || v.length > 32) throw bad(f, 'must be an array of restriction clauses (objects)');
    return v.map((c, i) => {
      if (!isObject(c)) throw bad(`${f}[${i}]`, 'must be an object');
      return checked(c, CLAUSE_FIELDS, `${f}[${i}]`);
    });
  },
  rotation: (v, f) => {
    if (typeof v === 'string') return text(256)(v, f);
    if (!isObject(v)) throw bad(f, 'must be an object');
    return checked(v, ROTATION_FIELDS, f);
  },
  mytoken_type: tokenType,
  response_type: tokenType,
  include: stringOrList,
  max_token_len: (v, f) => {
    const n = nonNegInt(v, f);
    if (n === 0) throw bad(f, 'must be positive');
    return n;
  },
  tags: (v, f) => strings(v, f),
  error_on_restrictions: bool,
  subscribe_notifications: bool,
};

/**
 * Validates a mytoken profile from a client (oidc-agent's `mytoken_profile`): a JSON object, JSON
 * text of one, or the name of a server-side profile (→ `{"include": NAME}`, as oidc-agent's
 * profile.c). Only known fields with the right types pass: a bad profile is refused here, before
 * anything reaches the mytoken server. `response_type` is folded into `mytoken_type`.
 */
export function parseMytokenProfile(value: unknown, field = 'mytoken_profile'): Record<string, unknown> | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let v = value;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t.startsWith('{')) {
      try {
        v = JSON.parse(t);
      } catch {
        throw bad(field, 'is not valid JSON');
      }
    } else if (NAME_RE.test(t)) {
      return { include: t };
    } else {
      throw bad(field, 'must be a JSON object or the name of a server profile');
    }
  }
  if (!isObject(v)) throw bad(field, 'must be a JSON object or the name of a server profile');
  const out = checked(v, PROFILE_FIELDS, field);
  if (out['response_type'] !== undefined) {
    if (out['mytoken_type'] !== undefined && out['mytoken_type'] !== out['response_type']) throw bad(`${field}.response_type`, 'contradicts "mytoken_type"');
    out['mytoken_type'] = out['response_type'];
    delete out['response_type'];
  }
  return out;
}

/** A mytoken server's refusal of the account's mytoken, said in the user's terms. */
function translate(err: unknown, account: LoadedAccount): unknown {
  if (err instanceof OidcError && (err.error === 'invalid_token' || err.error === 'invalid_grant')) {
    return new AgentError(`the account's mytoken expired or was revoked: ${err.message}`, `log in again: token-gen ${account.name} --reauthenticate`);
  }
  return err;
}

/**
 * Runs one use of the account's mytoken in the account's queue and keeps a rotated mytoken: in
 * memory at once, then in the account file, before the result goes anywhere.
 */
export function withMytoken<T extends { mytoken_update?: string | undefined }>(ctx: AgentContext, account: LoadedAccount, use: (mytoken: string, url: string) => Promise<T>): Promise<T> {
  const run = account.refreshQueue.then(async () => {
    if (ctx.lock.locked) throw new AgentError(AgentErrorText.locked);
    const url = account.config.mytoken_url;
    const mt = account.config.refresh_token;
    if (!url) throw new AgentError(`account '${account.name}' is not a mytoken account`, `create one with: token-gen NAME --mytoken --issuer OP`);
    if (!mt) throw new AgentError('the account has no mytoken', `run: token-gen ${account.name} --reauthenticate`);
    let r: T;
    try {
      r = await use(mt, url);
    } catch (err) {
      const failure = translate(err, account);
      account.lastError = { at: Math.floor(Date.now() / 1000), error: toFailure(failure).reply.error };
      throw failure;
    }
    if (r.mytoken_update && r.mytoken_update !== mt) {
      account.config = { ...account.config, refresh_token: r.mytoken_update };
      ctx.log.info('mytoken-rotated', { account: account.name });
      await writeBack(ctx, account);
    }
    return r;
  });
  account.refreshQueue = run.catch(() => undefined);
  return run;
}

/** The mytoken server's refusal in refreshFor (access tokens), for tokens.ts. */
export function translateMytokenError(err: unknown, account: LoadedAccount): unknown {
  return translate(err, account);
}

function str(cfg: Record<string, unknown>, key: string): string | undefined {
  const v = cfg[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new AgentError(`Bad Request: "config.${key}" must be a string`);
  return v;
}

/**
 * `gen` for a mytoken account: `config.mytoken_url` (the server), `config.issuer_url` (the OP),
 * optional `config.mytoken_profile`. With `transfer_code`: redeems it. With `config.refresh_token`:
 * imports that mytoken (checked by getting an access token). Otherwise starts the server's OIDC
 * login and answers `accepted` with the consent URL in `uri`; token-gen polls `state_lookup`.
 */
export async function genMytoken(ctx: AgentContext, cfgIn: Record<string, unknown>, p: RequestParams<'gen'>): Promise<Record<string, unknown>> {
  const cfg = { ...cfgIn };
  const name = str(cfg, 'name')!;
  const issuer = str(cfg, 'issuer_url')!;
  // oidc-gen's default server when token-gen names none (--mytoken without a URL, no config).
  const url = str(cfg, 'mytoken_url') ?? DEFAULT_MYTOKEN_SERVER;
  const profile = parseMytokenProfile(cfg['mytoken_profile'], 'config.mytoken_profile') ?? {};
  if (profile['mytoken_type'] === 'transfer_code') throw bad('config.mytoken_profile.mytoken_type', 'cannot be transfer_code for an account (it must hold a mytoken)');
  const server = await ctx.op.mytoken.server(url);
  const providers = server.providers;
  if (providers.length > 0 && !providers.some((x) => x.replace(/\/+$/, '') === issuer.replace(/\/+$/, ''))) {
    throw new AgentError(`the mytoken server ${server.issuer} does not support the OP ${issuer}`, `it supports: ${providers.join(', ')}`);
  }
  cfg['mytoken_url'] = server.issuer;
  if (Object.keys(profile).length > 0) cfg['mytoken_profile'] = profile;
  else delete cfg['mytoken_profile'];

  if (p.transfer_code !== undefined) {
    const r = await ctx.op.mytoken.exchangeTransferCode(server.issuer, p.transfer_code);
    if (r.mytoken_type === 'transfer_code') throw new AgentError('the mytoken server answered the transfer code with another transfer code');
    return { config: finish(ctx, cfg, r.mytoken) };
  }
  const imported = str(cfg, 'refresh_token');
  if (imported !== undefined) {
    const t = await ctx.op.mytoken.accessToken(server.issuer, imported, {});
    return { config: finish(ctx, cfg, t.refresh_token ?? imported) };
  }
  const request: Record<string, unknown> = {
    name: `token-agent ${name}@${hostname()}`,
    application_name: 'token-agent',
    ...(profile['capabilities'] === undefined && profile['include'] === undefined ? { capabilities: [...DEFAULT_ACCOUNT_CAPABILITIES] } : {}),
    ...profile,
    oidc_issuer: issuer,
  };
  const type = request['mytoken_type'];
  delete request['mytoken_type'];
  request['response_type'] = type ?? 'token';
  const login = await ctx.op.mytoken.startLogin(server.issuer, request);
  const { state, signal } = ctx.flows.start(login.expires_in);
  login.poll(signal).then(
    (r) => {
      try {
        ctx.flows.succeed(state, { config: finish(ctx, cfg, r.mytoken) });
      } catch (err) {
        ctx.flows.fail(state, toFailure(err).reply);
      }
    },
    (err: unknown) => {
      const { reply, expected } = toFailure(err);
      if (!expected) ctx.log.error('mytoken-flow-failed', { account: name, error: String(err) });
      ctx.flows.fail(state, reply);
    },
  );
  ctx.log.info('mytoken-flow-started', { account: name, server: server.issuer });
  return { status: Status.accepted, state, uri: login.authorization_url, expires_in: login.expires_in };
}

/** The account gets its mytoken (oidc-agent 5's layout) and is loaded. */
function finish(ctx: AgentContext, cfg: Record<string, unknown>, mytoken: string): Record<string, unknown> {
  const url = cfg['mytoken_url'] as string;
  const config: Record<string, unknown> = {
    ...cfg,
    // oidc-agent sets these placeholder credentials for mytoken accounts: no client is registered.
    client_id: str(cfg, 'client_id') ?? 'mytoken',
    client_secret: str(cfg, 'client_secret') ?? 'mytoken',
    config_endpoint: `${url.replace(/\/+$/, '')}/.well-known/openid-configuration`,
    refresh_token: mytoken,
    username: '',
    password: '',
  };
  const parsed = parseConfig(config);
  ctx.cache.dropAccount(parsed.name);
  ctx.accounts.add(parsed, ctx.settings.defaultLifetime);
  ctx.log.info('account-created', { account: parsed.name, issuer: parsed.issuer_url, mytoken: true });
  ctx.watches.accountLoaded(parsed.name);
  return config;
}

/**
 * oidc-agent's `mytoken` request: a new mytoken derived from the account's, with
 * `mytoken_profile` as its properties (restrictions, capabilities, rotation, name, mytoken_type).
 * The reply is the server's answer with `expires_at` in place of `expires_in`, plus `oidc_issuer`
 * and `mytoken_issuer`. The user confirms each one (a new, long-lived credential; oidc-agent always
 * asks) unless the agent runs with `--always-allow-mytoken`; never on the restricted socket.
 */
export async function mytokenRequest(ctx: AgentContext, p: RequestParams<'mytoken'>): Promise<Results['mytoken']> {
  // Validate before anything else: a bad profile never reaches the server.
  const given = parseMytokenProfile(p.mytoken_profile);
  const account = await resolveAccount(ctx, p.account, undefined);
  const url = account.config.mytoken_url;
  if (!url) {
    throw new AgentError(`account '${account.name}' is not a mytoken account`, 'only accounts created with token-gen --mytoken hold a mytoken to derive one from');
  }
  if (!ctx.settings.alwaysAllowMytoken || needsConfirmation(ctx, account)) await confirmUse(ctx, account, p.application_hint, 'a new mytoken');
  const app = p.application_hint?.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 100).trim() || 'token-agent';
  const profile: Record<string, unknown> = given ?? {
    capabilities: ['AT'],
    restrictions: [{ exp: Math.floor(Date.now() / 1000) + DEFAULT_SUB_MYTOKEN_LIFETIME_S }],
    // The default only asks; the server tightens it to what the account's mytoken allows.
    error_on_restrictions: false,
  };
  const request: Record<string, unknown> = { name: `${app} via token-agent (${account.name})`, application_name: app, ...profile };
  const r: MytokenIssued = await withMytoken(ctx, account, (mt, server) => ctx.op.mytoken.sub(server, mt, request));
  ctx.log.info('sub-mytoken-created', { account: account.name, application: app, type: r.mytoken_type });
  const { expires_in: _e, mytoken: _m, mytoken_type: _t, ...rest } = r.raw;
  const out: Results['mytoken'] = {
    ...rest,
    mytoken: r.mytoken,
    mytoken_type: r.mytoken_type,
    oidc_issuer: account.config.issuer_url,
    mytoken_issuer: url,
  };
  if (r.expires_at !== undefined) out.expires_at = r.expires_at;
  return out;
}
