export { StoreError, StoreErrorCode } from './errors.js';
export {
  ACCOUNT_FILE_VERSION_LINE,
  DEFAULT_MEMLIMIT,
  DEFAULT_OPSLIMIT,
  decryptAccountFile,
  encryptAccountFile,
  encryptWithKey,
  fileKeyMatches,
  parseFileKey,
  serializeFileKey,
} from './account-file.js';
export type { FileKey, SerializedFileKey } from './account-file.js';
export { assertUsableAccount, parseAccountConfig, serializeAccountConfig } from './account-config.js';
export type { AccountConfig, UsableAccountConfig } from './account-config.js';
export { configDir, ensurePrivateDir, runtimeDir, stateDir } from './paths.js';
export type { PathOptions } from './paths.js';
export { writeFileAtomic } from './atomic-write.js';
export { withFileLock, type FileLockOptions } from './file-lock.js';
export type { WriteFileAtomicOptions } from './atomic-write.js';
export {
  MAX_ACCOUNT_NAME_BYTES,
  accountExists,
  deleteAccountFile,
  isValidAccountName,
  listAccounts,
  loadAccount,
  readAccountFile,
  saveAccount,
  validateAccountName,
  writeAccountFile,
} from './accounts.js';
export type { WriteAccountOptions } from './accounts.js';
export {
  DEFAULT_PASSWORD_ENV,
  NO_PASSWORD_SOURCE_MESSAGE,
  passwordFromCommand,
  passwordFromEnv,
  passwordFromFile,
  promptPassword,
  resolvePassword,
} from './passwords.js';
export type { PasswordCommandOptions, PromptOptions, PromptStreams, ResolvePasswordOptions } from './passwords.js';
export { BUNDLED_ISSUERS, SYSTEM_CONFIG_DIR, findIssuer, issuerKey, loadIssuerConfig, parseIssuerConfig } from './issuer-config.js';
export type { IssuerConfigOptions, IssuerEntry, PublicClient } from './issuer-config.js';
export { agentConfigSettings, loadAgentConfig, mergePatch, parseAgentConfigText } from './agent-config.js';
export type { AgentConfig, AgentConfigSettings } from './agent-config.js';
