/**
 * `gen` and `state_lookup`: account creation driven by the agent, as oidc-gen does it. The agent
 * registers a client when none is given, runs the flow against the OP, loads the new account and
 * returns its configuration (with the refresh token) for token-gen to encrypt and save.
 * Device flow: `gen` answers `accepted` with the user code at once; the agent polls the OP in the
 * background and token-gen polls `state_lookup` until the configuration is there (oidc-gen sends
 * `device` instead, which waits for it).
 * Code flow: `gen` starts a loopback redirect listener and answers `accepted` with the
 * authorization URL (`uri`); the listener exchanges the code when the browser comes back.
 * `only_at` (oidc-gen --only-at): the result is the flow's access token; nothing is loaded and
 * the refresh token is dropped. It needs a registered client, as in oidc-gen: registering one
 * for a single token would leave a client behind at the OP.
 */
import { hostname } from 'node:os';
import { Status, type RequestParams } from '@token-agent/protocol';
import { validateAccountName } from '@token-agent/store';
import { cacheKey } from '../cache/token-cache.js';
import type { AgentContext } from '../context.js';
import { AgentError, toFailure } from '../errors.js';
import { startCodeFlow } from '../flows/code.js';
import type { ClientRef, TokenResult } from '../op.js';
import { parseConfig } from './accounts.js';
import { genMytoken } from './mytoken.js';
import { splitList } from './tokens.js';

export const SUPPORTED_FLOWS = ['code', 'device', 'password', 'refresh', 'mytoken'] as const;
type Flow = (typeof SUPPORTED_FLOWS)[number];

const GRANT_TYPES: Record<Flow, string[]> = {
  code: ['authorization_code', 'refresh_token'],
  device: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  password: ['password', 'refresh_token'],
  refresh: ['refresh_token'],
  mytoken: [],
};

function str(cfg: Record<string, unknown>, key: string, required = false): string | undefined {
  const v = cfg[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new AgentError(`Bad Request: "config.${key}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new AgentError(`Bad Request: "config.${key}" must be a string`);
  return v;
}

/** The scope to ask for: `max` = all the OP advertises; `offline_access` added when the OP knows it. */
async function resolveScope(ctx: AgentContext, issuer: string, requested: string | undefined): Promise<string> {
  let scopes = splitList(requested ?? 'openid profile offline_access');
  const supported = await ctx.op.supportedScopes(issuer).catch(() => [] as string[]);
  if (scopes.includes('max')) scopes = supported.length > 0 ? supported : scopes.filter((s) => s !== 'max');
  if (!scopes.includes('offline_access') && (supported.length === 0 || supported.includes('offline_access'))) scopes.push('offline_access');
  return [...new Set(scopes)].join(' ');
}

export async function gen(ctx: AgentContext, p: RequestParams<'gen'>): Promise<Record<string, unknown>> {
  // oidc-agent names the mytoken login `mt_oidc`.
  const requested = (p.flow ?? ['device']).map((f) => (f === 'mt_oidc' ? 'mytoken' : f));
  const flow = requested.find((f): f is Flow => (SUPPORTED_FLOWS as readonly string[]).includes(f));
  if (flow === undefined) {
    throw new AgentError(`unsupported flow: ${requested.join(', ')}`, `This agent supports: ${SUPPORTED_FLOWS.join(', ')}`);
  }
  const cfg: Record<string, unknown> = { ...p.config };
  const name = str(cfg, 'name', true)!;
  try {
    validateAccountName(name);
  } catch (err) {
    throw new AgentError(`Bad Request: ${(err as Error).message}`);
  }
  const issuer = str(cfg, 'issuer_url') ?? str(cfg, 'issuer');
  if (issuer === undefined) throw new AgentError('Bad Request: "config.issuer_url" is required');
  cfg['issuer_url'] = issuer;
  // A mytoken account (flow `mytoken`, or an imported mytoken): the mytoken server does the login.
  if (flow === 'mytoken' || (flow === 'refresh' && str(cfg, 'mytoken_url') !== undefined)) {
    if (p.only_at === true) throw new AgentError('only_at is not supported for mytoken accounts');
    return genMytoken(ctx, cfg, p);
  }
  const onlyAt = p.only_at === true;
  if (onlyAt && str(cfg, 'client_id') === undefined) {
    throw new AgentError('only_at needs a registered client (config.client_id)', 'Pass --client-id (and --client-secret-env) or --pub; a client is not registered for one access token.');
  }
  const scope = await resolveScope(ctx, issuer, str(cfg, 'auth_scope') ?? str(cfg, 'scope'));
  cfg['auth_scope'] = scope;

  /** The account's client: the given one, else a dynamically registered one (RFC 7591). */
  const ensureClient = async (redirectUris?: string[]): Promise<ClientRef> => {
    let clientId = str(cfg, 'client_id');
    if (clientId === undefined) {
      const reg = await ctx.op.register(issuer, {
        clientName: `token-agent:${name}@${hostname()}`,
        scope,
        grantTypes: GRANT_TYPES[flow],
        ...(redirectUris ? { redirectUris } : {}),
      });
      ctx.log.info('client-registered', { account: name, issuer });
      clientId = reg.client_id;
      cfg['client_id'] = reg.client_id;
      cfg['client_secret'] = reg.client_secret ?? '';
      if (reg.registration_client_uri) cfg['registration_client_uri'] = reg.registration_client_uri;
      if (reg.registration_access_token) cfg['registration_access_token'] = reg.registration_access_token;
      if (redirectUris) cfg['redirect_uris'] = redirectUris;
    }
    return { issuer, clientId, clientSecret: str(cfg, 'client_secret') };
  };

  if (flow === 'code') {
    const started = await startCodeFlow(ctx, {
      name,
      scope,
      configuredRedirectUris: Array.isArray(cfg['redirect_uris']) ? (cfg['redirect_uris'] as unknown[]).filter((u): u is string => typeof u === 'string') : [],
      ports: p.ports,
      timeoutSeconds: p.timeout,
      ensureClient,
      finish: (tokens) => finish(ctx, cfg, tokens, onlyAt),
      onlyAt,
    });
    return { status: Status.accepted, state: started.state, uri: started.uri };
  }
  const ref = await ensureClient();

  switch (flow) {
    case 'device': {
      const abort = new AbortController();
      const { display, poll } = await ctx.op.startDevice(ref, scope, abort.signal);
      const { state, signal } = ctx.flows.start(display.expires_in, display.user_code);
      signal.addEventListener('abort', () => abort.abort(), { once: true });
      poll().then(
        (tokens) => ctx.flows.succeed(state, finish(ctx, cfg, tokens, onlyAt)),
        (err: unknown) => {
          const { reply, expected } = toFailure(err);
          if (!expected) ctx.log.error('device-flow-failed', { account: name, error: String(err) });
          ctx.flows.fail(state, reply);
        },
      );
      return { status: Status.accepted, state, oidc_device: display };
    }
    case 'password': {
      const username = str(cfg, 'username', true)!;
      const password = str(cfg, 'password', true)!;
      const tokens = await ctx.op.password(ref, username, password, scope);
      return finish(ctx, cfg, tokens, onlyAt);
    }
    case 'refresh': {
      const rt = str(cfg, 'refresh_token', true)!;
      const tokens = await ctx.op.refresh(ref, rt, {});
      return finish(ctx, cfg, { ...tokens, refresh_token: tokens.refresh_token ?? rt }, onlyAt);
    }
  }
}

/**
 * Completes a flow: the account gets its refresh token, is loaded, and its first token is cached;
 * the reply carries the configuration. With `onlyAt` the reply is the access token alone.
 */
function finish(ctx: AgentContext, cfg: Record<string, unknown>, tokens: TokenResult, onlyAt = false): Record<string, unknown> {
  if (onlyAt) {
    ctx.log.info('only-at-token', { account: cfg['name'], issuer: cfg['issuer_url'] });
    return { access_token: tokens.access_token, issuer: cfg['issuer_url'], expires_at: tokens.expires_at };
  }
  if (!tokens.refresh_token) {
    throw new AgentError('the OP issued no refresh token', 'Make sure the client may use the "offline_access" scope and the refresh_token grant.');
  }
  const config = { ...cfg, refresh_token: tokens.refresh_token, username: '', password: '' } as Record<string, unknown>;
  const parsed = parseConfig(config);
  const name = parsed.name;
  ctx.cache.dropAccount(name);
  const account = ctx.accounts.add(parsed, ctx.settings.defaultLifetime);
  void ctx.cache.get(cacheKey(account.name, [], []), 0, async () => ({ access_token: tokens.access_token, expires_at: tokens.expires_at }));
  ctx.log.info('account-created', { account: name, issuer: config['issuer_url'] });
  ctx.watches.accountLoaded(name);
  return { config };
}

export function stateLookup(ctx: AgentContext, p: RequestParams<'state_lookup'>): Record<string, unknown> {
  return outcome(ctx, p.state);
}

/**
 * oidc-agent's `device`, as oidc-gen sends it after a device-flow `gen`: waits until the flow with
 * that user code is done (the agent polls the OP meanwhile), then answers as `state_lookup` would.
 */
export async function device(ctx: AgentContext, p: RequestParams<'device'>): Promise<Record<string, unknown>> {
  const userCode = p.oidc_device['user_code'];
  if (typeof userCode !== 'string' || userCode === '') throw new AgentError('Bad Request: "oidc_device.user_code" is required');
  const state = ctx.flows.deviceFlow(userCode);
  if (state === undefined) throw new AgentError('no device flow in progress for this code', 'Start again with oidc-gen or token-gen.');
  await ctx.flows.settled(state);
  return outcome(ctx, state);
}

function outcome(ctx: AgentContext, state: string): Record<string, unknown> {
  const s = ctx.flows.lookup(state);
  if (s === undefined) throw new AgentError('unknown or expired flow state', 'Start again with token-gen.');
  switch (s.kind) {
    case 'pending':
      return { status: Status.notFound, info: 'authorization pending' };
    case 'received':
      return { status: Status.foundButReceived, info: 'the result of this flow was already received' };
    case 'failed':
      return s.failure as unknown as Record<string, unknown>;
    case 'done':
      return s.reply;
  }
}

/** oidc-agent's `term_http_server`: cancels a flow (closes a code flow's listener); unknown states are fine. */
export function termHttpServer(ctx: AgentContext, p: RequestParams<'term_http_server'>): Record<string, never> {
  ctx.flows.cancel(p.state);
  return {};
}
