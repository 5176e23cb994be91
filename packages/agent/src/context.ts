/**
 * Everything a handler needs, passed explicitly: loaded accounts, token cache, the OP interface,
 * pending flows, the logger and the agent's settings.
 */
import type { AccountRegistry } from './accounts/registry.js';
import type { TokenCache } from './cache/token-cache.js';
import type { PendingFlows } from './flows/pending.js';
import type { Logger } from './log.js';
import type { OpApi } from './op.js';

export interface AgentSettings {
  /** Where account files live (for "configured but not loaded" answers). */
  configDir: string;
  socketPath: string;
  /** Default lifetime of loaded accounts in seconds; 0 = until the agent stops. */
  defaultLifetime: number;
  version: string;
}

export interface AgentContext {
  readonly accounts: AccountRegistry;
  readonly cache: TokenCache;
  readonly op: OpApi;
  readonly flows: PendingFlows;
  readonly log: Logger;
  readonly settings: AgentSettings;
  readonly startedAt: number;
}
