/** `status`, `status_json`, `check`. */
import type { Results } from '@token-agent/protocol';
import type { AgentContext } from '../context.js';

export function statusJson(ctx: AgentContext): Results['status_json'] {
  return {
    info: {
      version: ctx.settings.version,
      command_line_options: { socket_path: ctx.settings.socketPath, lifetime: ctx.settings.defaultLifetime },
      pid: process.pid,
      loaded_accounts: ctx.accounts.names(),
      accounts: ctx.accounts.all().map((a) => {
        const s = { name: a.name, issuer: a.config.issuer_url, loaded_at: a.loadedAt, cached_tokens: ctx.cache.countFor(a.name) };
        return a.expiresAt === undefined ? s : { ...s, expires_at: a.expiresAt };
      }),
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
  const accounts = ctx.accounts.all();
  lines.push(accounts.length === 0 ? 'no accounts loaded' : `loaded accounts (${accounts.length}):`);
  for (const a of accounts) {
    const life = a.expiresAt === undefined ? 'no lifetime limit' : `unloaded in ${Math.max(0, a.expiresAt - now)} s`;
    lines.push(`  ${a.name}  ${a.config.issuer_url}  ${life}, ${ctx.cache.countFor(a.name)} cached token(s)`);
  }
  return { info: lines.join('\n') };
}

export function check(): Results['check'] {
  return {};
}
