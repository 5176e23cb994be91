/**
 * A mytoken-compatible server for tests (never shipped): see README.md beside this file.
 */
export { startMytokenServer, API, fingerprint, shellWords, type MytokenServer, type MytokenServerOptions, type MytokenStats } from './server.ts';
export { completeOidcFlow, MytokenDriveError, type CompleteFlowOptions } from './drive.ts';
export type { Clause } from './restrictions.ts';
export { startMytokenSshd, publicKeyLine, FORCE_COMMAND, type MytokenSshd } from './sshd.ts';
