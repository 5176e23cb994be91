import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { json, startFaultServer, type FaultServer } from '../test-support/fault-server.js';
import { createClient } from './client.js';
import { clearDiscoveryCache } from './discovery.js';

const servers: FaultServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

describe('OidcClient', () => {
  it('discovers lazily, once; a failed discovery is retried on the next use', async () => {
    let origin = '';
    const s = await startFaultServer({
      '/.well-known/openid-configuration': (_q, res, hit) =>
        hit.n <= 3 ? json(res, 503, {}) : json(res, 200, { issuer: origin, token_endpoint: `${origin}/token` }),
    });
    servers.push(s);
    origin = s.origin;
    const c = createClient({ issuer: s.origin, clientId: 'cid', allowInsecureLoopback: true, backoffMs: [10] });
    assert.equal(s.hits.length, 0, 'nothing fetched at creation');
    await assert.rejects(c.server(), { code: 'OIDC_UNAVAILABLE' });
    const d = await c.server();
    assert.equal(d.metadata.token_endpoint, `${s.origin}/token`);
    clearDiscoveryCache();
    await c.server();
    assert.equal(s.count('/.well-known/openid-configuration'), 4, 'the client keeps what it discovered');
  });

  it('refuses misuse with TypeErrors', () => {
    assert.throws(() => createClient({ issuer: '', clientId: 'x' }), TypeError);
    assert.throws(() => createClient({ issuer: 'https://a', clientId: '' }), TypeError);
    assert.throws(() => createClient({ issuer: 'https://a', clientId: 'x', tokenEndpointAuthMethod: 'client_secret_basic' }), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
    assert.equal(createClient({ issuer: 'https://a', clientId: 'x', clientSecret: '' }).authMethod, 'none');
  });
});
