/**
 * The `access_token` request `token-get` sends for its options: one definition for the hot path
 * (fast.ts) and the full command (run.ts), so both ask the agent the same thing.
 */
import { FORCE_NEW_TOKEN, type RequestParams } from '@token-agent/protocol';
import type { GetOptions } from './run.js';

/** How long `token-get` waits for an access token (a refresh at a slow OP included). */
export const ACCESS_TOKEN_TIMEOUT_MS = 60_000;

/** True when the positional argument names an issuer rather than an account (as oidc-token decides). */
export function isIssuerUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** `-s a -s "b c"` → `["a", "b", "c"]`. */
export function splitWords(values: readonly string[]): string[] {
  return values.flatMap((s) => s.split(/\s+/)).filter(Boolean);
}

export function accessTokenParams(options: GetOptions): RequestParams<'access_token'> {
  const scope = splitWords(options.scopes);
  const audience = splitWords(options.audiences);
  return {
    ...(isIssuerUrl(options.target) ? { issuer: options.target } : { account: options.target }),
    min_valid_period: options.forceNew ? FORCE_NEW_TOKEN : (options.minValid ?? 0),
    scope: scope.length > 0 ? scope.join(' ') : undefined,
    audience: audience.length > 0 ? audience.join(' ') : undefined,
    application_hint: options.appName,
  };
}
