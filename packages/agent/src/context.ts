/**
 * Everything a handler needs, passed explicitly: loaded accounts, token cache, the OP interface,
 * pending flows, the logger and the agent's settings.
 */
import type { AccountRegistry } from './accounts/registry.js';
import type { WatchManager } from './btfile/watch-manager.js';
import type { TokenCache } from './cache/token-cache.js';
import type { PendingFlows } from './flows/pending.js';
import type { Logger } from './log.js';
import type { OpApi } from './op.js';
import type { AgentLock } from './security/lock.js';

export interface AgentSettings {
  /** Where account files live (for "configured but not loaded" answers). */
  configDir: string;
  socketPath: string;
  /** Default lifetime of loaded accounts in seconds; 0 = until the agent stops. */
  defaultLifetime: number;
  version: string;
  /** Every token request of every account needs a confirmation (`token-agent --confirm`). */
  confirm: boolean;
  /** The confirmation prompt command (`--confirm-cmd`, `TOKEN_AGENT_CONFIRM_CMD`). */
  confirmCmd: string | undefined;
  /** A prompt that has not answered after this long counts as no. */
  confirmTimeoutMs: number;
  /** `id_token` requests need no confirmation (`--always-allow-idtoken`, as oidc-agent). */
  alwaysAllowIdToken?: boolean;
  /** `mytoken` requests need no confirmation (`--always-allow-mytoken`; oidc-agent always asks). */
  alwaysAllowMytoken?: boolean;
  /** The restricted socket (`--restricted-socket`), if any. */
  restrictedSocket?: string | undefined;
  /**
   * false (`--no-autoload`, config `autoload: false`): clients must not load an account for a
   * token request (token-get asks `status_json`); the "not loaded" error says so. Default true.
   */
  autoload?: boolean;
  /** oidc-agent `config` settings read but not applied, for `status` (also logged once at start). */
  configUnsupported?: string[];
}

export interface AgentContext {
  readonly accounts: AccountRegistry;
  readonly cache: TokenCache;
  readonly op: OpApi;
  readonly flows: PendingFlows;
  /** Discovery files kept fresh (`watch`). */
  readonly watches: WatchManager;
  readonly log: Logger;
  readonly settings: AgentSettings;
  readonly lock: AgentLock;
  readonly startedAt: number;
}
