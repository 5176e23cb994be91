/**
 * Another user on the same machine (a shared login node): a second uid, created for the test and
 * run with setpriv, can neither connect to the agent's socket nor read account files, the log or a
 * bt file the agent wrote.
 * Each layer is checked on its own: first with our private directories in place, then with each
 * directory opened up (0755) so that only the mode of the socket or file itself protects it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, startOp } from './harness.ts';

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to create a second user';
  for (const bin of ['useradd', 'userdel', 'setpriv']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status !== 0) return `${bin} is not available`;
  }
  return false;
}

const PROBE = `
const net = require('node:net'), fs = require('node:fs');
const [socket, file, log, bt] = process.argv.slice(1);
const out = {};
const tryFs = (k, f) => { try { f(); out[k] = 'ok'; } catch (e) { out[k] = e.code; } };
tryFs('read_account', () => fs.readFileSync(file));
tryFs('list_config_dir', () => fs.readdirSync(require('node:path').dirname(file)));
tryFs('read_log', () => fs.readFileSync(log));
tryFs('read_bt', () => fs.readFileSync(bt));
const s = net.connect(socket);
s.on('connect', () => { out.connect = 'ok'; s.write('{"request":"check"}'); });
s.on('data', (d) => { out.reply = String(d); });
s.on('error', (e) => { out.connect = e.code; console.log(JSON.stringify(out)); });
s.on('close', () => { if (out.connect === 'ok') console.log(JSON.stringify(out)); });
`;

describe('another user', { skip: skipReason() }, () => {
  let op: DevOp;
  let world: World;
  const user = `ta-other-${process.pid}`;
  let uid = 0;
  let gid = 0;
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
    world = new World();
    // The world's root is 0700 (mkdtemp): open it so only our own modes stand in the way.
    chmodSync(world.root, 0o755);
    await world.startAgent();
    await world.createAccount(op, 'mine', 'other-user-enc-pw');
    // A WLCG discovery file, in a directory the other user can enter: only its own mode protects it.
    const bt = await world.run('token-get', ['mine', '--bt-file', join(world.root, 'bt_u0')]);
    assert.equal(bt.code, 0, bt.stderr);
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
    gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  });
  after(async () => {
    spawnSync('userdel', [user]);
    await world.cleanup();
    await op.close();
  });

  function probeAsOther(): Record<string, string> {
    const r = spawnSync(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', process.execPath, '-e', PROBE, world.socket, join(world.configDir, 'mine'), world.logFile, join(world.root, 'bt_u0')],
      { encoding: 'utf8', timeout: 20_000, cwd: '/' },
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, string>;
  }

  test('the modes as created: socket 0600 in a 0700 directory, account file 0600 in 0700, log 0600 in 0700', () => {
    assert.equal(statSync(world.socket).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(world.socket)).mode & 0o777, 0o700);
    assert.equal(statSync(join(world.configDir, 'mine')).mode & 0o777, 0o600);
    assert.equal(statSync(world.configDir).mode & 0o777, 0o700);
    assert.equal(statSync(world.logFile).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(world.logFile)).mode & 0o777, 0o700);
    const seen = probeAsOther();
    assert.equal(statSync(join(world.root, 'bt_u0')).mode & 0o777, 0o600);
    assert.deepEqual(seen, { read_account: 'EACCES', list_config_dir: 'EACCES', read_log: 'EACCES', read_bt: 'EACCES', connect: 'EACCES' });
  });

  test('with the directories opened, the socket and file modes alone still refuse the other user', () => {
    const dirs = [dirname(world.socket), world.configDir, dirname(world.logFile)];
    for (const d of dirs) chmodSync(d, 0o755);
    try {
      const seen = probeAsOther();
      assert.equal(seen['connect'], 'EACCES', 'connect to the 0600 socket');
      assert.equal(seen['read_account'], 'EACCES', 'read the 0600 account file');
      assert.equal(seen['read_log'], 'EACCES', 'read the 0600 log');
      assert.equal(seen['list_config_dir'], 'ok', 'the probe does reach the opened directory');
      assert.equal(seen['reply'], undefined);
    } finally {
      for (const d of dirs) chmodSync(d, 0o700);
    }
  });
});
