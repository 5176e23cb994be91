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
import { assertSocketPathFits, checkPrivateSocketDir, defaultSocketPath } from '@token-agent/protocol';
import { configDir, loadAgentConfig, stateDir, withFileLock } from '@token-agent/store';
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
import type { Listener } from './transport.js';
import { installHeapProbe } from './heap-probe.js';
import { parseAllow, type Restriction } from './restricted.js';
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
  alwaysAllowIdToken: boolean;
  alwaysAllowMytoken: boolean;
  /** false: token-get must not load accounts itself (`--no-autoload`, config `autoload: false`). */
  autoload?: boolean;
  /** What oidc-agent's `config` files gave: read, not applied (reported once at start), unreadable. */
  fileConfig?: { files: string[]; unsupported: string[]; errors: string[] };
  /** A second socket serving only `check` and `access_token` for `allow` (see restricted.ts). */
  restrictedSocket?: string | undefined;
  allow?: Restriction | undefined;
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
      lifetime: { type: 'string' },
      'remove-dir': { type: 'boolean', default: false },
      'ready-fd': { type: 'string' },
      'request-timeout': { type: 'string', default: process.env['TOKEN_AGENT_REQUEST_TIMEOUT_MS'] ?? '5000' },
      foreground: { type: 'boolean', default: false },
      confirm: { type: 'boolean', default: false },
      'confirm-cmd': { type: 'string' },
      'always-allow-idtoken': { type: 'boolean', default: false },
      'always-allow-mytoken': { type: 'boolean', default: false },
      'no-autoload': { type: 'boolean', default: false },
      'restricted-socket': { type: 'string' },
      allow: { type: 'string', multiple: true },
    },
    strict: true,
  });
  if (values.socket === undefined) throw new Error('--socket PATH is required');
  if ((values.allow !== undefined) !== (values['restricted-socket'] !== undefined)) throw new Error('--restricted-socket PATH and --allow ACCOUNT[:SCOPES] go together');
  if (values['restricted-socket'] !== undefined && values['restricted-socket'] === values.socket) throw new Error('the restricted socket must be another path than the agent socket');
  const dir = values['config-dir'] ?? configDir();
  // oidc-agent's `config` file (system, then user): defaults under the command line's options.
  const fileConfig = loadAgentConfig({ configDir: dir });
  const lifetime = values.lifetime === undefined ? (fileConfig.settings.lifetime ?? 0) : Number(values.lifetime);
  if (!Number.isSafeInteger(lifetime) || lifetime < 0) throw new Error('--lifetime must be a whole number of seconds');
  const level = (fileConfig.settings.debugLogging === true && process.env['TOKEN_AGENT_LOG_LEVEL'] === undefined && !argv.includes('--log-level') ? 'debug' : values['log-level']) as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error('--log-level must be debug, info, warn or error');
  return {
    socketPath: values.socket,
    configDir: dir,
    stateDir: values['state-dir'] ?? stateDir(),
    logFile: values.foreground ? undefined : values['log-file'],
    logLevel: level,
    defaultLifetime: lifetime,
    removeDir: values['remove-dir'],
    readyFd: values['ready-fd'] === undefined ? undefined : Number(values['ready-fd']),
    requestTimeoutMs: Number(values['request-timeout']),
    confirm: values.confirm || fileConfig.settings.confirm === true,
    confirmCmd: values['confirm-cmd'] ?? (process.env['TOKEN_AGENT_CONFIRM_CMD'] || undefined),
    alwaysAllowIdToken: values['always-allow-idtoken'] || fileConfig.settings.alwaysAllowIdToken === true,
    alwaysAllowMytoken: values['always-allow-mytoken'],
    autoload: !values['no-autoload'] && fileConfig.settings.autoload !== false,
    fileConfig: { files: fileConfig.files, unsupported: fileConfig.unsupported, errors: fileConfig.errors },
    restrictedSocket: values['restricted-socket'],
    allow: values.allow === undefined ? undefined : parseAllow(values.allow),
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

/** Makes sure the socket's directory is ours: created 0700, owned by us, private. */
async function prepareSocketDir(path: string): Promise<void> {
  assertSocketPathFits(path);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const d = await lstat(dir);
  if (!d.isDirectory() || d.uid !== process.getuid!()) throw new Error(`socket directory ${dir} is not a directory owned by you`);
  if ((d.mode & 0o077) !== 0) {
    // The fixed per-user default directory must already be private; a path the user chose is fixed up.
    const bad = path === defaultSocketPath(process.env) ? checkPrivateSocketDir(dir) : undefined;
    if (bad !== undefined) throw new Error(bad);
    await chmod(dir, 0o700);
  }
}

/** No live agent and no foreign file at `path`; a stale socket of a dead agent is removed. */
async function clearSocketPath(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return;
  if (!st.isSocket() || st.uid !== process.getuid!()) throw new Error(`${path} exists and is not a socket of yours; refusing to replace it`);
  if (await isAlive(path)) throw new Error(`an agent is already listening at ${path}`);
  await unlink(path); // stale socket of a dead agent
}

/**
 * Serialises agents starting on the same socket path: `PATH.lock` (store's withFileLock: O_EXCL,
 * "PID HOST" of the starter, broken when that process is gone). Two concurrent starts thus end with one
 * agent: the second finds the first one's live socket once it gets the lock.
 */
function withStartLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  return withFileLock(lock, fn, { waitMs: 10_000, busy: (holder) => new Error(`another agent is starting at ${path} (lock ${lock} held by ${holder})`) });
}

/** The listening socket systemd passed (`LISTEN_FDS=1` for this pid: fd 3), if any; the variables are cleared for children. */
function socketActivationFd(): number | undefined {
  const fds = process.env['LISTEN_FDS'];
  const pid = process.env['LISTEN_PID'];
  delete process.env['LISTEN_FDS'];
  delete process.env['LISTEN_PID'];
  delete process.env['LISTEN_FDNAMES'];
  if (fds === undefined || Number(pid) !== process.pid) return undefined;
  if (fds !== '1') throw new Error(`socket activation passed ${fds} sockets; token-agent.socket must have exactly one ListenStream`);
  return 3;
}

/** Listens on a Unix socket created with mode 0600 (umask set for the bind only). */
async function listenPrivate(server: Listener, path: string): Promise<void> {
  const oldMask = process.umask(0o177);
  try {
    await server.listen({ path, backlog: 1024 });
  } finally {
    process.umask(oldMask);
  }
  await chmod(path, 0o600);
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
      alwaysAllowIdToken: opts.alwaysAllowIdToken,
      alwaysAllowMytoken: opts.alwaysAllowMytoken,
      confirmTimeoutMs: Number(process.env['TOKEN_AGENT_CONFIRM_TIMEOUT_MS'] ?? 60_000) || 60_000,
      restrictedSocket: opts.restrictedSocket,
      autoload: opts.autoload !== false,
      configUnsupported: opts.fileConfig?.unsupported ?? [],
    },
    lock: new AgentLock(),
    startedAt: Math.floor(Date.now() / 1000),
  };

  await ctx.watches.load();
  const server = createAgentServer(ctx, { requestTimeoutMs: opts.requestTimeoutMs });
  server.maxConnections = 4096;
  const activated = socketActivationFd();
  if (activated !== undefined) {
    // systemd socket activation (token-agent.socket): the listening socket is fd 3, and systemd owns its file.
    await server.listen({ fd: activated });
  } else {
    await prepareSocketDir(opts.socketPath);
    await withStartLock(opts.socketPath, async () => {
      await clearSocketPath(opts.socketPath);
      await listenPrivate(server, opts.socketPath);
    });
  }
  const restricted = opts.restrictedSocket === undefined ? undefined : createAgentServer(ctx, { requestTimeoutMs: opts.requestTimeoutMs, restriction: opts.allow ?? new Map() });
  if (restricted !== undefined) {
    const rpath = opts.restrictedSocket!;
    restricted.maxConnections = 1024;
    try {
      await prepareSocketDir(rpath);
      await withStartLock(rpath, async () => {
        await clearSocketPath(rpath);
        await listenPrivate(restricted, rpath);
      });
    } catch (err) {
      server.close();
      await unlink(opts.socketPath).catch(() => undefined);
      throw new Error(`restricted socket: ${err instanceof Error ? err.message : String(err)}`);
    }
    restricted.onError((err) => log.error('server-error', { socket: 'restricted', error: err.message }));
  }
  await chmod(opts.socketPath, 0o600);
  server.onError((err) => log.error('server-error', { error: err.message }));

  const sweeper = setInterval(() => cache.sweep(), 60_000);
  sweeper.unref();
  if (installHeapProbe()) log.info('heap-probe-enabled');

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
    restricted?.close();
    if (activated === undefined) await unlink(opts.socketPath).catch(() => undefined);
    if (opts.restrictedSocket !== undefined) await unlink(opts.restrictedSocket).catch(() => undefined);
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
    void Promise.all([activated === undefined ? unlink(opts.socketPath) : undefined, opts.restrictedSocket !== undefined ? unlink(opts.restrictedSocket) : undefined].map((p) => Promise.resolve(p).catch(() => undefined))).finally(() => process.exit(70));
  });

  log.info('agent-started', { pid: process.pid, socket: opts.socketPath, version: VERSION, transport: server.kind });
  const fc = opts.fileConfig;
  if (fc !== undefined && fc.files.length > 0) log.info('config-read', { files: fc.files });
  if (fc !== undefined && fc.unsupported.length > 0) log.warn('config-unsupported', { settings: fc.unsupported, note: 'oidc-agent settings token-agent does not apply' });
  for (const error of fc?.errors ?? []) log.warn('config-unreadable', { error });
  if (opts.restrictedSocket !== undefined) log.info('restricted-socket', { socket: opts.restrictedSocket, allow: [...(opts.allow ?? new Map()).entries()].map(([a, s]) => (s === undefined ? a : `${a}:${[...s].join(',')}`)) });
  // Notes for the launcher to show on the terminal once (the log is rarely read); then readiness.
  const notes: string[] = [];
  if (fc !== undefined && fc.unsupported.length > 0) notes.push(`settings of oidc-agent's config file that token-agent does not apply: ${fc.unsupported.join(', ')}`);
  for (const error of fc?.errors ?? []) notes.push(`oidc-agent config file not read: ${error}`);
  report(opts.readyFd, [...notes.map((n) => `NOTE ${n.replace(/[\r\n]+/g, ' ')}`), `READY ${process.pid}`].join('\n'));
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
