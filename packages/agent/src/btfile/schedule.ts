/**
 * When a watch refreshes: shortly before its token has only `min_valid` seconds left, a little
 * earlier by a random amount so that many watches (and many users behind one OP) do not refresh
 * in step; and how long it waits after a failure.
 */

/** Longest lead: a one-day token need not be refreshed hours early. */
const MAX_LEAD_S = 600;
/** Shortest lead, so a refresh has time to finish (shorter only for windows under 2 s). */
const MIN_LEAD_S = 0.5;

/**
 * Seconds before the end of the usable window (`expires_at - min_valid`) at which to refresh:
 * 5–15 % of the window (`random` in [0, 1) picks where), at least 0.5 s (a quarter of the window
 * when that is shorter), at most 10 minutes. A one-hour token with min-valid 60 s refreshes
 * 3–9 minutes before it would fall under 60 s; a 5 s token with min-valid 1 s, 0.5–0.6 s before.
 */
export function refreshLead(usableSeconds: number, random: number): number {
  if (!(usableSeconds > 0)) return 0;
  const lead = usableSeconds * (0.05 + 0.1 * random);
  return Math.min(Math.max(lead, Math.min(MIN_LEAD_S, usableSeconds / 4)), MAX_LEAD_S);
}

/** Backoff after `failures` (≥ 1) failed refreshes: 1, 2, 4 … 60 s, ±20 %, in ms. */
export function retryDelayMs(failures: number, random: number): number {
  const base = Math.min(1_000 * 2 ** Math.max(0, failures - 1), 60_000);
  return Math.round(base * (0.8 + 0.4 * random));
}
