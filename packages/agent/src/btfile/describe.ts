/** The watches as lines of `token-agent --status`. */
import type { WatchStatus } from '@token-agent/protocol';

function inOrAgo(now: number, t: number): string {
  return t >= now ? `in ${t - now} s` : `${now - t} s ago`;
}

function ago(now: number, t: number): string {
  return `${Math.max(0, now - t)} s ago`;
}

export function describeWatches(watches: readonly WatchStatus[], now: number): string[] {
  if (watches.length === 0) return ['no watched token files'];
  const lines = [`watched token files (${watches.length}):`];
  for (const w of watches) {
    const what = [w.account, ...w.scope.map((s) => `-s ${s}`), ...w.audience.map((a) => `--aud ${a}`)].join(' ');
    lines.push(`  ${w.path}  ${what}  (min valid ${w.min_valid_period} s)`);
    let state: string;
    if (w.state === 'waiting') state = `waiting for the account: token-add ${w.account}`;
    else if (w.state === 'ok') state = `ok, token expires ${inOrAgo(now, w.expires_at ?? now)}`;
    else state = `REFRESH FAILING (${w.failures} ${w.failures === 1 ? 'try' : 'tries'}); ${w.expires_at === undefined ? 'file removed (no valid token)' : `token in the file expires ${inOrAgo(now, w.expires_at)}`}`;
    if (w.next_refresh_at !== undefined) state += `, next ${w.state === 'failing' ? 'try' : 'refresh'} ${inOrAgo(now, w.next_refresh_at)}`;
    else if (w.state !== 'waiting') state += ', refreshing now';
    lines.push(`    ${state}`);
    if (w.last_error !== undefined && w.state !== 'ok') lines.push(`    last error (${ago(now, w.last_error.at)}): ${w.last_error.error}`);
  }
  return lines;
}
