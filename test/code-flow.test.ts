/**
 * The authorization-code flow through the agent's loopback listener, driven over plain HTTP
 * (scripts/dev-op/drive.ts plays the user): forged callbacks, deny, timeout, Ctrl-C, and account
 * management (--reauthenticate, --delete, --rename, --update). The same flow in a real browser is
 * test/code-flow-browser.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorizeCode } from '../scripts/dev-op/drive.ts';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, World, collect, jwtPayload, refreshAtOp, waitFor, type RunResult, opAndAgent, stopAll } from './harness.ts';

const ENC = 'code flow encryption pw';

/** Whether nothing listens on 127.0.0.1:port any more (we can bind it ourselves). */
async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Starts `token-gen NAME --flow code …` and waits for the authorization URL it prints. */
async function startCodeGen(world: World, op: DevOp, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = world.spawn('token-gen', [...args, '--issuer', op.issuer, '--flow', 'code', '--port', '0', '--pw-env', 'ENC_PW'], { ENC_PW: ENC, ...env });
  const done: Promise<RunResult> = collect(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => /^http\S+\/auth\?\S+$/m.test(err), 20_000, 'the authorization URL');
  const url = /^(http\S+\/auth\?\S+)$/m.exec(err)![1]!;
  const redirect = new URL(new URL(url).searchParams.get('redirect_uri')!);
  return { child, done, url, redirect, port: Number(redirect.port), stderr: () => err };
}

function config(world: World, name: string): Promise<Record<string, string>> {
  return world.run('token-gen', [name, '--print', '--show-secrets', '--pw-env', 'ENC_PW'], { ENC_PW: ENC }).then((r) => {
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, string>;
  });
}

function refreshWith(op: DevOp, c: Record<string, string>, refreshToken = c['refresh_token']!): Promise<Response> {
  return refreshAtOp(op, c['client_id']!, c['client_secret']!, refreshToken);
}

describe('code flow through the loopback listener', () => {
  let op: DevOp;
  let world: World;
  before(async () => ({ op, world } = await opAndAgent()));
  after(() => stopAll(world, op));

  test('forged callbacks get 400 and the flow keeps waiting; the real one logs in and the listener is gone', async () => {
    const gen = await startCodeGen(world, op, ['web', '-s', 'openid', '-s', 'storage.read:/']);
    const u = new URL(gen.url);
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.match(u.searchParams.get('code_challenge')!, /^[\w-]{43}$/);
    assert.ok(u.searchParams.get('state')!.length >= 22 && u.searchParams.get('nonce')!.length >= 22);
    assert.equal(gen.redirect.hostname, '127.0.0.1');
    assert.equal(gen.redirect.pathname, '/');

    const callback = await authorizeCode({ authorizationUrl: gen.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD });
    const real = new URL(callback);
    assert.equal(real.origin, gen.redirect.origin);

    const forged: [string, RequestInit?][] = [
      [`${gen.redirect.origin}/?code=${real.searchParams.get('code')}&state=not-the-state`],
      [`${gen.redirect.origin}/?state=${real.searchParams.get('state')}`],
      [`${gen.redirect.origin}/?state=${real.searchParams.get('state')}&code=`],
      [`${gen.redirect.origin}/?error=access_denied&state=wrong`],
      [`${gen.redirect.origin}/other${real.search}`],
      [`${gen.redirect.origin}/favicon.ico`],
      [callback, { method: 'POST' }],
    ];
    for (const [url, init] of forged) {
      const res = await fetch(url, init);
      assert.equal(res.status, 400, url);
      const body = await res.text();
      assert.ok(!body.includes(real.searchParams.get('code')!), 'the code is not echoed');
    }
    assert.equal(await portIsFree(gen.port), false, 'still listening after the forged callbacks');

    const res = await fetch(callback);
    assert.equal(res.status, 200);
    const page = await res.text();
    assert.match(page, /You are logged in/);
    assert.ok(!page.includes(real.searchParams.get('code')!), 'no code on the page');
    const r = await gen.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Account 'web' created/);
    await waitFor(() => portIsFree(gen.port), 5_000, 'the listener to close after success');

    const again = await fetch(callback).then(
      (x) => x.status,
      () => 'refused',
    );
    assert.equal(again, 'refused', 'nothing answers on the port any more');

    const got = await world.run('token-get', ['web', '-s', 'storage.read:/']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(jwtPayload(got.stdout.trim())['sub'], DEFAULT_USERNAME);
    const cfg = await config(world, 'web');
    assert.match(cfg['redirect_uris']!.toString(), new RegExp(`http://127\\.0\\.0\\.1:${gen.port}/`));

    const log = readFileSync(world.logFile, 'utf8');
    assert.match(log, /code-flow-foreign-callback account=web reason="state does not match"/);
    for (const secret of [real.searchParams.get('code')!, cfg['refresh_token']!, u.searchParams.get('state')!]) {
      assert.ok(!log.includes(secret), 'the code, state or a token reached the log');
    }
  });

  test('with a display the code flow is the default and the browser is opened (xdg-open) with the URL', async () => {
    // A stand-in for the desktop's xdg-open: records the URL it was asked to open.
    const bin = join(world.root, 'fake-bin');
    mkdirSync(bin, { recursive: true });
    const opened = join(world.root, 'opened-url');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const child = world.spawn('token-gen', ['desktop', '--issuer', op.issuer, '--port', '0', '--pw-env', 'ENC_PW'], {
      ENC_PW: ENC,
      DISPLAY: ':99',
      PATH: `${bin}:${process.env['PATH']}`,
    });
    const done = collect(child);
    await waitFor(() => existsSync(opened) && readFileSync(opened, 'utf8').length > 0, 20_000, 'xdg-open to be called');
    const url = readFileSync(opened, 'utf8');
    assert.match(url, new RegExp(`^${op.issuer}/auth\\?`));
    await fetch(await authorizeCode({ authorizationUrl: url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(url), 'the URL is printed as well');
    assert.match(r.stderr, /opened in your browser/);
  });

  test('the user denies: error page, token-gen exits 1 with the OP error, nothing stored, port free', async () => {
    const gen = await startCodeGen(world, op, ['denied']);
    const callback = await authorizeCode({ authorizationUrl: gen.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD, deny: true });
    assert.equal(new URL(callback).searchParams.get('error'), 'access_denied');
    const res = await fetch(callback);
    const page = await res.text();
    assert.match(page, /Login failed/);
    assert.match(page, /access_denied/);
    const r = await gen.done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^token-gen: access_denied/m);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('token-gen:')).length, 1, 'one error line');
    assert.equal(existsSync(join(world.configDir, 'denied')), false);
    const loaded = await world.run('token-add', ['--loaded']);
    assert.ok(!loaded.stdout.split('\n').includes('denied'));
    await waitFor(() => portIsFree(gen.port), 5_000, 'the listener to close after the error');
  });

  test('nobody comes back: the flow times out, token-gen says so, the port is free again', async () => {
    const started = Date.now();
    const gen = await startCodeGen(world, op, ['late', '--timeout', '2']);
    const r = await gen.done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^token-gen: the login was not completed in time/m);
    assert.ok(Date.now() - started < 15_000);
    assert.equal(await portIsFree(gen.port), true);
    assert.equal(existsSync(join(world.configDir, 'late')), false);
  });

  test('Ctrl-C while waiting: the listener is closed in the agent, nothing is written, exit 130', async () => {
    const gen = await startCodeGen(world, op, ['interrupted']);
    assert.equal(await portIsFree(gen.port), false);
    await waitFor(() => /Waiting for the login/.test(gen.stderr()), 10_000, 'token-gen to wait');
    gen.child.kill('SIGINT');
    const r = await gen.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /cancelled/);
    assert.equal(await portIsFree(gen.port), true, 'listener closed');
    assert.equal(existsSync(join(world.configDir, 'interrupted')), false);
    // The OP's answer arriving late finds nobody.
    await assert.rejects(fetch(`${gen.redirect.origin}/?code=x&state=y`));
  });

  test('--reauthenticate keeps client and settings and replaces the refresh token', async () => {
    const gen = await startCodeGen(world, op, ['reauth', '-s', 'openid', '-s', 'offline_access', '-s', 'compute.read', '--aud', 'https://compute.example.org']);
    await fetch(await authorizeCode({ authorizationUrl: gen.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    assert.equal((await gen.done).code, 0);
    const before = await config(world, 'reauth');

    const child = world.spawn('token-gen', ['reauth', '--reauthenticate', '--flow', 'code', '--port', '0', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    const done = collect(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => /^http\S+\/auth\?\S+$/m.test(err), 20_000, 'the authorization URL');
    const url = /^(http\S+\/auth\?\S+)$/m.exec(err)![1]!;
    assert.equal(new URL(url).searchParams.get('client_id'), before['client_id'], 'the same client logs in');
    op.resetStats();
    await fetch(await authorizeCode({ authorizationUrl: url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /re-authenticated/);
    assert.equal(op.stats().registration, 0, 'no new client registered');

    const after = await config(world, 'reauth');
    assert.notEqual(after['refresh_token'], before['refresh_token']);
    for (const key of ['client_id', 'client_secret', 'issuer_url', 'auth_scope', 'audience', 'registration_client_uri', 'registration_access_token']) {
      assert.deepEqual(after[key], before[key], key);
    }
    assert.deepEqual(after['redirect_uris'], before['redirect_uris']);
    assert.equal((await refreshWith(op, after)).status, 200, 'the new refresh token works');
    const got = await world.run('token-get', ['reauth', '-f']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(jwtPayload(got.stdout.trim())['client_id'], before['client_id']);
  });

  test('--delete: the OP refuses the old refresh token and the client registration is gone', async () => {
    const gen = await startCodeGen(world, op, ['gone']);
    await fetch(await authorizeCode({ authorizationUrl: gen.url, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }));
    assert.equal((await gen.done).code, 0);
    const cfg = await config(world, 'gone');
    const rat = cfg['registration_access_token']!;
    const read = () => fetch(cfg['registration_client_uri']!, { headers: { authorization: `Bearer ${rat}` } });
    assert.equal((await read()).status, 200, 'registered before');

    // Revocation first, while the client still exists: the refresh token is refused…
    op.resetStats();
    const del = await world.run('token-gen', ['gone', '--delete', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual([op.stats().revocation, op.stats().client_delete], [1, 1]);
    assert.match(del.stderr, /refresh token revoked at the OP, client registration deleted, file removed/);
    assert.equal(existsSync(join(world.configDir, 'gone')), false);

    const reg = await read();
    assert.equal(reg.status, 401);
    assert.equal(((await reg.json()) as { error: string }).error, 'invalid_token');
    const res = await refreshWith(op, cfg);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_client', 'the client itself is gone');
  });

  test('--rename moves the file and the loaded account; --update re-encrypts under a new password', async () => {
    await world.createAccount(op, 'old-name', ENC);
    const before = await config(world, 'old-name');
    const r = await world.run('token-gen', ['old-name', '--rename', 'new-name', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(join(world.configDir, 'old-name')), false);
    const renamed = await config(world, 'new-name');
    assert.equal(renamed['name'], 'new-name');
    assert.equal(renamed['refresh_token'], before['refresh_token']);
    const loaded = (await world.run('token-add', ['--loaded'])).stdout.split('\n');
    assert.ok(loaded.includes('new-name') && !loaded.includes('old-name'));
    assert.equal((await world.run('token-get', ['new-name'])).code, 0);

    const fileBefore = readFileSync(join(world.configDir, 'new-name'), 'utf8');
    const u = await world.run('token-gen', ['new-name', '--update', '--pw-env', 'ENC_PW', '--new-pw-env', 'NEW_PW'], { ENC_PW: ENC, NEW_PW: 'a new password' });
    assert.equal(u.code, 0, u.stderr);
    assert.notEqual(readFileSync(join(world.configDir, 'new-name'), 'utf8'), fileBefore);
    const old = await world.run('token-gen', ['new-name', '--print', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(old.code, 5, 'the old password no longer opens it');
    const fresh = await world.run('token-gen', ['new-name', '--print', '--show-secrets', '--pw-env', 'NEW_PW'], { NEW_PW: 'a new password' });
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal((JSON.parse(fresh.stdout) as Record<string, string>)['refresh_token'], before['refresh_token']);
  });
});
