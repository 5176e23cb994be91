import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, startDevOp, type DevOp } from '../../../scripts/dev-op/index.ts';
import { authorizeCode } from '../../../scripts/dev-op/drive.ts';
import { json, startFakeOp, type FaultServer } from '../test-support/fault-server.js';
import { createClient } from './client.js';
import { exchangeAuthorizationCode, judgeCallback, registerCodeFlowClient, startAuthorizationRequest, type AuthorizationRequest } from './code-flow.js';
import { OidcError } from './errors.js';

const servers: FaultServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

const REQUEST: AuthorizationRequest = {
  url: 'http://op.example/auth',
  redirectUri: 'http://127.0.0.1:4242/',
  state: 'the-state',
  nonce: 'the-nonce',
  codeVerifier: 'v'.repeat(64),
};

describe('judgeCallback', () => {
  const cases: [string, string, string][] = [
    ['?code=abc&state=the-state', 'code', ''],
    ['?code=abc&state=the-state&iss=x', 'code', ''],
    ['?code=abc&state=other', 'foreign', 'state does not match'],
    ['?code=abc', 'foreign', 'state does not match'],
    ['?code=abc&state=the-state&state=the-state', 'foreign', 'state does not match'],
    ['?state=the-state', 'foreign', 'no code'],
    ['?state=the-state&code=', 'foreign', 'no code'],
    ['?state=the-state&code=a&code=b', 'foreign', 'no code'],
    ['?error=access_denied&state=wrong', 'foreign', 'state does not match'],
    ['?error=access_denied&error_description=User+said+no&state=the-state', 'error', 'access_denied: User said no'],
    ['?error=server_error&state=the-state&code=abc', 'error', 'server_error'],
  ];
  for (const [query, kind, detail] of cases) {
    it(`${query} → ${kind}`, () => {
      const v = judgeCallback(REQUEST, new URL(`http://127.0.0.1:4242/${query}`));
      assert.equal(v.kind, kind);
      if (v.kind === 'foreign') assert.equal(v.reason, detail);
      if (v.kind === 'error') {
        assert.ok(v.error instanceof OidcError);
        assert.equal(v.error.message, detail);
      }
    });
  }
  it('access_denied maps to OIDC_ACCESS_DENIED', () => {
    const v = judgeCallback(REQUEST, new URL('http://127.0.0.1:4242/?error=access_denied&state=the-state'));
    assert.equal(v.kind === 'error' && v.error.code, 'OIDC_ACCESS_DENIED');
  });
});

describe('registerCodeFlowClient', () => {
  it('retries as a native client when the OP refuses loopback redirect URIs for a web client', async () => {
    const bodies: Record<string, unknown>[] = [];
    const op = await startFakeOp({
      '/register': (_req, res, hit) => {
        const body = JSON.parse(hit.body) as Record<string, unknown>;
        bodies.push(body);
        if (body['application_type'] !== 'native') {
          json(res, 400, { error: 'invalid_redirect_uri', error_description: 'Custom redirect_uri not allowed for web client' });
        } else {
          json(res, 201, { client_id: 'native-id', redirect_uris: body['redirect_uris'] });
        }
      },
    });
    servers.push(op);
    const reg = await registerCodeFlowClient(op.issuer, {
      clientName: 't',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['http://127.0.0.1:4242/'],
      allowInsecureLoopback: true,
    });
    assert.equal(reg.client_id, 'native-id');
    assert.equal(bodies.length, 2);
    assert.equal(bodies[0]!['application_type'], undefined);
    assert.deepEqual(bodies[0]!['response_types'], ['code']);
    assert.deepEqual(bodies[1]!['redirect_uris'], ['http://127.0.0.1:4242/']);
  });

  it('does not retry other refusals', async () => {
    let n = 0;
    const op = await startFakeOp({
      '/register': (_req, res) => {
        n++;
        json(res, 403, { error: 'access_denied', error_description: 'registration is closed' });
      },
    });
    servers.push(op);
    await assert.rejects(
      registerCodeFlowClient(op.issuer, { clientName: 't', grantTypes: ['authorization_code'], redirectUris: ['http://127.0.0.1:1/'], allowInsecureLoopback: true }),
      (e: unknown) => e instanceof OidcError && e.code === 'OIDC_REGISTRATION_REFUSED',
    );
    assert.equal(n, 1);
  });
});

describe('code flow against the dev OP', () => {
  let op: DevOp;
  before(async () => {
    op = await startDevOp({ quiet: true });
  });
  after(() => op.close());

  async function client(redirectUris = ['http://127.0.0.1:4242/']) {
    const reg = await registerCodeFlowClient(op.issuer, {
      clientName: 'code-flow test',
      grantTypes: ['authorization_code', 'refresh_token'],
      scope: 'openid offline_access profile',
      redirectUris,
      allowInsecureLoopback: true,
    });
    return createClient({ issuer: op.issuer, clientId: reg.client_id, clientSecret: reg.client_secret!, allowInsecureLoopback: true });
  }

  it('PKCE S256, state and nonce in the URL; the exchange returns tokens with a refresh token', async () => {
    const c = await client();
    const req = await startAuthorizationRequest(c, { redirectUri: 'http://127.0.0.1:4242/', scope: 'openid offline_access', prompt: 'consent' });
    const url = new URL(req.url);
    assert.equal(url.searchParams.get('code_challenge'), createHash('sha256').update(req.codeVerifier).digest('base64url'));
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('state'), req.state);
    assert.equal(url.searchParams.get('nonce'), req.nonce);
    assert.equal(url.searchParams.get('redirect_uri'), 'http://127.0.0.1:4242/');
    assert.ok(req.codeVerifier.length >= 43);

    const callback = new URL(await authorizeCode({ authorizationUrl: req.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    assert.equal(judgeCallback(req, callback).kind, 'code');
    const tokens = await exchangeAuthorizationCode(c, req, callback);
    assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
  });

  it('a wrong PKCE verifier is refused by the OP (invalid_grant), the code not in the message', async () => {
    const c = await client();
    const req = await startAuthorizationRequest(c, { redirectUri: 'http://127.0.0.1:4242/', scope: 'openid offline_access' });
    const callback = new URL(await authorizeCode({ authorizationUrl: req.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    const err = await exchangeAuthorizationCode(c, { ...req, codeVerifier: 'x'.repeat(64) }, callback).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OidcError);
    assert.equal(err.code, 'OIDC_INVALID_GRANT', err.message);
    assert.ok(!err.message.includes(callback.searchParams.get('code')!));
  });

  it("redirect_uri exactly as registered (oidc-agent's http://localhost:PORT, no slash) in both requests", async () => {
    // RFC 6749 §3.1.2.3: simple string comparison. The token request must repeat the exact string
    // of the authorization request (the OP refuses it otherwise), not a normalised URL.
    const c = await client(['http://localhost:4242']);
    const req = await startAuthorizationRequest(c, { redirectUri: 'http://localhost:4242', scope: 'openid offline_access', prompt: 'consent' });
    assert.equal(new URL(req.url).searchParams.get('redirect_uri'), 'http://localhost:4242');
    const callback = new URL(await authorizeCode({ authorizationUrl: req.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    const tokens = await exchangeAuthorizationCode(c, req, callback);
    assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
  });

  it("a callback whose iss names another issuer is refused (RFC 9207), before the code is sent", async () => {
    const c = await client();
    const req = await startAuthorizationRequest(c, { redirectUri: 'http://127.0.0.1:4242/', scope: 'openid' });
    const callback = new URL(await authorizeCode({ authorizationUrl: req.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    assert.equal(callback.searchParams.get('iss'), op.issuer, 'the dev OP sends iss');
    const forged = new URL(callback);
    forged.searchParams.set('iss', 'https://evil.example');
    await assert.rejects(exchangeAuthorizationCode(c, req, forged), (e: unknown) => e instanceof OidcError && e.code === 'OIDC_BAD_RESPONSE' && /iss/.test(e.message));
    const missing = new URL(callback);
    missing.searchParams.delete('iss');
    await assert.rejects(exchangeAuthorizationCode(c, req, missing), (e: unknown) => e instanceof OidcError && /iss/.test(e.message));
    // The code was not spent: the genuine callback still works.
    assert.ok((await exchangeAuthorizationCode(c, req, callback)).access_token);
  });

  it('a nonce that does not match the ID token is refused', async () => {
    const c = await client();
    const req = await startAuthorizationRequest(c, { redirectUri: 'http://127.0.0.1:4242/', scope: 'openid' });
    const callback = new URL(await authorizeCode({ authorizationUrl: req.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    await assert.rejects(exchangeAuthorizationCode(c, { ...req, nonce: 'another-nonce' }, callback), (e: unknown) => e instanceof OidcError && e.code === 'OIDC_BAD_RESPONSE');
  });
});
