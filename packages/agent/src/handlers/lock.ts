/** `lock`, `unlock` (oidc-agent's `oidc-add -x` / `-X`); the work is in security/lock.ts. */
import type { RequestParams, Results } from '@token-agent/protocol';
import type { AgentContext } from '../context.js';

export function lock(ctx: AgentContext, p: RequestParams<'lock'>): Promise<Results['lock']> {
  return ctx.lock.lock(ctx, p.password);
}

export function unlock(ctx: AgentContext, p: RequestParams<'unlock'>): Promise<Results['unlock']> {
  return ctx.lock.unlock(ctx, p.password);
}
