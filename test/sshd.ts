/**
 * A private sshd (Debian openssh-server) for end-to-end tests: loopback, a free port, a throwaway
 * host key, key-only authentication, extra sshd_config lines from the caller. Needs root (it
 * logs users in) and /usr/sbin/sshd.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './harness.ts';

export const SSHD = '/usr/sbin/sshd';

/** Why sshd tests cannot run here, or false. */
export function sshdSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to run a private sshd';
  if (!existsSync(SSHD)) return `${SSHD} is missing: install Debian's openssh-server (npm test does)`;
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** An ed25519 key pair without passphrase at `path` (and `path.pub`); returns the public key line. */
export function sshKeygen(path: string, comment = 'test'): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

export interface SshdOptions {
  /** A private directory (0700) for the host key, config and pid file. */
  dir: string;
  /** The authorized_keys file for every user (default `dir/authorized_keys`). */
  authorizedKeysFile?: string;
  /** Lines written to that file before sshd starts (default: keep the file, or create it empty). */
  authorizedKeys?: string[];
  /** More sshd_config lines (e.g. ForceCommand, AllowStreamLocalForwarding). */
  config?: string[];
}

export interface Sshd {
  readonly port: number;
  readonly dir: string;
  /** The host key's public line (`ssh-ed25519 AAAA… comment`). */
  readonly hostKey: string;
  /** A known_hosts file for `[127.0.0.1]:port`, for StrictHostKeyChecking=yes. */
  readonly knownHostsFile: string;
  /** sshd's stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

/** Starts sshd -D on 127.0.0.1 and resolves once it accepts connections. */
export async function startSshd(options: SshdOptions): Promise<Sshd> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKey = sshKeygen(join(dir, 'host_key'), 'test-sshd-host');
  const authorizedKeysFile = options.authorizedKeysFile ?? join(dir, 'authorized_keys');
  if (options.authorizedKeys) writeFileSync(authorizedKeysFile, options.authorizedKeys.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  else if (!existsSync(authorizedKeysFile)) writeFileSync(authorizedKeysFile, '', { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostKey.split(/\s+/).slice(0, 2).join(' ')}\n`);
  const configFile = join(dir, 'sshd_config');
  writeFileSync(
    configFile,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${authorizedKeysFile}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'LogLevel ERROR',
      ...(options.config ?? []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(
      () =>
        child.exitCode === null &&
        new Promise<boolean>((resolve) => {
          const c = connect(port, '127.0.0.1');
          c.once('connect', () => (c.destroy(), resolve(true)));
          c.once('error', () => resolve(false));
        }),
      10_000,
      `sshd on port ${port} (${err})`,
    );
  } catch (e) {
    child.kill('SIGTERM');
    throw e;
  }
  return {
    port,
    dir,
    hostKey,
    knownHostsFile,
    stderr: () => err,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
