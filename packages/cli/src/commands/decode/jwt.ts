/** Decoding a JWT for display (no verification here) and showing its times, like htdecodetoken. */

export type Decoded =
  | { kind: 'jwt'; header: Record<string, unknown>; payload: Record<string, unknown> }
  /** JWE (five parts): encrypted, only its recipient can read it. */
  | { kind: 'encrypted'; header: Record<string, unknown> }
  | { kind: 'opaque' };

function part(s: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and decodes a compact JWS/JWE; anything else is opaque. */
export function decodeToken(token: string): Decoded {
  const parts = token.split('.');
  if (parts.length === 3) {
    const header = part(parts[0]!);
    const payload = part(parts[1]!);
    if (header !== undefined && payload !== undefined && /^[A-Za-z0-9_-]*$/.test(parts[2]!)) return { kind: 'jwt', header, payload };
  }
  if (parts.length === 5) {
    const header = part(parts[0]!);
    if (header !== undefined && typeof header['enc'] === 'string') return { kind: 'encrypted', header };
  }
  return { kind: 'opaque' };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2025-01-02 13:04:05 +01:00` in the local time zone. */
export function localTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const zone = `${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
}

/** `1d 2h 3m 4s` (largest units only as needed; `0s` for zero). */
export function duration(seconds: number): string {
  let s = Math.round(Math.abs(seconds));
  const out: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    if (s >= size) {
      out.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s > 0 || out.length === 0) out.push(`${s}s`);
  return out.join(' ');
}

export interface TimeClaim {
  unix: number;
  local: string;
  /** Seconds from now (negative: in the past). */
  seconds_from_now: number;
  /** `valid for 4m 12s`, `expired 3s ago`, `issued 2m ago`, … */
  note: string;
}

/** `exp`, `iat`, `nbf` of a payload, in local time and relative to `now` (Unix s). */
export function timeClaims(payload: Record<string, unknown>, now: number): Partial<Record<'exp' | 'iat' | 'nbf', TimeClaim>> {
  const out: Partial<Record<'exp' | 'iat' | 'nbf', TimeClaim>> = {};
  for (const claim of ['exp', 'iat', 'nbf'] as const) {
    const v = payload[claim];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    const delta = v - now;
    let note: string;
    if (claim === 'exp') note = delta > 0 ? `valid for ${duration(delta)}` : `expired ${duration(delta)} ago`;
    else if (claim === 'iat') note = delta <= 0 ? `issued ${duration(delta)} ago` : `issued in the future (${duration(delta)} from now)`;
    else note = delta <= 0 ? `valid since ${duration(delta)} ago` : `not valid for another ${duration(delta)}`;
    out[claim] = { unix: v, local: localTime(v), seconds_from_now: delta, note };
  }
  return out;
}
