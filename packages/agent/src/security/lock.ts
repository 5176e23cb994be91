/**
 * `lock` / `unlock` (oidc-agent's `oidc-add -x` / `-X`). Locking seals every in-memory secret
 * (account configurations with refresh tokens and client secrets, file keys, cached access
 * tokens) into one AES-256-GCM blob under a key derived from the lock password with scrypt, and
 * wipes the plaintext copies the agent holds; while locked, only `check` and `unlock` are served.
 *
 * Unlock attempts are checked one at a time, in arrival order, against a verifier derived with
 * the same scrypt call (compared in constant time). After the n-th wrong password in a row the
 * reply, and the check of any attempt queued behind it, waits 100 ms × n² (n capped at 25, so at
 * most 62.5 s), as oidc-agent does — but on a timer: other clients are served meanwhile, and
 * concurrent attempts cannot skip the delay because they wait in the same queue.
 *
 * What it does not do: JavaScript strings cannot be wiped, so copies a garbage collector has not
 * reclaimed yet may remain in the heap; the lock protects against a process that can ask the
 * agent for tokens (or read a core dump taken later), not against one that can read its memory now.
 * @see ../../../../shared/reference/oidc-agent.md §2.6 (Lock), §2.8
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { AgentErrorText } from '@token-agent/protocol';
import { parseFileKey, serializeFileKey, type SerializedFileKey } from '@token-agent/store';
import { wipeFileKey, type AgentAccountConfig } from '../accounts/registry.js';
import type { CachedToken } from '../cache/token-cache.js';
import type { AgentContext } from '../context.js';
import { AgentError } from '../errors.js';

/** scrypt cost: N = 2^15, r = 8 (32 MiB, about 0.1 s), p = 1. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
/** Base of the growing delay after wrong passwords (ms × n²). */
const DELAY_BASE_MS = 100;
const DELAY_MAX_N = 25;
/** Unlock attempts waiting in line; more are refused at once (a flood must not queue forever). */
const MAX_QUEUED_ATTEMPTS = 16;

interface SealedAccount {
  name: string;
  config: AgentAccountConfig;
  fileKey: SerializedFileKey | undefined;
}
interface Vault {
  accounts: SealedAccount[];
  tokens: [string, CachedToken][];
}

interface Sealed {
  salt: Buffer;
  verifier: Buffer;
  iv: Buffer;
  tag: Buffer;
  blob: Buffer;
}

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, 64, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The growing delay after the n-th wrong password in a row. */
export function unlockDelayMs(failures: number): number {
  const n = Math.min(failures, DELAY_MAX_N);
  return DELAY_BASE_MS * n * n;
}

export class AgentLock {
  #state: 'unlocked' | 'locking' | 'locked' = 'unlocked';
  #sealed: Sealed | undefined;
  #sealing: Promise<void> | undefined;
  #failures = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #queued = 0;

  /** True from the moment a lock request is accepted until a successful unlock. */
  get locked(): boolean {
    return this.#state !== 'unlocked';
  }

  async lock(ctx: AgentContext, password: string): Promise<{ info: string }> {
    if (this.#state !== 'unlocked') throw new AgentError(AgentErrorText.locked);
    this.#state = 'locking';
    this.#sealing = this.#seal(ctx, password);
    try {
      await this.#sealing;
    } catch (err) {
      this.#state = 'unlocked';
      throw err;
    } finally {
      this.#sealing = undefined;
    }
    this.#state = 'locked';
    this.#failures = 0;
    ctx.log.info('agent-locked');
    return { info: 'Agent locked' };
  }

  unlock(ctx: AgentContext, password: string): Promise<{ info: string }> {
    if (this.#state === 'unlocked') return Promise.reject(new AgentError(AgentErrorText.notLocked));
    if (this.#queued >= MAX_QUEUED_ATTEMPTS) {
      return Promise.reject(new AgentError(AgentErrorText.wrongPassword, 'too many unlock attempts at once; try again later'));
    }
    this.#queued++;
    const attempt = this.#queue.then(() => this.#attempt(ctx, password));
    this.#queue = attempt.catch(() => undefined).finally(() => this.#queued--);
    return attempt;
  }

  async #attempt(ctx: AgentContext, password: string): Promise<{ info: string }> {
    await this.#sealing?.catch(() => undefined);
    const sealed = this.#sealed;
    if (this.#state === 'unlocked' || sealed === undefined) throw new AgentError(AgentErrorText.notLocked);
    const derived = await derive(password, sealed.salt);
    const ok = timingSafeEqual(derived.subarray(32), sealed.verifier);
    if (!ok) {
      derived.fill(0);
      this.#failures++;
      ctx.log.warn('unlock-failed', { failures: this.#failures });
      // Hold the queue: the next attempt is checked only after this delay.
      await sleep(unlockDelayMs(this.#failures));
      throw new AgentError(AgentErrorText.wrongPassword);
    }
    this.#open(ctx, derived.subarray(0, 32), sealed);
    derived.fill(0);
    this.#sealed = undefined;
    this.#failures = 0;
    this.#state = 'unlocked';
    ctx.log.info('agent-unlocked');
    return { info: 'Agent unlocked' };
  }

  async #seal(ctx: AgentContext, password: string): Promise<void> {
    // Pending account-creation flows would load an account with plaintext secrets later.
    ctx.flows.cancelAll();
    // Let refreshes (and their write-backs) that started before the lock finish, so that a
    // rotated refresh token is sealed, not lost. New ones are refused: `locked` is already true.
    for (;;) {
      const queues = ctx.accounts.all().map((a) => a.refreshQueue);
      await Promise.all(queues);
      // A macrotask turn: the token cache stores a refresh's result in a later microtask.
      await new Promise((r) => setImmediate(r));
      if (ctx.accounts.all().every((a, i) => a.refreshQueue === queues[i])) break;
    }
    const salt = randomBytes(16);
    const derived = await derive(password, salt);
    const vault: Vault = {
      accounts: ctx.accounts.all().map((a) => ({
        name: a.name,
        config: a.config,
        fileKey: a.fileKey === undefined ? undefined : serializeFileKey(a.fileKey),
      })),
      tokens: ctx.cache.entries(),
    };
    const plain = Buffer.from(JSON.stringify(vault), 'utf8');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', derived.subarray(0, 32), iv);
    const blob = Buffer.concat([cipher.update(plain), cipher.final()]);
    plain.fill(0);
    this.#sealed = { salt, verifier: Buffer.from(derived.subarray(32)), iv, tag: cipher.getAuthTag(), blob };
    derived.fill(0);
    for (const a of ctx.accounts.all()) {
      a.config = { ...a.config, refresh_token: '', client_secret: '', registration_access_token: '' };
      wipeFileKey(a);
    }
    ctx.cache.clear();
  }

  #open(ctx: AgentContext, key: Buffer, sealed: Sealed): void {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
    decipher.setAuthTag(sealed.tag);
    const plain = Buffer.concat([decipher.update(sealed.blob), decipher.final()]);
    const vault = JSON.parse(plain.toString('utf8')) as Vault;
    plain.fill(0);
    sealed.blob.fill(0);
    for (const s of vault.accounts) {
      // An account whose lifetime ended while locked stays unloaded.
      const a = ctx.accounts.get(s.name);
      if (a === undefined) continue;
      a.config = s.config;
      a.fileKey = s.fileKey === undefined ? undefined : parseFileKey(s.fileKey);
    }
    const loaded = new Set(ctx.accounts.names());
    ctx.cache.restore(vault.tokens.filter(([key]) => loaded.has(key.slice(0, key.indexOf('\n')))));
  }
}
