import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from './file-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'file-lock-'));
let n = 0;
const lockPath = () => join(dir, `l${n++}.lock`);
const busy = (holder: string) => new Error(`busy: ${holder}`);

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('withFileLock', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('holders take turns: the second runs only after the first released; the file holds "pid host" meanwhile', async () => {
    const lock = lockPath();
    const order: string[] = [];
    let release!: () => void;
    const first = withFileLock(lock, async () => {
      order.push('first in');
      assert.equal(readFileSync(lock, 'utf8'), `${process.pid} ${hostname()}\n`);
      await new Promise<void>((r) => (release = r));
      order.push('first out');
    }, { waitMs: 5000, busy });
    const second = withFileLock(lock, async () => void order.push('second'), { waitMs: 5000, busy, pollMs: 5 });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(order, ['first in'], 'the second waits');
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first in', 'first out', 'second']);
    assert.equal(existsSync(lock), false);
  });

  test('the lock goes also when the work throws', async () => {
    const lock = lockPath();
    await assert.rejects(withFileLock(lock, async () => Promise.reject(new Error('boom')), { waitMs: 100, busy }), /boom/);
    assert.equal(existsSync(lock), false);
  });

  test('a lock of a dead process on this host (also the bare-pid form) is broken at once', async () => {
    for (const text of [`${deadPid()} ${hostname()}\n`, `${deadPid()}`]) {
      const lock = lockPath();
      writeFileSync(lock, text, { mode: 0o600 });
      let ran = false;
      await withFileLock(lock, async () => void (ran = true), { waitMs: 0, busy });
      assert.ok(ran, text);
    }
  });

  test('a live holder, and a lock being written (no pid yet), are waited for until waitMs', async () => {
    for (const [text, holder] of [[`${process.pid} ${hostname()}\n`, `pid ${process.pid} on ${hostname()}`], ['', 'pid ?']] as const) {
      const lock = lockPath();
      writeFileSync(lock, text, { mode: 0o600 });
      await assert.rejects(withFileLock(lock, async () => assert.fail('must not run'), { waitMs: 60, busy, pollMs: 10 }), new RegExp(`busy: ${holder.replace('?', '\\?')}`));
      assert.equal(readFileSync(lock, 'utf8'), text, 'left alone');
    }
  });

  test('an empty lock whose writer died (older than 10 s) is broken', async () => {
    const lock = lockPath();
    writeFileSync(lock, '', { mode: 0o600 });
    const old = (Date.now() - 11_000) / 1000;
    utimesSync(lock, old, old);
    let ran = false;
    await withFileLock(lock, async () => void (ran = true), { waitMs: 0, busy });
    assert.ok(ran);
  });

  test('a lock from another host: waited for while fresh, broken once older than staleMs', async () => {
    const lock = lockPath();
    writeFileSync(lock, '4242 other-node.example\n', { mode: 0o600 });
    await assert.rejects(withFileLock(lock, async () => undefined, { waitMs: 40, busy, pollMs: 10 }), /busy: pid 4242 on other-node\.example/);
    const old = (Date.now() - 11 * 60_000) / 1000;
    utimesSync(lock, old, old);
    let ran = false;
    await withFileLock(lock, async () => void (ran = true), { waitMs: 0, busy });
    assert.ok(ran);
  });

  test('hostile lock files: a symlink or another user\'s file is an error at once, and nothing is removed or followed', async () => {
    const target = join(dir, 'precious');
    writeFileSync(target, `${deadPid()}`);
    const link = lockPath();
    symlinkSync(target, link);
    await assert.rejects(withFileLock(link, async () => assert.fail('must not run'), { waitMs: 5000, busy }), /not a file of yours/);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(existsSync(target), true);

    // With `foreign`, the work runs without the lock, told why; the file is still left alone.
    let told = '';
    let ran = false;
    await withFileLock(link, async () => void (ran = true), { waitMs: 5000, busy, foreign: (why) => (told = why) });
    assert.ok(ran);
    assert.match(told, /not a file of yours/);
    assert.ok(lstatSync(link).isSymbolicLink());

    if (process.getuid?.() === 0) {
      const foreign = lockPath();
      writeFileSync(foreign, `${deadPid()}`);
      chownSync(foreign, 4321, 4321);
      await assert.rejects(withFileLock(foreign, async () => assert.fail('must not run'), { waitMs: 5000, busy }), /not a file of yours \(owner uid 4321\)/);
      assert.equal(existsSync(foreign), true);
    }
  });
});
