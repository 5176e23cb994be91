/**
 * `token-gen`: create an account through the agent (which talks to the OP), then encrypt and save
 * it here, like oidc-gen. Also lists, prints and deletes accounts.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProtocolError, request, resolveSocketPath, type DeviceAuthorization } from '@token-agent/protocol';
import {
  accountExists,
  configDir,
  deleteAccountFile,
  listAccounts,
  parseAccountConfig,
  promptPassword,
  resolvePassword,
  saveAccount,
  serializeAccountConfig,
  serializeFileKey,
  validateAccountName,
  type AccountConfig,
  type FileKey,
  findIssuer,
  loadIssuerConfig,
  type IssuerEntry,
  SYSTEM_CONFIG_DIR,
  mergePatch,
  parseAgentConfigText,
} from '@token-agent/store';
import { openAccount } from '../../account-password.js';
import { KeyringUnavailable, keyringDelete, keyringSet } from '../../keyring.js';
import { CliError, ExitCode, type Io } from '../../output.js';
import type { PasswordOptions } from '../../passwords.js';
import { requireSocket } from '../../socket.js';
import { canOpenBrowser, openBrowser } from './browser.js';
import { cancellable, formatLeft, isTty, showProgress } from './progress.js';

export type Flow = 'code' | 'device' | 'password' | 'refresh' | 'mytoken';

/** How long token-gen (and the agent's redirect listener) wait for the browser by default. */
export const DEFAULT_CODE_TIMEOUT_S = 300;

export interface CreateOptions {
  action: 'create';
  name: string;
  /** Absent: chosen from the provider list on a terminal. */
  issuer: string | undefined;
  /** `--pub`: the issuer's public client from the provider list. */
  pub: boolean;
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
  /** `--mytoken[=URL]`: a mytoken account (true: the configured or default server). */
  mytoken?: string | true;
  /** `--mytoken-profile`: JSON object text or a server profile name, checked by the agent. */
  mytokenProfile?: string;
  /** `--TC`: redeem this transfer code for the account's mytoken. */
  transferCode?: string;
  /** `--rt=-`: the refresh token from stdin (hidden prompt on a terminal). */
  rtStdin?: boolean;
  /** `--only-at`: print the login's access token; nothing is saved or loaded. */
  onlyAt?: boolean;
  /** `--no-save` sets false: the account is loaded into the agent, no file is written. */
  save?: boolean;
  /** `-m/--manual`: no dynamic registration; without --client-id/--pub the client id is asked for on a terminal. */
  manual?: boolean;
  password: PasswordOptions;
  qr: boolean;
  /** Save the encryption password in the OS keychain. */
  keyring: boolean;
  /** Code flow: open the browser (`--no-url-call` turns it off). */
  urlCall: boolean;
  /** Code flow: redirect-listener ports to try (`--port`, repeatable; 0 = any free port). */
  ports: number[];
  /** Seconds to wait for the login (code flow; the device flow follows the OP's expiry). */
  timeout: number | undefined;
  /** Device flow: print the device-authorization fields as JSON on stdout. */
  json: boolean;
}

/** What every login needs besides the account configuration. */
export type LoginOptions = Pick<CreateOptions, 'flow' | 'qr' | 'urlCall' | 'ports' | 'timeout' | 'json'>;

export type GenOptions =
  | CreateOptions
  | { action: 'list' }
  | { action: 'print'; name: string; showSecrets: boolean; password: PasswordOptions; keyring: boolean }
  | { action: 'delete'; name: string; password: PasswordOptions; keyring: boolean }
  | {
      action: 'reauthenticate';
      name: string;
      password: PasswordOptions;
      keyring: boolean;
      login: LoginOptions;
      username: string | undefined;
      opPasswordEnv: string | undefined;
      opPasswordFile: string | undefined;
    }
  | { action: 'rename'; name: string; newName: string; password: PasswordOptions; keyring: boolean }
  | { action: 'update'; name: string; password: PasswordOptions; keyring: boolean; newPassword: PasswordOptions };

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
      const { config } = await openAccount(dir, o.name, o.password, io, o.keyring ? 'try' : false);
      const out = JSON.parse(serializeAccountConfig(config)) as Record<string, unknown>;
      // The issuer as the OP spells it (the file holds it slash-terminated for oidc-agent).
      out['issuer_url'] = config.issuer_url;
      const own = out['token_agent'] as Record<string, unknown> | undefined;
      if (own !== undefined) {
        delete own['issuer'];
        if (Object.keys(own).length === 0) delete out['token_agent'];
      }
      if (!o.showSecrets) for (const k of SECRET_KEYS) if (typeof out[k] === 'string' && out[k] !== '') out[k] = '(hidden: use --show-secrets)';
      io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    case 'delete': {
      checkName(o.name);
      const socketPath = requireSocket(io.env);
      const { config } = await openAccount(dir, o.name, o.password, io, o.keyring ? 'try' : false);
      const deleted = await request('delete', { config: JSON.parse(serializeAccountConfig(config)) as Record<string, unknown> }, { socketPath, timeoutMs: 60_000 });
      await deleteAccountFile(dir, o.name);
      const info = (deleted as { info?: string }).info;
      const client = config.registration_client_uri && config.registration_access_token && info === undefined ? ', client registration deleted' : '';
      io.stderr.write(`Account '${o.name}' deleted: refresh token revoked at the OP${client}, file removed.\n`);
      if (info !== undefined) io.stderr.write(`Note: ${info}\n`);
      if (o.keyring) {
        await keyringDelete(o.name, io.env).then(
          (had) => had && io.stderr.write(`Its password was removed from the keychain.\n`),
          (err: unknown) => io.stderr.write(`${(err as Error).message}; its password (if any) stays there.\n`),
        );
      }
      return;
    }
    case 'reauthenticate':
      return reauthenticate(o, dir, io);
    case 'rename':
      return rename(o, dir, io);
    case 'update': {
      checkName(o.name);
      const { config } = await openAccount(dir, o.name, o.password, io, o.keyring ? 'try' : false);
      const newPassword = await resolvePassword({
        ...o.newPassword,
        env: io.env,
        confirm: true,
        prompt: { question: `New encryption password for account '${o.name}': `, confirmQuestion: 'Repeat it: ' },
      });
      // A fresh salt and key derivation, in the current file format.
      const key = await saveAccount(dir, o.name, config, newPassword);
      io.stderr.write(`Account '${o.name}' re-encrypted in ${join(dir, o.name)}\n`);
      // A loaded account gets the new key, so rotated refresh tokens keep being written back (and
      // one that rotated while we re-encrypted is written now, under the new password).
      const socketPath = resolveSocketPath(io.env).path;
      if (await loadedInAgent(socketPath, o.name)) await handOverFileKey(socketPath, o.name, config, key, io);
      else key.derived.fill(0);
      return;
    }
    case 'create':
      return create(o, dir, io);
  }
}

/** Opens an existing account with the `--pw-*` sources or a prompt. */
export async function unlock(dir: string, name: string, pw: PasswordOptions, io: Io): Promise<{ config: AccountConfig; key: FileKey }> {
  return openAccount(dir, name, pw, io, false);
}

/** Password flow: the user name and the OP password (from env, file, or a prompt) go into the gen request. */
async function addOpCredentials(
  config: Record<string, unknown>,
  o: { username: string | undefined; opPasswordEnv: string | undefined; opPasswordFile: string | undefined },
  io: Io,
): Promise<void> {
  if (o.username === undefined) throw new CliError('the password flow needs --username', ExitCode.usage);
  config['username'] = o.username;
  config['password'] =
    o.opPasswordEnv !== undefined
      ? fromEnv(io.env, o.opPasswordEnv, 'password')
      : o.opPasswordFile !== undefined
        ? await firstLine(o.opPasswordFile, 'password')
        : await promptPassword(`Password of ${o.username} at ${String(config['issuer_url'])}: `);
}

/**
 * `--reauthenticate`: a new login for an existing account. Client, scopes, audience and every
 * other setting are kept; only the refresh token changes. The file keeps its password (saved with
 * the key derived when it was opened).
 */
async function reauthenticate(o: Extract<GenOptions, { action: 'reauthenticate' }>, dir: string, io: Io): Promise<void> {
  checkName(o.name);
  const socketPath = requireSocket(io.env);
  const { config: old, key } = await openAccount(dir, o.name, o.password, io, o.keyring ? 'try' : false);
  if (!old.client_id) throw new CliError(`account '${o.name}' has no client_id: delete it (token-gen ${o.name} --delete) and create it again`);
  // A mytoken account logs in again at its mytoken server (its profile is kept in the file).
  const mytokenLogin = old.mytoken_url ? { mytoken: old.mytoken_url } : {};
  if (o.login.flow === 'refresh' && !old.mytoken_url) throw new CliError('--reauthenticate needs a login flow: code, device or password', ExitCode.usage);
  const config = JSON.parse(serializeAccountConfig(old)) as Record<string, unknown>;
  delete config['refresh_token'];
  config['name'] = o.name;
  if (o.login.flow === 'password') await addOpCredentials(config, o, io);
  const fresh = parseAccountConfig(await login(socketPath, config, { ...o.login, ...mytokenLogin }, io));
  // Everything but the refresh token stays as it was.
  const updated: AccountConfig = { ...old, refresh_token: fresh.refresh_token ?? '' };
  if (old.redirect_uris === undefined && fresh.redirect_uris !== undefined) updated.redirect_uris = fresh.redirect_uris;
  await saveAccount(dir, o.name, updated, key);
  io.stderr.write(`Account '${o.name}' re-authenticated: new refresh token loaded into the agent and saved to ${join(dir, o.name)}\n`);
  await handOverFileKey(socketPath, o.name, updated, key, io);
}

/** `--rename NEW`: the file under the new name (same password), the old one removed; a loaded account follows. */
async function rename(o: Extract<GenOptions, { action: 'rename' }>, dir: string, io: Io): Promise<void> {
  checkName(o.name);
  checkName(o.newName);
  if (await accountExists(dir, o.newName)) throw new CliError(`account '${o.newName}' already exists in ${dir}`);
  const { config, key } = await openAccount(dir, o.name, o.password, io, o.keyring ? 'try' : false);
  const renamed: AccountConfig = { ...config, name: o.newName };
  await saveAccount(dir, o.newName, renamed, key);
  await deleteAccountFile(dir, o.name);
  let inAgent = false;
  const socketPath = resolveSocketPath(io.env).path;
  if (await loadedInAgent(socketPath, o.name)) {
    // Loaded under the new name with the file's key, so write-back goes to the new file.
    const params = { config: JSON.parse(serializeAccountConfig(renamed)) as Record<string, unknown>, plain_add: true, token_agent_file_key: serializeFileKey(key) as unknown as Record<string, unknown> };
    await request('add', params, { socketPath, timeoutMs: 30_000 });
    await request('remove', { account: o.name }, { socketPath, timeoutMs: 5_000 });
    inAgent = true;
  }
  key.derived.fill(0);
  io.stderr.write(`Account '${o.name}' renamed to '${o.newName}'${inAgent ? ' (also in the agent)' : ''}\n`);
}

/** `--rt=-`: the first line of stdin; on a terminal a hidden prompt (the token is never echoed). */
async function refreshTokenFromStdin(io: Io): Promise<string> {
  if (process.stdin.isTTY) {
    const rt = (await promptPassword('Refresh token: ')).trim();
    if (rt === '') throw new CliError('no refresh token entered', ExitCode.usage);
    return rt;
  }
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.length > 64 * 1024) throw new CliError('--rt=-: stdin holds more than a refresh token (64 KiB read)', ExitCode.usage);
  }
  const line = text.split(/\r?\n/)[0]!.trim();
  if (line === '') throw new CliError(`--rt=-: stdin holds no refresh token${isTty(io.stderr) ? ' (pipe it in: ... | token-gen NAME --rt=-)' : ''}`, ExitCode.usage);
  return line;
}

/** `-m/--manual` without a client on the command line: ask for it on a terminal (oidc-gen prompts too). */
async function askClient(config: Record<string, unknown>, io: Io): Promise<void> {
  if (!isTty(io.stderr) || !process.stdin.isTTY) {
    throw new CliError('-m/--manual uses a registered client: pass --client-id (and --client-secret-env VAR), or --pub', ExitCode.usage);
  }
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: io.stderr, terminal: true });
  let clientId: string;
  try {
    clientId = (await rl.question('Client id: ')).trim();
  } finally {
    rl.close();
  }
  if (clientId === '') throw new CliError('no client id entered', ExitCode.usage);
  config['client_id'] = clientId;
  config['client_secret'] = await promptPassword('Client secret (empty for a public client): ');
}

async function create(o: CreateOptions, dir: string, io: Io): Promise<void> {
  checkName(o.name);
  // --only-at writes nothing, so an existing account of that name is no obstacle.
  if (!o.onlyAt && (await accountExists(dir, o.name))) {
    throw new CliError(`account '${o.name}' already exists in ${dir}: choose another name, or delete it first with: token-gen ${o.name} --delete`);
  }
  const socketPath = requireSocket(io.env);
  let providers: IssuerEntry[] | undefined;
  const providerList = async () => (providers ??= await loadIssuerConfig({ configDir: dir }));
  let issuer = o.issuer;
  if (issuer === undefined) {
    if (!isTty(io.stderr) || !process.stdin.isTTY) throw new CliError('--issuer URL is required to create an account (on a terminal, token-gen offers a list)', ExitCode.usage);
    issuer = await chooseIssuer(await providerList(), io);
  }
  const config: Record<string, unknown> = { name: o.name, issuer_url: issuer };
  let scopes = o.scopes;
  if (o.pub) {
    const pub = findIssuer(await providerList(), issuer)?.pubclient;
    if (pub === undefined) {
      throw new CliError(
        `no public client is known for ${issuer}: add one to ${join(dir, 'issuer.config')} (oidc-agent's format), or leave out --pub (dynamic registration), or pass --client-id`,
        ExitCode.usage,
      );
    }
    config['client_id'] = pub.client_id;
    config['client_secret'] = pub.client_secret ?? '';
    // `--scope max` with a public client: everything the client may ask for.
    if (pub.scope && (scopes.length === 0 || scopes.includes('max'))) scopes = [pub.scope];
  }
  if (scopes.length > 0) config['auth_scope'] = scopes.join(' ');
  if (o.audiences.length > 0) config['audience'] = o.audiences.join(' ');
  if (o.clientId !== undefined) config['client_id'] = o.clientId;
  if (o.clientSecret !== undefined) config['client_secret'] = o.clientSecret;
  if (o.manual && config['client_id'] === undefined) await askClient(config, io);
  if (o.flow === 'password') await addOpCredentials(config, o, io);
  if (o.flow === 'refresh') {
    config['refresh_token'] = o.rtStdin
      ? await refreshTokenFromStdin(io)
      : o.rtFile !== undefined
        ? await firstLine(o.rtFile, 'refresh token')
        : fromEnv(io.env, o.rtEnv ?? 'OIDC_REFRESH_TOKEN', 'refresh token');
  }
  if (o.mytoken !== undefined) {
    // No mytoken_url: the agent uses the documented default server.
    const url = o.mytoken === true ? defaultMytokenServer(dir) : o.mytoken;
    if (url !== undefined) config['mytoken_url'] = url;
    if (o.mytokenProfile !== undefined) config['mytoken_profile'] = o.mytokenProfile;
  }
  if (o.onlyAt) {
    const reply = await login(socketPath, config, o, io, true);
    if (typeof reply['access_token'] !== 'string') throw new CliError('the agent returned no access token');
    io.stdout.write(`${reply['access_token']}\n`);
    return;
  }
  // Ask for the encryption password before the login, so a missing source fails before the user logs in.
  const password =
    o.save === false
      ? undefined
      : await resolvePassword({
          ...o.password,
          env: io.env,
          confirm: true,
          prompt: { question: `Encryption password for the new account '${o.name}': `, confirmQuestion: 'Repeat it: ' },
        });

  let result: Record<string, unknown>;
  try {
    result = await login(socketPath, config, o, io);
  } catch (err) {
    throw await withPubClientHint(err, issuer, config['client_id'] === undefined ? providerList : undefined, o.name);
  }
  const account = parseAccountConfig(result);
  if (password === undefined) {
    io.stderr.write(`Account '${o.name}' created and loaded into the agent, not saved (--no-save): it is gone when the agent stops or the account is removed.\n`);
    return;
  }
  const key = await saveAccount(dir, o.name, account, password);
  io.stderr.write(`Account '${o.name}' created, loaded into the agent, and saved encrypted to ${join(dir, o.name)}\n`);
  await handOverFileKey(socketPath, o.name, account, key, io);
  if (o.keyring) {
    try {
      await keyringSet(o.name, password, io.env);
      io.stderr.write(`Its password is saved in the keychain (token-add ${o.name} --keyring needs no prompt).\n`);
    } catch (err) {
      if (!(err instanceof KeyringUnavailable)) throw err;
      io.stderr.write(`${err.message}; the password was not saved there.\n`);
    }
  }
}

/** Whether the agent at `socketPath` (if one answers) has account `name` loaded. */
async function loadedInAgent(socketPath: string, name: string): Promise<boolean> {
  const loaded = await request('loaded_accounts', {}, { socketPath, timeoutMs: 5_000 }).then(
    (r) => (r as { info?: string[] }).info ?? [],
    () => [] as string[],
  );
  return loaded.includes(name);
}

/**
 * Gives the agent the new file's key (an `add` of the saved configuration with
 * `token_agent_file_key`; the agent keeps its loaded account and only takes the key), so that a
 * rotated refresh token is written back without a prompt. The file is saved either way.
 */
async function handOverFileKey(socketPath: string, name: string, account: AccountConfig, key: FileKey, io: Io): Promise<void> {
  const config = JSON.parse(serializeAccountConfig(account)) as Record<string, unknown>;
  try {
    await request('add', { config, token_agent_file_key: serializeFileKey(key) as unknown as Record<string, unknown> }, { socketPath, timeoutMs: 60_000 });
  } catch (err) {
    const why = err instanceof Error ? ((err as { agentError?: string }).agentError ?? err.message) : String(err);
    io.stderr.write(`token-gen: warning: the agent did not take the file key (${why}); rotated refresh tokens are saved only after: token-add ${name}\n`);
  } finally {
    key.derived.fill(0);
  }
}

/**
 * A refused dynamic registration already says to pass --client-id/--client-secret; when the
 * provider list knows a public client for the issuer, say that --pub works too.
 */
async function withPubClientHint(err: unknown, issuer: string, providers: (() => Promise<IssuerEntry[]>) | undefined, name: string): Promise<unknown> {
  if (!(err instanceof ProtocolError) || providers === undefined || !/refused to register a client/.test(err.agentError ?? '')) return err;
  const pub = await providers().then(
    (list) => findIssuer(list, issuer)?.pubclient,
    () => undefined,
  );
  if (pub === undefined) return err;
  return new CliError(`${err.agentError}; or use the issuer's public client: token-gen ${name} --issuer ${issuer} --pub`);
}

/** On a terminal without --issuer: the provider list, numbered, or a URL typed in. */
async function chooseIssuer(providers: IssuerEntry[], io: Io): Promise<string> {
  const lines = ['Choose the OpenID Provider to log in with:'];
  providers.forEach((p, i) => {
    const extra = [p.pubclient ? 'public client' : '', p.default_account ? `default account: ${p.default_account}` : ''].filter(Boolean).join(', ');
    lines.push(`  ${String(i + 1).padStart(2)}) ${p.name ? `${p.name}  ` : ''}${p.issuer}${extra ? `  (${extra})` : ''}`);
  });
  lines.push('  or type the issuer URL of another provider.');
  io.stderr.write(`${lines.join('\n')}\n`);
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: io.stderr, terminal: true });
  try {
    for (let tries = 0; tries < 3; tries++) {
      const answer = (await rl.question('Provider (number or URL): ')).trim();
      const n = Number(answer);
      if (/^\d+$/.test(answer) && n >= 1 && n <= providers.length) return providers[n - 1]!.issuer;
      if (/^https?:\/\/\S+$/.test(answer) && URL.canParse(answer)) return answer;
      io.stderr.write(`Not a number from 1 to ${providers.length} or an http(s) URL.\n`);
    }
  } finally {
    rl.close();
  }
  throw new CliError('no provider chosen', ExitCode.usage);
}

/**
 * Runs a login through the agent (`gen`) and returns the account configuration with its new
 * refresh token. Code and device flows are followed with `state_lookup` until they end; Ctrl-C
 * cancels the flow in the agent (`term_http_server`) and nothing is returned.
 */
export async function login(socketPath: string, config: Record<string, unknown>, o: LoginOptions, io: Io, onlyAt = false): Promise<Record<string, unknown>> {
  const params: Parameters<typeof request<'gen'>>[1] = { config, flow: [o.flow] };
  if (onlyAt) params.only_at = true;
  // A mytoken account: the agent's `mytoken` flow (a login at the server, a transfer code, or an import).
  const mt = o as Partial<Pick<CreateOptions, 'mytoken' | 'transferCode'>>;
  if (mt.mytoken !== undefined) params.flow = ['mytoken'];
  if (mt.transferCode !== undefined) params.transfer_code = mt.transferCode;
  if (o.flow === 'code') {
    if (o.ports.length > 0) params.ports = o.ports.map(String);
    params.timeout = o.timeout ?? DEFAULT_CODE_TIMEOUT_S;
  }
  const started = await request('gen', params, { socketPath, timeoutMs: 120_000 });
  if (started.status !== 'accepted') return flowResult(started as Record<string, unknown>, onlyAt);
  const g = started as { state?: string; oidc_device?: DeviceAuthorization; uri?: string; expires_in?: number };
  if (params.flow?.[0] === 'mytoken' && g.state !== undefined && g.uri !== undefined) {
    await showMytokenUrl(g.uri, o, io);
    const seconds = typeof g.expires_in === 'number' && g.expires_in > 0 ? g.expires_in : DEFAULT_CODE_TIMEOUT_S;
    return flowResult(await waitForFlow(socketPath, g.state, seconds, 'Waiting for the login at the mytoken server', io), onlyAt);
  }
  if (g.state !== undefined && g.uri !== undefined) {
    await showCodeUrl(g.uri, o.urlCall, io);
    return flowResult(await waitForFlow(socketPath, g.state, o.timeout ?? DEFAULT_CODE_TIMEOUT_S, 'Waiting for the login in the browser', io), onlyAt);
  }
  if (g.state !== undefined && g.oidc_device !== undefined) {
    await showDevice(g.oidc_device, o.qr, o.json, io);
    return flowResult(await waitForFlow(socketPath, g.state, g.oidc_device.expires_in, 'Waiting for the approval', io), onlyAt);
  }
  throw new CliError('the agent started a flow without telling how to follow it');
}

/** A finished flow's reply: the account configuration, or with `onlyAt` the reply itself (its access token). */
function flowResult(reply: Record<string, unknown>, onlyAt: boolean): Record<string, unknown> {
  if (onlyAt) {
    if (typeof reply['access_token'] !== 'string') throw new CliError('the agent finished the flow without an access token');
    return reply;
  }
  const config = reply['config'];
  if (typeof config !== 'object' || config === null) throw new CliError('the agent finished the flow without an account configuration');
  return config as Record<string, unknown>;
}

/** `oidc-gen.default_mytoken_server` of the config files (oidc-agent's), if set. */
function defaultMytokenServer(dir: string): string | undefined {
  let merged: unknown = {};
  for (const file of [join(SYSTEM_CONFIG_DIR, 'config'), join(dir, 'config')]) {
    try {
      merged = mergePatch(merged as never, parseAgentConfigText(readFileSync(file, 'utf8'), file));
    } catch {
      // Missing or unreadable: token-agent reports bad config files where it reads them.
    }
  }
  const v = (merged as { 'oidc-gen'?: { default_mytoken_server?: unknown } })['oidc-gen']?.default_mytoken_server;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The mytoken server's consent URL: on stderr, with a QR code on a terminal (as the device flow), opened in a browser when one can be. */
async function showMytokenUrl(uri: string, o: LoginOptions, io: Io): Promise<void> {
  io.stderr.write('To create the mytoken, confirm at the mytoken server and log in at the OP:\n');
  if (o.qr && isTty(io.stderr)) {
    const { toString } = await import('qrcode');
    io.stderr.write(`${await toString(uri, { type: 'terminal', small: true })}\n`);
  }
  await showCodeUrl(uri, o.urlCall, io);
}

/** The URL always goes to stderr (a user on another device can use it); the browser only when wanted. */
async function showCodeUrl(uri: string, urlCall: boolean, io: Io): Promise<void> {
  io.stderr.write(`To log in, open this URL in a browser:\n${uri}\n`);
  if (!urlCall) return;
  if (!canOpenBrowser(io.env)) {
    io.stderr.write('(no display to open a browser on: open the URL yourself, on this machine)\n');
    return;
  }
  if (await openBrowser(uri)) io.stderr.write('(opened in your browser)\n');
  else io.stderr.write('(could not open a browser: open the URL yourself)\n');
}

async function showDevice(d: DeviceAuthorization, qr: boolean, json: boolean, io: Io): Promise<void> {
  if (json) {
    const fields: Record<string, unknown> = { verification_uri: d.verification_uri, user_code: d.user_code };
    if (d.verification_uri_complete) fields['verification_uri_complete'] = d.verification_uri_complete;
    fields['expires_in'] = d.expires_in;
    fields['interval'] = d.interval;
    io.stdout.write(`${JSON.stringify(fields)}\n`);
  }
  const lines = [`To log in, open ${d.verification_uri} and enter the code: ${d.user_code}`];
  if (d.verification_uri_complete) lines.push(`or open directly: ${d.verification_uri_complete}`);
  if (!isTty(io.stderr)) lines.push(`expires_in: ${d.expires_in}`);
  if (qr && isTty(io.stderr)) {
    const { toString } = await import('qrcode');
    const code = await toString(d.verification_uri_complete ?? d.verification_uri, { type: 'terminal', small: true });
    lines.push(code);
  }
  io.stderr.write(`${lines.join('\n')}\n`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Polls `state_lookup` until the flow ends (the agent talks to the OP), showing progress, and
 * returns its success reply; the countdown is `seconds`, the agent's own limit for the flow.
 */
async function waitForFlow(socketPath: string, state: string, seconds: number, what: string, io: Io): Promise<Record<string, unknown>> {
  const deadline = Date.now() + seconds * 1000;
  const interval = Number(io.env['TOKEN_GEN_POLL_MS'] ?? 1000);
  // Shown once the Ctrl-C handler is in place: a user (or a test) reacting to the message gets a clean cancel.
  let progress: { stop(): void } | undefined;
  try {
    return await cancellable(
      async (signal) => {
        progress = showProgress(io, what, deadline);
        // The agent ends the flow itself at its deadline; the margin covers clock and poll skew.
        while (Date.now() < deadline + 30_000) {
          if (signal.aborted) break;
          const r = await request('state_lookup', { state }, { socketPath, timeoutMs: 30_000 });
          if (r.status === 'success') return r as Record<string, unknown>;
          if (r.status === 'FoundButReceived') throw new CliError('the result of this login was already taken by another client');
          await sleep(interval, signal);
        }
        if (signal.aborted) throw new CliError('cancelled: the login was abandoned and nothing was saved', ExitCode.cancelled);
        throw new CliError(`the login was not completed in time (${formatLeft(seconds)} min): run token-gen again`);
      },
      async () => {
        await request('term_http_server', { state }, { socketPath, timeoutMs: 5_000 });
      },
    );
  } finally {
    progress?.stop();
  }
}
