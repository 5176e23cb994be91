/**
 * Accounts portable both ways between token-agent and the real oidc-agent (Debian 4.2.6), against
 * the dev OP on http://127.0.0.1 (4.2.6 accepts plain http there; it builds the discovery URL as
 * issuer_url + ".well-known/openid-configuration", so files hold the issuer slash-terminated).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, alive, collect, jwtPayload, registerOpClient, startOp, waitFor, DEFAULT_PASSWORD, DEFAULT_USERNAME } from './harness.ts';

const OIDC_AGENT = '/usr/bin/oidc-agent';

describe('accounts portable between token-agent and oidc-agent 4.2.6', () => {
  let op: DevOp;
  let world: World;
  let realSock: string;
  let realPid: number | undefined;
  /** The environment of oidc-agent's own tools: its socket, the shared config dir. */
  const realEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: world.env['PATH'],
    HOME: world.env['HOME'],
    OIDC_CONFIG_DIR: world.configDir,
    OIDC_SOCK: realSock,
    ...extra,
  });
  const real = (bin: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
    collect(spawn(`/usr/bin/${bin}`, args, { env: realEnv(extra), stdio: ['pipe', 'pipe', 'pipe'] }));

  before(async () => {
    assert.ok(existsSync(OIDC_AGENT), `${OIDC_AGENT} is missing: install Debian's oidc-agent-cli (npm test does)`);
    op = await startOp();
    world = new World();
    await world.startAgent();
    realSock = join(world.root, 'oidc-agent.sock');
    const r = await collect(spawn(OIDC_AGENT, ['--json', '-a', realSock], { env: realEnv(), stdio: ['pipe', 'pipe', 'pipe'] }));
    assert.equal(r.code, 0, r.stderr);
    realPid = Number((JSON.parse(r.stdout) as { dpid: string }).dpid);
  });
  after(async () => {
    if (realPid !== undefined && alive(realPid)) {
      process.kill(realPid, 'SIGTERM');
      await waitFor(() => !alive(realPid!), 5000, 'oidc-agent to exit');
    }
    await world.cleanup();
    await op?.close();
  });

  test('an account created by token-gen loads into oidc-agent (oidc-add) and yields tokens (oidc-token)', async () => {
    await world.createAccount(op, 'ours', 'pw-ours-1');
    const add = await real('oidc-add', ['--pw-env', 'ours'], { OIDC_ENCRYPTION_PW: 'pw-ours-1' });
    assert.equal(add.code, 0, add.stderr + add.stdout);
    const tok = await real('oidc-token', ['ours']);
    assert.equal(tok.code, 0, tok.stderr);
    assert.equal(jwtPayload(tok.stdout.trim())['sub'], DEFAULT_USERNAME);
    // And our agent still reads the file as before: the exact issuer, no trailing slash added.
    const env = await world.run('token-get', ['ours', '-i']);
    assert.equal(env.code, 0, env.stderr);
    assert.equal(env.stdout.trim(), op.issuer);
  });

  test('an account created by oidc-gen (non-interactive) loads with token-add and yields tokens', async () => {
    // The client is registered first and handed over with --client-id/--client-secret.
    const client = await registerOpClient(op, ['http://localhost:4242'], ['password', 'refresh_token', 'authorization_code']);
    const gen = await real(
      'oidc-gen',
      [
        'theirs', `--issuer=${op.issuer}/`, '--flow=password', `--op-username=${DEFAULT_USERNAME}`, `--op-password=${DEFAULT_PASSWORD}`,
        `--client-id=${client.client_id}`, `--client-secret=${client.client_secret}`, '--scope=openid profile offline_access',
        '--pw-env', '--confirm-default', '--prompt=none', '--no-url-call',
      ],
      { OIDC_ENCRYPTION_PW: 'pw-theirs-1' },
    );
    assert.equal(gen.code, 0, gen.stderr + gen.stdout);
    assert.ok(existsSync(join(world.configDir, 'theirs')), gen.stdout);
    const add = await world.run('token-add', ['theirs', '--pw-env'], { OIDC_ENCRYPTION_PW: 'pw-theirs-1' });
    assert.equal(add.code, 0, add.stderr);
    const tok = await world.run('token-get', ['theirs']);
    assert.equal(tok.code, 0, tok.stderr);
    const p = jwtPayload(tok.stdout.trim());
    assert.equal(p['sub'], DEFAULT_USERNAME);
    assert.equal(p['client_id'], client.client_id);
    // oidc-gen's issuer.config (4.x line format) does not upset token-gen --list.
    const list = await world.run('token-gen', ['--list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /theirs/);
  });
});
