import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { form, json, startFakeOp, type FakeOp, type Handler } from '../test-support/fault-server.js';
import { createClient } from './client.js';
import { OidcError } from './errors.js';
import { passwordGrant } from './password-flow.js';

const PW = 'correct horse battery';
const ops: FakeOp[] = [];
after(() => Promise.all(ops.map((s) => s.close())));

async function op(token: Handler): Promise<FakeOp> {
  const s = await startFakeOp({ '/token': token });
  ops.push(s);
  return s;
}

describe('passwordGrant', () => {
  it('sends grant_type=password with username, password, scope and resources', async () => {
    const s = await op((_q, res) => json(res, 200, { access_token: 'at', token_type: 'Bearer', expires_in: 60, refresh_token: 'rt' }));
    const c = createClient({ issuer: s.issuer, clientId: 'cid', clientSecret: 'sec', allowInsecureLoopback: true });
    const t = await passwordGrant(c, { username: 'alice', password: PW, scope: ['openid', 'offline_access'], resource: 'https://r.example' });
    assert.equal(t.refresh_token, 'rt');
    const body = form(s.hits.find((h) => h.path === '/token')!.body);
    assert.equal(body.get('grant_type'), 'password');
    assert.equal(body.get('username'), 'alice');
    assert.equal(body.get('password'), PW);
    assert.equal(body.get('scope'), 'openid offline_access');
    assert.deepEqual(body.getAll('resource'), ['https://r.example']);
  });

  it('wrong credentials → OIDC_INVALID_GRANT, the password never in the message', async () => {
    const s = await op((_q, res) => json(res, 400, { error: 'invalid_grant', error_description: `bad password "${PW}"` }));
    const c = createClient({ issuer: s.issuer, clientId: 'cid', allowInsecureLoopback: true });
    const err = await passwordGrant(c, { username: 'alice', password: PW }).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OidcError);
    assert.equal(err.code, 'OIDC_INVALID_GRANT');
    assert.ok(!err.message.includes(PW), err.message);
    assert.ok(!JSON.stringify(err).includes(PW));
  });

  it('unsupported_grant_type → OIDC_OP_ERROR', async () => {
    const s = await op((_q, res) => json(res, 400, { error: 'unsupported_grant_type' }));
    const c = createClient({ issuer: s.issuer, clientId: 'cid', allowInsecureLoopback: true });
    await assert.rejects(passwordGrant(c, { username: 'a', password: PW }), { code: 'OIDC_OP_ERROR', message: 'unsupported_grant_type' });
  });
});
