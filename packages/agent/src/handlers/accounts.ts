/** `add`, `remove`, `remove_all`, `loaded_accounts`, `delete`. */
import type { RequestParams, Results } from '@token-agent/protocol';
import { assertUsableAccount, parseAccountConfig } from '@token-agent/store';
import { clientRef, type AgentAccountConfig } from '../accounts/registry.js';
import { cacheKey } from '../cache/token-cache.js';
import type { AgentContext } from '../context.js';
import { AgentError, accountNotLoaded } from '../errors.js';
import { refreshFor } from './tokens.js';

/** Validates a decrypted account configuration sent by a client. */
export function parseConfig(raw: Record<string, unknown>): AgentAccountConfig {
  let config;
  try {
    config = parseAccountConfig(raw);
    assertUsableAccount(config);
  } catch (err) {
    throw new AgentError(`Bad Request: ${(err as Error).message}`);
  }
  if (!config.name) throw new AgentError('Bad Request: the account configuration has no "name"');
  return config as AgentAccountConfig;
}

export async function add(ctx: AgentContext, p: RequestParams<'add'>): Promise<Results['add']> {
  const config = parseConfig(p.config);
  const lifetime = p.lifetime ?? ctx.settings.defaultLifetime;
  const existing = ctx.accounts.get(config.name);
  if (existing !== undefined) {
    // Keep the loaded account: its refresh token may be newer than the file's (rotation).
    if (p.lifetime !== undefined) {
      ctx.accounts.setLifetime(existing, p.lifetime);
      return { info: `account already loaded. Lifetime set to ${p.lifetime} seconds` };
    }
    return { info: 'account already loaded.' };
  }
  const account = ctx.accounts.add(config, lifetime);
  if (!p.plain_add) {
    // Prove the account works before saying so, as oidc-agent does; the token is cached.
    try {
      await ctx.cache.get(cacheKey(account.name, [], []), 0, () => refreshFor(ctx, account, [], []));
    } catch (err) {
      ctx.accounts.remove(account.name);
      ctx.cache.dropAccount(account.name);
      throw err;
    }
  }
  ctx.log.info('account-loaded', { account: account.name, issuer: config.issuer_url, lifetime });
  return lifetime > 0 ? { info: `Lifetime set to ${lifetime} seconds` } : {};
}

export function unload(ctx: AgentContext, name: string): boolean {
  const removed = ctx.accounts.remove(name);
  ctx.cache.dropAccount(name);
  if (removed) ctx.log.info('account-unloaded', { account: name });
  return removed;
}

export function remove(ctx: AgentContext, p: RequestParams<'remove'>): Results['remove'] {
  if (!unload(ctx, p.account)) throw accountNotLoaded(p.account);
  return {};
}

export function removeAll(ctx: AgentContext): Results['remove_all'] {
  for (const name of ctx.accounts.names()) unload(ctx, name);
  ctx.cache.clear();
  return {};
}

export function loadedAccounts(ctx: AgentContext): Results['loaded_accounts'] {
  return { info: ctx.accounts.names() };
}

/** Revokes the account's refresh token at the OP, then unloads it. The CLI removes the file. */
export async function deleteAccount(ctx: AgentContext, p: RequestParams<'delete'>): Promise<Results['delete']> {
  const config = parseConfig(p.config);
  const loaded = ctx.accounts.get(config.name);
  // A loaded account may hold a newer (rotated) refresh token than the file: revoke that one too.
  const tokens = new Set([config.refresh_token, loaded?.config.refresh_token].filter((t): t is string => !!t));
  const ref = loaded ? clientRef(loaded) : { issuer: config.issuer_url, clientId: config.client_id, clientSecret: config.client_secret || undefined };
  for (const t of tokens) await ctx.op.revoke(ref, t, 'refresh_token');
  unload(ctx, config.name);
  ctx.log.info('account-deleted', { account: config.name });
  return {};
}
