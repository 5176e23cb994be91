/**
 * In-memory storage adapter for one dev OP instance.
 *
 * oidc-provider's bundled MemoryAdapter shares one module-level LRU (1 000 entries) between all
 * provider instances in a process and prints a warning; tests start several OPs side by side, so
 * each OP gets its own maps here. Nothing is persisted: a restart forgets every client and token.
 */

/** Models whose entries belong to a grant and disappear with it (`revokeByGrantId`). */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

type Payload = Record<string, unknown> & {
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
};

interface Entry {
  payload: Payload;
  expiresAt: number; // ms since epoch, Infinity when the model has no TTL
}

/** Shared state of all model adapters of one provider. */
export class DevStore {
  readonly entries = new Map<string, Entry>();
  readonly grants = new Map<string, Set<string>>();
  readonly sessionUids = new Map<string, string>();
  readonly userCodes = new Map<string, string>();

  get(key: string): Payload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }
}

/** One adapter per model name, as oidc-provider expects (`adapter: (name) => new DevAdapter(...)`). */
export class DevAdapter {
  readonly #model: string;
  readonly #store: DevStore;

  constructor(model: string, store: DevStore) {
    this.#model = model;
    this.#store = store;
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    this.#store.entries.set(key, { payload, expiresAt });
    if (this.#model === 'Session' && typeof payload.uid === 'string') {
      this.#store.sessionUids.set(payload.uid, id);
    }
    if (typeof payload.userCode === 'string') {
      this.#store.userCodes.set(payload.userCode, id);
    }
    if (GRANTABLE.has(this.#model) && typeof payload.grantId === 'string') {
      let members = this.#store.grants.get(payload.grantId);
      if (!members) {
        members = new Set();
        this.#store.grants.set(payload.grantId, members);
      }
      members.add(key);
    }
  }

  async find(id: string): Promise<Payload | undefined> {
    return this.#store.get(this.#key(id));
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    const id = this.#store.sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    const id = this.#store.userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id: string): Promise<void> {
    const payload = this.#store.get(this.#key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.#store.entries.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const key of this.#store.grants.get(grantId) ?? []) {
      this.#store.entries.delete(key);
    }
    this.#store.grants.delete(grantId);
  }
}
