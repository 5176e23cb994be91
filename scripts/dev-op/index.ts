/**
 * Development OpenID Provider for token-agent's demo and end-to-end tests: panva's oidc-provider
 * on http://127.0.0.1, with dynamic registration, device flow, code + PKCE, refresh tokens,
 * revocation, introspection, JWT access tokens via resource indicators and a password grant.
 *
 * It is NOT an OP for real use: plain http, fixed test users, in-memory state, open registration.
 * See README.md for the behaviour clients can rely on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import type { DevUser } from './interactions.ts';
import { createProvider } from './provider.ts';
import { StatsCounter, type Stats } from './stats.ts';

export { DEFAULT_RESOURCE, SUPPORTED_SCOPES } from './resources.ts';
export { ENDPOINTS, STATS_PATH, STATS_RESET_PATH, type EndpointName, type Stats } from './stats.ts';
export type { DevUser } from './interactions.ts';
export {
  approveDevice,
  authorizeCode,
  DriveError,
  type ApproveDeviceOptions,
  type AuthorizeCodeOptions,
} from './drive.ts';

/** The default test user. The password is a published constant: this OP is for tests only. */
export const DEFAULT_USERNAME = 'alice';
export const DEFAULT_PASSWORD = 'wonderland-pw-1';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DevOpUserOption {
  username: string;
  password: string;
  /** Subject identifier; defaults to the username. */
  sub?: string;
}

export interface DevOpOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Access token lifetime in seconds (default 60). Also changeable with `setAccessTokenTtl`. */
  accessTokenTtl?: number;
  /** Refresh token (and grant) lifetime in seconds (default 14 days). */
  refreshTokenTtl?: number;
  /** Issue a new refresh token on every refresh and consume the old one (default false). */
  rotateRefreshTokens?: boolean;
  /** Test users (default: alice / wonderland-pw-1). */
  users?: DevOpUserOption[];
  /**
   * `interval` (seconds) advertised in device authorization responses (default 1, so device-flow
   * tests need not wait RFC 8628's default 5 s between polls). Not enforced: no `slow_down`.
   */
  devicePollInterval?: number;
  /** Do not report unexpected server errors on stderr. */
  quiet?: boolean;
  /** Serve https with this key and certificate (PEM) instead of http; the issuer becomes `https://127.0.0.1:PORT`. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface DevOp {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly issuer: string;
  readonly port: number;
  readonly users: readonly DevUser[];
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
  /** A snapshot of the request counters (also served as JSON at GET /__stats). */
  stats(): Stats;
  /** Zeroes the counters (also POST /__stats/reset). */
  resetStats(): void;
  /** Lifetime of access tokens issued from now on (seconds; `expires_in` follows it). */
  setAccessTokenTtl(seconds: number): void;
  /**
   * The OP goes down: stops listening and drops open connections (clients see "connection
   * refused"), keeping every client, grant and token for {@link resume}.
   */
  pause(): Promise<void>;
  /** The OP comes back on the same port, with the state it had. */
  resume(): Promise<void>;
  /** Every request waits this long (ms) before it is handled (0, the default, for none). For benchmarks. */
  setResponseDelay(ms: number): void;
}

const DEFAULT_ACCESS_TOKEN_TTL = 60;
const DEFAULT_REFRESH_TOKEN_TTL = 14 * 24 * 60 * 60;

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw Object.assign(new TypeError(`"${name}" must be a positive integer`), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  return value;
}

function normalizeUsers(users: DevOpUserOption[] | undefined): DevUser[] {
  const list = users ?? [{ username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }];
  if (!Array.isArray(list) || list.length === 0) {
    throw Object.assign(new TypeError('"users" must be a non-empty array'), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  return list.map((u, i) => {
    if (typeof u?.username !== 'string' || !u.username || typeof u.password !== 'string' || !u.password) {
      throw Object.assign(new TypeError(`"users[${i}]" must have a non-empty username and password`), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
    return Object.freeze({ username: u.username, password: u.password, sub: u.sub ?? u.username });
  });
}

/**
 * Starts a dev OP on 127.0.0.1.
 * @see https://www.rfc-editor.org/rfc/rfc8628 device flow, RFC 7591/7592 registration,
 *   RFC 7009 revocation, RFC 7662 introspection, RFC 8707 resource indicators, RFC 9068 JWT ATs.
 */
export async function startDevOp(options: DevOpOptions = {}): Promise<DevOp> {
  const port = options.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) {
    throw Object.assign(new TypeError('"port" must be an integer from 0 to 65535'), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  let accessTokenTtl = positiveInteger(options.accessTokenTtl ?? DEFAULT_ACCESS_TOKEN_TTL, 'accessTokenTtl');
  const refreshTokenTtl = positiveInteger(options.refreshTokenTtl ?? DEFAULT_REFRESH_TOKEN_TTL, 'refreshTokenTtl');
  const devicePollInterval = positiveInteger(options.devicePollInterval ?? 1, 'devicePollInterval');
  const users = normalizeUsers(options.users);
  const stats = new StatsCounter();

  // The issuer needs the port, so listen first and attach the provider once it exists.
  let handler = (_req: IncomingMessage, res: ServerResponse) => {
    res.statusCode = 503;
    res.end();
  };
  let responseDelay = 0;
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    if (responseDelay > 0) setTimeout(() => handler(req, res), responseDelay);
    else handler(req, res);
  };
  const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, serve) : createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
  const actualPort = (server.address() as AddressInfo).port;
  const issuer = `${options.tls ? 'https' : 'http'}://127.0.0.1:${actualPort}`;

  try {
    const provider = await createProvider({
      issuer,
      users,
      stats,
      accessTokenTtl: () => accessTokenTtl,
      refreshTokenTtl,
      rotateRefreshTokens: options.rotateRefreshTokens ?? false,
      devicePollInterval,
      quiet: options.quiet ?? false,
    });
    handler = provider.callback();
  } catch (err) {
    await close();
    throw err;
  }

  return {
    issuer,
    port: actualPort,
    users,
    close,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    setResponseDelay(ms: number) {
      responseDelay = Math.max(0, ms);
    },
    setAccessTokenTtl(seconds: number) {
      accessTokenTtl = positiveInteger(seconds, 'seconds');
    },
    pause: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    resume: () =>
      new Promise<void>((resolve, reject) => {
        if (server.listening) return resolve();
        server.once('error', reject);
        server.listen(actualPort, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      }),
  };
}
