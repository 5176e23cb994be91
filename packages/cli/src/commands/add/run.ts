/** `token-add`: decrypt an account file locally and load it into the agent (like oidc-add). */
import { AgentErrorText, ProtocolError, request, type LoadedAccountStatus } from '@token-agent/protocol';
import { configDir, listAccounts, resolvePassword, serializeAccountConfig, serializeFileKey, validateAccountName } from '@token-agent/store';
import { openAccount, type KeyringMode } from '../../account-password.js';
import { CliError, ExitCode, type Io } from '../../output.js';
import type { PasswordOptions } from '../../passwords.js';
import { requireSocket } from '../../socket.js';

export type AddOptions =
  | { action: 'add'; name: string; lifetime: number | undefined; confirm: boolean; alwaysAllowIdToken?: boolean; force?: boolean; keyring: KeyringMode; password: PasswordOptions }
  | { action: 'remove'; name: string }
  | { action: 'remove-all' }
  | { action: 'list' }
  | { action: 'loaded'; format: 'names' | 'long' | 'json' }
  | { action: 'lock' | 'unlock'; password: PasswordOptions };

const TIMEOUT = { timeoutMs: 60_000 };

export async function run(o: AddOptions, io: Io): Promise<void> {
  switch (o.action) {
    case 'list': {
      const names = await listAccounts(configDir({ env: io.env })).catch(() => [] as string[]);
      io.stdout.write(names.map((n) => `${n}\n`).join(''));
      return;
    }
    case 'loaded': {
      if (o.format !== 'names') return loadedDetails(o.format, io);
      const r = await request('loaded_accounts', {}, { socketPath: requireSocket(io.env), ...TIMEOUT });
      const info = (r as { info?: unknown }).info;
      io.stdout.write(Array.isArray(info) ? info.map((n) => `${String(n)}\n`).join('') : '');
      return;
    }
    case 'lock':
    case 'unlock': {
      const socketPath = requireSocket(io.env);
      const password = await resolvePassword({
        ...o.password,
        env: io.env,
        confirm: o.action === 'lock',
        prompt: { question: o.action === 'lock' ? 'Lock password: ' : 'Unlock password: ', confirmQuestion: 'Repeat it: ' },
      });
      // An unlock may wait out the growing delay after wrong passwords (up to about a minute).
      const r = await request(o.action, { password }, { socketPath, timeoutMs: 120_000 });
      const info = (r as { info?: unknown }).info;
      io.stderr.write(`${typeof info === 'string' ? info : o.action === 'lock' ? 'Agent locked' : 'Agent unlocked'}\n`);
      return;
    }
    case 'remove':
      await request('remove', { account: o.name }, { socketPath: requireSocket(io.env), ...TIMEOUT });
      io.stderr.write(`Account '${o.name}' removed from the agent.\n`);
      return;
    case 'remove-all':
      await request('remove_all', {}, { socketPath: requireSocket(io.env), ...TIMEOUT });
      io.stderr.write('All accounts removed from the agent.\n');
      return;
    case 'add':
      return add(o, io);
  }
}

async function add(o: Extract<AddOptions, { action: 'add' }>, io: Io): Promise<void> {
  try {
    validateAccountName(o.name);
  } catch (err) {
    throw new CliError((err as Error).message, ExitCode.usage);
  }
  const socketPath = requireSocket(io.env);
  const dir = configDir({ env: io.env });
  const loaded = await openAccount(dir, o.name, o.password, io, o.keyring);
  const config = JSON.parse(serializeAccountConfig(loaded.config)) as Record<string, unknown>;
  // The file key (derived key + salt, never the password) lets the agent write rotated refresh
  // tokens back to the file without asking again.
  const params: { config: Record<string, unknown>; lifetime?: number; confirm?: boolean; always_allow_id_token?: boolean; token_agent_file_key: Record<string, unknown> } = {
    config,
    token_agent_file_key: serializeFileKey(loaded.key),
  };
  loaded.key.derived.fill(0);
  if (o.lifetime !== undefined) params.lifetime = o.lifetime;
  if (o.confirm) params.confirm = true;
  if (o.alwaysAllowIdToken) params.always_allow_id_token = true;
  if (o.force) {
    // oidc-add -f: the file's account replaces the loaded one (the file holds any rotated token).
    await request('remove', { account: o.name }, { socketPath, ...TIMEOUT }).catch((err: unknown) => {
      if (!(err instanceof ProtocolError && err.agentError === AgentErrorText.accountNotLoaded)) throw err;
    });
  }
  const r = await request('add', params, { socketPath, ...TIMEOUT });
  const info = (r as { info?: unknown }).info;
  io.stderr.write(`Account '${o.name}' loaded.${typeof info === 'string' && info ? ` ${info}` : ''}\n`);
}

function age(now: number, t: number | undefined): string {
  return t === undefined ? 'never' : `${Math.max(0, now - t)} s ago`;
}

/** `--loaded --long|--json`: lifetimes, last refresh and last error per loaded account. */
async function loadedDetails(format: 'long' | 'json', io: Io): Promise<void> {
  const r = await request('status_json', {}, { socketPath: requireSocket(io.env), ...TIMEOUT });
  const accounts = ((r as { info?: { accounts?: LoadedAccountStatus[] } }).info?.accounts ?? []) as LoadedAccountStatus[];
  if (format === 'json') {
    io.stdout.write(`${JSON.stringify(accounts)}\n`);
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  for (const a of accounts) {
    const life = a.time_left === undefined ? 'no lifetime limit' : `${a.time_left} s left`;
    const flags = [a.confirm ? 'confirm' : undefined, a.write_back === false ? 'rotation not saved' : undefined].filter(Boolean);
    const err = a.last_error === undefined ? '' : `\tlast error ${age(now, a.last_error.at)}: ${a.last_error.error}`;
    io.stdout.write(`${a.name}\t${life}\tlast refresh ${age(now, a.last_refresh)}${flags.length ? `\t${flags.join(', ')}` : ''}${err}\n`);
  }
}
