import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { json, refusedPort, startFaultServer, type FaultServer, type Handler, rejectsWith } from '../test-support/fault-server.js';
import { discover, discoveryCandidates } from './discovery.js';

const servers: FaultServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

/** A server whose handlers get the server's own origin, to put it into documents. */
async function serve(routes: (origin: () => string) => Record<string, Handler>): Promise<FaultServer> {
  let origin = '';
  const s = await startFaultServer(routes(() => origin));
  origin = s.origin;
  servers.push(s);
  return s;
}

const opts = { allowInsecureLoopback: true, backoffMs: [10], timeoutMs: 1_000 };


describe('discovery', () => {
  it('lists the well-known locations in order', () => {
    assert.deepEqual(discoveryCandidates(new URL('https://op.example/')), [
      'https://op.example/.well-known/openid-configuration',
      'https://op.example/.well-known/oauth-authorization-server',
    ]);
    assert.deepEqual(discoveryCandidates(new URL('https://kc.example/realms/x/')), [
      'https://kc.example/realms/x/.well-known/openid-configuration',
      'https://kc.example/.well-known/oauth-authorization-server/realms/x',
      'https://kc.example/realms/x/.well-known/oauth-authorization-server',
    ]);
  });

  it('reads the OpenID configuration and caches it per issuer', async () => {
    const s = await serve((o) => ({
      '/.well-known/openid-configuration': (_q, res) =>
        json(res, 200, { issuer: o(), token_endpoint: `${o()}/token`, scopes_supported: ['openid'] }),
    }));
    const d = await discover(s.origin, opts);
    assert.equal(d.issuer, s.origin);
    assert.equal(d.metadata.token_endpoint, `${s.origin}/token`);
    assert.equal(d.insecureLoopback, true);
    await discover(`${s.origin}/`, opts);
    assert.equal(s.count('/.well-known/openid-configuration'), 1, 'second call served from the cache');
    await discover(s.origin, { ...opts, refresh: true });
    assert.equal(s.count('/.well-known/openid-configuration'), 2);
  });

  it('shares one fetch between concurrent callers', async () => {
    const s = await serve((o) => ({
      '/.well-known/openid-configuration': (_q, res) =>
        void setTimeout(() => json(res, 200, { issuer: o(), token_endpoint: `${o()}/token` }), 50),
    }));
    await Promise.all([discover(s.origin, opts), discover(s.origin, opts), discover(s.origin, opts)]);
    assert.equal(s.count('/.well-known/openid-configuration'), 1);
  });

  it('falls back to oauth-authorization-server when openid-configuration is missing', async () => {
    const s = await serve((o) => ({
      '/.well-known/oauth-authorization-server': (_q, res) =>
        json(res, 200, { issuer: o(), token_endpoint: `${o()}/token` }),
    }));
    const d = await discover(s.origin, opts);
    assert.equal(d.discoveryUrl, `${s.origin}/.well-known/oauth-authorization-server`);
    assert.equal(s.count('/.well-known/openid-configuration'), 1);
  });

  it('tolerates a trailing-slash difference between the configured and the stated issuer', async () => {
    const s = await serve((o) => ({
      '/realm/.well-known/openid-configuration': (_q, res) =>
        json(res, 200, { issuer: `${o()}/realm`, token_endpoint: `${o()}/token` }),
    }));
    const d = await discover(`${s.origin}/realm/`, opts);
    assert.equal(d.issuer, `${s.origin}/realm`);
  });

  it('refuses a document naming another issuer', async () => {
    const s = await serve((o) => ({
      '/.well-known/openid-configuration': (_q, res) =>
        json(res, 200, { issuer: 'https://evil.example', token_endpoint: `${o()}/token` }),
    }));
    const err = await rejectsWith(discover(s.origin, opts), 'OIDC_BAD_RESPONSE');
    assert.match(err.message, /names issuer "https:\/\/evil\.example"/);
  });

  it('refuses a document whose endpoints are not URLs, or without token endpoint', async () => {
    const s = await serve((o) => ({
      '/.well-known/openid-configuration': (_q, res) =>
        json(res, 200, { issuer: o(), token_endpoint: `${o()}/token`, device_authorization_endpoint: 42 }),
    }));
    await rejectsWith(discover(s.origin, opts), 'OIDC_BAD_RESPONSE');
    const t = await serve((o) => ({
      '/.well-known/openid-configuration': (_q, res) => json(res, 200, { issuer: o() }),
    }));
    await rejectsWith(discover(t.origin, opts), 'OIDC_BAD_RESPONSE');
  });

  it('an HTML page instead of JSON → OIDC_BAD_RESPONSE that says so', async () => {
    const s = await serve(() => ({
      '/.well-known/openid-configuration': (_q, res) =>
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Please log in</body></html>'),
    }));
    const err = await rejectsWith(discover(s.origin, opts), 'OIDC_BAD_RESPONSE');
    assert.match(err.message, /HTML page/);
  });

  it('truncated JSON → OIDC_BAD_RESPONSE', async () => {
    const s = await serve((o) => ({
      '/.well-known/openid-configuration': (_q, res) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"issuer":"${o()}","token_end`),
    }));
    const err = await rejectsWith(discover(s.origin, opts), 'OIDC_BAD_RESPONSE');
    assert.match(err.message, /malformed JSON/);
  });

  it('no document anywhere → OIDC_BAD_RESPONSE naming the 404', async () => {
    const s = await serve(() => ({}));
    const err = await rejectsWith(discover(s.origin, opts), 'OIDC_BAD_RESPONSE');
    assert.match(err.message, /HTTP 404/);
    assert.equal(s.hits.length, 2);
  });

  it('a 503 OP is retried, then reported unavailable; the failure is not cached', async () => {
    let up = false;
    const s = await serve((o) => ({
      '/.well-known/openid-configuration': (_q, res) =>
        up ? json(res, 200, { issuer: o(), token_endpoint: `${o()}/token` }) : json(res, 503, {}),
    }));
    await rejectsWith(discover(s.origin, opts), 'OIDC_UNAVAILABLE');
    assert.equal(s.count('/.well-known/openid-configuration'), 3);
    up = true;
    const d = await discover(s.origin, opts);
    assert.equal(d.issuer, s.origin);
  });

  it('refused port → OIDC_NETWORK', async () => {
    const port = await refusedPort();
    await rejectsWith(discover(`http://127.0.0.1:${port}`, opts), 'OIDC_NETWORK');
  });

  it('plain http: refused without the opt-in, and for non-loopback hosts', async () => {
    const err = await rejectsWith(discover('http://127.0.0.1:9/'), 'OIDC_INSECURE_ISSUER');
    assert.match(err.message, /TOKEN_AGENT_ALLOW_HTTP_LOOPBACK=1/);
    await rejectsWith(discover('http://op.example.org/', { allowInsecureLoopback: true }), 'OIDC_INSECURE_ISSUER');
  });

  it('malformed issuers → OIDC_INVALID_ISSUER', async () => {
    await rejectsWith(discover('not a url'), 'OIDC_INVALID_ISSUER');
    await rejectsWith(discover('https://op.example/?x=1'), 'OIDC_INVALID_ISSUER');
    await rejectsWith(discover('ftp://op.example/'), 'OIDC_INVALID_ISSUER');
  });

  it('a caller signal cancels its own wait only', async () => {
    const s = await serve((o) => ({
      '/.well-known/openid-configuration': (_q, res) =>
        void setTimeout(() => json(res, 200, { issuer: o(), token_endpoint: `${o()}/token` }), 200),
    }));
    const ac = new AbortController();
    const cancelled = discover(s.origin, { ...opts, signal: ac.signal });
    const other = discover(s.origin, opts);
    ac.abort();
    await rejectsWith(cancelled, 'OIDC_ABORTED');
    assert.equal((await other).issuer, s.origin);
  });
});
