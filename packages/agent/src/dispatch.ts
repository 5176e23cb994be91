/**
 * One request in, one reply out. Validates the message against the catalogue, runs its handler and
 * turns every outcome into a reply object; never throws.
 */
import { AgentErrorText, parseRequest, type AnyRequest } from '@token-agent/protocol';
import type { AgentContext } from './context.js';
import { toFailure } from './errors.js';
import { accessToken, idToken } from './handlers/tokens.js';
import { add, deleteAccount, loadedAccounts, remove, removeAll } from './handlers/accounts.js';
import { device, gen, stateLookup, termHttpServer } from './handlers/gen.js';
import { accountInfo, check, status, statusJson } from './handlers/status.js';
import { unwatch, watch } from './handlers/watch.js';
import { lock, unlock } from './handlers/lock.js';
import { mytokenRequest } from './handlers/mytoken.js';
import { restrict, type Restriction } from './restricted.js';

type Handler = (ctx: AgentContext, params: never) => unknown;

const handlers: { [N in AnyRequest['request']]: Handler } = {
  access_token: accessToken,
  id_token: idToken,
  account_info: accountInfo,
  loaded_accounts: loadedAccounts,
  status,
  status_json: statusJson,
  check,
  add,
  remove,
  remove_all: removeAll,
  delete: deleteAccount,
  gen,
  state_lookup: stateLookup,
  device,
  watch,
  unwatch,
  term_http_server: termHttpServer,
  lock,
  unlock,
  mytoken: mytokenRequest,
};

/** What a locked agent still serves (as oidc-agent). */
const SERVED_WHILE_LOCKED: ReadonlySet<string> = new Set(['check', 'unlock']);

/** The account a request is about, for log lines and error help. */
function accountOf(req: AnyRequest): string | undefined {
  const p = req.params as { account?: string; config?: { name?: unknown } };
  if (typeof p.account === 'string') return p.account;
  if (typeof p.config?.name === 'string') return p.config.name;
  return undefined;
}

/** A handler's result as the success reply. */
function succeeded(result: unknown): Record<string, unknown> {
  return { status: 'success', ...(result as Record<string, unknown>) };
}

/** A handler's error as the failure reply; unexpected errors are logged with their stack. */
function failed(ctx: AgentContext, req: AnyRequest, err: unknown): Record<string, unknown> {
  const account = accountOf(req);
  const { reply, expected } = toFailure(err);
  if (!expected) ctx.log.error('request-failed', { request: req.request, account, error: err instanceof Error ? err.stack : String(err) });
  else ctx.log.debug('request-refused', { request: req.request, account, error: reply.error });
  return reply as unknown as Record<string, unknown>;
}

/**
 * Handles one decoded message and returns the reply object; `restriction`: it came in on the
 * restricted socket. The reply is returned directly when the handler answers synchronously (a
 * cached token), so the server can write it in the same turn it read the request; a promise
 * otherwise. Never throws, never rejects.
 */
export function dispatch(ctx: AgentContext, message: unknown, restriction?: Restriction): Record<string, unknown> | Promise<Record<string, unknown>> {
  const parsed = parseRequest(message);
  if (!parsed.ok) {
    const r: Record<string, unknown> = { status: 'failure', error: parsed.error };
    if (parsed.info !== undefined) r['info'] = parsed.info;
    return r;
  }
  const req = parsed.request;
  if (restriction !== undefined) {
    const refused = restrict(restriction, req);
    if (refused !== undefined) {
      ctx.log.warn('restricted-refused', { request: req.request, account: accountOf(req), reason: refused.info });
      return { status: 'failure', error: refused.error, info: refused.info };
    }
  }
  if (ctx.lock.locked && !SERVED_WHILE_LOCKED.has(req.request)) {
    return { status: 'failure', error: AgentErrorText.locked, info: 'unlock it with: token-add --unlock' };
  }
  let result: unknown;
  try {
    result = handlers[req.request](ctx, req.params as never);
  } catch (err) {
    return failed(ctx, req, err);
  }
  if (result instanceof Promise) return result.then(succeeded, (err: unknown) => failed(ctx, req, err));
  return succeeded(result);
}
