import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIME, parseTime, TimeSyntaxError } from './time.js';

const NOW = 1_800_000_000; // fixed clock (2027-01-15T08:00:00Z)

test('a unix timestamp is taken as it is (string or number; 0 = no limit)', () => {
  assert.equal(parseTime('1700000000', NOW, '--exp'), 1_700_000_000);
  assert.equal(parseTime(' 1700000000 ', NOW, '--exp'), 1_700_000_000);
  assert.equal(parseTime(1_700_000_000, NOW, '"exp"'), 1_700_000_000);
  assert.equal(parseTime('0', NOW, '--exp'), 0);
  assert.equal(parseTime(0, NOW, '--exp'), 0);
  assert.equal(parseTime('000042', NOW, '--exp'), 42);
});

test('relative: bare +N is seconds; units y w d h m s add up', () => {
  assert.equal(parseTime('+60', NOW, '--exp'), NOW + 60);
  assert.equal(parseTime('+0', NOW, '--exp'), NOW);
  assert.equal(parseTime('+3d12h30m', NOW, '--exp'), NOW + 3 * 86_400 + 12 * 3_600 + 30 * 60);
  assert.equal(parseTime('+1y', NOW, '--exp'), NOW + 365 * 86_400);
  assert.equal(parseTime('+2w', NOW, '--exp'), NOW + 14 * 86_400);
  assert.equal(parseTime('+90s', NOW, '--exp'), NOW + 90);
  assert.equal(parseTime('+1h1h', NOW, '--exp'), NOW + 7_200, 'a repeated unit adds up, as in Go durations');
  assert.equal(parseTime('+5m10s', NOW, '--exp'), NOW + 310);
  assert.equal(parseTime(' +3d ', NOW, '--exp'), NOW + 3 * 86_400, 'surrounding whitespace is ignored');
});

test('local time YYYY-MM-DD HH:MM is the local wall clock (checked against Date, any TZ)', () => {
  const want = Math.floor(new Date(2027, 2, 4, 13, 45).getTime() / 1000);
  assert.equal(parseTime('2027-03-04 13:45', NOW, '--exp'), want);
  assert.equal(parseTime('2027-03-04T13:45', NOW, '--exp'), want);
  assert.equal(parseTime('2028-02-29 00:00', NOW, '--exp'), Math.floor(new Date(2028, 1, 29).getTime() / 1000), 'leap day');
});

const hostile: [unknown, RegExp][] = [
  ['', /empty/],
  ['   ', /empty/],
  ['+', /duration after "\+" is missing/],
  ['+3x', /unknown unit "x"/],
  ['+3ms', /unknown unit "ms"/],
  ['+1.5h', /cannot read the duration/],
  ['+d', /cannot read the duration/],
  ['+3d12', /cannot read the duration at "12"/],
  ['-3d', /negative/],
  ['-1', /negative/],
  ['2026-13-40 10:00', /month 13 does not exist/],
  ['2026-02-30 10:00', /has no day 30/],
  ['2027-02-29 10:00', /has no day 29/],
  ['2026-01-01 24:00', /out of range/],
  ['2026-01-01 10:60', /out of range/],
  ['2026-01-01', /is not a time/],
  ['10:00', /is not a time/],
  ['tomorrow', /is not a time/],
  ['1e9', /is not a time/],
  ['0x10', /is not a time/],
  ['99999999999999999999', /out of range/],
  ['+99999999999999999999', /out of range/],
  ['+9999999999y', /out of range/],
  ['+300000y', /out of range/],
  [String(MAX_TIME + 1), /out of range/],
  ['x'.repeat(1000), /too long/],
  [-1, /whole number of seconds/],
  [1.5, /whole number of seconds/],
  [Number.NaN, /whole number of seconds/],
  [Infinity, /whole number of seconds/],
  [1e300, /whole number of seconds/],
  [null, /not null/],
  [true, /not boolean/],
  [{}, /not object/],
  [['+1d'], /not object/],
];
for (const [value, want] of hostile) {
  const label = typeof value === 'string' && value.length > 30 ? `${value.slice(0, 30)}…` : String(value);
  test(`refused: ${JSON.stringify(label)}`, () => {
    assert.throws(
      () => parseTime(value, NOW, '--exp'),
      (err: unknown) => {
        assert.ok(err instanceof TimeSyntaxError, `a TimeSyntaxError, not ${String(err)}`);
        assert.match(err.message, want);
        assert.match(err.message, /^--exp/, 'names the option');
        return true;
      },
    );
  });
}

test('the error names the offending value (shortened when long)', () => {
  assert.throws(() => parseTime('+3x', NOW, 'clause 2 "exp"'), /clause 2 "exp": "\+3x" is not a time/);
  assert.throws(() => parseTime(`+${'9'.repeat(50)}`, NOW, '--nbf'), (err: Error) => err.message.length < 300);
});

test('relative times near the end of the range: now + duration beyond 9999 is refused', () => {
  assert.equal(parseTime('+1s', MAX_TIME - 1, '--exp'), MAX_TIME);
  assert.throws(() => parseTime('+2s', MAX_TIME - 1, '--exp'), /out of range/);
});

/** Runs `fn` with the process time zone set to `tz` (Node re-reads TZ when it changes). */
function inZone(tz: string, fn: () => void): void {
  const old = process.env['TZ'];
  process.env['TZ'] = tz;
  try {
    fn();
  } finally {
    if (old === undefined) delete process.env['TZ'];
    else process.env['TZ'] = old;
  }
}

test('TZ=UTC: local time is the UTC instant', () => {
  inZone('UTC', () => assert.equal(parseTime('2027-01-15 08:00', NOW, '--exp'), NOW));
});

test('a local time in a DST gap does not exist and is refused; the hour after it is fine', () => {
  inZone('Europe/Berlin', () => {
    // 2027-03-28: clocks jump from 02:00 to 03:00 CET→CEST.
    if (new Date(2027, 2, 28, 2, 30).getHours() === 2) return; // no tz data: nothing to check
    assert.throws(() => parseTime('2027-03-28 02:30', NOW, '--exp'), /does not exist \(daylight saving/);
    assert.equal(parseTime('2027-03-28 03:30', NOW, '--exp'), Date.UTC(2027, 2, 28, 1, 30) / 1000);
    assert.equal(parseTime('2027-01-15 09:00', NOW, '--exp'), NOW, 'CET = UTC+1 in winter');
  });
});
