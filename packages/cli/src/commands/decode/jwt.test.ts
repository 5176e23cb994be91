import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeToken, duration, localTime, timeClaims } from './jwt.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

test('a JWS decodes to header and payload; JWE and anything else do not', () => {
  assert.deepEqual(decodeToken(`${b64({ alg: 'RS256' })}.${b64({ sub: 'x' })}.c2ln`), { kind: 'jwt', header: { alg: 'RS256' }, payload: { sub: 'x' } });
  assert.equal(decodeToken(`${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`).kind, 'encrypted');
  for (const t of ['2YotnFZFEjr1zCsicMWpAA', 'a.b.c', `${b64([1])}.${b64({})}.x`, `${b64({})}.${b64({})}.sig.extra`, `${b64({})}.${b64('s')}.x`]) {
    assert.equal(decodeToken(t).kind, 'opaque', t);
  }
});

test('durations read like 1d 2h 3m 4s; times are local with their offset', () => {
  assert.deepEqual([0, 59, 60, 61, 3_600, 93_784, -125].map(duration), ['0s', '59s', '1m', '1m 1s', '1h', '1d 2h 3m 4s', '2m 5s']);
  assert.match(localTime(0), /^19(70|69)-\d\d-\d\d \d\d:\d\d:00 [+-]\d\d:\d\d$/);
});

test('exp, iat and nbf relative to now', () => {
  const t = timeClaims({ exp: 1_100, iat: 900, nbf: 1_030, other: 5 }, 1_000);
  assert.equal(t.exp?.note, 'valid for 1m 40s');
  assert.equal(t.iat?.note, 'issued 1m 40s ago');
  assert.equal(t.nbf?.note, 'not valid for another 30s');
  assert.equal(timeClaims({ exp: 990 }, 1_000).exp?.note, 'expired 10s ago');
  assert.deepEqual(Object.keys(timeClaims({ exp: 'soon' }, 0)), []);
});
