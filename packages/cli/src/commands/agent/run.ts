/**
 * `token-agent`: start (or reuse) the agent and print the environment for the shell, like
 * ssh-agent; `--kill`, `--status`; `token-agent CMD…` runs a command with the environment set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AgentErrorText, ProtocolError, assertSocketPathFits, checkPrivateSocketDir, defaultSocketPath, request, socketPathFromEnv } from '@token-agent/protocol';
import { CliError, ExitCode, shellQuote, type Io } from '../../output.js';

export type Shell = 'sh' | 'csh' | 'fish';

export interface AgentCliOptions {
  action: 'start' | 'kill' | 'status' | 'run' | 'forward' | 'service' | 'completion' | 'console';
  shell: Shell;
  json: boolean;
  quiet: boolean;
  lifetime: number | undefined;
  socketPath: string | undefined;
  logLevel: string | undefined;
  command: string[];
  /** Every token request needs a confirmation (`--confirm`), by `confirmCmd` or $TOKEN_AGENT_CONFIRM_CMD. */
  confirm?: boolean;
  confirmCmd?: string | undefined;
  /** `--always-allow-idtoken`: id_token requests need no confirmation. */
  alwaysAllowIdToken?: boolean;
  /** `--always-allow-mytoken`: mytoken requests need no confirmation. */
  alwaysAllowMytoken?: boolean;
  /** `--no-autoload` sets false: token-get does not load accounts itself. */
  autoload?: boolean;
  /** `--restricted-socket PATH --allow ACCOUNT[:SCOPES]…`: a second, restricted socket (set when the agent starts). */
  restrictedSocket?: string | undefined;
  allow?: string[] | undefined;
  /** `--forward [--ssh-host HOST] [--remote-socket PATH] [--write-ssh-config]`. */
  sshHost?: string | undefined;
  remoteSocket?: string | undefined;
  writeSshConfig?: boolean;
  /** `--print-service [KIND]` / `--install-service [KIND]`: KIND systemd (default on Linux), socket, launchd. */
  serviceKind?: unknown;
  installService?: boolean;
  /** `--completion bash|zsh|fish`. */
  completion?: string | undefined;
}

interface AgentEnv {
  socket: string;
  pid: number;
}

/** The exports for an agent in the given shell syntax. */
export function formatExports(a: AgentEnv, shell: Shell, quiet: boolean): string {
  const vars: [string, string][] = [
    ['TOKEN_AGENT_SOCK', a.socket],
    ['OIDC_SOCK', a.socket],
    ['TOKEN_AGENT_PID', String(a.pid)],
  ];
  const lines = vars.map(([k, v]) => {
    const q = shellQuote(v);
    if (shell === 'csh') return `setenv ${k} ${q};`;
    if (shell === 'fish') return `set -gx ${k} ${q};`;
    return `${k}=${q}; export ${k};`;
  });
  if (!quiet) lines.push(`echo Agent pid ${a.pid};`);
  return lines.join('\n') + '\n';
}

export function formatUnset(pid: number, shell: Shell, quiet: boolean): string {
  const names = ['TOKEN_AGENT_SOCK', 'OIDC_SOCK', 'TOKEN_AGENT_PID'];
  const lines = names.map((k) => (shell === 'csh' ? `unsetenv ${k};` : shell === 'fish' ? `set -e ${k};` : `unset ${k};`));
  if (!quiet) lines.push(`echo Agent pid ${pid} killed;`);
  return lines.join('\n') + '\n';
}

/** Asks an agent at `socket` for its pid; undefined when nothing answers. */
async function probe(socket: string, env: NodeJS.ProcessEnv = {}): Promise<AgentEnv | undefined> {
  try {
    const r = await request('status_json', {}, { socketPath: socket, timeoutMs: 3_000 }).catch((err: unknown) => {
      // A locked agent answers only check and unlock: alive, and its pid is the one we exported.
      if (!(err instanceof ProtocolError) || err.agentError !== AgentErrorText.locked) throw err;
      const pid = socketPathFromEnv(env) === socket ? Number(env['TOKEN_AGENT_PID']) : NaN;
      return { status: 'success', info: { pid: Number.isSafeInteger(pid) && pid > 0 ? pid : undefined } };
    });
    const info = (r as { info?: { pid?: unknown } }).info;
    return { socket, pid: typeof info?.pid === 'number' ? info.pid : 0 };
  } catch {
    return undefined;
  }
}

/** A fresh private temp dir for an agent of its own (`token-agent CMD`). */
function privateSocketPath(env: NodeJS.ProcessEnv): { path: string; removeDir: boolean } {
  const dir = mkdtempSync(join(env['TMPDIR'] || tmpdir(), 'token-agent-'));
  return { path: join(dir, 'agent.sock'), removeDir: true };
}

/** The per-user default socket (see defaultSocketPath), refused when its directory is not private. */
function defaultSocket(env: NodeJS.ProcessEnv): string {
  const path = defaultSocketPath(env);
  const bad = checkPrivateSocketDir(dirname(path));
  if (bad !== undefined) throw new CliError(bad);
  return path;
}

/** A restricted socket is set up when the agent starts: asking for one from a running agent is an error. */
function refuseRestricted(o: AgentCliOptions, a: AgentEnv): AgentEnv {
  if (o.restrictedSocket === undefined) return a;
  throw new CliError(`an agent (pid ${a.pid}) already runs at ${a.socket}; a restricted socket is set up when the agent starts: stop it first (token-agent --kill) or use another --socket-path`);
}

/** Variables that may hold a secret of the user's shell; the long-lived agent does not need them. */
const SECRET_ENV = /PASSW|_PW$|^PW_|SECRET|REFRESH_TOKEN|ACCESS_TOKEN|^BEARER_TOKEN$|^OIDC_AT$/i;

/** The agent's environment: the caller's, minus anything that looks like a secret. */
export function agentEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!SECRET_ENV.test(k) || k.startsWith('TOKEN_AGENT_')) out[k] = v;
  return out;
}

function daemonPath(): string {
  return createRequire(import.meta.url).resolve('@token-agent/agent/daemon');
}

/** Starts the daemon detached and waits for its READY line on fd 3. */
async function startDaemon(
  o: AgentCliOptions,
  io: Io,
  chosen = { path: o.socketPath ?? defaultSocket(io.env), removeDir: false },
): Promise<AgentEnv> {
  assertSocketPathFits(chosen.path);
  // Another agent already serving the default path (another shell started it): reuse it.
  const running = await probe(chosen.path, io.env);
  if (running !== undefined) return refuseRestricted(o, running);
  const args = daemonArgs(o, chosen);
  const logFile = await logFilePath(io.env);
  if (logFile !== undefined) args.push('--log-file', logFile);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: agentEnv(io.env) });
  const line = await readyLine(child, io);
  child.unref();
  const m = /^READY (\d+)$/.exec(line);
  if (!m && /already listening|another agent is starting/.test(line)) {
    // Another launcher won the race for this socket: use its agent.
    const winner = await probe(chosen.path, io.env);
    if (winner !== undefined) return refuseRestricted(o, winner);
  }
  if (!m) throw new CliError(`the agent did not start: ${line.replace(/^ERROR /, '')}`);
  return { socket: chosen.path, pid: Number(m[1]) };
}

/** The daemon's command line for the launcher's options (readiness on fd 3). */
function daemonArgs(o: AgentCliOptions, chosen: { path: string; removeDir: boolean }): string[] {
  const args = [daemonPath(), '--socket', chosen.path, '--ready-fd', '3'];
  if (chosen.removeDir) args.push('--remove-dir');
  if (o.lifetime !== undefined) args.push('--lifetime', String(o.lifetime));
  if (o.logLevel !== undefined) args.push('--log-level', o.logLevel);
  if (o.confirm) args.push('--confirm');
  if (o.confirmCmd !== undefined) args.push('--confirm-cmd', o.confirmCmd);
  if (o.alwaysAllowIdToken) args.push('--always-allow-idtoken');
  if (o.alwaysAllowMytoken) args.push('--always-allow-mytoken');
  if (o.autoload === false) args.push('--no-autoload');
  if (o.restrictedSocket !== undefined) {
    assertSocketPathFits(o.restrictedSocket);
    args.push('--restricted-socket', o.restrictedSocket);
    for (const a of o.allow ?? []) args.push('--allow', a);
  }
  return args;
}

/**
 * `-d/--console` (oidc-agent's): the agent in the foreground of this terminal, logging to stderr.
 * The exports go to stdout first (for another shell); Ctrl-C or SIGTERM stops it; its exit code is ours.
 */
async function runConsole(o: AgentCliOptions, io: Io): Promise<number> {
  if (o.command.length > 0) throw new CliError('-d/--console runs the agent itself: it does not go with a COMMAND', ExitCode.usage);
  const chosen = { path: o.socketPath ?? defaultSocket(io.env), removeDir: false };
  assertSocketPathFits(chosen.path);
  const running = await probe(chosen.path, io.env);
  if (running !== undefined) throw new CliError(`an agent (pid ${running.pid}) already runs at ${chosen.path}: stop it first (token-agent --kill) or choose another --socket-path`);
  const child = spawn(process.execPath, [...daemonArgs(o, chosen), '--foreground'], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'], env: agentEnv(io.env) });
  // Ctrl-C reaches the whole foreground process group; the agent stops itself, we wait for it.
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const exited = new Promise<number>((resolve) => child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 + 15 : 1))));
    const line = await readyLine(child, io);
    const m = /^READY (\d+)$/.exec(line);
    if (!m) {
      child.kill('SIGTERM');
      throw new CliError(`the agent did not start: ${line.replace(/^ERROR /, '')}`);
    }
    print(io, { socket: chosen.path, pid: Number(m[1]) }, o);
    return await exited;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

async function logFilePath(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const { stateDir, ensurePrivateDir } = await import('@token-agent/store');
  try {
    const dir = stateDir({ env });
    await ensurePrivateDir(dir);
    return join(dir, 'agent.log');
  } catch {
    return undefined;
  }
}

/**
 * The daemon's answer on fd 3: `NOTE text` lines (shown once on stderr: settings it ignores),
 * then `READY pid` or `ERROR text`, which is returned.
 */
function readyLine(child: ChildProcess, io: Io): Promise<string> {
  return new Promise((resolve) => {
    const pipe = child.stdio[3] as NodeJS.ReadableStream;
    let buf = '';
    let done = false;
    const finish = (line: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      (pipe as NodeJS.ReadableStream & { destroy(): void }).destroy();
      resolve(line);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish('ERROR timed out waiting for the agent to start');
    }, 15_000);
    pipe.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while (!done && (nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('NOTE ')) io.stderr.write(`token-agent: note: ${line.slice(5)}\n`);
        else finish(line);
      }
    });
    // Its last lines may still be in the pipe when the exit is seen: read them first.
    child.once('exit', (code) => {
      const fail = () => finish(`ERROR the agent exited with code ${code}`);
      if ((pipe as NodeJS.ReadableStream & { destroyed?: boolean }).destroyed) fail();
      else pipe.once('close', fail);
    });
  });
}

async function waitGone(socket: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await probe(socket)) === undefined) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function kill(a: AgentEnv): Promise<void> {
  if (a.pid <= 0) throw new CliError('the agent did not report its pid; cannot stop it');
  try {
    process.kill(a.pid, 'SIGTERM');
  } catch (err) {
    throw new CliError(`cannot signal the agent (pid ${a.pid}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!(await waitGone(a.socket, 5_000))) throw new CliError(`the agent (pid ${a.pid}) did not stop within 5 s`);
}

function print(io: Io, a: AgentEnv, o: AgentCliOptions): void {
  if (o.json) io.stdout.write(`${JSON.stringify({ socket: a.socket, pid: a.pid, dpid: String(a.pid) })}\n`);
  else io.stdout.write(formatExports(a, o.shell, o.quiet));
}

export async function run(o: AgentCliOptions, io: Io): Promise<number> {
  const envSocket = socketPathFromEnv(io.env);
  switch (o.action) {
    case 'status': {
      const socket = o.socketPath ?? envSocket ?? defaultSocket(io.env);
      const r = await request(o.json ? 'status_json' : 'status', {}, { socketPath: socket, timeoutMs: 10_000 });
      const info = (r as { info?: unknown }).info;
      io.stdout.write(o.json ? `${JSON.stringify(info)}\n` : `${String(info)}\n`);
      return ExitCode.ok;
    }
    case 'console':
      return runConsole(o, io);
    case 'completion': {
      const { completionScript } = await import('./completion.js');
      io.stdout.write(completionScript(o.completion ?? 'bash'));
      return ExitCode.ok;
    }
    case 'service': {
      const { parseServiceKind, service } = await import('./service.js');
      return service({ kind: parseServiceKind(o.serviceKind), install: o.installService === true, node: process.execPath, daemon: daemonPath() }, io);
    }
    case 'forward': {
      const { forward } = await import('./forward.js');
      return forward(
        {
          agentSocket: o.socketPath ?? envSocket ?? defaultSocketPath(io.env),
          restrictedSocket: o.restrictedSocket,
          host: o.sshHost,
          remoteSocket: o.remoteSocket,
          writeSshConfig: o.writeSshConfig === true,
          json: o.json,
        },
        io,
      );
    }
    case 'kill': {
      const socket = o.socketPath ?? envSocket ?? defaultSocket(io.env);
      const a = await probe(socket, io.env);
      if (a === undefined) throw new CliError(`no agent answers at ${socket}`, ExitCode.noAgent);
      await kill(a);
      io.stdout.write(o.json ? `${JSON.stringify({ killed: a.pid })}\n` : formatUnset(a.pid, o.shell, o.quiet));
      return ExitCode.ok;
    }
    case 'start': {
      // Reuse the agent the environment points at when it is alive.
      if ((o.allow !== undefined) !== (o.restrictedSocket !== undefined)) throw new CliError('--restricted-socket PATH and --allow ACCOUNT[:SCOPES] go together', ExitCode.usage);
      const live = o.socketPath === undefined && envSocket !== undefined ? await probe(envSocket, io.env) : undefined;
      if (live !== undefined) refuseRestricted(o, live);
      print(io, live ?? (await startDaemon(o, io)), o);
      return ExitCode.ok;
    }
    case 'run': {
      // A private agent for this command only, never the shared default socket.
      const chosen = o.socketPath !== undefined ? { path: o.socketPath, removeDir: false } : privateSocketPath(io.env);
      const a = await startDaemon(o, io, chosen);
      const env = { ...io.env, TOKEN_AGENT_SOCK: a.socket, OIDC_SOCK: a.socket, TOKEN_AGENT_PID: String(a.pid) };
      const [cmd, ...args] = o.command;
      const child = spawn(cmd!, args, { stdio: 'inherit', env });
      const code = await new Promise<number>((resolve) => {
        child.once('error', (err: NodeJS.ErrnoException) => {
          io.stderr.write(`token-agent: cannot run ${cmd}: ${err.code ?? err.message}\n`);
          resolve(127);
        });
        child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 + 15 : 1)));
      });
      await kill(a).catch(() => undefined);
      return code;
    }
  }
}
