import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refreshLead, retryDelayMs } from './schedule.js';

test('the lead is 5–15 % of the usable window, jittered by random', () => {
  assert.equal(refreshLead(3540, 0), 177);
  assert.equal(Math.round(refreshLead(3540, 0.999999)), 531);
  assert.ok(refreshLead(3540, 0.5) > refreshLead(3540, 0.1), 'random moves it');
});

test('the lead is at least 0.5 s (a quarter of tiny windows), at most 10 minutes, never more than the window', () => {
  assert.equal(refreshLead(4, 0), 0.5);
  assert.equal(refreshLead(1, 0.9), 0.25);
  assert.equal(refreshLead(86_400, 0.9), 600);
  for (const w of [0.01, 0.3, 1, 2, 4, 10, 100, 10_000]) for (const r of [0, 0.5, 0.99]) assert.ok(refreshLead(w, r) < w, `window ${w}`);
  assert.equal(refreshLead(0, 0.5), 0);
  assert.equal(refreshLead(-3, 0.5), 0);
});

test('retries back off 1, 2, 4 … s up to 60 s, ±20 %', () => {
  assert.deepEqual([1, 2, 3, 4, 7, 8, 30].map((n) => retryDelayMs(n, 0.5)), [1_000, 2_000, 4_000, 8_000, 60_000, 60_000, 60_000]);
  assert.equal(retryDelayMs(1, 0), 800);
  assert.equal(retryDelayMs(1, 0.999999), 1_200);
});
