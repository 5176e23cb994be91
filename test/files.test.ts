/**
 * Account files on disk: nothing partial after a crash, no stray files listed as accounts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decryptAccountFile } from '@token-agent/store';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, World, collect, startOp } from './harness.ts';

describe('crash safety of account writes', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp();
    world = new World();
    await world.startAgent();
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

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
      const delay = Math.round((full * (i + 1)) / (runs - 2));
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
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
});
