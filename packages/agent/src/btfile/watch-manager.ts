/**
 * Watches: discovery files the agent keeps holding a valid token (WLCG Bearer Token Discovery),
 * so WLCG tools find one without calling us.
 *
 * A watch refreshes shortly before its token would have less than `min_valid` seconds left (with
 * jitter, see schedule.ts). When a refresh fails it keeps the current token while it is valid,
 * retries with backoff and reports the failure; when that token expires the file is removed, and
 * the next successful retry writes it again. Its file is removed when the watch ends (`unwatch`),
 * when the account is unloaded (the watch then waits for the account to be added again) and when
 * the agent stops. The list of watches — never a token — is persisted, so watches come back after
 * an agent restart once their account is added.
 *
 * File operations on one path run one at a time, and every watch carries an `epoch` that ends
 * when it is disarmed: a refresh that finishes after its watch ended writes nothing.
 */
import type { WatchStatus } from '@token-agent/protocol';
import type { CachedToken } from '../cache/token-cache.js';
import { AgentError, toFailure } from '../errors.js';
import type { Logger } from '../log.js';
import { checkTokenPath, readOwnFile, removeTokenFile, writeTokenFile } from './safe-file.js';
import { refreshLead, retryDelayMs } from './schedule.js';
import { readWatchList, writeWatchList, type WatchSpec } from './watch-list.js';

export type { WatchSpec } from './watch-list.js';

export interface WatchDeps {
  /**
   * A token for the spec's account, scopes and audiences that stays valid for more than
   * `minValid` seconds (the agent's token cache, shared with `access_token`). Rejects when the
   * account is not loaded or the OP refuses.
   */
  getToken(spec: WatchSpec, minValid: number): Promise<CachedToken>;
  log: Logger;
  /** Where the watch list is persisted; undefined: not persisted. */
  listFile: string | undefined;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
  /** In [0, 1) (tests). */
  random?: () => number;
}

interface Watch {
  readonly spec: WatchSpec;
  state: WatchStatus['state'];
  /** The token in the file, while there is one. */
  token: CachedToken | undefined;
  /** When the token in the file expires: its `exp` claim when earlier than the agent's `expires_at`. */
  expiry: number | undefined;
  /** The exact content of the file as we wrote (or, after a restart, found) it. */
  written: string | undefined;
  /** `exp` of a token a previous agent left in the file (see `load`). */
  leftoverExp: number | undefined;
  failures: number;
  lastError: { at: number; error: string } | undefined;
  lastRefreshAt: number | undefined;
  /** ms */
  nextRefreshAt: number | undefined;
  refreshTimer: NodeJS.Timeout | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  /** Bumped when the watch is disarmed; work started under an older epoch is dropped. */
  epoch: number;
}

/** See `#fetch`. */
const CACHE_SLACK_S = 2;

/** setTimeout's limit is ~24.8 days; longer waits are re-armed in steps. */
const MAX_TIMER_MS = 6 * 60 * 60 * 1000;

function sameSpec(a: WatchSpec, b: WatchSpec): boolean {
  const set = (xs: string[]) => [...new Set(xs)].sort().join(' ');
  return a.account === b.account && a.path === b.path && a.minValid === b.minValid && set(a.scopes) === set(b.scopes) && set(a.audiences) === set(b.audiences);
}

/**
 * When a token stops being usable for the tools that read the file: its JWT `exp` when that comes
 * before the agent's `expires_at` (which counts `expires_in` from the whole second the answer
 * arrived in, so it can be a second late).
 */
function expiryOf(t: CachedToken): number {
  const exp = jwtExp(t.access_token);
  return exp !== undefined && exp < t.expires_at ? exp : t.expires_at;
}

/** `exp` of a JWT (unverified: only for timing, never for trust). */
function jwtExp(token: string): number | undefined {
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

export class WatchManager {
  readonly #watches = new Map<string, Watch>();
  /** Per path: the tail of its chain of file operations. */
  readonly #fileOps = new Map<string, Promise<unknown>>();
  #saving: Promise<void> = Promise.resolve();
  readonly #deps: WatchDeps;
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(deps: WatchDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
  }

  /**
   * Reads the persisted list: every watch waits for its account. A file a previous agent left
   * behind (killed without a chance to clean up) is removed once its token has expired.
   */
  async load(): Promise<void> {
    const file = this.#deps.listFile;
    if (file === undefined) return;
    const { watches, problems } = await readWatchList(file);
    for (const problem of problems) this.#deps.log.warn('bt-watch-list-invalid', { problem });
    for (const spec of watches) {
      if (this.#watches.has(spec.path)) continue;
      const w = this.#newWatch(spec);
      this.#watches.set(spec.path, w);
      await this.#adoptLeftover(w);
    }
    if (watches.length > 0) this.#deps.log.info('bt-watches-restored', { count: watches.length });
  }

  /**
   * Starts keeping `spec.path` (replacing another watch of that path). The first token is
   * written before this resolves; when that fails (the account, the OP, a hostile path) it
   * throws and nothing changes.
   */
  async watch(spec: WatchSpec): Promise<WatchStatus> {
    const existing = this.#watches.get(spec.path);
    if (existing !== undefined && existing.state === 'ok' && sameSpec(existing.spec, spec)) return this.#status(existing);
    // A hostile or missing path is refused before anything is asked of the OP.
    await checkTokenPath(spec.path);
    const token = await this.#fetch(spec, spec.minValid);
    const w = await this.#onFile(spec.path, async () => {
      await writeTokenFile(spec.path, token.access_token);
      const prev = this.#watches.get(spec.path);
      if (prev !== undefined) this.#disarm(prev);
      const fresh = this.#newWatch(spec);
      this.#watches.set(spec.path, fresh);
      this.#took(fresh, token);
      return fresh;
    });
    this.#persist();
    this.#deps.log.info('bt-watch-started', { account: spec.account, path: spec.path, min_valid: spec.minValid, expires_at: w.expiry });
    return this.#status(w);
  }

  /** Writes one token to `spec.path` without watching it (`token-get --bt`); returns its expiry. */
  async writeOnce(spec: WatchSpec): Promise<number> {
    const w = this.#watches.get(spec.path);
    if (w !== undefined) {
      throw new AgentError(`${spec.path} is kept by a watch for '${w.spec.account}'`, `end it first: token-get ${w.spec.account} --unwatch --bt-file ${spec.path}`);
    }
    await checkTokenPath(spec.path);
    const token = await this.#fetch(spec, spec.minValid);
    await this.#onFile(spec.path, () => writeTokenFile(spec.path, token.access_token));
    const expiry = expiryOf(token);
    this.#deps.log.info('bt-written', { account: spec.account, path: spec.path, expires_at: expiry });
    return expiry;
  }

  /** Ends the watches of `account` (on `path` only, when given) and removes their files. */
  async unwatch(account: string, path?: string): Promise<string[]> {
    const hits = [...this.#watches.values()].filter((w) => w.spec.account === account && (path === undefined || w.spec.path === path));
    if (hits.length === 0) {
      const others = [...this.#watches.values()].filter((w) => w.spec.account === account).map((w) => w.spec.path);
      throw new AgentError(
        `no watch for '${account}'${path === undefined ? '' : ` on ${path}`}`,
        others.length > 0 ? `its watches: ${others.join(', ')} (name one with --bt-file PATH)` : undefined,
      );
    }
    for (const w of hits) await this.#end(w, 'unwatch');
    this.#persist();
    return hits.map((w) => w.spec.path);
  }

  /** The account was added: its waiting watches get a token and write their files again. */
  accountLoaded(account: string): void {
    for (const w of this.#watches.values()) {
      if (w.spec.account !== account || w.state !== 'waiting') continue;
      this.#disarm(w);
      this.#scheduleLeftoverDrop(w);
      this.#deps.log.info('bt-watch-resumed', { account, path: w.spec.path });
      void this.#refresh(w, w.epoch);
    }
  }

  /** The account was unloaded: its files go; its watches wait for it to be added again. */
  async accountUnloaded(account: string): Promise<void> {
    const removals: Promise<unknown>[] = [];
    for (const w of this.#watches.values()) {
      if (w.spec.account !== account) continue;
      this.#disarm(w);
      const content = w.written;
      w.state = 'waiting';
      w.token = undefined;
      w.expiry = undefined;
      w.written = undefined;
      w.leftoverExp = undefined;
      w.failures = 0;
      if (content !== undefined) removals.push(this.#onFile(w.spec.path, () => removeTokenFile(w.spec.path, content)));
      this.#deps.log.info('bt-watch-suspended', { account, path: w.spec.path });
    }
    await Promise.all(removals);
  }

  /** The account is gone for good (`delete`): its watches end. */
  async accountDeleted(account: string): Promise<void> {
    const hits = [...this.#watches.values()].filter((w) => w.spec.account === account);
    for (const w of hits) await this.#end(w, 'account-deleted');
    if (hits.length > 0) this.#persist();
  }

  /** The agent stops: every file is removed; the persisted list stays for the next agent. */
  async shutdown(): Promise<void> {
    for (const w of this.#watches.values()) {
      this.#disarm(w);
      const content = w.written;
      w.written = undefined;
      w.token = undefined;
      if (content !== undefined) await this.#onFile(w.spec.path, () => removeTokenFile(w.spec.path, content));
    }
    await this.#saving;
  }

  list(): WatchStatus[] {
    return [...this.#watches.values()].map((w) => this.#status(w));
  }

  /** Resolves once pending writes of the watch list are done (tests). */
  flush(): Promise<void> {
    return this.#saving;
  }

  #newWatch(spec: WatchSpec): Watch {
    return {
      spec,
      state: 'waiting',
      token: undefined,
      expiry: undefined,
      written: undefined,
      leftoverExp: undefined,
      failures: 0,
      lastError: undefined,
      lastRefreshAt: undefined,
      nextRefreshAt: undefined,
      refreshTimer: undefined,
      expiryTimer: undefined,
      epoch: 0,
    };
  }

  #status(w: Watch): WatchStatus {
    const s: WatchStatus = {
      account: w.spec.account,
      path: w.spec.path,
      scope: w.spec.scopes,
      audience: w.spec.audiences,
      min_valid_period: w.spec.minValid,
      state: w.state,
      failures: w.failures,
    };
    if (w.token !== undefined && w.expiry !== undefined) s.expires_at = w.expiry;
    if (w.nextRefreshAt !== undefined) s.next_refresh_at = Math.round(w.nextRefreshAt / 1000);
    if (w.lastRefreshAt !== undefined) s.last_refresh_at = w.lastRefreshAt;
    if (w.lastError !== undefined) s.last_error = w.lastError;
    return s;
  }

  /**
   * A token that stays valid for more than `minValid` s and for more than the watch needs. A
   * cached token must outlive `minValid` by 2 s more: the cache counts whole seconds and
   * `expires_at` can be a second after the JWT's `exp`.
   */
  async #fetch(spec: WatchSpec, minValid: number): Promise<CachedToken> {
    const t = await this.#deps.getToken(spec, minValid + CACHE_SLACK_S);
    const left = expiryOf(t) - this.#now() / 1000;
    if (left <= spec.minValid) {
      throw new AgentError(
        `the OP issued a token valid for ${Math.max(0, Math.floor(left))} s, not more than the ${spec.minValid} s the file must keep`,
        'ask for less with -t/--min-valid',
      );
    }
    return t;
  }

  /** Runs `op` after every earlier file operation on `path`. */
  #onFile<T>(path: string, op: () => Promise<T> | T): Promise<T> {
    const prev = this.#fileOps.get(path) ?? Promise.resolve();
    const run = prev.then(op, op);
    const tail = run.catch(() => undefined);
    this.#fileOps.set(path, tail);
    void tail.then(() => {
      if (this.#fileOps.get(path) === tail) this.#fileOps.delete(path);
    });
    return run;
  }

  #disarm(w: Watch): void {
    w.epoch++;
    if (w.refreshTimer !== undefined) clearTimeout(w.refreshTimer);
    if (w.expiryTimer !== undefined) clearTimeout(w.expiryTimer);
    w.refreshTimer = undefined;
    w.expiryTimer = undefined;
    w.nextRefreshAt = undefined;
  }

  async #end(w: Watch, reason: string): Promise<void> {
    this.#disarm(w);
    if (this.#watches.get(w.spec.path) === w) this.#watches.delete(w.spec.path);
    const content = w.written;
    w.written = undefined;
    w.token = undefined;
    if (content !== undefined) await this.#onFile(w.spec.path, () => removeTokenFile(w.spec.path, content));
    this.#deps.log.info('bt-watch-ended', { account: w.spec.account, path: w.spec.path, reason });
  }

  /** Records a token just written and schedules the next refresh and the file's expiry. */
  #took(w: Watch, t: CachedToken): void {
    const expiry = expiryOf(t);
    w.token = t;
    w.expiry = expiry;
    w.written = `${t.access_token}\n`;
    w.leftoverExp = undefined;
    w.state = 'ok';
    w.failures = 0;
    w.lastRefreshAt = Math.floor(this.#now() / 1000);
    const usable = expiry - this.#now() / 1000 - w.spec.minValid;
    const due = (expiry - w.spec.minValid - refreshLead(usable, this.#random())) * 1000;
    const epoch = w.epoch;
    this.#setTimer(w, 'refresh', due, () => void this.#refresh(w, epoch));
    this.#setTimer(w, 'expiry', expiry * 1000, () => void this.#expire(w, epoch, t));
  }

  #setTimer(w: Watch, kind: 'refresh' | 'expiry', dueMs: number, fn: () => void): void {
    const key = kind === 'refresh' ? 'refreshTimer' : 'expiryTimer';
    if (w[key] !== undefined) clearTimeout(w[key]);
    if (kind === 'refresh') w.nextRefreshAt = dueMs;
    const arm = () => {
      const wait = dueMs - this.#now();
      if (wait <= 0) {
        w[key] = undefined;
        fn();
        return;
      }
      w[key] = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
    };
    w[key] = setTimeout(arm, Math.max(0, Math.min(dueMs - this.#now(), MAX_TIMER_MS)));
  }

  async #refresh(w: Watch, epoch: number): Promise<void> {
    if (w.epoch !== epoch) return;
    w.nextRefreshAt = undefined;
    const cur = w.token;
    // The cache serves a token only if it outlives `threshold`: asking for more than the file's
    // token has left (in the cache's whole seconds) means a newer token, never the same one.
    const threshold = cur === undefined ? w.spec.minValid : Math.max(w.spec.minValid, cur.expires_at - Math.floor(this.#now() / 1000));
    try {
      const t = await this.#fetch(w.spec, threshold);
      const wrote = await this.#onFile(w.spec.path, async () => {
        if (w.epoch !== epoch) return false;
        await writeTokenFile(w.spec.path, t.access_token);
        return true;
      });
      if (!wrote || w.epoch !== epoch) return;
      if (w.state !== 'ok') this.#deps.log.info('bt-watch-ok', { account: w.spec.account, path: w.spec.path, after_failures: w.failures });
      this.#took(w, t);
      this.#deps.log.debug('bt-refreshed', { account: w.spec.account, path: w.spec.path, expires_at: t.expires_at });
    } catch (err) {
      if (w.epoch !== epoch) return;
      const { reply, expected } = toFailure(err);
      if (!expected) this.#deps.log.error('bt-refresh-bug', { path: w.spec.path, error: err instanceof Error ? err.stack : String(err) });
      w.failures++;
      w.state = 'failing';
      w.lastError = { at: Math.floor(this.#now() / 1000), error: reply.error };
      const delay = retryDelayMs(w.failures, this.#random());
      this.#deps.log.warn('bt-refresh-failed', {
        account: w.spec.account,
        path: w.spec.path,
        failures: w.failures,
        retry_in_ms: delay,
        file: w.token !== undefined ? 'kept' : 'none',
        error: reply.error,
      });
      this.#setTimer(w, 'refresh', this.#now() + delay, () => void this.#refresh(w, epoch));
    }
  }

  /** The file's token expired without a successful refresh: the file goes. */
  async #expire(w: Watch, epoch: number, t: CachedToken): Promise<void> {
    if (w.epoch !== epoch || w.token !== t) return;
    const content = w.written;
    w.token = undefined;
    w.expiry = undefined;
    w.written = undefined;
    const outcome = await this.#onFile(w.spec.path, () => (content === undefined ? 'absent' : removeTokenFile(w.spec.path, content)));
    this.#deps.log.warn('bt-token-expired', { account: w.spec.account, path: w.spec.path, file: outcome, failures: w.failures });
  }

  /** A file left by an agent that could not clean up: removed now if expired, else when it expires. */
  async #adoptLeftover(w: Watch): Promise<void> {
    const content = await readOwnFile(w.spec.path);
    const exp = content === undefined ? undefined : jwtExp(content.trim());
    if (content === undefined || exp === undefined) return;
    w.written = content;
    w.leftoverExp = exp;
    if (exp * 1000 <= this.#now()) await this.#dropLeftover(w, w.epoch);
    else this.#scheduleLeftoverDrop(w);
  }

  #scheduleLeftoverDrop(w: Watch): void {
    if (w.leftoverExp === undefined || w.token !== undefined) return;
    const epoch = w.epoch;
    this.#setTimer(w, 'expiry', w.leftoverExp * 1000, () => void this.#dropLeftover(w, epoch));
  }

  async #dropLeftover(w: Watch, epoch: number): Promise<void> {
    const content = w.written;
    if (w.epoch !== epoch || w.token !== undefined || content === undefined) return;
    w.written = undefined;
    w.leftoverExp = undefined;
    const outcome = await this.#onFile(w.spec.path, () => removeTokenFile(w.spec.path, content));
    this.#deps.log.info('bt-leftover-removed', { path: w.spec.path, file: outcome });
  }

  #persist(): void {
    const file = this.#deps.listFile;
    if (file === undefined) return;
    const specs = [...this.#watches.values()].map((w) => w.spec);
    this.#saving = this.#saving
      .then(() => writeWatchList(file, specs))
      .catch((err: unknown) => this.#deps.log.warn('bt-watch-list-not-saved', { file, error: (err as Error).message }));
  }
}
