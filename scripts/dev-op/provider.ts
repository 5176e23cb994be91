/**
 * The oidc-provider instance of the dev OP: configuration, hooks and extra middleware.
 */
import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';

import { DevAdapter, DevStore } from './adapter.ts';
import { errorPage } from './html.ts';
import { devicePages, interactionRoutes, type DevUser } from './interactions.ts';
import { loadOidcProvider, type KoaContext, type KoaMiddleware, type OidcClient, type OidcProvider } from './oidc.ts';
import { PASSWORD_GRANT, PASSWORD_GRANT_PARAMS, passwordGrant } from './password-grant.ts';
import { resourceIndicators, SIGNING_ALG, SUPPORTED_SCOPES, widenGrantToRequestedResource } from './resources.ts';
import type { StatsCounter } from './stats.ts';

export interface ProviderSettings {
  issuer: string;
  users: readonly DevUser[];
  stats: StatsCounter;
  /** Read at every issuance, so the lifetime can change at run time. */
  accessTokenTtl: () => number;
  refreshTokenTtl: number;
  rotateRefreshTokens: boolean;
  devicePollInterval: number;
  quiet: boolean;
}

let signingKey: Promise<KeyObject> | undefined;

/** One RSA key per process: generating it takes ~0.4 s, and tests start many OPs. */
function getSigningKey(): Promise<KeyObject> {
  signingKey ??= new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: 2048 }, (err, _publicKey, privateKey) =>
      err ? reject(err) : resolve(privateKey),
    );
  });
  return signingKey;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `http://127.0.0.1:1234/cb` → `http://127.0.0.1/cb`; undefined for anything not http loopback. */
function withoutLoopbackPort(uri: string): string | undefined {
  const url = URL.parse(uri);
  if (!url || url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  url.port = '';
  return url.href;
}

export async function createProvider(settings: ProviderSettings): Promise<OidcProvider> {
  const { issuer, users, stats, accessTokenTtl, refreshTokenTtl, rotateRefreshTokens, quiet } = settings;
  const [{ Provider, errors }, key] = await Promise.all([loadOidcProvider(), getSigningKey()]);

  const store = new DevStore();
  const resources = resourceIndicators({ errors, accessTokenTtl });

  async function findAccount(_ctx: unknown, sub: string) {
    const user = users.find((u) => u.sub === sub);
    if (!user) return undefined;
    return {
      accountId: user.sub,
      async claims() {
        return {
          sub: user.sub,
          name: user.username,
          preferred_username: user.username,
          email: `${user.username}@example.org`,
          email_verified: true,
        };
      },
    };
  }

  const provider: OidcProvider = new Provider(issuer, {
    adapter: (model: string) => new DevAdapter(model, store),
    jwks: { keys: [{ ...key.export({ format: 'jwk' }), kid: 'dev-op-rs256', use: 'sig', alg: SIGNING_ALG }] },
    cookies: {
      // Signed cookies. They are not `secure`: oidc-provider only marks cookies secure on https
      // requests, and this issuer is plain http.
      keys: [randomBytes(32).toString('hex')],
    },
    findAccount,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    scopes: [...SUPPORTED_SCOPES],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: SIGNING_ALG,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    pkce: { required: () => true },
    responseTypes: ['code'],
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true, ...devicePages },
      registration: { enabled: true, initialAccessToken: false, issueRegistrationAccessToken: true },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: OidcClient, token: { clientId: string }) =>
          token.clientId === client.clientId,
      },
      introspection: {
        enabled: true,
        // A client may introspect its own tokens; confidential clients may introspect any.
        allowedPolicy: async (_ctx: unknown, client: OidcClient, token: { clientId: string }) =>
          token.clientId === client.clientId || client.clientAuthMethod !== 'none',
      },
      resourceIndicators: resources,
      rpInitiatedLogout: { enabled: false },
    },
    // oidc-provider's default, spelled out. For the code flow see `offlineAccessMeansConsent`.
    issueRefreshToken: async (_ctx: unknown, client: OidcClient, source: { scopes: Set<string> }) =>
      client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access'),
    rotateRefreshToken: (ctx: KoaContext) => {
      widenGrantToRequestedResource(ctx);
      return rotateRefreshTokens;
    },
    ttl: {
      AccessToken: () => accessTokenTtl(),
      AuthorizationCode: 60,
      DeviceCode: 600,
      Grant: refreshTokenTtl,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: refreshTokenTtl,
      Session: refreshTokenTtl,
    },
    clientBasedCORS: () => false,
    renderError: async (ctx: KoaContext, out: Record<string, unknown>) => {
      ctx.type = 'html';
      ctx.body = errorPage(out);
    },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
  });

  // RFC 8252 §7.3: any port on a registered loopback redirect URI, for web clients as well
  // (oidc-provider does it for native ones). Overriding this prototype method is how the
  // oidc-provider recipes change redirect_uri matching (recipes/redirect_uri_wildcards.md).
  const { redirectUriAllowed } = provider.Client.prototype;
  provider.Client.prototype.redirectUriAllowed = function loopbackAnyPort(this: OidcClient, uri: string) {
    if (redirectUriAllowed.call(this, uri)) return true;
    const wanted = withoutLoopbackPort(uri);
    return wanted !== undefined && this.redirectUris.some((r) => withoutLoopbackPort(r) === wanted);
  };

  provider.registerGrantType(
    PASSWORD_GRANT,
    passwordGrant({ provider, errors, users, resources, findAccount }),
    PASSWORD_GRANT_PARAMS,
    ['resource'],
  );

  // Run in this order, before oidc-provider's router.
  provider.use(stats.endpoint());
  provider.use(stats.middleware());
  provider.use(advertisePollInterval(settings.devicePollInterval));
  provider.use(offlineAccessMeansConsent);
  provider.use(interactionRoutes(provider, users));

  provider.silent = quiet; // Koa's own error logging
  provider.on('server_error', (_ctx, err) => {
    if (!quiet) console.error(`dev-op: server error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  });

  return provider;
}

/** oidc-provider's device authorization response has no `interval` (RFC 8628 §3.2: optional). */
function advertisePollInterval(seconds: number): KoaMiddleware {
  return async (ctx, next) => {
    await next();
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && typeof body?.device_code === 'string') {
      ctx.body = { ...body, interval: seconds };
    }
  };
}

/**
 * oidc-provider drops `offline_access` from an authorization request whose `prompt` lacks
 * `consent` (OIDC Core §11), so a plain code-flow login would get no refresh token. The dev OP
 * always shows its consent page for such requests, so it adds `prompt=consent` when the client
 * sent no `prompt` at all; an explicit prompt (e.g. `prompt=login`) is left alone.
 */
const offlineAccessMeansConsent: KoaMiddleware = async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/auth' && ctx.query.prompt === undefined) {
    const { scope } = ctx.query;
    if (typeof scope === 'string' && scope.split(' ').includes('offline_access')) {
      ctx.query = { ...ctx.query, prompt: 'consent' };
    }
  }
  return next();
};
