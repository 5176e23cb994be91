import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { json, startFakeOp, startFaultServer, type FakeOp, type FaultServer, type Handler, rejectsWith } from '../test-support/fault-server.js';
import { deleteClient, registerClient } from './registration.js';

const servers: FaultServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function op(register?: Handler): Promise<FakeOp> {
  const s = await startFakeOp(register ? { '/token': () => undefined, '/register': register } : { '/token': () => undefined });
  servers.push(s);
  return s;
}

const base = { clientName: 'token-agent test', allowInsecureLoopback: true, backoffMs: [10] };


describe('registerClient', () => {
  it('posts RFC 7591 metadata and returns the registered client', async () => {
    const s = await op((_q, res) =>
      json(res, 201, {
        client_id: 'new-id',
        client_secret: 'new-secret',
        client_secret_expires_at: 0,
        registration_client_uri: 'http://127.0.0.1:1/reg/new-id',
        registration_access_token: 'rat',
        scope: 'openid offline_access',
        grant_types: ['refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        extra: 'ignored',
      }),
    );
    const r = await registerClient(s.issuer, {
      ...base,
      scope: ['openid', 'offline_access', 'storage.read:/'],
      grantTypes: ['refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    });
    assert.deepEqual(r, {
      client_id: 'new-id',
      client_secret: 'new-secret',
      client_secret_expires_at: 0,
      registration_client_uri: 'http://127.0.0.1:1/reg/new-id',
      registration_access_token: 'rat',
      scope: 'openid offline_access',
      grant_types: ['refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    });
    const hit = s.hits.find((h) => h.path === '/register')!;
    assert.match(String(hit.headers['content-type']), /application\/json/);
    assert.deepEqual(JSON.parse(hit.body), {
      client_name: 'token-agent test',
      grant_types: ['refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid offline_access storage.read:/',
    });
  });

  it('code flow clients get response_types ["code"], redirect URIs and application type', async () => {
    const s = await op((_q, res) => json(res, 201, { client_id: 'x' }));
    await registerClient(s.issuer, {
      ...base,
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: ['http://127.0.0.1:4242/'],
      applicationType: 'native',
      tokenEndpointAuthMethod: 'none',
      initialAccessToken: 'iat',
    });
    const hit = s.hits.find((h) => h.path === '/register')!;
    const body = JSON.parse(hit.body) as Record<string, unknown>;
    assert.deepEqual(body['response_types'], ['code']);
    assert.deepEqual(body['redirect_uris'], ['http://127.0.0.1:4242/']);
    assert.equal(body['application_type'], 'native');
    assert.equal(body['token_endpoint_auth_method'], 'none');
    assert.equal(hit.headers.authorization, 'Bearer iat');
  });

  it('no registration endpoint → OIDC_REGISTRATION_REFUSED telling to pass --client-id', async () => {
    const s = await op();
    const err = await rejectsWith(registerClient(s.issuer, { ...base, grantTypes: ['refresh_token'] }), 'OIDC_REGISTRATION_REFUSED');
    assert.match(err.message, /--client-id/);
    assert.match(err.message, /--client-secret/);
  });

  it('a 400 OAuth error → OIDC_REGISTRATION_REFUSED with error fields, not retried', async () => {
    const s = await op((_q, res) => json(res, 400, { error: 'invalid_client_metadata', error_description: 'bad scope' }));
    const err = await rejectsWith(registerClient(s.issuer, { ...base, grantTypes: ['refresh_token'] }), 'OIDC_REGISTRATION_REFUSED');
    assert.equal(err.error, 'invalid_client_metadata');
    assert.equal(err.error_description, 'bad scope');
    assert.equal(err.status, 400);
    assert.match(err.message, /invalid_client_metadata: bad scope/);
    assert.equal(s.count('/register'), 1);
  });

  it('a 403 HTML page → OIDC_REGISTRATION_REFUSED', async () => {
    const s = await op((_q, res) => res.writeHead(403, { 'content-type': 'text/html' }).end('<h1>Forbidden</h1>'));
    const err = await rejectsWith(registerClient(s.issuer, { ...base, grantTypes: ['refresh_token'] }), 'OIDC_REGISTRATION_REFUSED');
    assert.equal(err.status, 403);
  });

  it('503 forever → OIDC_UNAVAILABLE after retries', async () => {
    const s = await op((_q, res) => json(res, 503, {}));
    await rejectsWith(registerClient(s.issuer, { ...base, grantTypes: ['refresh_token'] }), 'OIDC_UNAVAILABLE');
    assert.equal(s.count('/register'), 3);
  });

  it('an answer without client_id → OIDC_BAD_RESPONSE, secret not echoed', async () => {
    const s = await op((_q, res) => json(res, 201, { client_secret: 'leak-me' }));
    const err = await rejectsWith(registerClient(s.issuer, { ...base, grantTypes: ['refresh_token'] }), 'OIDC_BAD_RESPONSE');
    assert.ok(!err.message.includes('leak-me'));
  });
});

describe('deleteClient', () => {
  it('sends DELETE with the registration access token; 204 is success', async () => {
    const s = await startFaultServer({ '/reg/x': (_q, res) => res.writeHead(204).end() });
    servers.push(s);
    await deleteClient(`${s.origin}/reg/x`, 'rat-1', { allowInsecureLoopback: true });
    assert.equal(s.hits[0]?.method, 'DELETE');
    assert.equal(s.hits[0]?.headers.authorization, 'Bearer rat-1');
  });

  it('401 → OIDC_OP_ERROR, the token not in the message', async () => {
    const s = await startFaultServer({
      '/reg/x': (_q, res) => res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end(),
    });
    servers.push(s);
    const err = await rejectsWith(deleteClient(`${s.origin}/reg/x`, 'rat-1', { allowInsecureLoopback: true }), 'OIDC_OP_ERROR');
    assert.equal(err.status, 401);
    assert.ok(!err.message.includes('rat-1'));
  });

  it('plain http to a non-loopback host → OIDC_INSECURE_ISSUER', async () => {
    await rejectsWith(deleteClient('http://op.example/reg/x', 'rat', { allowInsecureLoopback: true }), 'OIDC_INSECURE_ISSUER');
  });
});
