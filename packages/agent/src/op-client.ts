/**
 * {@link OpApi} over the oidc package: one OidcClient per (issuer, client), kept for connection
 * reuse and cached discovery. Plain-http issuers work only on loopback and only when
 * `TOKEN_AGENT_ALLOW_HTTP_LOOPBACK=1` is in the agent's environment.
 */
import {
  ALLOW_HTTP_LOOPBACK_ENV,
  createClient,
  deleteClient,
  discover,
  exchangeAuthorizationCode,
  judgeCallback,
  passwordGrant,
  pollDeviceAuthorization,
  refreshAccessToken,
  registerClient,
  registerCodeFlowClient,
  revokeToken,
  startAuthorizationRequest,
  startDeviceAuthorization,
  type OidcClient,
  type TokenSet,
} from '@token-agent/oidc';
import { createMytokenApi } from './mytoken-client.js';
import type { ClientRef, OpApi, TokenResult } from './op.js';

function toResult(t: TokenSet): TokenResult {
  return { access_token: t.access_token, expires_at: t.expires_at, refresh_token: t.refresh_token, id_token: t.id_token, scope: t.scope };
}

export function createOpApi(env: NodeJS.ProcessEnv = process.env): OpApi {
  const allowInsecureLoopback = env[ALLOW_HTTP_LOOPBACK_ENV] === '1' || env[ALLOW_HTTP_LOOPBACK_ENV] === 'true';
  const clients = new Map<string, { secret: string | undefined; client: OidcClient }>();
  // Deadline per HTTP exchange and tries per call (oidc package defaults: 15 s, 3 tries).
  const httpPolicy: { timeoutMs?: number; maxAttempts?: number } = {};
  const timeoutMs = Number(env['TOKEN_AGENT_HTTP_TIMEOUT_MS']);
  if (Number.isSafeInteger(timeoutMs) && timeoutMs > 0) httpPolicy.timeoutMs = timeoutMs;
  const attempts = Number(env['TOKEN_AGENT_HTTP_ATTEMPTS']);
  if (Number.isSafeInteger(attempts) && attempts > 0) httpPolicy.maxAttempts = attempts;

  const clientFor = (ref: ClientRef): OidcClient => {
    const key = `${ref.issuer}\n${ref.clientId}`;
    const known = clients.get(key);
    if (known !== undefined && known.secret === ref.clientSecret) return known.client;
    const options: Parameters<typeof createClient>[0] = { issuer: ref.issuer, clientId: ref.clientId, allowInsecureLoopback, ...httpPolicy };
    if (ref.clientSecret) options.clientSecret = ref.clientSecret;
    const client = createClient(options);
    clients.set(key, { secret: ref.clientSecret, client });
    return client;
  };

  return {
    mytoken: createMytokenApi({ allowInsecureLoopback, ...httpPolicy }),
    async supportedScopes(issuer) {
      const d = await discover(issuer, { allowInsecureLoopback });
      const s = d.metadata.scopes_supported;
      return Array.isArray(s) ? s.filter((x): x is string => typeof x === 'string') : [];
    },
    async register(issuer, o) {
      const common = { clientName: o.clientName, scope: o.scope, grantTypes: o.grantTypes, allowInsecureLoopback };
      // Loopback redirect URIs: retried as a `native` client when refused for a `web` one.
      const r = o.redirectUris
        ? await registerCodeFlowClient(issuer, { ...common, redirectUris: o.redirectUris })
        : await registerClient(issuer, common);
      return {
        client_id: r.client_id,
        client_secret: r.client_secret,
        registration_client_uri: r.registration_client_uri,
        registration_access_token: r.registration_access_token,
      };
    },
    async refresh(ref, refreshToken, o) {
      const opts: Parameters<typeof refreshAccessToken>[2] = { audienceMode: ref.audienceMode ?? 'resource' };
      if (o.scope) opts.scope = o.scope;
      if (o.audience) opts.audience = o.audience;
      return toResult(await refreshAccessToken(clientFor(ref), refreshToken, opts));
    },
    async startDevice(ref, scope, signal) {
      const client = clientFor(ref);
      const device = await startDeviceAuthorization(client, { scope, signal });
      return {
        display: {
          user_code: device.user_code,
          verification_uri: device.verification_uri,
          verification_uri_complete: device.verification_uri_complete,
          expires_in: device.expires_in,
          interval: device.interval,
        },
        poll: async () => toResult(await pollDeviceAuthorization(client, device, { signal })),
      };
    },
    async password(ref, username, password, scope) {
      return toResult(await passwordGrant(clientFor(ref), { username, password, scope }));
    },
    async authorizationRequest(ref, o) {
      const client = clientFor(ref);
      const request = await startAuthorizationRequest(client, {
        redirectUri: o.redirectUri,
        scope: o.scope,
        ...(o.prompt ? { prompt: o.prompt } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      return {
        url: request.url,
        judge: (callback) => judgeCallback(request, callback),
        exchange: async (callback, signal) => toResult(await exchangeAuthorizationCode(client, request, callback, { signal })),
      };
    },
    async deleteClient(_issuer, uri, token) {
      await deleteClient(uri, token, { allowInsecureLoopback });
    },
    async revoke(ref, token, hint) {
      await revokeToken(clientFor(ref), token, hint);
    },
  };
}
