/**
 * Account files on disk: nothing partial after a crash, no stray files listed as accounts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decryptAccountFile } from '@token-agent/store';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, World, collect, opAndAgent, stopAll } from './harness.ts';

/**
 * When run `i` of `runs` is killed: the first right away (certainly before the write), the last
 * never (certainly after it), the others spread over 0.1–1.5 × the measured duration of a full
 * run, so the kills land around the write whatever the load on the machine.
 */
function killDelay(i: number, runs: number, full: number): number | undefined {
  if (i === 0) return 0;
  if (i === runs - 1) return undefined;
  return Math.round(full * (0.1 + (1.4 * (i - 1)) / (runs - 3)));
}

function killAt(child: ChildProcess, delay: number | undefined): NodeJS.Timeout | undefined {
  if (delay === undefined) return undefined;
  return setTimeout(() => child.kill('SIGKILL'), delay);
}

describe('crash safety of account writes', () => {
  let op: DevOp;
  let world: World;
  before(async () => ({ op, world } = await opAndAgent()));
  after(() => stopAll(world, op));

  test('SIGKILL of token-gen at any moment leaves no partial account file', async () => {
    // Measure one full run, then kill runs at spread-out moments across it.
    const t0 = Date.now();
    await world.createAccount(op, 'probe', 'pw-crash-1');
    const full = Date.now() - t0;
    const outcomes = { complete: 0, absent: 0 };
    const runs = 12;
    for (let i = 0; i < runs; i++) {
      const name = `crash${i}`;
      const child = world.spawn(
        'token-gen',
        [name, '--issuer', op.issuer, '--flow', 'password', '--username', DEFAULT_USERNAME, '--op-password-env', 'OP_PW', '--pw-env', 'ENC_PW'],
        { OP_PW: DEFAULT_PASSWORD, ENC_PW: 'pw-crash-1' },
      );
      const done = collect(child);
      const timer = killAt(child, killDelay(i, runs, full));
      await done;
      clearTimeout(timer);
      let text: string | undefined;
      try {
        text = readFileSync(join(world.configDir, name), 'utf8');
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOENT');
      }
      if (text === undefined) outcomes.absent++;
      else {
        const { plaintext } = await decryptAccountFile(text, 'pw-crash-1');
        assert.equal((JSON.parse(plaintext) as { name: string }).name, name, 'a complete file');
        outcomes.complete++;
      }
    }
    assert.equal(outcomes.complete + outcomes.absent, runs);
    assert.ok(outcomes.absent > 0, 'some runs were killed before the write');
    assert.ok(outcomes.complete > 0, 'some runs finished');
    // Stray temp files may remain from a kill mid-write, but are dotfiles that no listing shows.
    const listed = await world.run('token-gen', ['--list']);
    for (const f of readdirSync(world.configDir)) {
      if (!f.startsWith('.')) assert.ok(listed.stdout.split('\n').includes(f), `${f} is a complete account`);
    }
  });

  test('SIGKILL of token-gen --update at any moment leaves the file under the old or the new password', async () => {
    await world.createAccount(op, 'upd', 'pw-old-1');
    const original = JSON.parse((await decryptAccountFile(readFileSync(join(world.configDir, 'upd'), 'utf8'), 'pw-old-1')).plaintext) as { refresh_token: string };
    const t0 = Date.now();
    const probe = await world.run('token-gen', ['upd', '--update', '--pw-env', 'OLD', '--new-pw-env', 'NEW'], { OLD: 'pw-old-1', NEW: 'pw-old-1' });
    assert.equal(probe.code, 0, probe.stderr);
    const full = Date.now() - t0;
    let current = 'pw-old-1';
    const seen = { old: 0, new: 0 };
    const runs = 12;
    for (let i = 0; i < runs; i++) {
      const next = `pw-new-${i}`;
      const child = world.spawn('token-gen', ['upd', '--update', '--pw-env', 'OLD', '--new-pw-env', 'NEW'], { OLD: current, NEW: next });
      const done = collect(child);
      const timer = killAt(child, killDelay(i, runs, full));
      await done;
      clearTimeout(timer);
      const text = readFileSync(join(world.configDir, 'upd'), 'utf8');
      let plaintext: string;
      try {
        plaintext = (await decryptAccountFile(text, next)).plaintext;
        current = next;
        seen.new++;
      } catch {
        plaintext = (await decryptAccountFile(text, current)).plaintext; // must open with the old one
        seen.old++;
      }
      assert.equal((JSON.parse(plaintext) as { refresh_token: string }).refresh_token, original.refresh_token, 'the same account, complete');
    }
    assert.ok(seen.old > 0 && seen.new > 0, `kills before and after the write (${JSON.stringify(seen)})`);
  });
});
