import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { form, json, startFakeOp, type FakeOp } from '../test-support/fault-server.js';
import { createClient } from './client.js';
import { revokeToken } from './revoke.js';

const ops: FakeOp[] = [];
after(() => Promise.all(ops.map((s) => s.close())));

describe('revokeToken', () => {
  it('posts the token and hint to the revocation endpoint', async () => {
    const s = await startFakeOp({ '/token': () => undefined, '/revoke': (_q, res) => res.writeHead(200).end() });
    ops.push(s);
    const c = createClient({ issuer: s.issuer, clientId: 'cid', clientSecret: 'sec', allowInsecureLoopback: true });
    await revokeToken(c, 'rt-1', 'refresh_token');
    const hit = s.hits.find((h) => h.path === '/revoke')!;
    const body = form(hit.body);
    assert.equal(body.get('token'), 'rt-1');
    assert.equal(body.get('token_type_hint'), 'refresh_token');
    assert.match(String(hit.headers.authorization), /^Basic /);
  });

  it('no revocation endpoint → OIDC_UNSUPPORTED', async () => {
    const s = await startFakeOp({ '/token': () => undefined });
    ops.push(s);
    const c = createClient({ issuer: s.issuer, clientId: 'cid', allowInsecureLoopback: true });
    await assert.rejects(revokeToken(c, 'rt-1'), { code: 'OIDC_UNSUPPORTED' });
  });

  it('an OAuth error → OIDC_OP_ERROR; a 503 is retried', async () => {
    const s = await startFakeOp({
      '/token': () => undefined,
      '/revoke': (_q, res, hit) =>
        hit.n === 1 ? json(res, 503, {}) : json(res, 400, { error: 'unsupported_token_type', error_description: 'no' }),
    });
    ops.push(s);
    const c = createClient({ issuer: s.issuer, clientId: 'cid', allowInsecureLoopback: true, backoffMs: [10] });
    await assert.rejects(revokeToken(c, 'at-1', 'access_token'), { code: 'OIDC_OP_ERROR', message: 'unsupported_token_type: no' });
    assert.equal(s.count('/revoke'), 2);
  });
});
