/**
 * The working core end to end: real agent process, real CLIs, real OP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { request } from '@token-agent/protocol';
import { approveDevice } from '../scripts/dev-op/drive.ts';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, World, collect, jwtPayload, refreshAtOp, startOp, waitFor, opAndAgent, stopAll } from './harness.ts';

const ENC = 'correct horse battery staple';

describe('device flow account', () => {
  let op: DevOp;
  let world: World;
  before(async () => ({ op, world } = await opAndAgent()));
  after(() => stopAll(world, op));

  test('token-gen --flow device: the user approves at the OP; token-get prints a JWT with the requested scope and aud', async () => {
    const gen = world.spawn('token-gen', ['dev', '--issuer', op.issuer, '--flow', 'device', '-s', 'openid', '-s', 'profile', '-s', 'storage.read:/', '--pw-env', 'ENC_PW'], {
      ENC_PW: ENC,
    });
    const done = collect(gen);
    // token-gen prints the verification URI and the user code on stderr.
    let err = '';
    gen.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => /enter the code: (\S+)/.test(err), 20_000, 'the user code');
    const userCode = /enter the code: (\S+)/.exec(err)![1]!;
    const uri = /open (\S+) and enter/.exec(err)![1]!;
    assert.match(uri, new RegExp(`^${op.issuer}/`));
    await approveDevice({ verificationUri: uri, userCode, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD });
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Account 'dev' created/);
    assert.equal(op.stats().token['urn:ietf:params:oauth:grant-type:device_code'] !== undefined, true);

    const got = await world.run('token-get', ['dev', '-s', 'storage.read:/', '--aud', 'https://storage.example.org']);
    assert.equal(got.code, 0, got.stderr);
    const token = got.stdout.trim();
    const discovery = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
      issuer: op.issuer,
      audience: 'https://storage.example.org',
    });
    assert.equal(payload['scope'], 'storage.read:/');
    assert.equal(payload['sub'], DEFAULT_USERNAME);
  });
});

describe('password flow account: cache, force, min-valid, single flight, restart, delete', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: 120 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'pw', ENC);
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('the account file is 0600 in a 0700 directory and holds no plaintext secret', () => {
    const file = join(world.configDir, 'pw');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(world.configDir).mode & 0o777, 0o700);
    const text = readFileSync(file, 'utf8');
    assert.equal(text.split('\n').length, 7);
    assert.ok(!text.includes('refresh_token') && !text.includes(DEFAULT_USERNAME));
  });

  test('a second token-get within the validity window is served from the cache', async () => {
    const first = await world.run('token-get', ['pw']);
    assert.equal(first.code, 0, first.stderr);
    op.resetStats();
    const second = await world.run('token-get', ['pw']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout, 'same token');
    assert.equal(op.stats().token['refresh_token'] ?? 0, 0, 'the OP token endpoint was not hit');
  });

  test('-f forces a new token; -t longer than the remaining lifetime forces a refresh', async () => {
    const cached = (await world.run('token-get', ['pw'])).stdout;
    op.resetStats();
    const forced = await world.run('token-get', ['pw', '-f']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(forced.stdout, cached);
    assert.equal(op.stats().token['refresh_token'], 1);

    const t60 = await world.run('token-get', ['pw', '-t', '60']);
    assert.equal(t60.stdout, forced.stdout, 'a 120 s token still has more than 60 s left');
    assert.equal(op.stats().token['refresh_token'], 1);
    const t600 = await world.run('token-get', ['pw', '-t', '600']);
    assert.equal(t600.code, 0, t600.stderr);
    assert.equal(op.stats().token['refresh_token'], 2, 'asking for 600 s of validity refreshes');
  });

  test('--env and --json print the issuer and the token\'s own expires_at', async () => {
    const env = await world.run('token-get', ['pw', '--env', '-s', 'openid']);
    assert.equal(env.code, 0, env.stderr);
    const at = /^OIDC_AT=(\S+); export OIDC_AT;$/m.exec(env.stdout)![1]!;
    assert.match(env.stdout, new RegExp(`^OIDC_ISS=${op.issuer.replace(/[.]/g, '\\.')}; export OIDC_ISS;$`, 'm'));
    const exp = Number(/^OIDC_EXP=(\d+); export OIDC_EXP;$/m.exec(env.stdout)![1]);
    assert.equal(exp, jwtPayload(at)['exp'], 'expires_at is that of the returned (scoped) token');
    const json = JSON.parse((await world.run('token-get', ['pw', '--json'])).stdout) as { expires_at: number; issuer: string };
    assert.equal(json.issuer, op.issuer);
  });

  test('200 concurrent requests for an expired token cause exactly one refresh at the OP', async () => {
    op.setAccessTokenTtl(2);
    await world.run('token-get', ['pw', '-f']);
    await new Promise((r) => setTimeout(r, 2_100));
    op.setAccessTokenTtl(120);
    op.resetStats();
    const replies = await Promise.all(
      Array.from({ length: 200 }, () => request('access_token', { account: 'pw' }, { socketPath: world.socket, timeoutMs: 20_000 })),
    );
    assert.equal(op.stats().token['refresh_token'], 1);
    const tokens = new Set(replies.map((r) => (r as { access_token: string }).access_token));
    assert.equal(tokens.size, 1);
  });

  test('agent killed and restarted: token-add with the password loads the account; a wrong password changes nothing', async () => {
    await world.killAgent('SIGKILL');
    await world.startAgent();
    const notLoaded = await world.run('token-get', ['pw']);
    assert.equal(notLoaded.code, 4);
    assert.equal(notLoaded.stderr, "token-get: account 'pw' is not loaded: run token-add pw\n");

    const file = join(world.configDir, 'pw');
    const before = readFileSync(file);
    const wrong = await world.run('token-add', ['pw', '--pw-env', 'ENC_PW'], { ENC_PW: 'not the password' });
    assert.equal(wrong.code, 5);
    assert.equal(wrong.stderr, "token-add: wrong password for account 'pw'\n");
    assert.deepEqual(readFileSync(file), before, 'file byte-for-byte unchanged');

    const ok = await world.run('token-add', ['pw', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(ok.code, 0, ok.stderr);
    const got = await world.run('token-get', ['pw']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(jwtPayload(got.stdout.trim())['sub'], DEFAULT_USERNAME);
    assert.deepEqual(readFileSync(file), before);
  });

  test('refresh-token import flow produces a working account', async () => {
    const printed = await world.run('token-gen', ['pw', '--print', '--show-secrets', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(printed.code, 0, printed.stderr);
    const cfg = JSON.parse(printed.stdout) as { refresh_token: string; client_id: string; client_secret: string };
    const r = await world.run(
      'token-gen',
      ['imported', '--issuer', op.issuer, '--rt-env', 'MY_RT', '--client-id', cfg.client_id, '--client-secret-env', 'MY_SECRET', '--pw-env', 'ENC_PW'],
      { MY_RT: cfg.refresh_token, MY_SECRET: cfg.client_secret, ENC_PW: ENC },
    );
    assert.equal(r.code, 0, r.stderr);
    const got = await world.run('token-get', ['imported', '-f']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(jwtPayload(got.stdout.trim())['client_id'], cfg.client_id);
  });

  test('token-gen --print hides secrets unless asked', async () => {
    const printed = await world.run('token-gen', ['pw', '--print', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    const cfg = JSON.parse(printed.stdout) as Record<string, string>;
    assert.match(cfg['refresh_token']!, /hidden/);
    assert.match(cfg['client_secret']!, /hidden/);
    assert.equal(cfg['issuer_url'], op.issuer);
  });

  test('token-gen --delete revokes the refresh token at the OP and removes the file', async () => {
    await world.createAccount(op, 'doomed', ENC);
    const printed = await world.run('token-gen', ['doomed', '--print', '--show-secrets', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    const cfg = JSON.parse(printed.stdout) as { refresh_token: string; client_id: string; client_secret: string };
    assert.equal((await refreshAtOp(op, cfg.client_id, cfg.client_secret, cfg.refresh_token)).status, 200, 'live before');

    op.resetStats();
    const del = await world.run('token-gen', ['doomed', '--delete', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(del.code, 0, del.stderr);
    assert.equal(op.stats().revocation, 1, 'the refresh token was revoked');
    assert.equal(op.stats().client_delete, 1, 'and the dynamically registered client deleted');
    // The client is gone, so the OP refuses the old refresh token already at client authentication.
    const res = await refreshAtOp(op, cfg.client_id, cfg.client_secret, cfg.refresh_token);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
    assert.throws(() => statSync(join(world.configDir, 'doomed')), { code: 'ENOENT' });
    const list = await world.run('token-add', ['--loaded']);
    assert.ok(!list.stdout.split('\n').includes('doomed'));
  });

  test('the agent log records events but no token, secret or password', async () => {
    const printed = await world.run('token-gen', ['pw', '--print', '--show-secrets', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    const cfg = JSON.parse(printed.stdout) as { refresh_token: string; client_secret: string };
    const at = (await world.run('token-get', ['pw'])).stdout.trim();
    const log = readFileSync(world.logFile, 'utf8');
    assert.match(log, / INFO refresh account=pw /);
    assert.match(log, / INFO account-loaded account=pw /);
    for (const secret of [cfg.refresh_token, cfg.client_secret, at, ENC, DEFAULT_PASSWORD]) {
      assert.ok(secret.length > 8 && !log.includes(secret), 'a secret reached the log');
    }
    assert.equal(statSync(world.logFile).mode & 0o777, 0o600);
  });

  test('an issuer URL finds the loaded account for it', async () => {
    const r = await world.run('token-get', [op.issuer, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { issuer: string }).issuer, op.issuer);
  });
});

describe('refusals', () => {
  let op: DevOp;
  const worlds: World[] = [];
  before(async () => {
    op = await startOp();
  });
  after(async () => {
    for (const w of worlds) await w.cleanup();
    await op.close();
  });

  test('the user denies the device login: token-gen fails with the OP error and stores nothing', async () => {
    const world = new World();
    worlds.push(world);
    await world.startAgent();
    const gen = world.spawn('token-gen', ['denied', '--issuer', op.issuer, '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    const done = collect(gen);
    let err = '';
    gen.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => /enter the code: (\S+)/.test(err), 20_000, 'the user code');
    await approveDevice({
      verificationUri: /open (\S+) and enter/.exec(err)![1]!,
      userCode: /enter the code: (\S+)/.exec(err)![1]!,
      username: DEFAULT_USERNAME,
      password: DEFAULT_PASSWORD,
      deny: true,
    });
    const r = await done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^token-gen: access_denied/m);
    assert.throws(() => statSync(join(world.configDir, 'denied')), { code: 'ENOENT' });
    const loaded = await world.run('token-add', ['--loaded']);
    assert.equal(loaded.stdout, '');
  });

  test('a plain-http issuer is refused without the loopback opt-in, with a message saying how to opt in', async () => {
    const world = new World({ TOKEN_AGENT_ALLOW_HTTP_LOOPBACK: '' });
    worlds.push(world);
    await world.startAgent();
    const r = await world.run('token-gen', ['insecure', '--issuer', op.issuer, '--flow', 'password', '--username', DEFAULT_USERNAME, '--op-password-env', 'OP_PW', '--pw-env', 'ENC_PW'], {
      OP_PW: DEFAULT_PASSWORD,
      ENC_PW: ENC,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /TOKEN_AGENT_ALLOW_HTTP_LOOPBACK=1/);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, 'one line');
  });

  test('a wrong OP password in the password flow is a one-line error, nothing stored', async () => {
    const world = new World();
    worlds.push(world);
    await world.startAgent();
    const r = await world.run('token-gen', ['badpw', '--issuer', op.issuer, '--flow', 'password', '--username', DEFAULT_USERNAME, '--op-password-env', 'OP_PW', '--pw-env', 'ENC_PW'], {
      OP_PW: 'not-it',
      ENC_PW: ENC,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^token-gen: invalid_grant/);
    assert.ok(!r.stderr.includes('not-it'), 'the password is not echoed');
    assert.throws(() => statSync(join(world.configDir, 'badpw')), { code: 'ENOENT' });
  });

  test('a refresh token revoked at the OP: token-get says to re-authenticate (exit 6), cached tokens are not served past -f', async () => {
    const world = new World();
    worlds.push(world);
    await world.startAgent();
    await world.createAccount(op, 'revoked', ENC);
    const printed = await world.run('token-gen', ['revoked', '--print', '--show-secrets', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    const cfg = JSON.parse(printed.stdout) as { refresh_token: string; client_id: string; client_secret: string };
    const res = await fetch(`${op.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${cfg.client_id}:${cfg.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: cfg.refresh_token, token_type_hint: 'refresh_token' }),
    });
    assert.equal(res.status, 200);
    const r = await world.run('token-get', ['revoked', '-f']);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /^token-get: invalid_grant: .*\(refresh token expired or revoked\): run: token-gen revoked --reauthenticate\n$/);
    assert.ok(!r.stderr.includes(cfg.refresh_token));
  });

  test('token-gen without any password source and no terminal fails before the login', async () => {
    const world = new World();
    worlds.push(world);
    await world.startAgent();
    op.resetStats();
    const r = await world.run('token-gen', ['nopw', '--issuer', op.issuer, '--flow', 'device']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /no password source/);
    assert.equal(op.stats().device_authorization, 0, 'no login was started');
  });
});
