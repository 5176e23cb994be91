/**
 * Account-creation flows in progress (device and code flows), keyed by an unguessable
 * `state`. token-gen polls them with `state_lookup`; oidc-gen waits for a device flow with
 * `device`; the agent polls the OP. A flow nobody asks for any more expires and is cancelled.
 */
import { randomBytes } from 'node:crypto';
import type { FailureReply } from '@token-agent/protocol';

type FlowState =
  | { kind: 'pending' }
  /** `reply`: what `state_lookup` answers (the account configuration, or an access token with `only_at`). */
  | { kind: 'done'; reply: Record<string, unknown> }
  | { kind: 'failed'; failure: FailureReply }
  | { kind: 'received' };

interface Flow {
  state: FlowState;
  readonly abort: AbortController;
  readonly expiresAt: number;
  timer: NodeJS.Timeout;
  /** A device flow's user code (oidc-gen's `device` request finds the flow by it). */
  readonly userCode: string | undefined;
  /** Callers of {@link PendingFlows.settled} waiting for the outcome. */
  readonly waiters: Array<() => void>;
}

/** Grace after the OP's expiry before a finished result nobody fetched is dropped. */
const GRACE_MS = 60_000;

export class PendingFlows {
  readonly #flows = new Map<string, Flow>();

  /**
   * Registers a flow that lives for `ttlSeconds` (a device flow with its `userCode`); returns its
   * state and the signal that cancels it.
   */
  start(ttlSeconds: number, userCode?: string): { state: string; signal: AbortSignal } {
    const state = randomBytes(24).toString('base64url');
    const abort = new AbortController();
    const ms = ttlSeconds * 1000 + GRACE_MS;
    const timer = setTimeout(() => this.cancel(state), ms);
    timer.unref();
    this.#flows.set(state, { state: { kind: 'pending' }, abort, expiresAt: Date.now() + ms, timer, userCode, waiters: [] });
    return { state, signal: abort.signal };
  }

  succeed(state: string, reply: Record<string, unknown>): void {
    const f = this.#flows.get(state);
    if (f?.state.kind !== 'pending') return;
    f.state = { kind: 'done', reply };
    for (const w of f.waiters.splice(0)) w();
  }

  fail(state: string, failure: FailureReply): void {
    const f = this.#flows.get(state);
    if (f?.state.kind !== 'pending') return;
    f.state = { kind: 'failed', failure };
    for (const w of f.waiters.splice(0)) w();
  }

  /** The state of the pending device flow with this user code, if any. */
  deviceFlow(userCode: string): string | undefined {
    for (const [state, f] of this.#flows) if (f.userCode !== undefined && f.userCode === userCode) return state;
    return undefined;
  }

  /** Resolves once the flow is no longer pending (done, failed, cancelled or expired). */
  settled(state: string): Promise<void> {
    const f = this.#flows.get(state);
    if (f === undefined || f.state.kind !== 'pending') return Promise.resolve();
    return new Promise((resolve) => f.waiters.push(resolve));
  }

  /** Reads a flow's outcome; a finished result is handed out once. */
  lookup(state: string): FlowState | undefined {
    const f = this.#flows.get(state);
    if (f === undefined) return undefined;
    const s = f.state;
    if (s.kind === 'done' || s.kind === 'failed') f.state = { kind: 'received' };
    return s;
  }

  /** Cancels and forgets a flow (on expiry, or when its account is removed). */
  cancel(state: string): void {
    const f = this.#flows.get(state);
    if (f === undefined) return;
    clearTimeout(f.timer);
    f.abort.abort();
    this.#flows.delete(state);
    for (const w of f.waiters.splice(0)) w();
  }

  cancelAll(): void {
    for (const state of [...this.#flows.keys()]) this.cancel(state);
  }

  get size(): number {
    return this.#flows.size;
  }
}
