/**
 * The restricted socket (`--restricted-socket PATH --allow ACCOUNT[:SCOPES]`): a second socket of
 * the same agent, meant to be forwarded to hosts that are trusted less (ssh -R, a container). It
 * serves `check`, and `access_token` for the allowed accounts and scopes; everything else is
 * answered `operation forbidden` and logged.
 */
import { AgentErrorText, type AnyRequest } from '@token-agent/protocol';

/** Account name → allowed scopes (undefined: the account's own scopes, any subset of them). */
export type Restriction = ReadonlyMap<string, ReadonlySet<string> | undefined>;

/** Requests a restricted socket serves at all. */
const SERVED: ReadonlySet<string> = new Set(['check', 'access_token']);

/** Parses `ACCOUNT[:SCOPE,SCOPE…]` (scopes may contain ':' themselves, e.g. `storage.read:/`). */
export function parseAllow(specs: readonly string[]): Restriction {
  const out = new Map<string, Set<string> | undefined>();
  for (const spec of specs) {
    const i = spec.indexOf(':');
    const account = (i < 0 ? spec : spec.slice(0, i)).trim();
    if (account === '') throw new Error(`--allow ${JSON.stringify(spec)}: expected ACCOUNT[:SCOPE,SCOPE…]`);
    const scopes = i < 0 ? undefined : spec.slice(i + 1).split(/[,\s]+/).filter(Boolean);
    if (scopes !== undefined && scopes.length === 0) throw new Error(`--allow ${JSON.stringify(spec)}: no scopes after ':'`);
    const prev = out.get(account);
    if (scopes === undefined || (out.has(account) && prev === undefined)) out.set(account, undefined);
    else out.set(account, new Set([...(prev ?? []), ...scopes]));
  }
  return out;
}

export interface Refusal {
  error: string;
  info: string;
}

/**
 * Checks a request against the restriction. Returns a refusal, or undefined when it may be served;
 * an `access_token` without a scope gets the allowed scopes filled in (never the account's wider
 * defaults).
 */
export function restrict(r: Restriction, req: AnyRequest): Refusal | undefined {
  if (!SERVED.has(req.request)) return { error: AgentErrorText.forbidden, info: `'${req.request}' is not served on the restricted socket` };
  if (req.request !== 'access_token') return undefined;
  const p = req.params as { account?: string; scope?: string };
  if (p.account === undefined) return { error: AgentErrorText.forbidden, info: 'the restricted socket serves requests by account name only' };
  if (!r.has(p.account)) return { error: AgentErrorText.forbidden, info: `account '${p.account}' is not allowed on the restricted socket` };
  const allowed = r.get(p.account);
  if (allowed === undefined) return undefined;
  const asked = (p.scope ?? '').split(/\s+/).filter(Boolean);
  if (asked.length === 0) {
    p.scope = [...allowed].join(' ');
    return undefined;
  }
  const extra = asked.filter((s) => !allowed.has(s));
  if (extra.length > 0) return { error: AgentErrorText.forbidden, info: `scope ${extra.join(' ')} is not allowed for '${p.account}' on the restricted socket` };
  return undefined;
}
