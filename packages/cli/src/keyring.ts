/**
 * The OS keychain for account encryption passwords (`--keyring`): service `token-agent`, account
 * = the short name, through `@napi-rs/keyring` (Secret Service on Linux, Keychain on macOS,
 * Credential Manager on Windows). An optional dependency, loaded only when `--keyring` is used:
 * a missing module, no Secret Service or a locked keychain give one clear message and the other
 * password sources still work. Never bundled (a native module).
 */

export const KEYRING_SERVICE = 'token-agent';

/** Why the keychain cannot be used, as one line for the user. */
export class KeyringUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringUnavailable';
  }
}

interface Entry {
  getSecret(): Promise<ArrayLike<number> | null>;
  setPassword(password: string): Promise<void>;
  deletePassword(): Promise<boolean>;
}
type EntryClass = new (service: string, account: string, options?: { linux?: { store?: 'secret-service' | 'keyutils' } }) => Entry;

let loaded: Promise<EntryClass> | undefined;

async function entryClass(): Promise<EntryClass> {
  loaded ??= import('@napi-rs/keyring').then(
    (m) => (m as unknown as { AsyncEntry: EntryClass }).AsyncEntry,
    () => {
      loaded = undefined;
      throw new KeyringUnavailable('the OS keychain is not available: the optional module @napi-rs/keyring is not installed');
    },
  );
  return loaded;
}

function unavailable(err: unknown): KeyringUnavailable {
  // The module's messages name the platform store's failure (no D-Bus, no Secret Service,
  // locked); they never contain the password.
  const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new KeyringUnavailable(`the OS keychain is not available (${why})`);
}

async function entry(account: string, env: NodeJS.ProcessEnv): Promise<Entry> {
  // Without a session bus, libdbus would autolaunch a private one (a stray dbus-daemon, and
  // an empty keychain): say so instead.
  if (process.platform === 'linux' && !env['DBUS_SESSION_BUS_ADDRESS']) {
    throw new KeyringUnavailable('the OS keychain is not available (no D-Bus session: DBUS_SESSION_BUS_ADDRESS is not set)');
  }
  const Entry = await entryClass();
  try {
    // Linux: the Secret Service only; the kernel keyring (keyutils) forgets everything at logout.
    return new Entry(KEYRING_SERVICE, account, { linux: { store: 'secret-service' } });
  } catch (err) {
    throw unavailable(err);
  }
}

/** The stored password of `account`, or undefined when none is stored. */
export async function keyringGet(account: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const e = await entry(account, env);
  try {
    const secret = await e.getSecret();
    return secret === null ? undefined : Buffer.from(Uint8Array.from(secret)).toString('utf8');
  } catch (err) {
    throw unavailable(err);
  }
}

export async function keyringSet(account: string, password: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const e = await entry(account, env);
  try {
    await e.setPassword(password);
  } catch (err) {
    throw unavailable(err);
  }
}

/** Removes the stored password; false when there was none. */
export async function keyringDelete(account: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const e = await entry(account, env);
  try {
    return await e.deletePassword();
  } catch (err) {
    throw unavailable(err);
  }
}
