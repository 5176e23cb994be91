/**
 * {@link OpApi} over the oidc package: one OidcClient per (issuer, client), kept for connection
 * reuse and cached discovery. Plain-http issuers work only on loopback and only when
 * `TOKEN_AGENT_ALLOW_HTTP_LOOPBACK=1` is in the agent's environment.
 */
import {
  ALLOW_HTTP_LOOPBACK_ENV,
  createClient,
  discover,
  passwordGrant,
  pollDeviceAuthorization,
  refreshAccessToken,
  registerClient,
  revokeToken,
  startDeviceAuthorization,
  type OidcClient,
  type TokenSet,
} from '@token-agent/oidc';
import type { ClientRef, OpApi, TokenResult } from './op.js';

function toResult(t: TokenSet): TokenResult {
  return { access_token: t.access_token, expires_at: t.expires_at, refresh_token: t.refresh_token, id_token: t.id_token, scope: t.scope };
}

export function createOpApi(env: NodeJS.ProcessEnv = process.env): OpApi {
  const allowInsecureLoopback = env[ALLOW_HTTP_LOOPBACK_ENV] === '1' || env[ALLOW_HTTP_LOOPBACK_ENV] === 'true';
  const clients = new Map<string, { secret: string | undefined; client: OidcClient }>();

  const clientFor = (ref: ClientRef): OidcClient => {
    const key = `${ref.issuer}\n${ref.clientId}`;
    const known = clients.get(key);
    if (known !== undefined && known.secret === ref.clientSecret) return known.client;
    const options: Parameters<typeof createClient>[0] = { issuer: ref.issuer, clientId: ref.clientId, allowInsecureLoopback };
    if (ref.clientSecret) options.clientSecret = ref.clientSecret;
    const client = createClient(options);
    clients.set(key, { secret: ref.clientSecret, client });
    return client;
  };

  return {
    async supportedScopes(issuer) {
      const d = await discover(issuer, { allowInsecureLoopback });
      const s = d.metadata.scopes_supported;
      return Array.isArray(s) ? s.filter((x): x is string => typeof x === 'string') : [];
    },
    async register(issuer, o) {
      const r = await registerClient(issuer, {
        clientName: o.clientName,
        scope: o.scope,
        grantTypes: o.grantTypes,
        ...(o.redirectUris ? { redirectUris: o.redirectUris } : {}),
        allowInsecureLoopback,
      });
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
    async revoke(ref, token, hint) {
      await revokeToken(clientFor(ref), token, hint);
    },
  };
}
