/**
 * The mytoken ssh grant from the client's side: `ssh [ARGS…] HOST ACTION [MIMETYPE DATA]`, where
 * the server picks the stored mytoken by the ssh key, so nothing secret is on this host or in argv
 * (DATA is base64 of the request JSON: scope, audience, restrictions, never a token). The ssh
 * client runs non-interactively (BatchMode, no stdin, no PTY) under a deadline and is killed when
 * it stalls.
 * @see ../../../../../shared/reference/mytoken-wlcg.md §1.10
 */
import { spawn } from 'node:child_process';
import { CliError } from '../../output.js';

export interface SshOptions {
  /** `--ssh` split into words: `[ssh options…] HOST`. */
  target: string[];
  /** Words after the host (see `sshCommandWords`). */
  command: string[];
  /** Whole-call deadline; the server itself ends a session after 30 s. */
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  /** The ssh client; default `ssh` from PATH. */
  sshPath?: string;
}

/** Options that keep ssh from ever waiting for a human or for a dead connection. */
export const SSH_OPTIONS = ['-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2'] as const;

const MAX_OUTPUT = 1024 * 1024;

/** Splits `--ssh "-p 2222 user@host"` into words (no quoting: host specs have no spaces). */
export function sshTarget(value: string): string[] {
  const words = value.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) throw new CliError('--ssh needs a host (or ssh options and a host)');
  return words;
}

/** The argv after the program name (exported for tests). */
export function sshArgv(o: Pick<SshOptions, 'target' | 'command'>): string[] {
  return [...SSH_OPTIONS, ...o.target, ...o.command];
}

/** The last non-empty line of what ssh or the server said, bounded, without control characters (no terminal escapes). */
function firstLine(s: string): string {
  const last = s.trim().split(/\r?\n/).filter((l) => l.trim() !== '').at(-1) ?? '';
  // eslint-disable-next-line no-control-regex
  const line = last.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** Runs ssh; resolves with its stdout, or throws a `CliError` with ssh's or the server's reason. */
export function runSsh(o: SshOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(o.sshPath ?? 'ssh', sshArgv(o), { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let tooLarge = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      // Do not wait for 'close': a grandchild (ProxyCommand) may hold the pipes open.
      child.stdout.destroy();
      child.stderr.destroy();
      reject(new CliError(`--ssh ${o.target.join(' ')}: no answer within ${Math.max(1, Math.round(o.timeoutMs / 1000))} s (ssh stopped)`));
    }, o.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.length > MAX_OUTPUT) {
        tooLarge = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new CliError(err.code === 'ENOENT' ? `--ssh: no ssh client (${o.sshPath ?? 'ssh'}) found` : `--ssh: cannot run ssh (${err.code ?? err.message})`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const host = o.target.join(' ');
      if (timedOut) return;
      if (tooLarge) return reject(new CliError(`--ssh ${host}: the server's answer is too large`));
      if (code === 255) return reject(new CliError(`--ssh ${host}: ssh failed: ${firstLine(stderr) || 'exit 255'}`));
      if (code !== 0) return reject(new CliError(`--ssh ${host}: the server refused: ${firstLine(stdout) || firstLine(stderr) || `exit ${String(code)}`}`));
      resolve(stdout);
    });
  });
}
