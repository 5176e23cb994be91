/** `watch`, `unwatch`: discovery files the agent keeps holding a valid token (see btfile/). */
import { isAbsolute, normalize } from 'node:path';
import type { RequestParams, Results } from '@token-agent/protocol';
import type { WatchSpec } from '../btfile/watch-manager.js';
import { cacheKey, type CachedToken } from '../cache/token-cache.js';
import type { AgentContext } from '../context.js';
import { AgentError, accountNotLoaded } from '../errors.js';
import { confirmUse, needsConfirmation } from '../security/confirm.js';
import { refreshFor, resolveAccount, splitList } from './tokens.js';

/** Seconds a watched file's token keeps at least, unless the client asks otherwise (htgettoken's --minsecs). */
export const DEFAULT_WATCH_MIN_VALID = 60;

/** The client resolves the path in its own environment; the agent takes only absolute ones. */
function checkPath(path: string): string {
  if (!isAbsolute(path) || path.includes('\0') || path.endsWith('/')) throw new AgentError('Bad Request: "path" must be an absolute file path');
  return normalize(path);
}

/** A token for a watch, from the cache shared with `access_token` (one refresh for concurrent misses). */
export function watchToken(ctx: AgentContext, spec: WatchSpec, minValid: number): Promise<CachedToken> {
  const account = ctx.accounts.get(spec.account);
  if (account === undefined) return Promise.reject(accountNotLoaded(spec.account));
  const key = cacheKey(account.name, spec.scopes, spec.audiences);
  return ctx.cache.get(key, minValid, () => refreshFor(ctx, account, spec.scopes, spec.audiences));
}

export async function watch(ctx: AgentContext, p: RequestParams<'watch'>): Promise<Results['watch']> {
  const path = checkPath(p.path);
  const minValid = p.min_valid_period ?? DEFAULT_WATCH_MIN_VALID;
  if (minValid < 0) throw new AgentError('Bad Request: "min_valid_period" must not be negative');
  const account = await resolveAccount(ctx, p.account, undefined);
  // One confirmation for the watch: its refreshes then run without asking.
  if (needsConfirmation(ctx, account)) await confirmUse(ctx, account, p.once === true ? 'token-get --bt' : 'token-get --watch');
  const spec: WatchSpec = {
    account: account.name,
    path,
    scopes: [...new Set(splitList(p.scope))].sort(),
    audiences: [...new Set(splitList(p.audience))].sort(),
    minValid,
    createdAt: Math.floor(Date.now() / 1000),
  };
  if (p.once === true) {
    const expiresAt = await ctx.watches.writeOnce(spec);
    return { info: `wrote a token of '${account.name}' to ${path}`, path, expires_at: expiresAt };
  }
  const s = await ctx.watches.watch(spec);
  return { info: `keeping a token of '${account.name}' in ${path}`, path, expires_at: s.expires_at ?? 0 };
}

export async function unwatch(ctx: AgentContext, p: RequestParams<'unwatch'>): Promise<Results['unwatch']> {
  const removed = await ctx.watches.unwatch(p.account, p.path === undefined ? undefined : checkPath(p.path));
  return { info: `stopped keeping ${removed.join(', ')}`, removed };
}
