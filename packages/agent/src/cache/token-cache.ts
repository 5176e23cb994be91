/**
 * Access tokens per (account, scope set, audience set), with single-flight refreshes: concurrent
 * misses for one key share one call to the OP. A cached token is returned when
 * `expires_at - now > min_valid_period` (oidc-agent's rule, strictly greater); `-1` always misses.
 * Unlike oidc-agent, tokens for a scope or audience are cached too, each under its own key, and
 * every reply carries the `expires_at` of the token it returns.
 */

export interface CachedToken {
  access_token: string;
  expires_at: number;
}

/** The cache key: account plus sorted, de-duplicated scope and audience sets. */
export function cacheKey(account: string, scopes: readonly string[], audiences: readonly string[]): string {
  const norm = (xs: readonly string[]) => (xs.length === 0 ? '' : xs.length === 1 ? xs[0]! : [...new Set(xs)].sort().join(' '));
  return `${account}\n${norm(scopes)}\n${norm(audiences)}`;
}

export class TokenCache {
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inflight = new Map<string, Promise<CachedToken>>();
  readonly #now: () => number;

  constructor(now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#now = now;
  }

  /** The cached token for `key` if it stays valid for more than `minValid` seconds. */
  peek(key: string, minValid: number): CachedToken | undefined {
    if (minValid < 0) return undefined;
    const t = this.#tokens.get(key);
    if (t === undefined) return undefined;
    const now = this.#now();
    if (t.expires_at - now > minValid) return t;
    if (t.expires_at <= now) this.#tokens.delete(key);
    return undefined;
  }

  /**
   * Returns a token valid for more than `minValid` seconds, calling `fetch` on a miss. Misses that
   * arrive while a fetch for the same key is running wait for that fetch instead of starting one.
   */
  async get(key: string, minValid: number, fetch: () => Promise<CachedToken>): Promise<CachedToken> {
    const hit = this.peek(key, minValid);
    if (hit !== undefined) return hit;
    let flight = this.#inflight.get(key);
    if (flight === undefined) {
      flight = fetch().then(
        (token) => {
          this.#tokens.set(key, token);
          return token;
        },
      ).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, flight);
    }
    return flight;
  }

  /** Drops every token of `account` (on remove, unload, delete). */
  dropAccount(account: string): void {
    const prefix = `${account}\n`;
    for (const key of this.#tokens.keys()) if (key.startsWith(prefix)) this.#tokens.delete(key);
  }

  /** Number of tokens cached for `account`. */
  countFor(account: string): number {
    const prefix = `${account}\n`;
    let n = 0;
    for (const key of this.#tokens.keys()) if (key.startsWith(prefix)) n++;
    return n;
  }

  /** Drops expired tokens; called now and then so the map does not grow with dead entries. */
  sweep(): void {
    const now = this.#now();
    for (const [key, t] of this.#tokens) if (t.expires_at <= now) this.#tokens.delete(key);
  }

  clear(): void {
    this.#tokens.clear();
  }

  /** All cached tokens (for sealing them while the agent is locked). */
  entries(): [string, CachedToken][] {
    return [...this.#tokens.entries()];
  }

  /** Puts back tokens taken with {@link entries}. */
  restore(entries: readonly [string, CachedToken][]): void {
    for (const [key, token] of entries) this.#tokens.set(key, token);
  }
}
