/** `status`, `status_json`, `check`. */
import type { LoadedAccountStatus, Results } from '@token-agent/protocol';
import type { LoadedAccount } from '../accounts/registry.js';
import type { AgentContext } from '../context.js';
import { describeWatches } from '../btfile/describe.js';
import { loadIssuerConfig } from '@token-agent/store';

function accountStatus(ctx: AgentContext, a: LoadedAccount, now: number): LoadedAccountStatus {
  const s: LoadedAccountStatus = { name: a.name, issuer: a.config.issuer_url, loaded_at: a.loadedAt, cached_tokens: ctx.cache.countFor(a.name) };
  if (a.expiresAt !== undefined) {
    s.expires_at = a.expiresAt;
    s.time_left = Math.max(0, a.expiresAt - now);
  }
  s.confirm = a.confirm || ctx.settings.confirm;
  if (a.lastRefresh !== undefined) s.last_refresh = a.lastRefresh;
  if (a.lastError !== undefined) s.last_error = { ...a.lastError };
  // While locked the file keys are sealed too; they come back with unlock.
  if (!ctx.lock.locked) s.write_back = a.fileKey !== undefined;
  return s;
}

function ago(now: number, t: number): string {
  return `${Math.max(0, now - t)} s ago`;
}

export function statusJson(ctx: AgentContext): Results['status_json'] {
  return {
    info: {
      version: ctx.settings.version,
      command_line_options: { socket_path: ctx.settings.socketPath, lifetime: ctx.settings.defaultLifetime, ...(ctx.settings.restrictedSocket !== undefined ? { restricted_socket: ctx.settings.restrictedSocket } : {}) },
      pid: process.pid,
      loaded_accounts: ctx.accounts.names(),
      accounts: ctx.accounts.all().map((a) => accountStatus(ctx, a, Math.floor(Date.now() / 1000))),
      watches: ctx.watches.list(),
      confirm: ctx.settings.confirm,
      autoload: ctx.settings.autoload !== false,
      ...(ctx.settings.configUnsupported?.length ? { config_unsupported: ctx.settings.configUnsupported } : {}),
    },
  };
}

export function status(ctx: AgentContext): Results['status'] {
  const now = Math.floor(Date.now() / 1000);
  const lines = [
    `token-agent ${ctx.settings.version} (oidc-agent IPC compatible)`,
    `socket: ${ctx.settings.socketPath}`,
    `pid: ${process.pid}, up ${now - ctx.startedAt} s`,
    `accounts dir: ${ctx.settings.configDir}`,
  ];
  if (ctx.settings.autoload === false) lines.push('autoload: off (--no-autoload): token-get does not load accounts');
  const unsupported = ctx.settings.configUnsupported ?? [];
  if (unsupported.length > 0) lines.push(`oidc-agent config settings not applied: ${unsupported.join(', ')}`);
  const accounts = ctx.accounts.all();
  lines.push(accounts.length === 0 ? 'no accounts loaded' : `loaded accounts (${accounts.length}):`);
  for (const a of accounts) {
    const s = accountStatus(ctx, a, now);
    const life = s.time_left === undefined ? 'no lifetime limit' : `unloaded in ${s.time_left} s`;
    lines.push(`  ${a.name}  ${a.config.issuer_url}  ${life}, ${s.cached_tokens} cached token(s)`);
    const details = [
      `last refresh: ${s.last_refresh === undefined ? 'never' : ago(now, s.last_refresh)}`,
      s.write_back === undefined ? undefined : `rotated refresh tokens ${s.write_back ? 'saved to the file' : 'kept in memory only'}`,
      s.confirm ? 'confirmation required' : undefined,
    ].filter((d): d is string => d !== undefined);
    lines.push(`    ${details.join('; ')}`);
    if (s.last_error !== undefined) lines.push(`    last error (${ago(now, s.last_error.at)}): ${s.last_error.error}`);
  }
  lines.push(...describeWatches(ctx.watches.list(), now));
  return { info: lines.join('\n') };
}

export function check(): Results['check'] {
  return {};
}

/**
 * `account_info` (oidc-agent 5): `{ issuer: { pubclient, accounts: { name: loaded } } }` from
 * issuer.config (its `accounts` and `default_account`) and the loaded accounts.
 */
export async function accountInfo(ctx: AgentContext): Promise<Results['account_info']> {
  const info: Results['account_info']['info'] = {};
  const norm = (u: string) => u.replace(/\/+$/, '');
  const entryFor = (issuer: string, pubclient = false) => {
    const key = Object.keys(info).find((k) => norm(k) === norm(issuer)) ?? issuer;
    return (info[key] ??= { pubclient, accounts: {} });
  };
  let entries: Awaited<ReturnType<typeof loadIssuerConfig>> = [];
  try {
    entries = await loadIssuerConfig({ configDir: ctx.settings.configDir, bundled: false });
  } catch (err) {
    ctx.log.warn('issuer-config-unreadable', { error: err instanceof Error ? err.message : String(err) });
  }
  for (const e of entries) {
    const names = [...(e.accounts ?? []), ...(e.default_account !== undefined ? [e.default_account] : [])];
    const entry = entryFor(e.issuer, e.pubclient !== undefined);
    if (e.pubclient !== undefined) entry.pubclient = true;
    for (const n of names) entry.accounts[n] = ctx.accounts.get(n) !== undefined;
  }
  for (const a of ctx.accounts.all()) entryFor(a.config.issuer_url).accounts[a.name] = true;
  return { info };
}
