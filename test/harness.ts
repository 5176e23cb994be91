/**
 * End-to-end harness: a private world per test (temp config/state/runtime dirs), the real agent
 * started by the real `token-agent` launcher, the CLIs run as processes from their built bins, and
 * the dev OP in process (its counters prove what reached the OP).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevOp, DEFAULT_PASSWORD, DEFAULT_USERNAME, type DevOp, type DevOpOptions } from '../scripts/dev-op/index.ts';

export { DEFAULT_PASSWORD, DEFAULT_USERNAME };
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = (name: string) => join(ROOT, 'packages', 'cli', 'bundle', `${name}.cjs`);

export type Cli = 'token-agent' | 'token-gen' | 'token-add' | 'token-get' | 'token-decode' | 'token-mytoken';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export async function startOp(options: DevOpOptions = {}): Promise<DevOp> {
  return startDevOp({ quiet: true, ...options });
}

/** The usual fixture: a dev OP and a world with a running agent (use in `before`). */
export async function opAndAgent(options: DevOpOptions = {}, env: NodeJS.ProcessEnv = {}): Promise<{ op: DevOp; world: World }> {
  const op = await startOp(options);
  const world = new World(env);
  await world.startAgent();
  return { op, world };
}

/** Its teardown (use in `after`): the agent and temp dirs, then the OP. */
export async function stopAll(world: World | undefined, op: DevOp | undefined): Promise<void> {
  await world?.cleanup();
  await op?.close();
}

/** One user's world: dirs, environment, and the agent once started. */
export class World {
  readonly root: string;
  readonly configDir: string;
  readonly env: NodeJS.ProcessEnv;
  agentPid: number | undefined;

  constructor(extraEnv: NodeJS.ProcessEnv = {}) {
    this.root = mkdtempSync(join(tmpdir(), 'ta-e2e-'));
    this.configDir = join(this.root, 'config');
    this.env = {
      PATH: process.env['PATH'],
      HOME: join(this.root, 'home'),
      TMPDIR: this.root,
      OIDC_CONFIG_DIR: this.configDir,
      XDG_STATE_HOME: join(this.root, 'state'),
      TOKEN_AGENT_ALLOW_HTTP_LOOPBACK: '1',
      TOKEN_GEN_POLL_MS: '200',
      NO_COLOR: '1',
      ...extraEnv,
    };
  }

  get socket(): string {
    const s = this.env['TOKEN_AGENT_SOCK'];
    if (!s) throw new Error('no agent started');
    return s;
  }

  get logFile(): string {
    return join(this.root, 'state', 'token-agent', 'agent.log');
  }

  /** Spawns a CLI; the caller reads its streams. */
  spawn(cli: Cli, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return spawn(process.execPath, [BIN(cli), ...args], { env: { ...this.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Runs a CLI to its end. */
  run(cli: Cli, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
    const child = this.spawn(cli, args, env);
    return collect(child, input);
  }

  /** Starts an agent with the real launcher and points this world's environment at it. */
  async startAgent(args: string[] = []): Promise<{ socket: string; pid: number }> {
    const r = await this.run('token-agent', ['--json', ...args]);
    if (r.code !== 0) throw new Error(`token-agent failed (${r.code}): ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { socket: string; pid: number };
    this.env['TOKEN_AGENT_SOCK'] = out.socket;
    this.env['OIDC_SOCK'] = out.socket;
    this.env['TOKEN_AGENT_PID'] = String(out.pid);
    this.agentPid = out.pid;
    return out;
  }

  async killAgent(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.agentPid;
    if (pid === undefined) return;
    this.agentPid = undefined;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    await waitFor(() => !alive(pid), 5_000, `agent ${pid} to exit`);
    delete this.env['TOKEN_AGENT_SOCK'];
    delete this.env['OIDC_SOCK'];
    delete this.env['TOKEN_AGENT_PID'];
  }

  /** Creates an account with the password flow (fast, non-interactive). */
  async createAccount(op: DevOp, name: string, password: string, extra: string[] = []): Promise<RunResult> {
    const r = await this.run(
      'token-gen',
      [name, '--issuer', op.issuer, '--flow', 'password', '--username', DEFAULT_USERNAME, '--op-password-env', 'OP_PW', '--pw-env', 'ENC_PW', ...extra],
      { OP_PW: DEFAULT_PASSWORD, ENC_PW: password },
    );
    if (r.code !== 0) throw new Error(`token-gen failed (${r.code}): ${r.stderr}`);
    return r;
  }

  async cleanup(): Promise<void> {
    await this.killAgent();
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function collect(child: ChildProcess, input?: string): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (input !== undefined) child.stdin?.end(input);
  else child.stdin?.end();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Decodes a JWT payload without verifying it (tests verify separately with jose). */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A refresh_token grant straight at the OP, as the client of an account (to see what the OP thinks of a refresh token). */
export function refreshAtOp(op: DevOp, clientId: string, clientSecret: string, refreshToken: string): Promise<Response> {
  return fetch(`${op.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
}

/**
 * Registers a confidential client at the dev OP directly (RFC 7591), for oidc-agent's own tools:
 * the dev OP refuses oidc-gen's registration request (custom-scheme redirect URIs for a web client).
 */
export async function registerOpClient(op: DevOp, redirectUris: string[], grantTypes: string[], extra: Record<string, unknown> = {}): Promise<{ client_id: string; client_secret: string }> {
  const reg = await fetch(`${op.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: redirectUris,
      grant_types: grantTypes,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid profile offline_access',
      ...extra,
    }),
  });
  if (reg.status !== 201) throw new Error(`client registration at the dev OP: HTTP ${reg.status} ${await reg.text()}`);
  return (await reg.json()) as { client_id: string; client_secret: string };
}
