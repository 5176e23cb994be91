/**
 * The daemon: binds the socket, serves until SIGTERM/SIGINT, then removes what it created.
 * Started by the `token-agent` launcher (detached, stdio closed, readiness reported on fd 3), or
 * in the foreground with `--foreground` (logs to stderr).
 */
import { closeSync, writeSync } from 'node:fs';
import { chmod, lstat, mkdir, rmdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertSocketPathFits } from '@token-agent/protocol';
import { configDir, stateDir } from '@token-agent/store';
import { AccountRegistry } from './accounts/registry.js';
import { WatchManager } from './btfile/watch-manager.js';
import { TokenCache } from './cache/token-cache.js';
import type { AgentContext } from './context.js';
import { PendingFlows } from './flows/pending.js';
import { unload } from './handlers/accounts.js';
import { watchToken } from './handlers/watch.js';
import { createLogger, type LogLevel } from './log.js';
import { createOpApi } from './op-client.js';
import { AgentLock } from './security/lock.js';
import { createAgentServer } from './server.js';
import { VERSION } from './version.js';

export interface AgentOptions {
  socketPath: string;
  configDir: string;
  /** The agent's state directory: its log and the persisted watch list (`watches.json`). */
  stateDir: string;
  logFile: string | undefined;
  logLevel: LogLevel;
  defaultLifetime: number;
  /** Remove the socket's directory on exit (the launcher created it for this agent). */
  removeDir: boolean;
  readyFd: number | undefined;
  requestTimeoutMs: number;
  /** Every token request needs a confirmation from `confirmCmd`. */
  confirm: boolean;
  confirmCmd: string | undefined;
}

function parseOptions(argv: string[]): AgentOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string' },
      'config-dir': { type: 'string' },
      'state-dir': { type: 'string' },
      'log-file': { type: 'string' },
      'log-level': { type: 'string', default: process.env['TOKEN_AGENT_LOG_LEVEL'] ?? 'info' },
      lifetime: { type: 'string', default: '0' },
      'remove-dir': { type: 'boolean', default: false },
      'ready-fd': { type: 'string' },
      'request-timeout': { type: 'string', default: process.env['TOKEN_AGENT_REQUEST_TIMEOUT_MS'] ?? '5000' },
      foreground: { type: 'boolean', default: false },
      confirm: { type: 'boolean', default: false },
      'confirm-cmd': { type: 'string' },
    },
    strict: true,
  });
  if (values.socket === undefined) throw new Error('--socket PATH is required');
  const lifetime = Number(values.lifetime);
  if (!Number.isSafeInteger(lifetime) || lifetime < 0) throw new Error('--lifetime must be a whole number of seconds');
  const level = values['log-level'] as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error('--log-level must be debug, info, warn or error');
  return {
    socketPath: values.socket,
    configDir: values['config-dir'] ?? configDir(),
    stateDir: values['state-dir'] ?? stateDir(),
    logFile: values.foreground ? undefined : values['log-file'],
    logLevel: level,
    defaultLifetime: lifetime,
    removeDir: values['remove-dir'],
    readyFd: values['ready-fd'] === undefined ? undefined : Number(values['ready-fd']),
    requestTimeoutMs: Number(values['request-timeout']),
    confirm: values.confirm,
    confirmCmd: values['confirm-cmd'] ?? (process.env['TOKEN_AGENT_CONFIRM_CMD'] || undefined),
  };
}

/** True when something accepts connections at `path`. */
function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Makes sure the socket path is ours to bind: private directory, no live agent, no foreign file. */
async function prepareSocketPath(path: string): Promise<void> {
  assertSocketPathFits(path);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const d = await lstat(dir);
  if (!d.isDirectory() || d.uid !== process.getuid!()) throw new Error(`socket directory ${dir} is not a directory owned by you`);
  if ((d.mode & 0o077) !== 0) await chmod(dir, 0o700);
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return;
  if (!st.isSocket() || st.uid !== process.getuid!()) throw new Error(`${path} exists and is not a socket of yours; refusing to replace it`);
  if (await isAlive(path)) throw new Error(`an agent is already listening at ${path}`);
  await unlink(path); // stale socket of a dead agent
}

function report(fd: number | undefined, line: string): void {
  if (fd === undefined) return;
  try {
    writeSync(fd, line + '\n');
    closeSync(fd);
  } catch {
    // The launcher went away; nothing to tell.
  }
}

export async function runAgent(opts: AgentOptions): Promise<void> {
  const log = createLogger(opts.logFile, opts.logLevel);
  const cache = new TokenCache();
  let ctx!: AgentContext;
  const accounts = new AccountRegistry((name) => {
    if (unload(ctx, name)) ctx.log.info('account-lifetime-ended', { account: name });
  });
  ctx = {
    accounts,
    cache,
    op: createOpApi(),
    flows: new PendingFlows(),
    watches: new WatchManager({
      getToken: (spec, minValid) => watchToken(ctx, spec, minValid),
      log,
      listFile: join(opts.stateDir, 'watches.json'),
    }),
    log,
    settings: {
      configDir: opts.configDir,
      socketPath: opts.socketPath,
      defaultLifetime: opts.defaultLifetime,
      version: VERSION,
      confirm: opts.confirm,
      confirmCmd: opts.confirmCmd,
      confirmTimeoutMs: Number(process.env['TOKEN_AGENT_CONFIRM_TIMEOUT_MS'] ?? 60_000) || 60_000,
    },
    lock: new AgentLock(),
    startedAt: Math.floor(Date.now() / 1000),
  };

  await ctx.watches.load();
  await prepareSocketPath(opts.socketPath);
  const server = createAgentServer(ctx, { requestTimeoutMs: opts.requestTimeoutMs });
  server.maxConnections = 4096;
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: opts.socketPath, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  await chmod(opts.socketPath, 0o600);
  server.on('error', (err) => log.error('server-error', { error: err.message }));

  const sweeper = setInterval(() => cache.sweep(), 60_000);
  sweeper.unref();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('agent-stopping', { signal });
    ctx.flows.cancelAll();
    await ctx.watches.shutdown().catch((err: unknown) => log.error('bt-shutdown-failed', { error: String(err) }));
    for (const name of accounts.names()) accounts.remove(name);
    cache.clear();
    server.close();
    await unlink(opts.socketPath).catch(() => undefined);
    if (opts.removeDir) await rmdir(dirname(opts.socketPath)).catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => log.info('sighup-ignored'));
  process.on('unhandledRejection', (err) => log.error('unhandled-rejection', { error: err instanceof Error ? err.stack : String(err) }));
  // The agent is detached with no stderr: an unexpected exception is logged before the process dies.
  process.on('uncaughtException', (err) => {
    log.error('uncaught-exception', { error: err.stack ?? err.message });
    void unlink(opts.socketPath).catch(() => undefined).finally(() => process.exit(70));
  });

  log.info('agent-started', { pid: process.pid, socket: opts.socketPath, version: VERSION });
  report(opts.readyFd, `READY ${process.pid}`);
}

/** Entry point for `node main.js …`. */
export async function main(argv = process.argv.slice(2)): Promise<void> {
  let opts: AgentOptions | undefined;
  try {
    opts = parseOptions(argv);
    await runAgent(opts);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (opts?.readyFd !== undefined) report(opts.readyFd, `ERROR ${message}`);
    else process.stderr.write(`token-agent: ${message}\n`);
    process.exit(1);
  }
}
