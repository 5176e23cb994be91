import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encryptAccountFile, type FileKey } from '@token-agent/store';
import { AccountRegistry, type AgentAccountConfig } from '../accounts/registry.js';
import { TokenCache, cacheKey } from '../cache/token-cache.js';
import type { AgentContext } from '../context.js';
import { AgentError } from '../errors.js';
import { PendingFlows } from '../flows/pending.js';
import { silentLogger } from '../log.js';
import type { OpApi } from '../op.js';
import { AgentLock, unlockDelayMs } from './lock.js';

const RT = 'rt-recognisable-0123456789';
const SECRET = 'client-secret-recognisable-42';
const AT = 'at-recognisable-abcdef';

async function setup(): Promise<{ ctx: AgentContext; key: FileKey }> {
  const accounts = new AccountRegistry(() => undefined);
  const ctx: AgentContext = {
    accounts,
    cache: new TokenCache(),
    op: {} as OpApi,
    flows: new PendingFlows(),
    log: silentLogger,
    settings: { configDir: '/nonexistent', socketPath: '/x', defaultLifetime: 0, version: 't', confirm: false, confirmCmd: undefined, confirmTimeoutMs: 1000 },
    lock: new AgentLock(),
    startedAt: 0,
  };
  const { key } = await encryptAccountFile('{}', 'pw');
  const config = { name: 'a', issuer_url: 'https://op.example', client_id: 'cid', client_secret: SECRET, refresh_token: RT, extra: {} } as AgentAccountConfig;
  accounts.add(config, 0, { fileKey: key });
  await ctx.cache.get(cacheKey('a', [], []), 0, async () => ({ access_token: AT, expires_at: Math.floor(Date.now() / 1000) + 600 }));
  return { ctx, key: { ...key, derived: new Uint8Array(key.derived) } };
}

test('lock seals refresh token, client secret, file key and cached tokens; unlock brings them back', async () => {
  const { ctx, key } = await setup();
  assert.deepEqual(await ctx.lock.lock(ctx, 'lock-pw'), { info: 'Agent locked' });
  assert.equal(ctx.lock.locked, true);
  const a = ctx.accounts.get('a')!;
  assert.equal(a.config.refresh_token, '');
  assert.equal(a.config.client_secret, '');
  assert.equal(a.fileKey, undefined);
  assert.equal(ctx.cache.countFor('a'), 0);
  const visible = JSON.stringify(a.config);
  for (const s of [RT, SECRET]) assert.ok(!visible.includes(s));

  await assert.rejects(ctx.lock.lock(ctx, 'again'), (e: unknown) => e instanceof AgentError && e.message === 'Agent locked');
  await assert.rejects(ctx.lock.unlock(ctx, 'nope'), (e: unknown) => e instanceof AgentError && e.message === 'wrong password');
  assert.equal(ctx.lock.locked, true);
  assert.deepEqual(await ctx.lock.unlock(ctx, 'lock-pw'), { info: 'Agent unlocked' });
  assert.equal(ctx.lock.locked, false);
  assert.equal(a.config.refresh_token, RT);
  assert.equal(a.config.client_secret, SECRET);
  assert.deepEqual(a.fileKey?.derived, key.derived);
  assert.equal(ctx.cache.peek(cacheKey('a', [], []), 0)?.access_token, AT);
  await assert.rejects(ctx.lock.unlock(ctx, 'lock-pw'), (e: unknown) => e instanceof AgentError && e.message === 'Agent not locked');
});

test('an account whose lifetime ends while locked stays unloaded after unlock', async () => {
  const { ctx } = await setup();
  await ctx.lock.lock(ctx, 'pw');
  ctx.accounts.remove('a');
  await ctx.lock.unlock(ctx, 'pw');
  assert.equal(ctx.accounts.get('a'), undefined);
  assert.equal(ctx.cache.countFor('a'), 0);
});

test('the delay grows as 100 ms × n², capped at n = 25', () => {
  assert.deepEqual([1, 2, 3, 25, 40].map(unlockDelayMs), [100, 400, 900, 62_500, 62_500]);
});

test('concurrent wrong passwords wait in line: each is answered after the growing delay, a right one after them all', async () => {
  const { ctx } = await setup();
  await ctx.lock.lock(ctx, 'pw');
  const start = Date.now();
  const answeredAt: number[] = [];
  const attempts = ['w1', 'w2', 'w3'].map((p) =>
    ctx.lock.unlock(ctx, p).then(
      () => assert.fail('a wrong password unlocked'),
      (e: unknown) => {
        assert.equal((e as Error).message, 'wrong password');
        answeredAt.push(Date.now() - start);
      },
    ),
  );
  const right = ctx.lock.unlock(ctx, 'pw').then(() => Date.now() - start);
  await Promise.all(attempts);
  const rightAt = await right;
  // Lower bounds only: the delays (100, 400, 900 ms) add up because the attempts queue.
  assert.ok(answeredAt[0]! >= 100 && answeredAt[1]! >= 500 && answeredAt[2]! >= 1400, JSON.stringify(answeredAt));
  assert.ok(rightAt >= 1400, `unlocked after ${rightAt} ms`);
  assert.equal(ctx.lock.locked, false);
});

test('a refresh that is running when the lock comes in finishes first, so its rotated token is sealed, not lost', async () => {
  const { ctx } = await setup();
  const a = ctx.accounts.get('a')!;
  let release!: () => void;
  a.refreshQueue = new Promise<void>((r) => (release = r)).then(() => {
    a.config = { ...a.config, refresh_token: 'rt-rotated' };
  });
  const locking = ctx.lock.lock(ctx, 'pw');
  assert.equal(ctx.lock.locked, true, 'locked (refusing requests) at once');
  release();
  await locking;
  await ctx.lock.unlock(ctx, 'pw');
  assert.equal(a.config.refresh_token, 'rt-rotated');
});
