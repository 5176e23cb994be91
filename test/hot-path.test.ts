/**
 * token-get is the hot path: it must not load openid-client, oauth4webapi, jose or libsodium, nor
 * commander for a plain command line (DESIGN §1.4).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { BIN, World, collect, startOp } from './harness.ts';

describe('token-get hot path', () => {
  let op: DevOp;
  let world: World;
  let hook: string;
  before(async () => {
    op = await startOp();
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'hot', 'pw-hot-1');
    // Records every module file that gets loaded, through CommonJS or ESM.
    hook = join(world.root, 'record-loads.cjs');
    writeFileSync(
      hook,
      `const M = require('node:module'); const seen = [];
       const orig = M._load; M._load = function (req, parent, isMain) { seen.push(req); return orig.apply(this, arguments); };
       process.on('exit', () => {
         // Node's own list also sees builtins loaded through import(), which skip Module._load.
         if (process.moduleLoadList.includes('NativeModule net')) seen.push('builtin net');
         require('node:fs').writeFileSync(process.env.LOADS_OUT, JSON.stringify(seen));
       });`,
    );
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  // Asynchronous: the OP runs in this process and must keep answering.
  async function loads(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
    const out = join(world.root, `loads-${Math.random()}.json`);
    const r = await collect(spawn(process.execPath, ['-r', hook, BIN('token-get'), ...args], { env: { ...world.env, ...env, LOADS_OUT: out } }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    if (args.length === 1) assert.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'a JWT and a newline');
    return JSON.parse(readFileSync(out, 'utf8')) as string[];
  }

  test('a token (refreshed by the agent, then cached) loads nothing heavy in token-get', async () => {
    const seen = await loads(['hot', '-s', 'openid', '--aud', 'https://x.example']);
    for (const heavy of ['libsodium', 'openid-client', 'oauth4webapi', 'jose', 'commander', 'token-get-full']) {
      assert.ok(!seen.some((m) => m.includes(heavy)), `${heavy} was loaded: ${seen.join(', ')}`);
    }
    assert.ok(seen.includes('node:fs'), 'the hook saw the loads');
  });

  test('the token alone: bundle/token-get.cjs needs node:fs only — not node:net (the pipe transport), not even its main file', async () => {
    const seen = await loads(['hot']);
    const other = seen.filter((m) => m !== BIN('token-get') && m !== 'node:fs');
    assert.deepEqual(other, [], `token-get loaded: ${seen.join(', ')}`);
  });

  test('under --pending-deprecation the hot path uses node:net instead, with the same token and no warning', async () => {
    const seen = await loads(['hot'], { NODE_OPTIONS: '--pending-deprecation' });
    assert.ok(seen.includes('builtin net'), seen.join(', '));
    assert.ok(!seen.some((m) => m.includes('token-get-main')), seen.join(', '));
  });

  test('other outputs and failures go through the full command (token-get-main.cjs), with its messages', async () => {
    const json = await loads(['hot', '--json']);
    assert.ok(json.some((m) => m.includes('token-get-main')), json.join(', '));
    const r = await collect(spawn(process.execPath, [BIN('token-get'), 'no-such-account'], { env: world.env }));
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^token-get: .*no-such-account/m);
    assert.equal(r.stdout, '');
  });
});
