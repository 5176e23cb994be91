/**
 * {@link MytokenApi} over the oidc package: mytoken servers discovered once per URL (an hour, like
 * OP discovery; failures are not kept), with the agent's HTTP policy.
 */
import {
  accessTokenFromMytoken,
  discoverMytokenServer,
  exchangeTransferCode,
  mytokenProviders,
  pollMytokenOidcFlow,
  revokeMytoken,
  startMytokenOidcFlow,
  subMytoken,
  type MytokenResult,
  type MytokenServer,
} from '@token-agent/oidc';
import type { MytokenApi, MytokenIssued } from './op.js';

const TTL_MS = 60 * 60 * 1000;

function issued(r: MytokenResult): MytokenIssued {
  return { mytoken: r.mytoken, mytoken_type: r.mytoken_type, expires_at: r.expires_at, mytoken_update: r.mytoken_update, raw: r.raw };
}

export function createMytokenApi(http: { allowInsecureLoopback: boolean; timeoutMs?: number; maxAttempts?: number }): MytokenApi {
  const servers = new Map<string, { at: number; promise: Promise<MytokenServer> }>();
  const serverFor = (url: string): Promise<MytokenServer> => {
    const key = url.replace(/\/+$/, '');
    const known = servers.get(key);
    if (known !== undefined && Date.now() - known.at < TTL_MS) return known.promise;
    const promise = discoverMytokenServer(key, http);
    const entry = { at: Date.now(), promise };
    servers.set(key, entry);
    promise.catch(() => {
      if (servers.get(key) === entry) servers.delete(key);
    });
    return promise;
  };

  return {
    async server(url) {
      const s = await serverFor(url);
      return { issuer: s.issuer, providers: mytokenProviders(s) };
    },
    async accessToken(url, mytoken, opts) {
      const s = await serverFor(url);
      const t = await accessTokenFromMytoken(s, mytoken, { ...opts, comment: opts.comment ?? 'token-agent' });
      return { access_token: t.access_token, expires_at: t.expires_at, refresh_token: t.mytoken_update, scope: t.scope };
    },
    async startLogin(url, request) {
      const s = await serverFor(url);
      const flow = await startMytokenOidcFlow(s, request as Parameters<typeof startMytokenOidcFlow>[1]);
      return {
        authorization_url: flow.authorization_url,
        expires_in: flow.expires_in,
        interval: flow.interval,
        poll: async (signal) => issued(await pollMytokenOidcFlow(s, flow.polling_code, { interval: flow.interval, expiresIn: flow.expires_in, signal })),
      };
    },
    async exchangeTransferCode(url, code) {
      return issued(await exchangeTransferCode(await serverFor(url), code));
    },
    async sub(url, mytoken, request) {
      return issued(await subMytoken(await serverFor(url), mytoken, request));
    },
    async revoke(url, mytoken) {
      // Not recursive: sub-mytokens handed to jobs outlive the account that made them.
      await revokeMytoken(await serverFor(url), mytoken);
    },
  };
}
