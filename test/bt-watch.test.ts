/**
 * Bearer-token files (WLCG discovery) kept by the agent: `token-get --watch/--unwatch/--bt`, the
 * default path from the client's environment, status, the end of a watch (unwatch, account
 * removed, agent stopped), hostile paths, the OP going down and coming back, and watches that
 * survive an agent restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { WatchStatus } from '@token-agent/protocol';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_USERNAME, World, jwtPayload, startOp, waitFor } from './harness.ts';

const ENC = 'bt-watch-password-1';
const UID = process.geteuid!();
const TOKEN_LINE = /^[\w-]+\.[\w-]+\.[\w-]+\n$/;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function verifyAt(op: DevOp, token: string, audience?: string) {
  const jwks = createRemoteJWKSet(new URL(`${op.issuer}/jwks`));
  return (await jwtVerify(token, jwks, { issuer: op.issuer, ...(audience ? { audience } : {}) })).payload;
}

async function watches(world: World): Promise<WatchStatus[]> {
  const r = await world.run('token-agent', ['--status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { watches?: WatchStatus[] }).watches ?? [];
}

describe('token-get --watch / --bt / --unwatch', () => {
  let op: DevOp;
  let world: World;
  let runDir: string;
  before(async () => {
    op = await startOp({ accessTokenTtl: 120 });
    world = new World();
    runDir = join(world.root, 'run');
    mkdirSync(runDir, { mode: 0o700 });
    world.env['XDG_RUNTIME_DIR'] = runDir;
    await world.startAgent();
    await world.createAccount(op, 'w', ENC, ['-s', 'max']);
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('--watch writes $XDG_RUNTIME_DIR/bt_u$UID by default: the token alone on one line, 0600, with the scope and audience asked for', async () => {
    const r = await world.run('token-get', ['w', '--watch', '-s', 'storage.read:/', '--aud', 'https://storage.example.org']);
    assert.equal(r.code, 0, r.stderr);
    const path = join(runDir, `bt_u${UID}`);
    assert.equal(r.stdout, `${path}\n`, 'the path on stdout');
    assert.match(r.stderr, /--unwatch/);
    const text = read(path)!;
    assert.match(text, TOKEN_LINE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const payload = await verifyAt(op, text.trim(), 'https://storage.example.org');
    assert.equal(payload['scope'], 'storage.read:/');
    assert.equal(payload['sub'], DEFAULT_USERNAME);

    const [w] = await watches(world);
    assert.deepEqual(
      { account: w!.account, path: w!.path, scope: w!.scope, audience: w!.audience, state: w!.state, min: w!.min_valid_period, exp: w!.expires_at },
      { account: 'w', path, scope: ['storage.read:/'], audience: ['https://storage.example.org'], state: 'ok', min: 60, exp: payload['exp'] },
    );
    const text2 = (await world.run('token-agent', ['--status'])).stdout;
    assert.match(text2, new RegExp(`watched token files \\(1\\):\\n  ${path.replace(/[.]/g, '\\.')}  w -s storage\\.read:/ --aud https://storage\\.example\\.org  \\(min valid 60 s\\)\\n    ok, token expires in \\d+ s, next refresh in \\d+ s`));

    const again = await world.run('token-get', ['w', '--unwatch']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(existsSync(path), false, '--unwatch removes the file');
    assert.deepEqual(await watches(world), []);
    const none = await world.run('token-get', ['w', '--unwatch']);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, `token-get: no watch for 'w' on ${path}\n`);
  });

  test('BEARER_TOKEN_FILE (relative to the caller) overrides the default; --bt-file overrides both', async () => {
    const named = join(world.root, 'named-bt');
    // The CLIs run in this process's working directory.
    const r = await world.run('token-get', ['w', '--watch', '-t', '30'], { BEARER_TOKEN_FILE: relative(process.cwd(), named) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${named}\n`);
    assert.match(read(named)!, TOKEN_LINE);
    assert.equal(existsSync(join(runDir, `bt_u${UID}`)), false);
    const explicit = join(world.root, 'explicit-bt');
    const r2 = await world.run('token-get', ['w', '--watch', '--bt-file', explicit, '--json'], { BEARER_TOKEN_FILE: named });
    assert.equal(r2.code, 0, r2.stderr);
    const out = JSON.parse(r2.stdout) as { path: string; expires_at: number; watching: boolean };
    assert.equal(out.path, explicit);
    assert.equal(out.watching, true);
    assert.equal(out.expires_at, jwtPayload(read(explicit)!.trim())['exp']);
    assert.deepEqual((await watches(world)).map((w) => [w.path, w.min_valid_period]).sort(), [[explicit, 60], [named, 30]].sort());
    await world.run('token-get', ['w', '--unwatch'], { BEARER_TOKEN_FILE: named });
    await world.run('token-get', ['w', '--unwatch', '--bt-file', explicit]);
    assert.equal(existsSync(named) || existsSync(explicit), false);
  });

  test('--bt writes once without a watch; a watched path refuses it', async () => {
    const once = join(world.root, 'once-bt');
    const r = await world.run('token-get', ['w', '--bt', '--bt-file', once]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(read(once)!, TOKEN_LINE);
    assert.equal(statSync(once).mode & 0o777, 0o600);
    assert.deepEqual(await watches(world), [], 'no watch');
    const kept = join(world.root, 'kept-bt');
    assert.equal((await world.run('token-get', ['w', '--watch', '--bt-file', kept])).code, 0);
    const clash = await world.run('token-get', ['w', '--bt', '--bt-file', kept]);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /is kept by a watch for 'w'/);
    await world.run('token-get', ['w', '--unwatch', '--bt-file', kept]);
  });

  test('an account that is not loaded cannot be watched (exit 4); nothing is written', async () => {
    const path = join(world.root, 'nobody-bt');
    const r = await world.run('token-get', ['ghost', '--watch', '--bt-file', path]);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(existsSync(path), false);
  });

  test('removing the account removes its files; adding it again brings them back', async () => {
    const path = join(world.root, 'acct-bt');
    assert.equal((await world.run('token-get', ['w', '--watch', '--bt-file', path])).code, 0);
    const removed = await world.run('token-add', ['w', '--remove']);
    assert.equal(removed.code, 0, removed.stderr);
    await waitFor(() => !existsSync(path), 5_000, 'the file to go with the account');
    assert.equal((await watches(world))[0]?.state, 'waiting');
    assert.match((await world.run('token-agent', ['--status'])).stdout, /waiting for the account: token-add w/);
    const added = await world.run('token-add', ['w', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(added.code, 0, added.stderr);
    await waitFor(() => existsSync(path), 10_000, 'the file to come back');
    assert.match(read(path)!, TOKEN_LINE);
    assert.equal((await watches(world))[0]?.state, 'ok');
  });

  test('stopping the agent removes the files', async () => {
    const path = join(world.root, 'acct-bt');
    assert.ok(existsSync(path));
    const r = await world.run('token-agent', ['--kill']);
    assert.equal(r.code, 0, r.stderr);
    world.agentPid = undefined;
    assert.equal(existsSync(path), false);
  });
});

describe('hostile paths: refused with the reason, nothing written, nothing touched', () => {
  let op: DevOp;
  let world: World;
  let intruder: string | undefined;
  before(async () => {
    op = await startOp({ accessTokenTtl: 120 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'h', ENC);
  });
  after(async () => {
    await world.cleanup();
    await op.close();
    if (intruder !== undefined) execFileSync('userdel', [intruder]);
  });

  test('a symlink to a file of ours elsewhere', async () => {
    const victim = join(world.root, 'victim');
    writeFileSync(victim, 'my precious data\n', { mode: 0o600 });
    const link = join(world.root, 'bt_link');
    symlinkSync(victim, link);
    for (const mode of ['--watch', '--bt']) {
      const r = await world.run('token-get', ['h', mode, '--bt-file', link, '-t', '5']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `token-get: refusing to write ${link}: it is a symbolic link (a token is never written through one)\n`);
      assert.equal(readlinkSync(link), victim);
      assert.equal(readFileSync(victim, 'utf8'), 'my precious data\n');
    }
    assert.deepEqual(await watches(world), []);
  });

  test('a file owned by another user (as in a sticky /tmp): the error names the path and the owner', async () => {
    assert.equal(UID, 0, 'this test creates a second user (useradd) and gives it a file: run the tests as root (npm test in CI does)');
    intruder = `tabt${process.pid}`;
    execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', intruder]);
    const uid = Number(execFileSync('id', ['-u', intruder], { encoding: 'utf8' }).trim());
    const shared = join(world.root, 'shared');
    mkdirSync(shared, { mode: 0o1777 });
    const planted = join(shared, `bt_u${UID}`);
    writeFileSync(planted, 'attacker-chosen-token\n', { mode: 0o644 });
    chownSync(planted, uid, uid);
    for (const mode of ['--watch', '--bt']) {
      const r = await world.run('token-get', ['h', mode, '--bt-file', planted, '-t', '5']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `token-get: refusing to replace ${planted}: it is owned by ${intruder} (uid ${uid}), not by you\n`);
      assert.equal(readFileSync(planted, 'utf8'), 'attacker-chosen-token\n');
      const st = lstatSync(planted);
      assert.equal(st.uid, uid);
      assert.equal(st.mode & 0o777, 0o644);
    }
    assert.deepEqual(await watches(world), []);
  });

  test('a directory that does not exist', async () => {
    const path = join(world.root, 'no', 'such', 'dir', 'bt');
    const r = await world.run('token-get', ['h', '--watch', '--bt-file', path, '-t', '5']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `token-get: cannot write ${path}: the directory ${join(world.root, 'no', 'such', 'dir')} does not exist\n`);
    assert.equal(existsSync(join(world.root, 'no')), false, 'no directory created');
  });
});

describe('the OP goes down mid-watch and comes back', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: 6 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'd', ENC);
  });
  after(async () => {
    await op.resume();
    await world.cleanup();
    await op.close();
  });

  test('the valid token stays until it expires, then the file is removed; the failure shows in --status and the log; back on the same port, the file is back', async () => {
    const path = join(world.root, 'bt');
    const r = await world.run('token-get', ['d', '--watch', '--bt-file', path, '-t', '1']);
    assert.equal(r.code, 0, r.stderr);
    await op.pause();

    // Poll like a tool would: the file keeps the token it had until that expires, then it is gone.
    const tokens = new Set<string>();
    let last: { token: string; exp: number } | undefined;
    let goneAt: number | undefined;
    const deadline = Date.now() + 15_000;
    while (goneAt === undefined && Date.now() < deadline) {
      const text = read(path);
      const now = Date.now();
      if (text === undefined) goneAt = now;
      else {
        assert.match(text, TOKEN_LINE);
        last = { token: text.trim(), exp: jwtPayload(text.trim())['exp'] as number };
        tokens.add(last.token);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(last !== undefined && goneAt !== undefined, 'the file went away');
    assert.equal(tokens.size, 1, 'no new token while the OP is down');
    assert.ok(goneAt >= last.exp * 1000, `removed ${last.exp * 1000 - goneAt} ms before the token expired`);
    assert.ok(goneAt < last.exp * 1000 + 5_000, `still there ${goneAt - last.exp * 1000} ms after the token expired`);

    const [w] = await watches(world);
    assert.equal(w!.state, 'failing');
    assert.ok(w!.failures >= 1);
    assert.equal(w!.expires_at, undefined, 'no token in the file');
    assert.ok(w!.last_error !== undefined && w!.last_error.error.length > 0);
    assert.match((await world.run('token-agent', ['--status'])).stdout, /REFRESH FAILING \(\d+ tr(y|ies)\); file removed \(no valid token\), (next try (in \d+ s|\d+ s ago)|refreshing now)\n    last error \(\d+ s ago\): \S/);
    const log = readFileSync(world.logFile, 'utf8');
    assert.match(log, /WARN bt-refresh-failed account=d path=\S+ failures=1 /);
    assert.match(log, /WARN bt-token-expired account=d /);

    await op.resume();
    await waitFor(() => existsSync(path), 70_000, 'the file to come back after the OP');
    const back = read(path)!;
    assert.match(back, TOKEN_LINE);
    assert.notEqual(back.trim(), last.token);
    await verifyAt(op, back.trim());
    const [ok] = await watches(world);
    assert.equal(ok!.state, 'ok');
    assert.equal(ok!.failures, 0);
  });
});

describe('watches survive an agent restart', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: 120 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'r', ENC, ['-s', 'max']);
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('the watch list (no token in it) is kept; the new agent writes the file once the account is added', async () => {
    const path = join(world.root, 'bt');
    assert.equal((await world.run('token-get', ['r', '--watch', '--bt-file', path, '-s', 'openid', '-t', '90'])).code, 0);
    const before = read(path)!;
    const list = join(world.root, 'state', 'token-agent', 'watches.json');
    await waitFor(() => existsSync(list), 5_000, 'the watch list');
    assert.equal(statSync(list).mode & 0o777, 0o600);
    assert.ok(!readFileSync(list, 'utf8').includes(before.trim()), 'no token in the watch list');

    await world.killAgent();
    assert.equal(existsSync(path), false, 'the agent removed the file when it stopped');
    await world.startAgent();
    const [waiting] = await watches(world);
    assert.deepEqual(
      { state: waiting!.state, path: waiting!.path, scope: waiting!.scope, min: waiting!.min_valid_period },
      { state: 'waiting', path, scope: ['openid'], min: 90 },
    );
    assert.equal(existsSync(path), false);

    const added = await world.run('token-add', ['r', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(added.code, 0, added.stderr);
    await waitFor(() => existsSync(path), 10_000, 'the file after token-add');
    const payload = await verifyAt(op, read(path)!.trim());
    assert.equal(payload['scope'], 'openid');
    assert.equal((await watches(world))[0]!.state, 'ok');
  });
});
