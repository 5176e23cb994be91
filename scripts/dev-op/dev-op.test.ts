/**
 * End-to-end tests of the dev OP, over raw HTTP as a client would talk to it.
 *   cd /work/main && node --import tsx --test scripts/dev-op/dev-op.test.ts
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';

import { approveDevice, authorizeCode, DriveError } from './drive.ts';
import {
  DEFAULT_PASSWORD,
  DEFAULT_RESOURCE,
  DEFAULT_USERNAME,
  DEVICE_CODE_GRANT,
  startDevOp,
  type DevOp,
  type DevOpOptions,
} from './index.ts';

// ---------------------------------------------------------------------------------------------
// A minimal client

interface Discovery {
  issuer: string;
  token_endpoint: string;
  registration_endpoint: string;
  device_authorization_endpoint: string;
  authorization_endpoint: string;
  revocation_endpoint: string;
  introspection_endpoint: string;
  jwks_uri: string;
  scopes_supported: string[];
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  code_challenge_methods_supported: string[];
}

interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  token_endpoint_auth_method: string;
  registration_client_uri: string;
  registration_access_token: string;
  grant_types: string[];
}

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  id_token?: string;
  expires_in?: number;
  scope?: string;
  token_type?: string;
  error?: string;
  error_description?: string;
}

const ALL_GRANTS = [DEVICE_CODE_GRANT, 'refresh_token', 'password', 'authorization_code'];
const STORAGE = 'https://storage.example.org';
const ALICE = { username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD };

const ops: DevOp[] = [];
after(() => Promise.all(ops.map((op) => op.close())));

async function start(options?: DevOpOptions): Promise<DevOp> {
  const op = await startDevOp({ quiet: false, ...options });
  ops.push(op);
  return op;
}

async function discover(op: DevOp): Promise<Discovery> {
  const res = await fetch(`${op.issuer}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  return (await res.json()) as Discovery;
}

async function register(d: Discovery, metadata: Record<string, unknown>): Promise<RegisteredClient> {
  const res = await fetch(d.registration_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:4242/'], ...metadata }),
  });
  const body = (await res.json()) as RegisteredClient & { error?: string; error_description?: string };
  assert.equal(res.status, 201, `registration failed: ${body.error} ${body.error_description}`);
  return body;
}

/** POSTs a form to a client-authenticated endpoint with the client's registered auth method. */
async function post(url: string, client: RegisteredClient, params: Record<string, string>): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(params);
  switch (client.token_endpoint_auth_method) {
    case 'client_secret_basic':
      headers.authorization = `Basic ${Buffer.from(
        `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret!)}`,
      ).toString('base64')}`;
      break;
    case 'client_secret_post':
      body.set('client_id', client.client_id);
      body.set('client_secret', client.client_secret!);
      break;
    default:
      body.set('client_id', client.client_id);
  }
  return fetch(url, { method: 'POST', headers, body });
}

async function token(d: Discovery, client: RegisteredClient, params: Record<string, string>) {
  const res = await post(d.token_endpoint, client, params);
  return { status: res.status, body: (await res.json()) as TokenResponse };
}

async function tokenOk(d: Discovery, client: RegisteredClient, params: Record<string, string>): Promise<TokenResponse> {
  const { status, body } = await token(d, client, params);
  assert.equal(status, 200, `token request failed: ${body.error} ${body.error_description}`);
  return body;
}

async function tokenError(d: Discovery, client: RegisteredClient, params: Record<string, string>, error: string) {
  const { status, body } = await token(d, client, params);
  assert.equal(body.error, error, `expected ${error}, got ${status} ${JSON.stringify(body)}`);
  assert.ok(status >= 400);
  return body;
}

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/** Verifies an RFC 9068 access token against the OP's JWKS and returns its claims. */
async function verifyAccessToken(d: Discovery, jwt: string | undefined, audience: string): Promise<JWTPayload> {
  assert.ok(jwt, 'no access token');
  let jwks = jwksCache.get(d.jwks_uri);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(d.jwks_uri));
    jwksCache.set(d.jwks_uri, jwks);
  }
  const { payload, protectedHeader } = await jwtVerify(jwt, jwks, { issuer: d.issuer, audience, typ: 'at+jwt' });
  assert.equal(protectedHeader.alg, 'RS256');
  return payload;
}

async function startDevice(d: Discovery, client: RegisteredClient, params: Record<string, string>) {
  const res = await post(d.device_authorization_endpoint, client, params);
  assert.equal(res.status, 200);
  return (await res.json()) as {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete: string;
    interval: number;
    expires_in: number;
  };
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizationUrl(d: Discovery, params: Record<string, string>): string {
  const url = new URL(d.authorization_endpoint);
  url.search = new URLSearchParams({ response_type: 'code', ...params }).toString();
  return url.href;
}

/** Device flow up to the tokens, approving with the driver. */
async function deviceLogin(d: Discovery, client: RegisteredClient, params: Record<string, string>) {
  const start = await startDevice(d, client, params);
  await approveDevice({ verificationUri: start.verification_uri, userCode: start.user_code, ...ALICE });
  return tokenOk(d, client, { grant_type: DEVICE_CODE_GRANT, device_code: start.device_code });
}

// ---------------------------------------------------------------------------------------------

describe('dev OP', () => {
  let op: DevOp;
  let d: Discovery;
  let client: RegisteredClient; // confidential, all grants, client_secret_basic

  before(async () => {
    op = await start();
    d = await discover(op);
    client = await register(d, { grant_types: ALL_GRANTS, token_endpoint_auth_method: 'client_secret_basic' });
  });

  it('listens on 127.0.0.1 and publishes the endpoints in discovery', () => {
    assert.match(op.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(op.issuer, `http://127.0.0.1:${op.port}`);
    assert.equal(d.issuer, op.issuer);
    for (const endpoint of [
      'token_endpoint',
      'registration_endpoint',
      'device_authorization_endpoint',
      'authorization_endpoint',
      'revocation_endpoint',
      'introspection_endpoint',
      'jwks_uri',
    ] as const) {
      assert.ok(d[endpoint].startsWith(`${op.issuer}/`), `${endpoint}: ${d[endpoint]}`);
    }
    for (const scope of ['openid', 'offline_access', 'storage.read:/', 'storage.modify:/', 'compute.read']) {
      assert.ok(d.scopes_supported.includes(scope), scope);
    }
    for (const grant of ALL_GRANTS) assert.ok(d.grant_types_supported.includes(grant), grant);
    assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(
      [...d.token_endpoint_auth_methods_supported].sort(),
      ['client_secret_basic', 'client_secret_post', 'none'],
    );
  });

  it('registers a client with device, refresh, password and code grants', () => {
    assert.deepEqual([...client.grant_types].sort(), [...ALL_GRANTS].sort());
    assert.ok(client.client_secret);
    assert.ok(client.registration_access_token);
    assert.equal(client.registration_client_uri, `${d.registration_endpoint}/${client.client_id}`);
  });

  describe('device flow', () => {
    it('is pending until approved, then returns a JWT access token and a refresh token', async () => {
      const start = await startDevice(d, client, { scope: 'openid offline_access storage.read:/' });
      assert.match(start.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
      assert.equal(start.interval, 1);
      assert.equal(start.expires_in, 600);
      const poll = { grant_type: DEVICE_CODE_GRANT, device_code: start.device_code };
      await tokenError(d, client, poll, 'authorization_pending');

      await approveDevice({ verificationUri: start.verification_uri, userCode: start.user_code, ...ALICE });
      const tokens = await tokenOk(d, client, poll);
      assert.ok(tokens.refresh_token);
      assert.ok(tokens.id_token);
      assert.equal(tokens.scope, 'openid offline_access storage.read:/');
      const claims = await verifyAccessToken(d, tokens.access_token, DEFAULT_RESOURCE);
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.client_id, client.client_id);
      assert.equal(claims.scope, 'openid offline_access storage.read:/');

      // The device code is single-use.
      await tokenError(d, client, poll, 'invalid_grant');
    });

    it('works with verification_uri_complete (no code typed)', async () => {
      const start = await startDevice(d, client, { scope: 'openid' });
      await approveDevice({ verificationUri: start.verification_uri_complete, userCode: start.user_code, ...ALICE });
      const tokens = await tokenOk(d, client, { grant_type: DEVICE_CODE_GRANT, device_code: start.device_code });
      assert.equal(tokens.refresh_token, undefined, 'no offline_access, no refresh token');
      await verifyAccessToken(d, tokens.access_token, DEFAULT_RESOURCE);
    });

    it('Deny makes the poll return access_denied', async () => {
      const start = await startDevice(d, client, { scope: 'openid offline_access' });
      await approveDevice({ verificationUri: start.verification_uri, userCode: start.user_code, ...ALICE, deny: true });
      await tokenError(d, client, { grant_type: DEVICE_CODE_GRANT, device_code: start.device_code }, 'access_denied');
    });

    it('refuses a wrong password without approving', async () => {
      const start = await startDevice(d, client, { scope: 'openid' });
      await assert.rejects(
        approveDevice({ verificationUri: start.verification_uri, userCode: start.user_code, username: 'alice', password: 'nope' }),
        (err: unknown) => err instanceof DriveError && /sign-in refused/.test(err.message),
      );
      await tokenError(d, client, { grant_type: DEVICE_CODE_GRANT, device_code: start.device_code }, 'authorization_pending');
    });
  });

  describe('refresh and resource indicators', () => {
    let refreshToken: string;

    before(async () => {
      const tokens = await deviceLogin(d, client, { scope: 'openid profile offline_access storage.read:/ storage.modify:/' });
      refreshToken = tokens.refresh_token!;
    });

    it('refresh with a scope subset and a resource not named at login gives a JWT for that resource', async () => {
      const tokens = await tokenOk(d, client, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        scope: 'storage.read:/',
        resource: STORAGE,
      });
      assert.equal(tokens.scope, 'storage.read:/');
      assert.equal(tokens.refresh_token, refreshToken, 'no rotation by default');
      const claims = await verifyAccessToken(d, tokens.access_token, STORAGE);
      assert.equal(claims.aud, STORAGE);
      assert.equal(claims.scope, 'storage.read:/');
    });

    it('accepts a urn resource', async () => {
      const tokens = await tokenOk(d, client, {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        scope: 'openid storage.modify:/',
        resource: 'urn:example:compute',
      });
      const claims = await verifyAccessToken(d, tokens.access_token, 'urn:example:compute');
      assert.equal(claims.scope, 'openid storage.modify:/');
      assert.ok(tokens.id_token, 'openid in the refresh scope');
    });

    it('refresh without resource gives a JWT for the default resource with all scopes', async () => {
      const tokens = await tokenOk(d, client, { grant_type: 'refresh_token', refresh_token: refreshToken });
      const claims = await verifyAccessToken(d, tokens.access_token, DEFAULT_RESOURCE);
      assert.equal(claims.scope, 'openid profile offline_access storage.read:/ storage.modify:/');
      // The earlier refresh with another resource did not change what the plain refresh yields.
      assert.equal(claims.aud, DEFAULT_RESOURCE);
    });

    it('refuses scopes beyond the login and non-https/urn resources', async () => {
      await tokenError(d, client, { grant_type: 'refresh_token', refresh_token: refreshToken, scope: 'compute.read' }, 'invalid_scope');
      await tokenError(
        d,
        client,
        { grant_type: 'refresh_token', refresh_token: refreshToken, resource: 'http://storage.example.org' },
        'invalid_target',
      );
    });

    it('a resource named at login is the audience of later refreshes without resource', async () => {
      const tokens = await deviceLogin(d, client, { scope: 'openid offline_access compute.read', resource: 'https://compute.example.org' });
      await verifyAccessToken(d, tokens.access_token, 'https://compute.example.org');
      const refreshed = await tokenOk(d, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      await verifyAccessToken(d, refreshed.access_token, 'https://compute.example.org');
    });
  });

  describe('password grant', () => {
    it('issues a JWT access token, refresh token and ID token for the right password', async () => {
      const tokens = await tokenOk(d, client, {
        grant_type: 'password',
        ...ALICE,
        scope: 'openid email offline_access storage.read:/',
      });
      assert.equal(tokens.token_type, 'Bearer');
      assert.equal(tokens.expires_in, 60);
      const claims = await verifyAccessToken(d, tokens.access_token, DEFAULT_RESOURCE);
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.scope, 'openid email offline_access storage.read:/');
      const idToken = decodeJwt(tokens.id_token!);
      assert.equal(idToken.aud, client.client_id);
      assert.equal(idToken.email, 'alice@example.org');

      // Its refresh token works like any other, including a new resource.
      const refreshed = await tokenOk(d, client, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        scope: 'storage.read:/',
        resource: STORAGE,
      });
      assert.equal((await verifyAccessToken(d, refreshed.access_token, STORAGE)).scope, 'storage.read:/');
    });

    it('honours resource and omits the refresh token without offline_access', async () => {
      const tokens = await tokenOk(d, client, { grant_type: 'password', ...ALICE, scope: 'storage.read:/', resource: STORAGE });
      assert.equal(tokens.refresh_token, undefined);
      assert.equal(tokens.id_token, undefined);
      assert.equal((await verifyAccessToken(d, tokens.access_token, STORAGE)).scope, 'storage.read:/');
    });

    it('answers invalid_grant for a wrong password or an unknown user', async () => {
      await tokenError(d, client, { grant_type: 'password', username: 'alice', password: 'wrong', scope: 'openid' }, 'invalid_grant');
      await tokenError(d, client, { grant_type: 'password', username: 'bob', password: DEFAULT_PASSWORD, scope: 'openid' }, 'invalid_grant');
    });

    it('answers invalid_client for a wrong client secret and invalid_scope for unknown scopes', async () => {
      await tokenError(d, { ...client, client_secret: 'wrong' }, { grant_type: 'password', ...ALICE }, 'invalid_client');
      await tokenError(d, client, { grant_type: 'password', ...ALICE, scope: 'openid admin' }, 'invalid_scope');
    });
  });

  describe('authorization code flow with PKCE', () => {
    it('native public client, loopback redirect on another port', async () => {
      const native = await register(d, {
        application_type: 'native',
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1:4242/'],
      });
      const { verifier, challenge } = pkce();
      const redirectUri = 'http://127.0.0.1:51004/';
      const location = await authorizeCode({
        authorizationUrl: authorizationUrl(d, {
          client_id: native.client_id,
          redirect_uri: redirectUri,
          scope: 'openid offline_access storage.read:/',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          state: 'state-1',
        }),
        ...ALICE,
      });
      const callback = new URL(location);
      assert.equal(callback.origin + callback.pathname, redirectUri);
      assert.equal(callback.searchParams.get('state'), 'state-1');
      assert.equal(callback.searchParams.get('iss'), op.issuer);
      const code = callback.searchParams.get('code');
      assert.ok(code);

      await tokenError(d, native, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: pkce().verifier }, 'invalid_grant');
      // A failed verifier burns the code (single use), so run the flow again for the real exchange.
      const again = await authorizeCode({
        authorizationUrl: authorizationUrl(d, {
          client_id: native.client_id,
          redirect_uri: redirectUri,
          scope: 'openid offline_access storage.read:/',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          state: 'state-2',
        }),
        ...ALICE,
      });
      const tokens = await tokenOk(d, native, {
        grant_type: 'authorization_code',
        code: new URL(again).searchParams.get('code')!,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });
      assert.ok(tokens.refresh_token, 'offline_access without prompt=consent still yields a refresh token');
      assert.equal((await verifyAccessToken(d, tokens.access_token, DEFAULT_RESOURCE)).scope, 'openid offline_access storage.read:/');
    });

    it('web client with client_secret_post, localhost redirect on another port', async () => {
      const web = await register(d, {
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'client_secret_post',
        redirect_uris: ['http://localhost:8080/'],
      });
      const { verifier, challenge } = pkce();
      const redirectUri = 'http://localhost:43985/';
      const location = await authorizeCode({
        authorizationUrl: authorizationUrl(d, {
          client_id: web.client_id,
          redirect_uri: redirectUri,
          scope: 'openid offline_access',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          state: 'web',
        }),
        ...ALICE,
      });
      assert.ok(location.startsWith(`${redirectUri}?`), location);
      const tokens = await tokenOk(d, web, {
        grant_type: 'authorization_code',
        code: new URL(location).searchParams.get('code')!,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });
      assert.ok(tokens.refresh_token);
      await verifyAccessToken(d, tokens.access_token, DEFAULT_RESOURCE);
    });

    it('Deny redirects with error=access_denied; PKCE is required', async () => {
      const { challenge } = pkce();
      const base = { client_id: client.client_id, redirect_uri: 'http://127.0.0.1:4242/', scope: 'openid', state: 's' };
      const denied = new URL(
        await authorizeCode({
          authorizationUrl: authorizationUrl(d, { ...base, code_challenge: challenge, code_challenge_method: 'S256' }),
          ...ALICE,
          deny: true,
        }),
      );
      assert.equal(denied.searchParams.get('error'), 'access_denied');
      assert.equal(denied.searchParams.get('state'), 's');
      assert.equal(denied.searchParams.get('code'), null);

      const noPkce = new URL(await authorizeCode({ authorizationUrl: authorizationUrl(d, base), ...ALICE }));
      assert.equal(noPkce.searchParams.get('error'), 'invalid_request');
    });

    it('a redirect_uri on another host is refused at the OP, not redirected', async () => {
      const { challenge } = pkce();
      await assert.rejects(
        authorizeCode({
          authorizationUrl: authorizationUrl(d, {
            client_id: client.client_id,
            redirect_uri: 'http://127.0.0.2:4242/',
            scope: 'openid',
            code_challenge: challenge,
            code_challenge_method: 'S256',
          }),
          ...ALICE,
        }),
        (err: unknown) => err instanceof DriveError && /redirect_uri/.test(err.message),
      );
    });
  });

  describe('revocation and introspection', () => {
    it('a revoked refresh token is inactive and refused with invalid_grant', async () => {
      const tokens = await tokenOk(d, client, { grant_type: 'password', ...ALICE, scope: 'openid offline_access' });
      const rt = tokens.refresh_token!;
      const introspect = async () => {
        const res = await post(d.introspection_endpoint, client, { token: rt, token_type_hint: 'refresh_token' });
        assert.equal(res.status, 200);
        return (await res.json()) as { active: boolean; sub?: string; scope?: string };
      };
      const before = await introspect();
      assert.equal(before.active, true);
      assert.equal(before.sub, 'alice');
      assert.equal(before.scope, 'openid offline_access');

      const res = await post(d.revocation_endpoint, client, { token: rt, token_type_hint: 'refresh_token' });
      assert.equal(res.status, 200);
      assert.equal((await introspect()).active, false);
      await tokenError(d, client, { grant_type: 'refresh_token', refresh_token: rt }, 'invalid_grant');
    });
  });

  describe('stats', () => {
    it('counts requests per endpoint and per grant_type, exactly', async () => {
      op.resetStats();
      const zero = op.stats();
      assert.deepEqual(zero.token, {});
      assert.equal(zero.registration, 0);
      assert.equal(zero.introspection, 0);

      const tokens = await tokenOk(d, client, { grant_type: 'password', ...ALICE, scope: 'openid offline_access' });
      await tokenOk(d, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      await tokenOk(d, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      await tokenError(d, client, { grant_type: 'password', username: 'alice', password: 'wrong' }, 'invalid_grant');
      await post(d.revocation_endpoint, client, { token: tokens.refresh_token! });

      const s = op.stats();
      assert.deepEqual(s.token, { password: 2, refresh_token: 2 });
      assert.equal(s.revocation, 1);
      assert.equal(s.registration, 0);
      assert.equal(s.introspection, 0);
      assert.equal(s.device_authorization, 0);

      // The same counters over HTTP, for an OP in another process; reading them is not counted.
      const res = await fetch(`${op.issuer}/__stats`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), s);
      assert.equal((await fetch(`${op.issuer}/__stats/reset`, { method: 'POST' })).status, 204);
      assert.deepEqual(op.stats().token, {});
      assert.equal(op.stats().revocation, 0);
    });

    it('counts the device flow', async () => {
      op.resetStats();
      await deviceLogin(d, client, { scope: 'openid' });
      const s = op.stats();
      assert.equal(s.device_authorization, 1);
      assert.deepEqual(s.token, { [DEVICE_CODE_GRANT]: 1 });
      assert.ok(s.code_verification >= 2 && s.interaction >= 3, JSON.stringify(s));
    });
  });

  describe('access token lifetime', () => {
    it('setAccessTokenTtl changes expires_in and exp', async () => {
      op.setAccessTokenTtl(7);
      try {
        const tokens = await tokenOk(d, client, { grant_type: 'password', ...ALICE, scope: 'openid offline_access' });
        assert.equal(tokens.expires_in, 7);
        const claims = decodeJwt(tokens.access_token!);
        assert.equal(claims.exp! - claims.iat!, 7);
        const refreshed = await tokenOk(d, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
        assert.equal(refreshed.expires_in, 7);
      } finally {
        op.setAccessTokenTtl(60);
      }
      assert.throws(() => op.setAccessTokenTtl(0), TypeError);
    });
  });

  describe('registration management', () => {
    it('deleting the client via registration_client_uri makes it unknown', async () => {
      const doomed = await register(d, { grant_types: ['password', 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic' });
      await tokenOk(d, doomed, { grant_type: 'password', ...ALICE });
      const auth = { authorization: `Bearer ${doomed.registration_access_token}` };

      const read = await fetch(doomed.registration_client_uri, { headers: auth });
      assert.equal(read.status, 200);
      assert.equal(((await read.json()) as RegisteredClient).client_id, doomed.client_id);

      const del = await fetch(doomed.registration_client_uri, { method: 'DELETE', headers: auth });
      assert.equal(del.status, 204);
      assert.equal((await fetch(doomed.registration_client_uri, { headers: auth })).status, 401);
      await tokenError(d, doomed, { grant_type: 'password', ...ALICE }, 'invalid_client');
    });
  });
});

describe('dev OP with refresh token rotation', () => {
  it('returns a new refresh token; reusing the old one fails and revokes the whole grant', async () => {
    const op = await start({ rotateRefreshTokens: true, accessTokenTtl: 30 });
    const d = await discover(op);
    const client = await register(d, { grant_types: ALL_GRANTS, token_endpoint_auth_method: 'client_secret_basic' });
    const first = await tokenOk(d, client, { grant_type: 'password', ...ALICE, scope: 'openid offline_access storage.read:/' });

    const second = await tokenOk(d, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    assert.ok(second.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(second.expires_in, 30);

    // A rotated-in token keeps working and rotates again.
    const third = await tokenOk(d, client, { grant_type: 'refresh_token', refresh_token: second.refresh_token! });
    assert.notEqual(third.refresh_token, second.refresh_token);

    // Replay of a consumed token: invalid_grant (oidc-provider's description is the generic "grant
    // request is invalid"), and oidc-provider revokes the grant with every token of it, so the
    // newest refresh token dies too. Clients must store the new token before using it.
    await tokenError(d, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token! }, 'invalid_grant');
    await tokenError(d, client, { grant_type: 'refresh_token', refresh_token: third.refresh_token! }, 'invalid_grant');
  });
});

describe('dev OP down and back', () => {
  it('pause refuses connections on its port; resume serves again with the same clients and grants', async () => {
    const op = await start({});
    const d = await discover(op);
    const client = await register(d, { grant_types: ALL_GRANTS, token_endpoint_auth_method: 'client_secret_basic' });
    const first = await tokenOk(d, client, { grant_type: 'password', ...ALICE, scope: 'openid offline_access' });
    await op.pause();
    // A pooled keep-alive connection fails first ("other side closed"), a new one is refused.
    await assert.rejects(fetch(`${op.issuer}/.well-known/openid-configuration`), TypeError);
    await assert.rejects(fetch(`${op.issuer}/.well-known/openid-configuration`), (e: unknown) => (e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED');
    await op.resume();
    const again = await tokenOk(d, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    assert.ok(again.access_token);
  });
});

// ---------------------------------------------------------------------------------------------
// The standalone processes

const here = fileURLToPath(new URL('.', import.meta.url));

function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', `${here}${script}`, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function firstLine(child: ChildProcess): Promise<string> {
  let buffered = '';
  for await (const chunk of child.stdout!) {
    buffered += String(chunk);
    const nl = buffered.indexOf('\n');
    if (nl !== -1) return buffered.slice(0, nl);
  }
  throw new Error(`process exited without output (code ${child.exitCode})`);
}

async function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += String(c)));
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  return { code: child.exitCode, stderr };
}

describe('cli.ts and approve-cli.ts', () => {
  it('serves the OP out of process until SIGTERM; approve-cli approves a device login', async () => {
    const server = run('cli.ts', ['--at-ttl', '42', '--device-interval', '3']);
    const serverExit = exitOf(server);
    try {
      const ready = JSON.parse(await firstLine(server)) as { issuer: string; pid: number };
      assert.match(ready.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(ready.pid, server.pid);

      const d = (await (await fetch(`${ready.issuer}/.well-known/openid-configuration`)).json()) as Discovery;
      const client = await register(d, { grant_types: ALL_GRANTS, token_endpoint_auth_method: 'client_secret_basic' });
      const start = await startDevice(d, client, { scope: 'openid offline_access' });
      assert.equal(start.interval, 3);

      const approver = run('approve-cli.ts', ['--issuer', ready.issuer, '--user-code', start.user_code, '--password-env', 'DEV_OP_TEST_PW'], {
        DEV_OP_TEST_PW: DEFAULT_PASSWORD,
      });
      const approved = await exitOf(approver);
      assert.equal(approved.code, 0, approved.stderr);

      const tokens = await tokenOk(d, client, { grant_type: DEVICE_CODE_GRANT, device_code: start.device_code });
      assert.equal(tokens.expires_in, 42);
      assert.ok(tokens.refresh_token);

      const stats = (await (await fetch(`${ready.issuer}/__stats`)).json()) as { token: Record<string, number> };
      assert.deepEqual(stats.token, { [DEVICE_CODE_GRANT]: 1 });
    } finally {
      server.kill('SIGTERM');
    }
    const { code } = await serverExit;
    assert.equal(code, 0);
  });

  it('rejects bad usage with exit code 2 and never takes a password on argv', async () => {
    for (const [script, args] of [
      ['cli.ts', ['--port', 'x']],
      ['approve-cli.ts', ['--issuer', 'http://127.0.0.1:1', '--user-code', 'ABCD-EFGH', '--password', 'secret']],
    ] as const) {
      const { code, stderr } = await exitOf(run(script, [...args]));
      assert.equal(code, 2, stderr);
    }
  });
});
