/**
 * The accounts loaded in the agent: their decrypted configuration (refresh token included) and
 * lifetimes. Lookup by short name or by issuer. Secrets live only here and in the token cache.
 */
import type { FileKey, UsableAccountConfig } from '@token-agent/store';
import type { ClientRef } from '../op.js';

/** A loaded account's configuration: usable (client id, refresh token) and named. */
export type AgentAccountConfig = UsableAccountConfig & { name: string };

export interface LoadedAccount {
  readonly name: string;
  config: AgentAccountConfig;
  readonly loadedAt: number;
  /** Unix seconds at which the account is unloaded; undefined = never. */
  expiresAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Serialises refreshes of this account: a rotating OP accepts each refresh token once. */
  refreshQueue: Promise<unknown>;
  /** The account file's key (from token-add/token-gen), to write a rotated refresh token back. */
  fileKey: FileKey | undefined;
  /** Every token request needs a yes from the confirmation prompt. */
  confirm: boolean;
  /** `id_token` requests need no confirmation (`oidc-add --always-allow-idtoken`). */
  alwaysAllowIdToken: boolean;
  /** Unix seconds of the last successful refresh. */
  lastRefresh: number | undefined;
  /** The last refresh or write-back failure (a text fit for a client, no secret). */
  lastError: { at: number; error: string } | undefined;
}

/** Zeroes and drops an account's file key. */
export function wipeFileKey(account: LoadedAccount): void {
  account.fileKey?.derived.fill(0);
  account.fileKey = undefined;
}

function normIssuer(url: string): string {
  return url.replace(/\/+$/, '');
}

export function clientRef(account: LoadedAccount): ClientRef {
  const c = account.config;
  return { issuer: c.issuer_url, clientId: c.client_id, clientSecret: c.client_secret || undefined };
}

export class AccountRegistry {
  readonly #accounts = new Map<string, LoadedAccount>();
  readonly #onExpire: (name: string) => void;

  constructor(onExpire: (name: string) => void) {
    this.#onExpire = onExpire;
  }

  get(name: string): LoadedAccount | undefined {
    return this.#accounts.get(name);
  }

  /** Loads (or replaces) an account; `lifetime` seconds > 0 unloads it later. */
  add(config: AgentAccountConfig, lifetime: number | undefined, extra: { fileKey?: FileKey | undefined; confirm?: boolean; alwaysAllowIdToken?: boolean } = {}): LoadedAccount {
    const old = this.#accounts.get(config.name);
    if (old?.timer) clearTimeout(old.timer);
    if (old !== undefined && old.fileKey !== extra.fileKey) wipeFileKey(old);
    const now = Math.floor(Date.now() / 1000);
    const account: LoadedAccount = {
      name: config.name,
      config,
      loadedAt: now,
      expiresAt: undefined,
      timer: undefined,
      refreshQueue: old?.refreshQueue ?? Promise.resolve(),
      fileKey: extra.fileKey,
      confirm: extra.confirm ?? false,
      alwaysAllowIdToken: extra.alwaysAllowIdToken ?? false,
      lastRefresh: undefined,
      lastError: undefined,
    };
    // Map order is insertion order: delete first so "loaded last" stays true for issuer lookups.
    this.#accounts.delete(config.name);
    this.#accounts.set(config.name, account);
    this.setLifetime(account, lifetime);
    return account;
  }

  setLifetime(account: LoadedAccount, lifetime: number | undefined): void {
    if (account.timer) clearTimeout(account.timer);
    account.timer = undefined;
    account.expiresAt = undefined;
    if (lifetime !== undefined && lifetime > 0) {
      account.expiresAt = Math.floor(Date.now() / 1000) + lifetime;
      account.timer = setTimeout(() => this.#onExpire(account.name), lifetime * 1000);
      account.timer.unref();
    }
  }

  remove(name: string): boolean {
    const a = this.#accounts.get(name);
    if (a === undefined) return false;
    if (a.timer) clearTimeout(a.timer);
    // Drop the secrets from the object too, in case something still holds a reference.
    a.config = { ...a.config, refresh_token: '', client_secret: '', registration_access_token: '' };
    wipeFileKey(a);
    return this.#accounts.delete(name);
  }

  names(): string[] {
    return [...this.#accounts.keys()];
  }

  all(): LoadedAccount[] {
    return [...this.#accounts.values()];
  }

  /** The accounts loaded for an issuer (trailing slash ignored), in load order. */
  forIssuer(issuer: string): LoadedAccount[] {
    const want = normIssuer(issuer);
    return [...this.#accounts.values()].filter((a) => normIssuer(a.config.issuer_url) === want);
  }

  /** The account for an issuer: the only one loaded for it, else the one loaded last. */
  byIssuer(issuer: string): LoadedAccount | undefined {
    return this.forIssuer(issuer).at(-1);
  }
}
