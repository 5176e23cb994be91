import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { fakeJwt, form, json, startFakeOp, type FakeOp, type Handler, rejectsWith } from '../test-support/fault-server.js';
import { createClient, type ClientOptions } from './client.js';
import { refreshAccessToken } from './refresh.js';

const RT = 'rt-secret-value-123';
const SECRET = 'client-secret-xyz';
const ops: FakeOp[] = [];
after(() => Promise.all(ops.map((s) => s.close())));

async function op(token: Handler): Promise<FakeOp> {
  const s = await startFakeOp({ '/token': token });
  ops.push(s);
  return s;
}

function client(s: FakeOp, extra: Partial<ClientOptions> = {}) {
  return createClient({
    issuer: s.issuer,
    clientId: 'cid',
    allowInsecureLoopback: true,
    backoffMs: [10],
    timeoutMs: 1_000,
    ...extra,
  });
}

const ok: Handler = (_q, res) => json(res, 200, { access_token: 'at-1', token_type: 'Bearer', expires_in: 300 });


describe('refreshAccessToken', () => {
  it('confidential client: HTTP Basic, refresh_token grant, no scope unless asked', async () => {
    const s = await op((_q, res) =>
      json(res, 200, { access_token: 'at-1', token_type: 'Bearer', expires_in: 300, refresh_token: 'rt-2', scope: 'openid' }),
    );
    const before = Math.floor(Date.now() / 1000);
    const t = await refreshAccessToken(client(s, { clientSecret: SECRET }), RT);
    assert.equal(t.access_token, 'at-1');
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.refresh_token, 'rt-2');
    assert.equal(t.scope, 'openid');
    assert.ok(t.expires_at >= before + 300 && t.expires_at <= before + 301);
    const hit = s.hits.find((h) => h.path === '/token')!;
    assert.equal(hit.headers.authorization, `Basic ${Buffer.from(`cid:${SECRET}`).toString('base64')}`);
    const body = form(hit.body);
    assert.equal(body.get('grant_type'), 'refresh_token');
    assert.equal(body.get('refresh_token'), RT);
    assert.equal(body.has('scope'), false);
    assert.equal(body.has('client_secret'), false);
    assert.equal(body.has('resource'), false);
  });

  it('a secret with % or + is form-urlencoded in HTTP Basic (RFC 6749 §2.3.1)', async () => {
    const s = await op(ok);
    await refreshAccessToken(client(s, { clientSecret: 'a+b%c' }), RT);
    const hit = s.hits.find((h) => h.path === '/token')!;
    assert.equal(hit.headers.authorization, `Basic ${Buffer.from('cid:a%2Bb%25c').toString('base64')}`);
  });

  it('public client: client_id in the body, no Authorization header', async () => {
    const s = await op(ok);
    await refreshAccessToken(client(s), RT);
    const hit = s.hits.find((h) => h.path === '/token')!;
    assert.equal(hit.headers.authorization, undefined);
    assert.equal(form(hit.body).get('client_id'), 'cid');
  });

  it('client_secret_post puts the secret in the body', async () => {
    const s = await op(ok);
    await refreshAccessToken(client(s, { clientSecret: SECRET, tokenEndpointAuthMethod: 'client_secret_post' }), RT);
    const body = form(s.hits.find((h) => h.path === '/token')!.body);
    assert.equal(body.get('client_secret'), SECRET);
  });

  it('scope subset and audiences as one RFC 8707 resource parameter each', async () => {
    const s = await op(ok);
    await refreshAccessToken(client(s), RT, {
      scope: ['storage.read:/', 'openid', 'openid'],
      audience: 'https://a.example https://b.example',
    });
    const body = form(s.hits.find((h) => h.path === '/token')!.body);
    assert.equal(body.get('scope'), 'storage.read:/ openid');
    assert.deepEqual(body.getAll('resource'), ['https://a.example', 'https://b.example']);
    assert.equal(body.has('audience'), false);
  });

  it('legacy audience mode: a single space-separated audience parameter', async () => {
    const s = await op(ok);
    await refreshAccessToken(client(s), RT, {
      audience: ['https://a.example', 'https://b.example'],
      audienceMode: 'audience',
    });
    const body = form(s.hits.find((h) => h.path === '/token')!.body);
    assert.equal(body.get('audience'), 'https://a.example https://b.example');
    assert.equal(body.has('resource'), false);
  });

  it('invalid_grant → OIDC_INVALID_GRANT at once, no retry, refresh token never in the message', async () => {
    const s = await op((_q, res) =>
      json(res, 400, { error: 'invalid_grant', error_description: `refresh token ${RT} is expired` }),
    );
    const err = await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_INVALID_GRANT');
    assert.equal(s.count('/token'), 1);
    assert.equal(err.error, 'invalid_grant');
    assert.equal(err.status, 400);
    assert.match(err.message, /^invalid_grant: refresh token \[redacted\] is expired$/);
    assert.ok(!JSON.stringify(err).includes(RT), 'serialised error holds no token');
    assert.ok(!Object.keys(err).includes('cause'), 'cause is not enumerable');
    assert.ok(err.cause !== undefined, 'cause is chained');
  });

  it('other OAuth errors → OIDC_OP_ERROR with error and error_description', async () => {
    const s = await op((_q, res) => json(res, 400, { error: 'invalid_scope', error_description: 'no such scope' }));
    const err = await rejectsWith(refreshAccessToken(client(s), RT, { scope: 'nope' }), 'OIDC_OP_ERROR');
    assert.equal(err.error, 'invalid_scope');
    assert.equal(err.error_description, 'no such scope');
    assert.equal(err.message, 'invalid_scope: no such scope');
  });

  it('invalid_target says which parameter carried the audience', async () => {
    const s = await op((_q, res) => json(res, 400, { error: 'invalid_target', error_description: 'resource refused' }));
    const err = await rejectsWith(refreshAccessToken(client(s), RT, { audience: 'x' }), 'OIDC_OP_ERROR');
    assert.match(err.message, /^invalid_target: resource refused \(audience sent as RFC 8707 "resource" parameters\)$/);
    const legacy = await rejectsWith(
      refreshAccessToken(client(s), RT, { audience: 'x', audienceMode: 'audience' }),
      'OIDC_OP_ERROR',
    );
    assert.match(legacy.message, /legacy mode/);
  });

  it('invalid_client in a 401 with WWW-Authenticate → OIDC_OP_ERROR invalid_client', async () => {
    const s = await op((_q, res) =>
      json(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="op", error="invalid_client"' }),
    );
    const err = await rejectsWith(refreshAccessToken(client(s, { clientSecret: SECRET }), RT), 'OIDC_OP_ERROR');
    assert.equal(err.error, 'invalid_client');
    assert.equal(err.status, 401);
  });

  it('503 twice then success: retried, tokens returned', async () => {
    const s = await op((q, res, hit) => (hit.n < 3 ? json(res, 503, {}) : ok(q, res, hit)));
    const t = await refreshAccessToken(client(s), RT);
    assert.equal(t.access_token, 'at-1');
    assert.equal(s.count('/token'), 3);
  });

  it('503 forever → OIDC_UNAVAILABLE after 3 tries; 500 → OIDC_UNAVAILABLE after 1', async () => {
    const s = await op((_q, res) => res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>down</h1>'));
    const err = await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_UNAVAILABLE');
    assert.equal(err.status, 503);
    assert.equal(s.count('/token'), 3);
    const t = await op((_q, res) => json(res, 500, { error: 'server_error' }));
    await rejectsWith(refreshAccessToken(client(t), RT), 'OIDC_UNAVAILABLE');
    assert.equal(t.count('/token'), 1);
  });

  it('a token response without access_token → OIDC_BAD_RESPONSE', async () => {
    const s = await op((_q, res) => json(res, 200, { token_type: 'Bearer', expires_in: 60, refresh_token: 'rt-9' }));
    const err = await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_BAD_RESPONSE');
    assert.match(err.message, /access_token/);
    assert.ok(!err.message.includes('rt-9'));
  });

  it('an HTML page (200 or 400) → OIDC_BAD_RESPONSE', async () => {
    const html: Handler = (_q, res, hit) =>
      res.writeHead(hit.n === 1 ? 200 : 400, { 'content-type': 'text/html' }).end('<html>proxy login</html>');
    const s = await op(html);
    await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_BAD_RESPONSE');
    const err = await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_BAD_RESPONSE');
    assert.equal(err.status, 400);
  });

  it('truncated JSON → OIDC_BAD_RESPONSE', async () => {
    const s = await op((_q, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"at","token_ty'),
    );
    await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_BAD_RESPONSE');
  });

  it('unknown token_type → OIDC_BAD_RESPONSE; lower-case bearer is fine', async () => {
    const s = await op((_q, res, hit) =>
      json(res, 200, { access_token: 'at', token_type: hit.n === 1 ? 'mac' : 'bearer', expires_in: 60 }),
    );
    await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_BAD_RESPONSE');
    assert.equal((await refreshAccessToken(client(s), RT)).token_type, 'Bearer');
  });

  it('non-positive expires_in → OIDC_BAD_RESPONSE', async () => {
    const s = await op((_q, res) => json(res, 200, { access_token: 'at', token_type: 'Bearer', expires_in: -5 }));
    await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_BAD_RESPONSE');
  });

  it('no expires_in: exp of a JWT access token, else the 60 s default', async () => {
    const exp = Math.floor(Date.now() / 1000) + 1234;
    const s = await op((_q, res, hit) =>
      json(res, 200, { access_token: hit.n === 1 ? fakeJwt({ exp }) : 'opaque', token_type: 'Bearer' }),
    );
    assert.equal((await refreshAccessToken(client(s), RT)).expires_at, exp);
    const now = Math.floor(Date.now() / 1000);
    const t = await refreshAccessToken(client(s), RT);
    assert.ok(t.expires_at >= now + 60 && t.expires_at <= now + 61);
  });

  it('a slow token endpoint → OIDC_TIMEOUT (client deadline, and a per-call one)', async () => {
    const s = await op(() => undefined);
    const c = client(s, { timeoutMs: 150, maxAttempts: 2 });
    const err = await rejectsWith(refreshAccessToken(c, RT), 'OIDC_TIMEOUT');
    assert.equal(err.attempts, 2);
    assert.equal(s.count('/token'), 2);
    const t0 = Date.now();
    await rejectsWith(refreshAccessToken(client(s, { maxAttempts: 1 }), RT, { timeoutMs: 100 }), 'OIDC_TIMEOUT');
    assert.ok(Date.now() - t0 < 900);
  });

  it('a reset connection on every try → OIDC_NETWORK', async () => {
    const s = await op((req) => void req.socket.destroy());
    await rejectsWith(refreshAccessToken(client(s), RT), 'OIDC_NETWORK');
    assert.equal(s.count('/token'), 3);
  });

  it('the client never shows its secret', () => {
    const c = createClient({ issuer: 'https://op.example', clientId: 'cid', clientSecret: SECRET });
    assert.ok(!JSON.stringify(c).includes(SECRET));
    assert.ok(!inspect(c, { showHidden: true, depth: 5 }).includes(SECRET));
    assert.equal(c.authMethod, 'client_secret_basic');
    assert.equal(c.confidential, true);
  });
});
