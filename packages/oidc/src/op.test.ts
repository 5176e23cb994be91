// The happy paths against a real OP: panva's oidc-provider on 127.0.0.1 (scripts/dev-op).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, DEVICE_CODE_GRANT, startDevOp, type DevOp } from '../../../scripts/dev-op/index.ts';
import { approveDevice } from '../../../scripts/dev-op/drive.ts';
import { createClient, type OidcClient } from './client.js';
import {
  pollDeviceAuthorization,
  startDeviceAuthorization,
  type DeviceAuthorization,
} from './device-flow.js';
import { discover } from './discovery.js';
import { rejectsWith } from '../test-support/fault-server.js';
import { passwordGrant } from './password-flow.js';
import { refreshAccessToken } from './refresh.js';
import { deleteClient, registerClient, type RegisteredClient } from './registration.js';
import { revokeToken } from './revoke.js';
import type { TokenSet } from './tokens.js';

const SCOPE = 'openid offline_access profile storage.read:/ storage.modify:/';
const GRANTS = ['refresh_token', DEVICE_CODE_GRANT, 'password'];
/** The interval the dev OP advertises; the poller must wait that long, never less. */
const INTERVAL = 2;

function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}


async function register(op: DevOp): Promise<{ reg: RegisteredClient; client: OidcClient }> {
  const reg = await registerClient(op.issuer, {
    clientName: 'token-agent oidc test',
    scope: SCOPE,
    grantTypes: GRANTS,
    allowInsecureLoopback: true,
  });
  const client = createClient({
    issuer: op.issuer,
    clientId: reg.client_id,
    clientSecret: reg.client_secret,
    allowInsecureLoopback: true,
  });
  return { reg, client };
}

/** Starts a device flow, approves (or denies) it like a user in a browser, and polls. */
async function deviceLogin(
  client: OidcClient,
  scope: string,
  deny = false,
): Promise<{ device: DeviceAuthorization; tokens: Promise<TokenSet> }> {
  const device = await startDeviceAuthorization(client, { scope });
  const tokens = pollDeviceAuthorization(client, device);
  tokens.catch(() => {}); // observed by the caller; avoid an unhandled rejection meanwhile
  await approveDevice({
    verificationUri: device.verification_uri,
    userCode: device.user_code,
    username: DEFAULT_USERNAME,
    password: DEFAULT_PASSWORD,
    deny,
  });
  return { device, tokens };
}

describe('against the dev OP', { concurrency: true }, () => {
  let op: DevOp;
  let rotating: DevOp;
  before(async () => {
    [op, rotating] = await Promise.all([
      startDevOp({ quiet: true, devicePollInterval: INTERVAL }),
      startDevOp({ quiet: true, rotateRefreshTokens: true }),
    ]);
  });
  after(() => Promise.all([op?.close(), rotating?.close()]));

  it('discovery → registration → device flow → scoped refresh with resource → revoke → invalid_grant', async () => {
    const server = await discover(op.issuer, { allowInsecureLoopback: true });
    assert.equal(server.issuer, op.issuer);
    assert.equal(typeof server.metadata.device_authorization_endpoint, 'string');

    const { reg, client } = await register(op);
    assert.ok(reg.client_id);
    assert.ok(reg.client_secret);
    assert.ok(reg.registration_client_uri && reg.registration_access_token);

    const t0 = Date.now();
    const { device, tokens: pending } = await deviceLogin(client, SCOPE);
    assert.equal(device.interval, INTERVAL, 'the interval comes from the OP');
    const tokens = await pending;
    assert.ok(Date.now() - t0 >= INTERVAL * 1000 - 50, 'did not poll before the interval');
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
    assert.ok(tokens.id_token);
    assert.equal(tokens.token_type, 'Bearer');
    assert.ok(tokens.expires_at > Date.now() / 1000 + 30);
    assert.equal(claims(tokens.access_token)['aud'], 'urn:token-agent:dev-op:default');

    const rt = tokens.refresh_token;
    const narrowed = await refreshAccessToken(client, rt, {
      scope: ['storage.read:/'],
      audience: ['https://xrootd.example.org'],
    });
    const at = claims(narrowed.access_token);
    assert.equal(at['aud'], 'https://xrootd.example.org');
    assert.equal(at['scope'], 'storage.read:/');
    assert.equal(narrowed.expires_at, at['exp']);

    const plain = await refreshAccessToken(client, rt);
    assert.match(String(claims(plain.access_token)['scope']), /storage\.modify:\//, 'no scope sent → full scope');

    await revokeToken(client, rt, 'refresh_token');
    const err = await rejectsWith(refreshAccessToken(client, rt), 'OIDC_INVALID_GRANT');
    assert.equal(err.error, 'invalid_grant');
    assert.ok(!err.message.includes(rt));

    await deleteClient(reg.registration_client_uri!, reg.registration_access_token!, { allowInsecureLoopback: true });
    const gone = await rejectsWith(passwordGrant(client, { username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }), 'OIDC_OP_ERROR');
    assert.equal(gone.error, 'invalid_client');
  });

  it('password grant; wrong password → OIDC_INVALID_GRANT', async () => {
    const { client } = await register(op);
    const t = await passwordGrant(client, {
      username: DEFAULT_USERNAME,
      password: DEFAULT_PASSWORD,
      scope: 'openid offline_access storage.read:/',
      resource: 'https://storage.example.org',
    });
    assert.ok(t.refresh_token);
    assert.equal(claims(t.access_token)['aud'], 'https://storage.example.org');
    const err = await rejectsWith(
      passwordGrant(client, { username: DEFAULT_USERNAME, password: 'not-the-password' }),
      'OIDC_INVALID_GRANT',
    );
    assert.ok(!err.message.includes('not-the-password'));
  });

  it('refresh token rotation: a new refresh token, the old one is dead', async () => {
    const { client } = await register(rotating);
    const t = await passwordGrant(client, { username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD, scope: 'openid offline_access' });
    const next = await refreshAccessToken(client, t.refresh_token!);
    assert.ok(next.refresh_token && next.refresh_token !== t.refresh_token);
    await rejectsWith(refreshAccessToken(client, t.refresh_token!), 'OIDC_INVALID_GRANT');
  });

  it('device flow denied by the user → OIDC_ACCESS_DENIED', async () => {
    const { client } = await register(op);
    const { tokens } = await deviceLogin(client, 'openid', true);
    await rejectsWith(tokens, 'OIDC_ACCESS_DENIED');
  });

  it('registration asking for a grant the OP does not know → OIDC_REGISTRATION_REFUSED', async () => {
    const err = await rejectsWith(
      registerClient(op.issuer, { clientName: 'x', grantTypes: ['urn:example:nope'], allowInsecureLoopback: true }),
      'OIDC_REGISTRATION_REFUSED',
    );
    assert.match(err.message, /--client-id/);
  });
});
