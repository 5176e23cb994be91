/**
 * Agent controls (oidc-agent parity): lifetimes and status, lock/unlock, per-use confirmation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProtocolError, request, type LoadedAccountStatus } from '@token-agent/protocol';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, alive, startOp, waitFor } from './harness.ts';

const ENC = 'controls-enc-pw-1';

async function statusOf(world: World): Promise<{ accounts: LoadedAccountStatus[]; command_line_options: { lifetime: number } }> {
  const r = await request('status_json', {}, { socketPath: world.socket });
  return (r as unknown as { info: { accounts: LoadedAccountStatus[]; command_line_options: { lifetime: number } } }).info;
}

async function loaded(world: World): Promise<string[]> {
  const r = await request('loaded_accounts', {}, { socketPath: world.socket });
  return (r as { info: string[] }).info;
}

describe('lifetimes and status', () => {
  let op: DevOp;
  const worlds: World[] = [];
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
  });
  after(async () => {
    for (const w of worlds) await w.cleanup();
    await op.close();
  });

  test('token-add NAME --lifetime: status shows the time left, then the account is unloaded', async () => {
    const world = new World();
    worlds.push(world);
    await world.startAgent();
    await world.createAccount(op, 'life', ENC);
    await world.run('token-add', ['life', '--remove']);
    const add = await world.run('token-add', ['life', '--lifetime', '3', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stderr, /Lifetime set to 3 seconds/);

    const st = (await statusOf(world)).accounts.find((a) => a.name === 'life')!;
    assert.ok(st.time_left !== undefined && st.time_left <= 3 && st.time_left >= 0, JSON.stringify(st));
    assert.ok(st.last_refresh !== undefined, 'token-add validated with a refresh');
    const long = await world.run('token-add', ['--loaded', '--long']);
    assert.match(long.stdout, /^life\t[0-3] s left\tlast refresh \d+ s ago/m);
    const names = await world.run('token-add', ['--loaded']);
    assert.equal(names.stdout, 'life\n', 'names only when piped');

    await waitFor(async () => !(await loaded(world)).includes('life'), 10_000, 'the lifetime to end');
    const r = await world.run('token-get', ['life']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /not loaded: run token-add life/);
    assert.match(readFileSync(world.logFile, 'utf8'), / INFO account-lifetime-ended account=life/);
  });

  test('token-agent --lifetime is the default for every account; status shows last refresh and last error', async () => {
    const world = new World();
    worlds.push(world);
    await world.startAgent(['--lifetime', '600']);
    await world.createAccount(op, 'dflt', ENC);
    const info = await statusOf(world);
    assert.equal(info.command_line_options.lifetime, 600);
    const st = info.accounts.find((a) => a.name === 'dflt')!;
    assert.ok(st.time_left !== undefined && st.time_left > 590 && st.time_left <= 600, JSON.stringify(st));
    assert.equal(st.last_error, undefined);

    const bad = await world.run('token-get', ['dflt', '-s', 'no.such.scope']);
    assert.equal(bad.code, 1);
    const after = (await statusOf(world)).accounts.find((a) => a.name === 'dflt')!;
    assert.match(after.last_error?.error ?? '', /^invalid_scope/);
    const text = await world.run('token-agent', ['--status']);
    assert.match(text.stdout, /dflt .* unloaded in \d+ s/);
    assert.match(text.stdout, /last error \(\d+ s ago\): invalid_scope/);
    const json = await world.run('token-add', ['--loaded', '--json']);
    assert.equal((JSON.parse(json.stdout) as LoadedAccountStatus[])[0]!.name, 'dflt');
  });
});

describe('lock and unlock', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'lk', ENC);
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  const agentError = (name: string) => (err: unknown) => err instanceof ProtocolError && err.agentError === name;

  test('while locked only check and unlock are served; unlock restores accounts and cached tokens', async () => {
    const cached = (await world.run('token-get', ['lk'])).stdout;
    const lock = await world.run('token-add', ['--lock', '--pw-env', 'LOCK_PW'], { LOCK_PW: 'lock-secret-1' });
    assert.equal(lock.code, 0, lock.stderr);
    assert.equal(lock.stderr, 'Agent locked\n');

    const get = await world.run('token-get', ['lk']);
    assert.equal(get.code, 1);
    assert.equal(get.stderr, 'token-get: Agent locked: unlock it with: token-add --unlock\n');
    for (const name of ['status', 'status_json', 'loaded_accounts', 'remove_all'] as const) {
      await assert.rejects(request(name, {}, { socketPath: world.socket }), agentError('Agent locked'), name);
    }
    await assert.rejects(request('lock', { password: 'x' }, { socketPath: world.socket }), agentError('Agent locked'));
    assert.equal((await request('check', {}, { socketPath: world.socket })).status, 'success');
    // The launcher still finds (and reuses) the locked agent.
    const again = await world.run('token-agent', ['--json']);
    assert.equal((JSON.parse(again.stdout) as { pid: number }).pid, world.agentPid);

    const wrong = await world.run('token-add', ['--unlock', '--pw-env', 'LOCK_PW'], { LOCK_PW: 'not-it' });
    assert.equal(wrong.code, 5);
    assert.equal(wrong.stderr, 'token-add: wrong password\n');

    op.resetStats();
    const ok = await world.run('token-add', ['--unlock', '--pw-env', 'LOCK_PW'], { LOCK_PW: 'lock-secret-1' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, 'Agent unlocked\n');
    const after = await world.run('token-get', ['lk']);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, cached, 'the cached token came back');
    const forced = await world.run('token-get', ['lk', '-f']);
    assert.equal(forced.code, 0, 'the refresh token came back: ' + forced.stderr);
    assert.equal(op.stats().token['refresh_token'], 1);
    await assert.rejects(request('unlock', { password: 'lock-secret-1' }, { socketPath: world.socket }), agentError('Agent not locked'));
  });

  test('wrong unlock passwords wait a growing delay that blocks neither other clients nor skips the queue', async () => {
    await request('lock', { password: 'pw-2' }, { socketPath: world.socket });
    const events: string[] = [];
    const wrong = [1, 2, 3].map((i) =>
      request('unlock', { password: `bad-${i}` }, { socketPath: world.socket, timeoutMs: 30_000 }).then(
        () => events.push(`unlocked-${i}`),
        (err: unknown) => events.push(`${(err as ProtocolError).agentError}-${i}`),
      ),
    );
    // Give the three attempts time to arrive, then another client asks while they wait.
    await new Promise((r) => setTimeout(r, 50));
    await request('check', {}, { socketPath: world.socket, timeoutMs: 2_000 });
    events.push('check');
    const started = Date.now();
    await Promise.all(wrong);
    const waited = Date.now() - started;
    assert.deepEqual(events, ['check', 'wrong password-1', 'wrong password-2', 'wrong password-3']);
    // 100 + 400 + 900 ms after the three wrong passwords (less the 50 ms head start).
    assert.ok(waited >= 1_300, `the delays were skipped: ${waited} ms`);
    const ok = await request('unlock', { password: 'pw-2' }, { socketPath: world.socket, timeoutMs: 30_000 });
    assert.equal((ok as { info?: string }).info, 'Agent unlocked');
  });

  test('token-agent --kill stops a locked agent (its pid from the environment)', async () => {
    await request('lock', { password: 'pw-3' }, { socketPath: world.socket });
    const pid = world.agentPid!;
    const r = await world.run('token-agent', ['--kill', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { killed: pid });
    await waitFor(() => !alive(pid), 5_000, 'the agent to stop');
    world.agentPid = undefined;
  });
});

describe('confirmation', () => {
  let op: DevOp;
  const worlds: World[] = [];
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
  });
  after(async () => {
    for (const w of worlds) await w.cleanup();
    await op.close();
  });

  test('token-add --confirm: each token request asks the prompt command (account and application by env and stdin); yes gives the token, no is operation forbidden', async () => {
    const world = new World();
    worlds.push(world);
    const script = join(world.root, 'confirm.sh');
    const answer = join(world.root, 'answer');
    const seen = join(world.root, 'seen');
    writeFileSync(
      script,
      `#!/bin/sh\nread question\nprintf '%s|%s|%s|%s\\n' "$TOKEN_AGENT_CONFIRM_ACCOUNT" "$TOKEN_AGENT_CONFIRM_APPLICATION" "$question" "$*" >> "${seen}"\n[ "$(cat "${answer}")" = yes ]\n`,
    );
    chmodSync(script, 0o755);
    world.env['TOKEN_AGENT_CONFIRM_CMD'] = script;
    await world.startAgent();
    await world.createAccount(op, 'cf', ENC);
    const plain = await world.run('token-get', ['cf']);
    assert.equal(plain.code, 0, 'no confirmation before --confirm');
    const add = await world.run('token-add', ['cf', '--confirm', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(add.code, 0, add.stderr);

    writeFileSync(answer, 'yes');
    const yes = await world.run('token-get', ['cf', '--name', 'my-app']);
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal(yes.stdout, plain.stdout, 'the cached token, after a yes');
    writeFileSync(answer, 'no');
    const no = await world.run('token-get', ['cf', '--name', 'other-app']);
    assert.equal(no.code, 1);
    assert.equal(no.stdout, '');
    assert.match(no.stderr, /^token-get: operation forbidden: the use of account 'cf' was not confirmed\n$/);

    const lines = readFileSync(seen, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2, 'asked once per request');
    assert.match(lines[0]!, /^cf\|my-app\|Allow my-app to get an access token for account 'cf' \(http:\/\/127\.0\.0\.1:\d+\)\?\|$/);
    assert.match(lines[1]!, /^cf\|other-app\|/);
    const st = (await statusOf(world)).accounts.find((a) => a.name === 'cf')!;
    assert.equal(st.confirm, true);
  });

  test('token-agent --confirm without a prompt command: operation forbidden at once, info says why', async () => {
    const world = new World();
    worlds.push(world);
    await world.startAgent(['--confirm']);
    await world.createAccount(op, 'nc', ENC);
    const r = await world.run('token-get', ['nc']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^token-get: operation forbidden: account 'nc' needs a confirmation for every use, but the agent has no prompt command: start it with TOKEN_AGENT_CONFIRM_CMD set/);
  });
});
