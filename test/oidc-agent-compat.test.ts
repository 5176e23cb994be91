/**
 * Debian's oidc-token (liboidc-agent 4.2.6, which always speaks the encrypted protocol) against our
 * agent through OIDC_SOCK.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, collect, jwtPayload, startOp, DEFAULT_USERNAME } from './harness.ts';

const OIDC_TOKEN = '/usr/bin/oidc-token';

function oidcToken(world: World, args: string[]) {
  // Only OIDC_SOCK: oidc-token knows nothing of TOKEN_AGENT_SOCK.
  const env = { PATH: world.env['PATH'], HOME: world.env['HOME'], OIDC_SOCK: world.socket };
  return collect(spawn(OIDC_TOKEN, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
}

describe('oidc-token (Debian oidc-agent-cli) against token-agent', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    assert.ok(existsSync(OIDC_TOKEN), `${OIDC_TOKEN} is missing: install Debian's oidc-agent-cli (npm test does)`);
    op = await startOp();
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'compat', 'pw-compat-1');
  });
  after(async () => {
    await world.cleanup();
    await op?.close();
  });

  test('oidc-token NAME prints the token our agent serves (encrypted exchange)', async () => {
    const r = await oidcToken(world, ['compat']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.equal(jwtPayload(token)['sub'], DEFAULT_USERNAME);
    const ours = await world.run('token-get', ['compat']);
    assert.equal(ours.stdout.trim(), token, 'the same cached token');
  });

  test('oidc-token with scope and audience', async () => {
    const r = await oidcToken(world, ['-s', 'openid', '--aud=https://storage.example.org', 'compat']);
    assert.equal(r.code, 0, r.stderr);
    const p = jwtPayload(r.stdout.trim());
    assert.equal(p['aud'], 'https://storage.example.org');
    assert.equal(p['scope'], 'openid');
  });

  test('oidc-token -c prints the env exports with the expiry of that token', async () => {
    const r = await oidcToken(world, ['-c', 'compat']);
    assert.equal(r.code, 0, r.stderr);
    const at = /OIDC_AT=([^;\s]+)/.exec(r.stdout)![1]!;
    const exp = Number(/OIDC_EXP=(\d+)/.exec(r.stdout)![1]);
    assert.equal(exp, jwtPayload(at)['exp']);
    assert.match(r.stdout, new RegExp(`OIDC_ISS=${op.issuer.replace(/\./g, '\\.')}`));
  });

  test('oidc-token for an unknown account prints oidc-agent\'s error text', async () => {
    const r = await oidcToken(world, ['nobody']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /No account configured with that short name/);
  });
});
