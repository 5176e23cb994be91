/**
 * Opening an existing account file for token-add / token-gen: the password from the keychain
 * (with `--keyring`), else `--pw-env/--pw-file/--pw-cmd`, else a terminal prompt (3 tries).
 * A keychain that is missing, unreachable, empty for the account or holding a stale password is
 * one line on stderr and a fall back to the other sources, never a failure by itself.
 */
import { loadAccount, resolvePassword, type AccountConfig, type FileKey } from '@token-agent/store';
import { KeyringUnavailable, keyringGet, keyringSet } from './keyring.js';
import { CliError, ExitCode, type Io } from './output.js';
import type { PasswordOptions } from './passwords.js';

/** `use`: try the keychain, say why not, store the password there after a success; `try`: silent, never store. */
export type KeyringMode = 'use' | 'try' | false;

/** Password tries on a terminal before giving up. */
const PROMPT_TRIES = 3;

export async function openAccount(
  dir: string,
  name: string,
  pw: PasswordOptions,
  io: Io,
  keyring: KeyringMode = false,
): Promise<{ config: AccountConfig; key: FileKey }> {
  const notFound = (): CliError => new CliError(`no account '${name}' in ${dir}: create it with: token-gen ${name}`, ExitCode.account);
  let keyringWorks = keyring !== false;
  if (keyring !== false) {
    let stored: string | undefined;
    try {
      stored = await keyringGet(name, io.env);
      if (stored === undefined && keyring === 'use') io.stderr.write(`No password for account '${name}' in the keychain.\n`);
    } catch (err) {
      if (!(err instanceof KeyringUnavailable)) throw err;
      keyringWorks = false;
      if (keyring === 'use') io.stderr.write(`${err.message}; using the other password sources.\n`);
    }
    if (stored !== undefined) {
      try {
        return await loadAccount(dir, name, stored);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'STORE_NOT_FOUND') throw notFound();
        if (code !== 'STORE_WRONG_PASSWORD') throw err;
        io.stderr.write(`The password in the keychain does not open account '${name}'.\n`);
      }
    }
  }
  const interactive = pw.pwEnv === undefined && pw.pwFile === undefined && pw.pwCmd === undefined;
  for (let attempt = 1; ; attempt++) {
    const password = await resolvePassword({ ...pw, env: io.env, prompt: { question: `Encryption password for account '${name}': ` } });
    try {
      const loaded = await loadAccount(dir, name, password);
      if (keyring === 'use' && keyringWorks) {
        try {
          await keyringSet(name, password, io.env);
          io.stderr.write(`Password for account '${name}' saved in the keychain.\n`);
        } catch (err) {
          if (!(err instanceof KeyringUnavailable)) throw err;
          io.stderr.write(`${err.message}; the password was not saved there.\n`);
        }
      }
      return loaded;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'STORE_WRONG_PASSWORD') {
        if (interactive && attempt < PROMPT_TRIES) {
          io.stderr.write('Wrong password, try again.\n');
          continue;
        }
        throw new CliError(`wrong password for account '${name}'`, ExitCode.password);
      }
      if (code === 'STORE_NOT_FOUND') throw notFound();
      throw err;
    }
  }
}
