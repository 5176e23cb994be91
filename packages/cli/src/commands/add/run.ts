/** `token-add`: decrypt an account file locally and load it into the agent (like oidc-add). */
import { request } from '@token-agent/protocol';
import { configDir, listAccounts, loadAccount, resolvePassword, serializeAccountConfig, validateAccountName } from '@token-agent/store';
import { CliError, ExitCode, type Io } from '../../output.js';
import type { PasswordOptions } from '../../passwords.js';
import { requireSocket } from '../../socket.js';

export type AddOptions =
  | { action: 'add'; name: string; lifetime: number | undefined; password: PasswordOptions }
  | { action: 'remove'; name: string }
  | { action: 'remove-all' }
  | { action: 'list' }
  | { action: 'loaded' };

const TIMEOUT = { timeoutMs: 60_000 };

/** Password tries on a terminal before giving up. */
const PROMPT_TRIES = 3;

export async function run(o: AddOptions, io: Io): Promise<void> {
  switch (o.action) {
    case 'list': {
      const names = await listAccounts(configDir({ env: io.env })).catch(() => [] as string[]);
      io.stdout.write(names.map((n) => `${n}\n`).join(''));
      return;
    }
    case 'loaded': {
      const r = await request('loaded_accounts', {}, { socketPath: requireSocket(io.env), ...TIMEOUT });
      const info = (r as { info?: unknown }).info;
      io.stdout.write(Array.isArray(info) ? info.map((n) => `${String(n)}\n`).join('') : '');
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
  const interactive = o.password.pwEnv === undefined && o.password.pwFile === undefined && o.password.pwCmd === undefined;
  let loaded;
  for (let attempt = 1; ; attempt++) {
    const password = await resolvePassword({ ...o.password, env: io.env, prompt: { question: `Encryption password for account '${o.name}': ` } });
    try {
      loaded = await loadAccount(dir, o.name, password);
      break;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'STORE_WRONG_PASSWORD') {
        if (interactive && attempt < PROMPT_TRIES) {
          io.stderr.write('Wrong password, try again.\n');
          continue;
        }
        throw new CliError(`wrong password for account '${o.name}'`, ExitCode.password);
      }
      if (code === 'STORE_NOT_FOUND') throw new CliError(`no account '${o.name}' in ${dir}: create it with: token-gen ${o.name}`, ExitCode.account);
      throw err;
    }
  }
  const config = JSON.parse(serializeAccountConfig(loaded.config)) as Record<string, unknown>;
  const params: { config: Record<string, unknown>; lifetime?: number } = { config };
  if (o.lifetime !== undefined) params.lifetime = o.lifetime;
  const r = await request('add', params, { socketPath, ...TIMEOUT });
  const info = (r as { info?: unknown }).info;
  io.stderr.write(`Account '${o.name}' loaded.${typeof info === 'string' && info ? ` ${info}` : ''}\n`);
}
