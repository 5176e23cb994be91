import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache, cacheKey } from './token-cache.js';

test('cache keys ignore order and duplicates of scopes and audiences', () => {
  assert.equal(cacheKey('a', ['openid', 'profile', 'openid'], ['y', 'x']), cacheKey('a', ['profile', 'openid'], ['x', 'y']));
  assert.notEqual(cacheKey('a', ['openid'], []), cacheKey('a', [], ['openid']));
  assert.notEqual(cacheKey('a', [], []), cacheKey('b', [], []));
});

test('hit only while expires_at - now > min_valid_period; -1 always misses', async () => {
  let now = 1000;
  const cache = new TokenCache(() => now);
  let calls = 0;
  const fetch = async () => ({ access_token: `t${++calls}`, expires_at: now + 100 });
  assert.equal((await cache.get('k', 0, fetch)).access_token, 't1');
  assert.equal((await cache.get('k', 0, fetch)).access_token, 't1');
  assert.equal((await cache.get('k', 99, fetch)).access_token, 't1');
  assert.equal((await cache.get('k', 100, fetch)).access_token, 't2', 'exactly 100 s left is not more than 100');
  assert.equal((await cache.get('k', -1, fetch)).access_token, 't3');
  now += 101;
  assert.equal(cache.peek('k', 0), undefined);
  assert.equal((await cache.get('k', 0, fetch)).access_token, 't4');
});

test('concurrent misses share one fetch; a failed fetch is not cached and the next miss retries', async () => {
  const cache = new TokenCache(() => 0);
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fetch = async () => {
    calls++;
    await gate;
    return { access_token: 'shared', expires_at: 60 };
  };
  const all = Promise.all(Array.from({ length: 200 }, () => cache.get('k', 0, fetch)));
  release();
  const got = await all;
  assert.equal(calls, 1);
  assert.ok(got.every((t) => t.access_token === 'shared'));

  let fails = 0;
  const failing = async () => {
    fails++;
    throw new Error('op down');
  };
  await assert.rejects(Promise.all([cache.get('x', 0, failing), cache.get('x', 0, failing)]), /op down/);
  assert.equal(fails, 1);
  await assert.rejects(cache.get('x', 0, failing));
  assert.equal(fails, 2);
});

test('dropAccount removes only that account', async () => {
  const cache = new TokenCache(() => 0);
  const t = async () => ({ access_token: 'x', expires_at: 10 });
  await cache.get(cacheKey('a', [], []), 0, t);
  await cache.get(cacheKey('a', ['s'], []), 0, t);
  await cache.get(cacheKey('ab', [], []), 0, t);
  assert.equal(cache.countFor('a'), 2);
  cache.dropAccount('a');
  assert.equal(cache.countFor('a'), 0);
  assert.equal(cache.countFor('ab'), 1);
});
