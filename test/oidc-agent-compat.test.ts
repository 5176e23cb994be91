/**
 * Debian's oidc-token (liboidc-agent 4.2.6, which always speaks the encrypted protocol) against our
 * agent through OIDC_SOCK.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { request } from '@token-agent/protocol';
import { createServer } from 'node:net';
import { approveDevice, authorizeCode } from '../scripts/dev-op/drive.ts';
import { World, collect, jwtPayload, registerOpClient, startOp, DEFAULT_PASSWORD, DEFAULT_USERNAME } from './harness.ts';

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

describe('oidc-gen (Debian oidc-agent-cli) against token-agent', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    assert.ok(existsSync('/usr/bin/oidc-gen'), '/usr/bin/oidc-gen is missing: install Debian\'s oidc-agent-cli (npm test does)');
    op = await startOp();
    world = new World();
    await world.startAgent();
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('oidc-gen --flow=device: gen, then its blocking `device` request, get the account (file by oidc-gen, loaded in our agent)', async () => {
    const client = await registerOpClient(op, ['http://localhost:4242'], ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', 'authorization_code']);
    const env = { PATH: world.env['PATH'], HOME: world.env['HOME'], OIDC_CONFIG_DIR: world.configDir, OIDC_SOCK: world.socket, OIDC_ENCRYPTION_PW: 'pw-viagen-1' };
    const child = spawn(
      '/usr/bin/oidc-gen',
      ['viagen', `--issuer=${op.issuer}/`, '--flow=device', `--client-id=${client.client_id}`, `--client-secret=${client.client_secret}`,
        '--scope=openid profile offline_access', '--pw-env', '--confirm-default', '--prompt=none', '--no-url-call'],
      { env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let shown = '';
    const codeShown = new Promise<{ uri: string; code: string }>((resolve) => {
      const look = (d: Buffer) => {
        shown += d.toString();
        const uri = /(http:\/\/127\.0\.0\.1:\d+\/device)\b/.exec(shown)?.[1];
        const code = /enter the code: ([A-Z]{4}-[A-Z]{4})/.exec(shown)?.[1];
        if (uri && code) resolve({ uri, code });
      };
      child.stdout.on('data', look);
      child.stderr.on('data', look);
    });
    const done = collect(child);
    const { uri, code } = await codeShown;
    await approveDevice({ verificationUri: uri, userCode: code, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD });
    const r = await done;
    assert.equal(r.code, 0, shown);
    assert.match(shown, /Everything setup correctly/);
    // oidc-gen wrote the file itself (its encryption); our agent loaded the account.
    assert.ok(existsSync(`${world.configDir}/viagen`));
    const tok = await world.run('token-get', ['viagen']);
    assert.equal(tok.code, 0, tok.stderr);
    assert.equal(jwtPayload(tok.stdout.trim())['client_id'], client.client_id);
    await world.run('token-add', ['-r', 'viagen']);
    const add = await world.run('token-add', ['viagen', '--pw-env'], { OIDC_ENCRYPTION_PW: 'pw-viagen-1' });
    assert.equal(add.code, 0, add.stderr);
  });

  test("oidc-gen --flow=code with a client registered for http://localhost:PORT: that exact redirect_uri (no '/' added), account created", async () => {
    // A free port for the client's redirect URI (oidc-gen's are http://localhost:PORT, no path).
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const redirectUri = `http://localhost:${port}`;
    const client = await registerOpClient(op, [redirectUri], ['authorization_code', 'refresh_token'], { application_type: 'native' });
    const env = { PATH: world.env['PATH'], HOME: world.env['HOME'], OIDC_CONFIG_DIR: world.configDir, OIDC_SOCK: world.socket, OIDC_ENCRYPTION_PW: 'pw-viacode-1' };
    const child = spawn(
      '/usr/bin/oidc-gen',
      ['viacode', `--issuer=${op.issuer}/`, '--flow=code', `--client-id=${client.client_id}`, `--client-secret=${client.client_secret}`, `--redirect-uri=${redirectUri}`,
        '--scope=openid profile offline_access', '--pw-env', '--confirm-default', '--prompt=none', '--no-url-call'],
      { env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let shown = '';
    const urlShown = new Promise<string>((resolve) => {
      const look = (d: Buffer) => {
        shown += d.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)/.exec(shown);
        if (m) resolve(m[1]!);
      };
      child.stdout.on('data', look);
      child.stderr.on('data', look);
    });
    const done = collect(child);
    const url = new URL(await urlShown);
    assert.equal(url.searchParams.get('redirect_uri'), redirectUri, 'sent exactly as registered');
    const callback = await authorizeCode({ authorizationUrl: url.href, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD });
    assert.ok(callback.startsWith(`${redirectUri}/?`) || callback.startsWith(`${redirectUri}?`), callback);
    // The browser's step: the agent's listener on that port takes the callback.
    const page = await fetch(callback.replace('//localhost:', '//127.0.0.1:'));
    assert.equal(page.status, 200);
    const r = await done;
    assert.equal(r.code, 0, shown);
    assert.match(shown, /Everything setup correctly/);
    const tok = await world.run('token-get', ['viacode']);
    assert.equal(tok.code, 0, tok.stderr);
    assert.equal(jwtPayload(tok.stdout.trim())['client_id'], client.client_id);
  });

  test('a `device` request for a code no flow has: a failure saying so, at once', async () => {
    await assert.rejects(
      request('device', { oidc_device: { user_code: 'NONE-SUCH', verification_uri: 'https://x/' } }, { socketPath: world.socket, timeoutMs: 5000 }),
      /no device flow in progress for this code/,
    );
  });
});
