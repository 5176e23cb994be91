/**
 * Request counters, so tests can prove what did (not) reach the OP: "the second token-get is
 * served from cache", "ten concurrent clients cause one refresh".
 *
 * Counted after oidc-provider has routed a request, by its route name; token requests are also
 * counted per `grant_type`. Failed requests count too: they reached the endpoint.
 */
import type { KoaContext, KoaMiddleware } from './oidc.ts';

/** Endpoints always present in a snapshot (0 when never hit); other route names appear when hit. */
export const ENDPOINTS = [
  'discovery',
  'jwks',
  'registration',
  'client',
  'client_update',
  'client_delete',
  'authorization',
  'resume',
  'device_authorization',
  'code_verification',
  'device_resume',
  'interaction',
  'revocation',
  'introspection',
  'userinfo',
] as const;

export type EndpointName = (typeof ENDPOINTS)[number];

/**
 * A snapshot of the counters. `token` maps grant_type to requests (`"(none)"` when missing),
 * e.g. `{ refresh_token: 3, password: 1, 'urn:ietf:params:oauth:grant-type:device_code': 5 }`.
 */
export type Stats = { token: Record<string, number> } & Record<EndpointName, number> & Record<string, number | Record<string, number>>;

export const STATS_PATH = '/__stats';
export const STATS_RESET_PATH = '/__stats/reset';

export class StatsCounter {
  #token = new Map<string, number>();
  #endpoints = new Map<string, number>();

  count(endpoint: string, grantType?: string): void {
    if (endpoint === 'token') {
      const key = grantType ?? '(none)';
      this.#token.set(key, (this.#token.get(key) ?? 0) + 1);
      return;
    }
    this.#endpoints.set(endpoint, (this.#endpoints.get(endpoint) ?? 0) + 1);
  }

  reset(): void {
    this.#token.clear();
    this.#endpoints.clear();
  }

  snapshot(): Stats {
    const out: Record<string, number | Record<string, number>> = {
      token: Object.fromEntries(this.#token),
    };
    for (const name of ENDPOINTS) out[name] = 0;
    for (const [name, n] of this.#endpoints) out[name] = n;
    return out as Stats;
  }

  /** Serves GET /__stats and POST /__stats/reset; not counted themselves. */
  endpoint(): KoaMiddleware {
    return async (ctx, next) => {
      if (ctx.path === STATS_PATH && ctx.method === 'GET') {
        ctx.set('cache-control', 'no-store');
        ctx.body = this.snapshot();
        return undefined;
      }
      if (ctx.path === STATS_RESET_PATH && ctx.method === 'POST') {
        this.reset();
        ctx.status = 204;
        return undefined;
      }
      return next();
    };
  }

  /** Counts every request that reached an oidc-provider route or an interaction page. */
  middleware(): KoaMiddleware {
    return async (ctx, next) => {
      try {
        await next();
      } finally {
        this.#record(ctx);
      }
    };
  }

  #record(ctx: KoaContext): void {
    if (ctx.path.startsWith('/interaction/')) {
      this.count('interaction');
      return;
    }
    // ctx.oidc only exists once oidc-provider matched a route; unknown paths are not counted.
    const route = ctx.oidc?.route;
    if (!route || route.startsWith('cors.')) return;
    const grantType = route === 'token' ? ctx.oidc?.params?.grant_type : undefined;
    this.count(route, typeof grantType === 'string' ? grantType : undefined);
  }
}
