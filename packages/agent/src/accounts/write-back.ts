/**
 * Writes a rotated refresh token back to the account file at once, with the key token-add or
 * token-gen handed over (derived key + salt, never the password), so a rotating OP never costs
 * the user a password prompt. The file is replaced atomically (store's saveAccount: temp file,
 * fsync, rename). If the write is impossible or fails, the new refresh token stays in memory
 * (the account keeps working until the agent stops) and the failure shows in the status and
 * the log. Does not write when the file is gone or was re-encrypted under another password: the
 * user's newer choice wins over our key.
 */
import { StoreError, fileKeyMatches, readAccountFile, saveAccount } from '@token-agent/store';
import type { AgentContext } from '../context.js';
import type { LoadedAccount } from './registry.js';

/** Outcome of one write-back, for tests and the log. */
export type WriteBackResult = 'written' | 'no-key' | 'skipped' | 'failed';

function describe(err: unknown): string {
  // Store errors carry a path and a reason, never file content; anything else stays generic.
  return err instanceof StoreError ? err.message : 'unexpected error (see the agent log)';
}

export async function writeBack(ctx: AgentContext, account: LoadedAccount): Promise<WriteBackResult> {
  const name = account.name;
  const key = account.fileKey;
  const fail = (error: string, result: WriteBackResult): WriteBackResult => {
    const what = account.config.mytoken_url ? 'mytoken' : 'refresh token';
    account.lastError = { at: Math.floor(Date.now() / 1000), error: `${what} not saved: ${error}` };
    ctx.log.warn('refresh-token-not-saved', { account: name, reason: error });
    return result;
  };
  if (key === undefined) {
    return fail(`no file key (the account was loaded by a client that sent none); it stays in memory until the agent stops: run token-add ${name} again to enable write-back`, 'no-key');
  }
  const dir = ctx.settings.configDir;
  let current: string;
  try {
    current = await readAccountFile(dir, name);
  } catch (err) {
    return fail(`cannot read the account file: ${describe(err)}`, 'skipped');
  }
  if (!fileKeyMatches(current, key)) {
    return fail('the account file was re-encrypted with another password since it was loaded; not overwriting it', 'skipped');
  }
  try {
    await saveAccount(dir, name, account.config, key);
  } catch (err) {
    if (!(err instanceof StoreError)) ctx.log.error('write-back-crashed', { account: name, error: err instanceof Error ? err.stack : String(err) });
    return fail(describe(err), 'failed');
  }
  ctx.log.info('refresh-token-saved', { account: name });
  return 'written';
}
