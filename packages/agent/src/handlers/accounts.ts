/** `add`, `remove`, `remove_all`, `loaded_accounts`, `delete`. */
import type { RequestParams, Results } from '@token-agent/protocol';
import { assertUsableAccount, parseAccountConfig, parseFileKey, type FileKey } from '@token-agent/store';
import { clientRef, type AgentAccountConfig } from '../accounts/registry.js';
import { cacheKey } from '../cache/token-cache.js';
import type { AgentContext } from '../context.js';
import { AgentError, accountNotLoaded, toFailure } from '../errors.js';
import { refreshFor } from './tokens.js';
import { writeBack } from '../accounts/write-back.js';

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

/** The file key an `add` carries (our extension), validated. */
function fileKeyOf(p: RequestParams<'add'>): FileKey | undefined {
  if (p.token_agent_file_key === undefined) return undefined;
  try {
    return parseFileKey(p.token_agent_file_key);
  } catch (err) {
    throw new AgentError(`Bad Request: "token_agent_file_key": ${(err as Error).message}`);
  }
}

export async function add(ctx: AgentContext, p: RequestParams<'add'>): Promise<Results['add']> {
  const config = parseConfig(p.config);
  const fileKey = fileKeyOf(p);
  const lifetime = p.lifetime ?? ctx.settings.defaultLifetime;
  const existing = ctx.accounts.get(config.name);
  if (existing !== undefined) {
    // Keep the loaded account: its refresh token may be newer than the file's (rotation).
    // A confirmation requirement can be added, never dropped, by adding again.
    if (p.confirm === true) existing.confirm = true;
    if (p.always_allow_id_token === true) existing.alwaysAllowIdToken = true;
    if (fileKey !== undefined) {
      // token-gen hands over the key after saving; token-add after a key change. If the loaded
      // refresh token already rotated past the one in the file, write it now, in the queue.
      if (existing.fileKey !== undefined && existing.fileKey !== fileKey) existing.fileKey.derived.fill(0);
      existing.fileKey = fileKey;
      if (existing.config.refresh_token !== config.refresh_token) {
        const run = existing.refreshQueue.then(() => writeBack(ctx, existing));
        existing.refreshQueue = run.catch(() => undefined);
        await run;
      }
      ctx.log.info('file-key-attached', { account: existing.name });
    }
    if (p.lifetime !== undefined) {
      ctx.accounts.setLifetime(existing, p.lifetime);
      return { info: `account already loaded. Lifetime set to ${p.lifetime} seconds` };
    }
    return { info: 'account already loaded.' };
  }
  const account = ctx.accounts.add(config, lifetime, { fileKey, confirm: p.confirm === true, alwaysAllowIdToken: p.always_allow_id_token === true });
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
  ctx.log.info('account-loaded', { account: account.name, issuer: config.issuer_url, lifetime, write_back: fileKey !== undefined, confirm: account.confirm });
  ctx.watches.accountLoaded(account.name);
  return lifetime > 0 ? { info: `Lifetime set to ${lifetime} seconds` } : {};
}

export function unload(ctx: AgentContext, name: string): boolean {
  const removed = ctx.accounts.remove(name);
  ctx.cache.dropAccount(name);
  // Its discovery files go now; its watches come back when it is added again.
  void ctx.watches.accountUnloaded(name);
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

/**
 * Revokes the account's refresh token at the OP, deletes its dynamically registered client
 * (RFC 7592, when the account has `registration_client_uri` and `registration_access_token`), then
 * unloads it. The CLI removes the file. A client the OP will not delete is reported in `info`.
 */
export async function deleteAccount(ctx: AgentContext, p: RequestParams<'delete'>): Promise<Results['delete']> {
  const config = parseConfig(p.config);
  const loaded = ctx.accounts.get(config.name);
  // A loaded account may hold a newer (rotated) refresh token than the file: revoke that one too.
  const tokens = new Set([config.refresh_token, loaded?.config.refresh_token].filter((t): t is string => !!t));
  const ref = loaded ? clientRef(loaded) : { issuer: config.issuer_url, clientId: config.client_id, clientSecret: config.client_secret || undefined };
  // A mytoken account's "refresh token" is a mytoken: revoked at its server (its sub-mytokens live on).
  const mytokenUrl = loaded?.config.mytoken_url ?? config.mytoken_url;
  for (const t of tokens) await (mytokenUrl ? ctx.op.mytoken.revoke(mytokenUrl, t) : ctx.op.revoke(ref, t, 'refresh_token'));
  let info: string | undefined;
  if (config.registration_client_uri && config.registration_access_token) {
    try {
      await ctx.op.deleteClient(config.issuer_url, config.registration_client_uri, config.registration_access_token);
      ctx.log.info('client-deleted', { account: config.name });
    } catch (err) {
      const { reply } = toFailure(err);
      info = `the client registration could not be deleted: ${reply.error}`;
      ctx.log.warn('client-delete-failed', { account: config.name, error: reply.error });
    }
  }
  unload(ctx, config.name);
  await ctx.watches.accountDeleted(config.name);
  ctx.log.info('account-deleted', { account: config.name });
  return info === undefined ? {} : { info };
}
