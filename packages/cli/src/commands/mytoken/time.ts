/**
 * mytoken's time syntax for `nbf`/`exp` (options and restriction templates), turned into unix
 * seconds before anything is sent:
 *
 * - all digits: a unix timestamp (`0` = no limit, as mytoken reads it);
 * - `+<digits>`: now + that many seconds;
 * - `+<n><unit>…`: now + a duration, units `y` (365 d) `w` `d` `h` `m` `s`, e.g. `+3d12h30m`;
 * - `YYYY-MM-DD HH:MM` (or `YYYY-MM-DDTHH:MM`): local time.
 *
 * Stricter than the mytoken CLI (Go's ParseDuration): no fractions, no `ms`/`us`/`ns`, no negative
 * values, nothing beyond the year 9999, and a local time that does not exist (a DST gap, 02-30)
 * is refused instead of being moved.
 * @see ../../../../../shared/reference/mytoken-wlcg.md §1.11
 */

/** 9999-12-31T23:59:59Z: later values are typos (or overflow attempts), not restrictions. */
export const MAX_TIME = 253_402_300_799;

const UNIT_SECONDS: Readonly<Record<string, number>> = { y: 365 * 86_400, w: 7 * 86_400, d: 86_400, h: 3_600, m: 60, s: 1 };

/** A value that is not a time; `message` names the value and says what was expected. */
export class TimeSyntaxError extends Error {
  override readonly name = 'TimeSyntaxError';
  readonly code = 'ERR_MYTOKEN_TIME';
}

const SYNTAX_HINT = 'expected a unix timestamp, +DURATION (e.g. +3d12h30m; units y w d h m s) or "YYYY-MM-DD HH:MM" (local time)';

function shown(value: string): string {
  const cut = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(cut);
}

function bad(what: string, value: string, why: string = SYNTAX_HINT): TimeSyntaxError {
  return new TimeSyntaxError(`${what}: ${shown(value)} is not a time: ${why}`);
}

function checkedSum(what: string, value: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_TIME) throw bad(what, value, 'out of range (after 9999-12-31 or overflow)');
  return n;
}

/** The seconds of a `+…` duration (without the `+`). */
function parseDuration(what: string, value: string, body: string): number {
  if (body === '') throw bad(what, value, 'a duration after "+" is missing');
  if (/^\d+$/.test(body)) return checkedSum(what, value, Number(body));
  const part = /(\d+)([a-zA-Z]+)/y;
  let total = 0;
  let at = 0;
  while (at < body.length) {
    part.lastIndex = at;
    const m = part.exec(body);
    if (m === null) throw bad(what, value, `cannot read the duration at ${shown(body.slice(at))} (units y w d h m s, e.g. +3d12h30m)`);
    const unit = m[2] as string;
    const seconds = UNIT_SECONDS[unit];
    if (seconds === undefined || !Object.hasOwn(UNIT_SECONDS, unit)) throw bad(what, value, `unknown unit ${shown(unit)} (units y w d h m s)`);
    const n = Number(m[1]);
    // Each step stays a safe integer: n ≤ MAX_TIME is checked before multiplying.
    if (n > MAX_TIME) throw bad(what, value, 'out of range (after 9999-12-31 or overflow)');
    total = checkedSum(what, value, total + n * seconds);
    at = part.lastIndex;
  }
  return total;
}

/** `YYYY-MM-DD HH:MM` in local time; undefined when the value does not have that shape. */
function parseLocal(what: string, value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})$/.exec(value);
  if (m === null) return undefined;
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12) throw bad(what, value, `month ${mo} does not exist`);
  if (d < 1 || d > 31 || h > 23 || mi > 59) throw bad(what, value, 'day, hour or minute out of range');
  const date = new Date(y, mo - 1, d, h, mi, 0, 0);
  // Date rolls 2026-02-30 over to March, and a time in a DST gap to the next hour: refuse both.
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d) throw bad(what, value, `${y}-${m[2]} has no day ${d}`);
  if (date.getHours() !== h || date.getMinutes() !== mi) throw bad(what, value, 'this local time does not exist (daylight saving time change)');
  return checkedSum(what, value, Math.floor(date.getTime() / 1000));
}

/**
 * Converts one time value to unix seconds. `value` is an option's string or a template's string
 * or number; `what` names it in errors (`--exp`, `restriction 2 "nbf"`); `now` is unix seconds.
 * @throws TimeSyntaxError naming the value.
 */
export function parseTime(value: unknown, now: number, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_TIME) throw bad(what, String(value), 'a timestamp must be a whole number of seconds between 0 and 253402300799');
    return value;
  }
  if (typeof value !== 'string') throw new TimeSyntaxError(`${what}: must be a number or a string, not ${value === null ? 'null' : typeof value}`);
  const v = value.trim();
  if (v === '') throw bad(what, value, `empty; ${SYNTAX_HINT}`);
  if (v.length > 64) throw bad(what, value, 'too long');
  if (/^\d+$/.test(v)) return checkedSum(what, value, Number(v));
  if (v.startsWith('+')) return checkedSum(what, value, now + parseDuration(what, value, v.slice(1)));
  if (v.startsWith('-')) throw bad(what, value, 'negative times are not allowed: use a timestamp or +DURATION');
  const local = parseLocal(what, v);
  if (local !== undefined) return local;
  throw bad(what, value);
}
