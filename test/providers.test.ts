/**
 * The provider list end to end: an oidc-agent issuer.config in the user's config directory gives
 * token-gen --pub its public client; a malformed one is a one-line error naming file and field.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, World, jwtPayload, startOp } from './harness.ts';

const ENC = 'providers test pw';

describe('provider list (issuer.config)', () => {
  let op: DevOp;
  let world: World;
  let pubClientId: string;
  before(async () => {
    op = await startOp();
    world = new World();
    await world.startAgent();
    // A public client, registered once by "the issuer's admins" (no secret).
    const res = await fetch(`${op.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'public client for oidc-agent-like tools',
        grant_types: ['password', 'refresh_token', 'authorization_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1:4242/'],
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        scope: 'openid profile offline_access storage.read:/',
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    pubClientId = ((await res.json()) as { client_id: string }).client_id;
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  function writeIssuerConfig(text: string): void {
    mkdirSync(world.configDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(world.configDir, 'issuer.config'), text);
  }

  function gen(name: string, extra: string[]) {
    return world.run(
      'token-gen',
      [name, '--issuer', `${op.issuer}/`, '--pub', '--flow', 'password', '--username', DEFAULT_USERNAME, '--op-password-env', 'OP_PW', '--pw-env', 'ENC_PW', ...extra],
      { OP_PW: DEFAULT_PASSWORD, ENC_PW: ENC },
    );
  }

  test('--pub uses the public client of issuer.config (no registration); --scope max means its scopes', async () => {
    writeIssuerConfig(
      JSON.stringify([
        {
          issuer: op.issuer,
          pubclient: { client_id: pubClientId, scope: 'openid offline_access storage.read:/', flow: ['code', 'device'] },
          default_account: 'pub',
          accounts: ['pub'],
        },
      ]),
    );
    op.resetStats();
    const r = await gen('pub', ['-s', 'max']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(op.stats().registration, 0, 'no client registered');
    const printed = await world.run('token-gen', ['pub', '--print', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    const cfg = JSON.parse(printed.stdout) as Record<string, string>;
    assert.equal(cfg['client_id'], pubClientId);
    assert.equal(cfg['auth_scope'], 'openid offline_access storage.read:/');
    const got = await world.run('token-get', ['pub', '-s', 'storage.read:/']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(jwtPayload(got.stdout.trim())['client_id'], pubClientId);
  });

  test('--pub for an issuer without a public client says what to do', async () => {
    writeIssuerConfig(JSON.stringify({ issuer: 'https://elsewhere.example', pubclient: { client_id: 'x' } }));
    const r = await gen('nopub', []);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^token-gen: no public client is known for http:\/\/127\.0\.0\.1:\d+\/: add one to .*issuer\.config .*--client-id\n$/);
  });

  test('a malformed issuer.config is a one-line error naming the file and the field', async () => {
    writeIssuerConfig(JSON.stringify([{ issuer: op.issuer }, { issuer: 'https://b.example', pubclient: { client_id: 42 } }]));
    const r = await gen('bad', []);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `token-gen: ${join(world.configDir, 'issuer.config')}: "[1].pubclient.client_id" must be a string\n`);
  });

  test('without --issuer and without a terminal, token-gen asks for --issuer (no list on a pipe)', async () => {
    const r = await world.run('token-gen', ['noissuer', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--issuer URL is required/);
  });
});
