/**
 * `token-gen`: create an account through the agent (which talks to the OP), then encrypt and save
 * it here, like oidc-gen. Also lists, prints and deletes accounts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request, type DeviceAuthorization } from '@token-agent/protocol';
import {
  accountExists,
  configDir,
  deleteAccountFile,
  listAccounts,
  loadAccount,
  parseAccountConfig,
  promptPassword,
  resolvePassword,
  saveAccount,
  serializeAccountConfig,
  validateAccountName,
  type AccountConfig,
} from '@token-agent/store';
import { CliError, ExitCode, type Io } from '../../output.js';
import type { PasswordOptions } from '../../passwords.js';
import { requireSocket } from '../../socket.js';

export type Flow = 'device' | 'password' | 'refresh';

export interface CreateOptions {
  action: 'create';
  name: string;
  issuer: string;
  flow: Flow;
  scopes: string[];
  audiences: string[];
  clientId: string | undefined;
  clientSecret: string | undefined;
  username: string | undefined;
  /** Password flow: where the OP password comes from (else a prompt). */
  opPasswordEnv: string | undefined;
  opPasswordFile: string | undefined;
  /** Refresh flow: where the refresh token comes from. */
  rtEnv: string | undefined;
  rtFile: string | undefined;
  password: PasswordOptions;
  qr: boolean;
}

export type GenOptions =
  | CreateOptions
  | { action: 'list' }
  | { action: 'print'; name: string; showSecrets: boolean; password: PasswordOptions }
  | { action: 'delete'; name: string; password: PasswordOptions };

const SECRET_KEYS = ['refresh_token', 'client_secret', 'registration_access_token', 'password'] as const;

function checkName(name: string): void {
  try {
    validateAccountName(name);
  } catch (err) {
    throw new CliError((err as Error).message, ExitCode.usage);
  }
}

async function firstLine(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${what} from ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const line = text.split(/\r?\n/)[0]!.trim();
  if (line === '') throw new CliError(`${path} holds no ${what}`);
  return line;
}

function fromEnv(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const v = env[name]?.trim();
  if (!v) throw new CliError(`environment variable ${name} holds no ${what}`);
  return v;
}

export async function run(o: GenOptions, io: Io): Promise<void> {
  const dir = configDir({ env: io.env });
  switch (o.action) {
    case 'list': {
      const names = await listAccounts(dir).catch(() => [] as string[]);
      io.stdout.write(names.map((n) => `${n}\n`).join(''));
      return;
    }
    case 'print': {
      checkName(o.name);
      const { config } = await unlock(dir, o.name, o.password, io);
      const out = JSON.parse(serializeAccountConfig(config)) as Record<string, unknown>;
      if (!o.showSecrets) for (const k of SECRET_KEYS) if (typeof out[k] === 'string' && out[k] !== '') out[k] = '(hidden: use --show-secrets)';
      io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    case 'delete': {
      checkName(o.name);
      const socketPath = requireSocket(io.env);
      const { config } = await unlock(dir, o.name, o.password, io);
      await request('delete', { config: JSON.parse(serializeAccountConfig(config)) as Record<string, unknown> }, { socketPath, timeoutMs: 60_000 });
      await deleteAccountFile(dir, o.name);
      io.stderr.write(`Account '${o.name}' deleted: refresh token revoked at the OP, file removed.\n`);
      return;
    }
    case 'create':
      return create(o, dir, io);
  }
}

async function unlock(dir: string, name: string, pw: PasswordOptions, io: Io): Promise<{ config: AccountConfig }> {
  const password = await resolvePassword({ ...pw, env: io.env, prompt: { question: `Encryption password for account '${name}': ` } });
  try {
    return await loadAccount(dir, name, password);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'STORE_WRONG_PASSWORD') throw new CliError(`wrong password for account '${name}'`, ExitCode.password);
    if (code === 'STORE_NOT_FOUND') throw new CliError(`no account '${name}' in ${dir}`, ExitCode.account);
    throw err;
  }
}

async function create(o: CreateOptions, dir: string, io: Io): Promise<void> {
  checkName(o.name);
  if (await accountExists(dir, o.name)) {
    throw new CliError(`account '${o.name}' already exists in ${dir}: choose another name, or delete it first with: token-gen ${o.name} --delete`);
  }
  const socketPath = requireSocket(io.env);
  const config: Record<string, unknown> = { name: o.name, issuer_url: o.issuer };
  if (o.scopes.length > 0) config['auth_scope'] = o.scopes.join(' ');
  if (o.audiences.length > 0) config['audience'] = o.audiences.join(' ');
  if (o.clientId !== undefined) config['client_id'] = o.clientId;
  if (o.clientSecret !== undefined) config['client_secret'] = o.clientSecret;
  if (o.flow === 'password') {
    if (o.username === undefined) throw new CliError('the password flow needs --username', ExitCode.usage);
    config['username'] = o.username;
    config['password'] =
      o.opPasswordEnv !== undefined
        ? fromEnv(io.env, o.opPasswordEnv, 'password')
        : o.opPasswordFile !== undefined
          ? await firstLine(o.opPasswordFile, 'password')
          : await promptPassword(`Password of ${o.username} at ${o.issuer}: `);
  }
  if (o.flow === 'refresh') {
    config['refresh_token'] =
      o.rtFile !== undefined ? await firstLine(o.rtFile, 'refresh token') : fromEnv(io.env, o.rtEnv ?? 'OIDC_REFRESH_TOKEN', 'refresh token');
  }
  // Ask for the encryption password before the login, so a missing source fails before the user logs in.
  const password = await resolvePassword({
    ...o.password,
    env: io.env,
    confirm: true,
    prompt: { question: `Encryption password for the new account '${o.name}': `, confirmQuestion: 'Repeat it: ' },
  });

  const started = await request('gen', { config, flow: [o.flow] }, { socketPath, timeoutMs: 120_000 });
  let result: Record<string, unknown>;
  if (started.status === 'accepted') {
    const g = started as { state?: string; oidc_device?: DeviceAuthorization };
    if (g.state === undefined || g.oidc_device === undefined) throw new CliError('the agent started a flow without telling how to follow it');
    await showDevice(g.oidc_device, o.qr, io);
    result = await waitForFlow(socketPath, g.state, g.oidc_device.expires_in, io);
  } else {
    const c = (started as { config?: Record<string, unknown> }).config;
    if (c === undefined) throw new CliError('the agent returned no account configuration');
    result = c;
  }
  const account = parseAccountConfig(result);
  await saveAccount(dir, o.name, account, password);
  io.stderr.write(`Account '${o.name}' created, loaded into the agent, and saved encrypted to ${join(dir, o.name)}\n`);
}

async function showDevice(d: DeviceAuthorization, qr: boolean, io: Io): Promise<void> {
  const minutes = Math.max(1, Math.round(d.expires_in / 60));
  const lines = [`To log in, open ${d.verification_uri} and enter the code: ${d.user_code}`];
  if (d.verification_uri_complete) lines.push(`or open directly: ${d.verification_uri_complete}`);
  lines.push(`(the code expires in ${minutes} minute${minutes === 1 ? '' : 's'}; waiting for the login…)`);
  if (qr && (io.stderr as { isTTY?: boolean }).isTTY) {
    const { toString } = await import('qrcode');
    const code = await toString(d.verification_uri_complete ?? d.verification_uri, { type: 'terminal', small: true });
    lines.push(code);
  }
  io.stderr.write(`${lines.join('\n')}\n`);
}

/** Polls `state_lookup` until the flow ends; the agent does the polling of the OP. */
async function waitForFlow(socketPath: string, state: string, expiresIn: number, io: Io): Promise<Record<string, unknown>> {
  const deadline = Date.now() + (expiresIn + 30) * 1000;
  const interval = Number(io.env['TOKEN_GEN_POLL_MS'] ?? 1000);
  while (Date.now() < deadline) {
    const r = await request('state_lookup', { state }, { socketPath, timeoutMs: 30_000 });
    if (r.status === 'success') {
      const config = (r as { config?: Record<string, unknown> }).config;
      if (config === undefined) throw new CliError('the agent finished the flow without an account configuration');
      return config;
    }
    if (r.status === 'FoundButReceived') throw new CliError('the result of this login was already taken by another client');
    await new Promise((res) => setTimeout(res, interval));
  }
  throw new CliError('the login was not completed in time (device code expired): run token-gen again');
}
