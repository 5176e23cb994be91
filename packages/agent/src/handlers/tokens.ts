/** `access_token`: a valid token from the cache, or one refresh shared by all concurrent askers. */
import type { RequestParams, Results } from '@token-agent/protocol';
import { OidcError } from '@token-agent/oidc';
import { accountExists, findIssuer, loadIssuerConfig, validateAccountName } from '@token-agent/store';
import { clientRef, type LoadedAccount } from '../accounts/registry.js';
import { cacheKey, type CachedToken } from '../cache/token-cache.js';
import type { AgentContext } from '../context.js';
import { AgentError, accountNotLoaded, noSuchAccount, toFailure } from '../errors.js';
import { writeBack } from '../accounts/write-back.js';
import { confirmUse, needsConfirmation } from '../security/confirm.js';
import { AgentErrorText } from '@token-agent/protocol';
import { translateMytokenError } from './mytoken.js';

export function splitList(s: string | undefined): string[] {
  return s === undefined ? [] : s.split(/\s+/).filter(Boolean);
}

/**
 * The issuer's default account as oidc-agent defines it: `default_account` in issuer.config (system
 * and user files, the user's winning), else the first name of its `accounts` list. Read per request
 * (only issuer requests with several candidates get here), so edits apply without a restart.
 */
async function defaultAccount(ctx: AgentContext, issuer: string): Promise<string | undefined> {
  try {
    const entry = findIssuer(await loadIssuerConfig({ configDir: ctx.settings.configDir, bundled: false }), issuer);
    return entry?.default_account ?? entry?.accounts?.[0];
  } catch (err) {
    ctx.log.warn('issuer-config-unreadable', { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/** Finds the loaded account a request names, or explains why there is none. */
export async function resolveAccount(ctx: AgentContext, name: string | undefined, issuer: string | undefined): Promise<LoadedAccount> {
  if (name !== undefined) {
    const a = ctx.accounts.get(name);
    if (a !== undefined) return a;
    let configured = false;
    try {
      validateAccountName(name);
      configured = await accountExists(ctx.settings.configDir, name);
    } catch {
      configured = false;
    }
    throw configured ? accountNotLoaded(name, ctx.settings.autoload !== false) : noSuchAccount(name);
  }
  if (issuer !== undefined) {
    const loaded = ctx.accounts.forIssuer(issuer);
    if (loaded.length === 1) return loaded[0]!;
    if (loaded.length > 1) {
      // oidc-agent's rule: the issuer's default account when it is loaded, else the one loaded last.
      const preferred = await defaultAccount(ctx, issuer);
      return loaded.find((a) => a.name === preferred) ?? loaded.at(-1)!;
    }
    throw new AgentError(`No account loaded for issuer ${issuer}`, 'Load one with: token-add NAME (or create one with: token-gen NAME --issuer ISSUER)');
  }
  throw new AgentError('Bad Request: "account" or "issuer" is required');
}

/**
 * Refreshes through the account's queue and keeps a rotated refresh token: in memory at once, and
 * in the account file before the token is handed out (see accounts/write-back.ts).
 */
export function refreshFor(
  ctx: AgentContext,
  account: LoadedAccount,
  scopes: string[],
  audiences: string[],
  onIdToken?: (idToken: string | undefined) => void,
): Promise<CachedToken> {
  const run = account.refreshQueue.then(async () => {
    if (ctx.lock.locked) throw new AgentError(AgentErrorText.locked);
    const rt = account.config.refresh_token;
    if (!rt) throw new AgentError('No or malformed refresh token', `Run: token-gen ${account.name} --reauthenticate`);
    const opts: { scope?: string[]; audience?: string[] } = {};
    if (scopes.length > 0) opts.scope = scopes;
    if (audiences.length > 0) opts.audience = audiences;
    let t;
    try {
      // A mytoken account asks its mytoken server (the mytoken stands in for the refresh token).
      const mytokenUrl = account.config.mytoken_url;
      t = mytokenUrl ? await ctx.op.mytoken.accessToken(mytokenUrl, rt, opts) : await ctx.op.refresh(clientRef(account), rt, opts);
    } catch (err) {
      let failure = account.config.mytoken_url ? translateMytokenError(err, account) : err;
      if (failure !== err) ctx.log.warn('mytoken-refused', { account: account.name });
      else if (err instanceof OidcError && err.code === 'OIDC_INVALID_GRANT') {
        ctx.log.warn('refresh-token-refused', { account: account.name });
        failure = new AgentError(`${err.message} (refresh token expired or revoked)`, `run: token-gen ${account.name} --reauthenticate`);
      }
      account.lastError = { at: Math.floor(Date.now() / 1000), error: toFailure(failure).reply.error };
      throw failure;
    }
    account.lastRefresh = Math.floor(Date.now() / 1000);
    ctx.log.info('refresh', { account: account.name, scoped: scopes.length > 0, audience: audiences.length > 0, expires_at: t.expires_at });
    if (t.refresh_token && t.refresh_token !== rt && ctx.accounts.get(account.name) === account) {
      account.config = { ...account.config, refresh_token: t.refresh_token };
      ctx.log.info('refresh-token-rotated', { account: account.name });
      // Still inside the queue: the next refresh waits until the file holds this token.
      await writeBack(ctx, account);
    }
    onIdToken?.(t.id_token);
    return { access_token: t.access_token, expires_at: t.expires_at };
  });
  account.refreshQueue = run.catch(() => undefined);
  return run;
}

/**
 * `access_token`. A token in the cache for a loaded account named in the request, with no
 * confirmation to ask, is returned at once (no promise: the reply goes out in the turn the request
 * was read); everything else — issuer lookup, confirmation, a miss — takes {@link accessTokenAsync}.
 */
export function accessToken(ctx: AgentContext, p: RequestParams<'access_token'>): Results['access_token'] | Promise<Results['access_token']> {
  const account = p.account !== undefined ? ctx.accounts.get(p.account) : undefined;
  if (account !== undefined && !needsConfirmation(ctx, account)) {
    const token = ctx.cache.peek(cacheKey(account.name, splitList(p.scope), splitList(p.audience)), p.min_valid_period ?? 0);
    if (token !== undefined) return { access_token: token.access_token, issuer: account.config.issuer_url, expires_at: token.expires_at };
  }
  return accessTokenAsync(ctx, p);
}

async function accessTokenAsync(ctx: AgentContext, p: RequestParams<'access_token'>): Promise<Results['access_token']> {
  const account = await resolveAccount(ctx, p.account, p.issuer);
  if (needsConfirmation(ctx, account)) await confirmUse(ctx, account, p.application_hint);
  const scopes = splitList(p.scope);
  const audiences = splitList(p.audience);
  const minValid = p.min_valid_period ?? 0;
  const key = cacheKey(account.name, scopes, audiences);
  const token = await ctx.cache.get(key, minValid, () => refreshFor(ctx, account, scopes, audiences));
  return { access_token: token.access_token, issuer: account.config.issuer_url, expires_at: token.expires_at };
}

/**
 * `id_token` (oidc-agent's): a refresh (with `scope` when given) that returns the OP's id token,
 * never cached (the access token of that refresh is, for the default scopes). The user confirms each
 * request (the prompt command) unless the account was added with `always_allow_id_token` or the
 * agent runs with `--always-allow-idtoken`.
 */
export async function idToken(ctx: AgentContext, p: RequestParams<'id_token'>): Promise<Results['id_token']> {
  const account = await resolveAccount(ctx, p.account, p.issuer);
  if (!account.alwaysAllowIdToken && !ctx.settings.alwaysAllowIdToken) await confirmUse(ctx, account, p.application_hint, 'an id token');
  const scopes = splitList(p.scope);
  let id: string | undefined;
  const token = await refreshFor(ctx, account, scopes, [], (t) => (id = t));
  if (scopes.length === 0) ctx.cache.restore([[cacheKey(account.name, [], []), token]]);
  if (id === undefined) {
    throw new AgentError('The OP returned no id token', `ask for the openid scope (the account's scopes: ${account.config.auth_scope ?? 'none'})`);
  }
  return { id_token: id, issuer: account.config.issuer_url };
}
