import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { json, startFaultServer, type FaultServer, type Handler } from '../test-support/fault-server.js';
import {
  accessTokenFromMytoken,
  discoverMytokenServer,
  exchangeTransferCode,
  mayRotate,
  mytokenTokeninfo,
  pollMytokenOidcFlow,
  revokeMytoken,
  startMytokenOidcFlow,
  subMytoken,
} from './mytoken.js';

const servers: FaultServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

function jwt(claims: Record<string, unknown>): string {
  const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'none', typ: 'MT+JWT' })}.${b(claims)}.c2ln`;
}

/** A fake mytoken server: the configuration plus the given routes. */
async function fake(routes: Record<string, Handler>, configExtra: Record<string, unknown> = {}) {
  let origin = '';
  const s = await startFaultServer({
    '/.well-known/mytoken-configuration': (_q, res) =>
      json(res, 200, {
        issuer: origin,
        mytoken_endpoint: `${origin}/api/v0/token/my`,
        access_token_endpoint: `${origin}/api/v0/token/access`,
        token_endpoint: `${origin}/api/v0/token/access`,
        revocation_endpoint: `${origin}/api/v0/token/revoke`,
        tokeninfo_endpoint: `${origin}/api/v0/tokeninfo`,
        providers_supported: [{ issuer: 'https://op.example', scopes_supported: ['openid'] }],
        ...configExtra,
      }),
    ...routes,
  });
  origin = s.origin;
  servers.push(s);
  const server = await discoverMytokenServer(s.origin, { allowInsecureLoopback: true, backoffMs: [5] });
  return { s, server };
}

const body = (s: FaultServer, path: string, n = -1) => JSON.parse(s.hits.filter((h) => h.path === path).at(n)!.body) as Record<string, unknown>;

describe('discoverMytokenServer', () => {
  it('reads the endpoints and keeps the whole document', async () => {
    const { s, server } = await fake({});
    assert.equal(server.issuer, s.origin);
    assert.equal(server.access_token_endpoint, `${s.origin}/api/v0/token/access`);
    assert.equal(server.tokeninfo_endpoint, `${s.origin}/api/v0/tokeninfo`);
    assert.ok(Array.isArray(server.config['providers_supported']));
  });

  it('refuses a document that names another issuer, and a plain OP', async () => {
    const s = await startFaultServer({
      '/.well-known/mytoken-configuration': (_q, res) => json(res, 200, { issuer: 'https://elsewhere', mytoken_endpoint: 'https://elsewhere/my', token_endpoint: 'https://elsewhere/t' }),
    });
    servers.push(s);
    await assert.rejects(discoverMytokenServer(s.origin, { allowInsecureLoopback: true }), { code: 'OIDC_BAD_RESPONSE', message: /names issuer "https:\/\/elsewhere"/ });
    let origin = '';
    const op = await startFaultServer({ '/.well-known/openid-configuration': (_q, res) => json(res, 200, { issuer: origin, token_endpoint: `${origin}/t` }) });
    origin = op.origin;
    servers.push(op);
    await assert.rejects(discoverMytokenServer(op.origin, { allowInsecureLoopback: true }), { message: /is not a mytoken server/ });
  });

  it('refuses plain http without the opt-in', async () => {
    await assert.rejects(discoverMytokenServer('http://127.0.0.1:9/'), { code: 'OIDC_INSECURE_ISSUER' });
  });
});

describe('oidc flow', () => {
  it('the consent URL is shown in parsed form (no terminal escapes); a non-http(s) one is refused', async () => {
    let uri = '';
    const { server } = await fake({ '/api/v0/token/my': (_q, res) => json(res, 200, { consent_uri: uri, polling_code: 'PC1', expires_in: 300, interval: 1 }) });
    uri = 'https://mt.example/c/abc?\u001b[2J\u001b]0;x\u0007';
    const flow = await startMytokenOidcFlow(server, { oidc_issuer: 'https://op.example' });
    assert.doesNotMatch(flow.authorization_url, /[\u0000-\u001f\u007f-\u009f]/);
    assert.ok(flow.authorization_url.startsWith('https://mt.example/c/abc?%1B'), flow.authorization_url);
    uri = 'file:///etc/passwd';
    await assert.rejects(startMytokenOidcFlow(server, { oidc_issuer: 'https://op.example' }), { code: 'OIDC_BAD_RESPONSE' });
  });

  it('starts with the profile and polls through 428 authorization_pending', async () => {
    const mt = jwt({ exp: Math.floor(Date.now() / 1000) + 3600 });
    const { s, server } = await fake({
      '/api/v0/token/my': (_q, res, hit) => {
        const b = JSON.parse(hit.body) as Record<string, unknown>;
        if (b['grant_type'] === 'oidc_flow') return json(res, 200, { consent_uri: `${s.origin}/c/abc`, polling_code: 'PC123456', expires_in: 300, interval: 1 });
        if (hit.n <= 3) return json(res, 428, { error: 'authorization_pending', error_description: 'wait' });
        return json(res, 200, { mytoken: mt, mytoken_type: 'token', expires_in: 3600, mom_id: 'm1', capabilities: ['AT'] });
      },
    });
    const flow = await startMytokenOidcFlow(server, { oidc_issuer: 'https://op.example', capabilities: ['AT', 'create_mytoken'], rotation: { on_AT: true }, name: 'n' });
    assert.deepEqual(flow, { authorization_url: `${s.origin}/c/abc`, polling_code: 'PC123456', expires_in: 300, interval: 1 });
    const start = body(s, '/api/v0/token/my', 0);
    assert.equal(start['grant_type'], 'oidc_flow');
    assert.equal(start['oidc_flow'], 'authorization_code');
    assert.equal(start['client_type'], 'native');
    assert.deepEqual(start['capabilities'], ['AT', 'create_mytoken']);
    assert.deepEqual(start['rotation'], { on_AT: true });
    const r = await pollMytokenOidcFlow(server, flow.polling_code, { interval: 0.01, expiresIn: 30 });
    assert.equal(r.mytoken, mt);
    assert.equal(r.mytoken_id, 'm1');
    assert.deepEqual(r.capabilities, ['AT']);
    assert.ok(r.expires_at! > Date.now() / 1000);
    assert.deepEqual(body(s, '/api/v0/token/my'), { grant_type: 'polling_code', polling_code: 'PC123456' });
    assert.equal(s.count('/api/v0/token/my'), 4);
  });

  it('stops at access_denied with the server named and the code not shown', async () => {
    const { s, server } = await fake({ '/api/v0/token/my': (_q, res) => json(res, 401, { error: 'access_denied', error_description: 'user said no to PC999999' }) });
    await assert.rejects(pollMytokenOidcFlow(server, 'PC999999', { interval: 0.01, expiresIn: 30 }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'OIDC_ACCESS_DENIED');
      assert.ok(e.message.includes(s.origin), e.message);
      assert.ok(!e.message.includes('PC999999'), e.message);
      return true;
    });
  });

  it('is cancelled by its signal', async () => {
    const { server } = await fake({ '/api/v0/token/my': (_q, res) => json(res, 428, { error: 'authorization_pending' }) });
    const abort = new AbortController();
    const p = pollMytokenOidcFlow(server, 'PC1', { interval: 0.05, expiresIn: 60, signal: abort.signal });
    abort.abort();
    await assert.rejects(p, { code: 'OIDC_ABORTED' });
  });
});

describe('accessTokenFromMytoken', () => {
  it('sends scope and audience space-separated and returns the rotated mytoken', async () => {
    const mt = jwt({ rotation: { on_AT: true } });
    const { s, server } = await fake({
      '/api/v0/token/access': (_q, res) =>
        json(res, 200, { access_token: 'AT1', token_type: 'Bearer', expires_in: 600, scope: 'openid a', audience: ['x'], token_update: { mytoken: 'MT-NEW', mytoken_type: 'token' } }),
    });
    const t = await accessTokenFromMytoken(server, mt, { scope: ['openid', 'a'], audience: 'x y', comment: 'c' });
    assert.deepEqual(body(s, '/api/v0/token/access'), { grant_type: 'mytoken', mytoken: mt, scope: 'openid a', audience: 'x y', comment: 'c' });
    assert.equal(t.access_token, 'AT1');
    assert.equal(t.mytoken_update, 'MT-NEW');
    assert.ok(Math.abs(t.expires_at - (Date.now() / 1000 + 600)) < 5);
  });

  it('an access token or a rotated mytoken with control characters is refused, the rotated one still handed over when valid', async () => {
    const mt = jwt({ rotation: { on_AT: true } });
    const { server } = await fake({
      '/api/v0/token/access': (_q, res) => json(res, 200, { access_token: 'AT\u001b[2J', token_type: 'Bearer', token_update: { mytoken: 'MT-NEW' } }),
    });
    await assert.rejects(accessTokenFromMytoken(server, mt), (e: Error & { code?: string; mytoken_update?: string }) => {
      assert.equal(e.code, 'OIDC_BAD_RESPONSE');
      assert.match(e.message, /"access_token" .* no token may have/);
      assert.ok(!e.message.includes('\u001b'));
      assert.equal(e.mytoken_update, 'MT-NEW', 'the old mytoken is dead: the new one must not be lost');
      return true;
    });
    const { server: s2 } = await fake({
      '/api/v0/token/access': (_q, res) => json(res, 200, { access_token: 'AT1', token_type: 'Bearer', token_update: { mytoken: 'MT\u009b' } }),
    });
    await assert.rejects(accessTokenFromMytoken(s2, mt), /"token_update\.mytoken" .* no token may have/);
  });

  it('never retries a mytoken that may rotate; retries one that cannot', async () => {
    const { s, server } = await fake({ '/api/v0/token/access': (_q, res) => json(res, 503, {}) });
    await assert.rejects(accessTokenFromMytoken(server, 'opaque-short-token-0123456789012345678901'), { code: 'OIDC_UNAVAILABLE' });
    assert.equal(s.count('/api/v0/token/access'), 1);
    await assert.rejects(accessTokenFromMytoken(server, jwt({ rotation: null })), { code: 'OIDC_UNAVAILABLE' });
    assert.equal(s.count('/api/v0/token/access'), 4);
  });

  it('a refused mytoken: the server error named, the mytoken scrubbed', async () => {
    const mt = jwt({ jti: 'x' });
    const { server } = await fake({ '/api/v0/token/access': (_q, res) => json(res, 401, { error: 'invalid_token', error_description: `token ${mt} revoked` }) });
    await assert.rejects(accessTokenFromMytoken(server, mt), (e: Error & { error?: string }) => {
      assert.equal(e.error, 'invalid_token');
      assert.match(e.message, /^invalid_token: token \[redacted\] revoked \(mytoken server http/);
      return true;
    });
  });
});

describe('sub-mytokens, transfer codes, revoke, tokeninfo', () => {
  it('subMytoken maps mytoken_type to response_type and returns the parent update', async () => {
    const { s, server } = await fake({
      '/api/v0/token/my': (_q, res) => json(res, 200, { mytoken_type: 'transfer_code', transfer_code: 'TC1', expires_in: 300, token_update: { mytoken: 'P2' } }),
    });
    const r = await subMytoken(server, 'parent-token-opaque-0123456789012345678', { name: 'child', capabilities: ['AT'], mytoken_type: 'transfer_code', restrictions: [{ scope: 'openid' }] });
    const b = body(s, '/api/v0/token/my');
    assert.equal(b['grant_type'], 'mytoken');
    assert.equal(b['response_type'], 'transfer_code');
    assert.equal(b['error_on_restrictions'], true);
    assert.equal(b['mytoken_type'], undefined);
    assert.deepEqual(b['restrictions'], [{ scope: 'openid' }]);
    assert.equal(r.mytoken, 'TC1');
    assert.equal(r.transfer_code, 'TC1');
    assert.equal(r.mytoken_update, 'P2');
    assert.equal(r.raw['token_update'], undefined);
  });

  it('exchangeTransferCode, revokeMytoken (204), tokeninfo subtoken_tree', async () => {
    const { s, server } = await fake({
      '/api/v0/token/my': (_q, res) => json(res, 200, { mytoken: 'MT-FROM-TC', mytoken_type: 'short_token' }),
      '/api/v0/token/revoke': (_q, res) => res.writeHead(204).end(),
      '/api/v0/tokeninfo': (_q, res) => json(res, 200, { mytokens: { token: { name: 'a' }, children: [] }, token_update: { mytoken: 'R2' } }),
    });
    const r = await exchangeTransferCode(server, 'TC000001');
    assert.deepEqual(body(s, '/api/v0/token/my'), { grant_type: 'transfer_code', transfer_code: 'TC000001' });
    assert.equal(r.mytoken, 'MT-FROM-TC');
    await revokeMytoken(server, 'MT-X', { recursive: true });
    assert.deepEqual(body(s, '/api/v0/token/revoke'), { token: 'MT-X', recursive: true });
    const info = await mytokenTokeninfo(server, 'MT-Y', 'subtoken_tree');
    assert.deepEqual(body(s, '/api/v0/tokeninfo'), { action: 'subtokens', mytoken: 'MT-Y' });
    assert.deepEqual(info, { info: { mytokens: { token: { name: 'a' }, children: [] } }, mytoken_update: 'R2' });
  });

  it('mayRotate reads the JWT rotation claim; opaque tokens may rotate', () => {
    assert.equal(mayRotate(jwt({ rotation: { on_AT: true } })), true);
    assert.equal(mayRotate(jwt({ rotation: { on_other: true } })), true);
    assert.equal(mayRotate(jwt({})), false);
    assert.equal(mayRotate('x'.repeat(64)), true);
  });
});
