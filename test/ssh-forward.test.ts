/**
 * Forwarding over ssh end to end: a private sshd (Debian openssh-server) on a high loopback port
 * with a throwaway host key and user key; `ssh -R remote.sock:restricted.sock` forwards the agent's
 * restricted socket; on the "remote" side token-get (TOKEN_AGENT_SOCK) and Debian's oidc-token
 * (OIDC_SOCK) get a token; once the forward is closed, a clear error and no hang.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, collect, startOp, waitFor } from './harness.ts';

const SSHD = '/usr/sbin/sshd';
const OIDC_TOKEN = '/usr/bin/oidc-token';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('ssh forwarding of the restricted socket', { skip: process.getuid?.() !== 0 ? 'needs root to run a private sshd' : false }, () => {
  let op: DevOp;
  let world: World;
  let sshd: ChildProcess | undefined;
  let ssh: ChildProcess | undefined;
  let dir: string;
  let port: number;
  let rsock: string;
  let remote: string;

  before(async () => {
    assert.ok(existsSync(SSHD), `${SSHD} is missing: install Debian's openssh-server (npm test does)`);
    op = await startOp();
    world = new World();
    dir = join(world.root, 'ssh');
    mkdirSync(dir, { mode: 0o700 });
    rsock = join(world.root, 'fwd', 'restricted.sock');
    remote = join(dir, 'remote.sock');
    await world.startAgent(['--restricted-socket', rsock, '--allow', 'fwd']);
    await world.createAccount(op, 'fwd', 'pw-fwd-1');
    await world.createAccount(op, 'secret', 'pw-secret-1');

    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user_key')]);
    execFileSync('cp', [join(dir, 'user_key.pub'), join(dir, 'authorized_keys')]);
    chmodSync(join(dir, 'authorized_keys'), 0o600);
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_key')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'AllowStreamLocalForwarding yes',
        'StreamLocalBindUnlink yes',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    sshd = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sshdErr = '';
    sshd.stderr!.on('data', (d: Buffer) => (sshdErr += d.toString()));
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const c = connect(port, '127.0.0.1');
          c.once('connect', () => (c.destroy(), resolve(true)));
          c.once('error', () => resolve(false));
        }),
      10_000,
      `sshd on port ${port} (${sshdErr})`,
    );
  });

  after(async () => {
    ssh?.kill('SIGTERM');
    sshd?.kill('SIGTERM');
    await world.cleanup();
    await op?.close();
  });

  function startForward(): ChildProcess {
    const args = [
      '-F', '/dev/null',
      '-i', join(dir, 'user_key'),
      '-p', String(port),
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=no',
      '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
      '-o', 'ExitOnForwardFailure=yes',
      '-o', 'StreamLocalBindUnlink=yes',
      '-N',
      '-R', `${remote}:${rsock}`,
      'root@127.0.0.1',
    ];
    return spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env['PATH'], HOME: world.env['HOME'] } });
  }

  test('--forward prints the ssh options and the remote environment for the restricted socket', async () => {
    const r = await world.run('token-agent', ['--forward', '--ssh-host', 'login.example.org', '--remote-socket', '/tmp/x.sock']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`ssh -o StreamLocalBindUnlink=yes -R /tmp/x.sock:${rsock.replace(/[.]/g, '\\.')} login\\.example\\.org`));
    assert.match(r.stdout, /Host login\.example\.org\n {4}RemoteForward \/tmp\/x\.sock \S+restricted\.sock\n {4}StreamLocalBindUnlink yes/);
    assert.match(r.stdout, /export TOKEN_AGENT_SOCK=\/tmp\/x\.sock OIDC_SOCK=\/tmp\/x\.sock/);
    // ~/.ssh/config is written only on request, once.
    assert.ok(!existsSync(join(world.env['HOME']!, '.ssh', 'config')));
    for (let i = 0; i < 2; i++) {
      const w = await world.run('token-agent', ['--forward', '--ssh-host', 'login.example.org', '--write-ssh-config', '--json']);
      assert.equal(w.code, 0, w.stderr);
    }
    const cfg = join(world.env['HOME']!, '.ssh', 'config');
    const text = readFileSync(cfg, 'utf8');
    assert.equal(text.match(/RemoteForward/g)?.length, 1, text);
    assert.equal(statSync(cfg).mode & 0o777, 0o600);
  });

  test('ssh -R forwards the restricted socket: token-get and oidc-token on the remote side get a token', async () => {
    ssh = startForward();
    let err = '';
    ssh.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => existsSync(remote), 15_000, `the forwarded socket ${remote} (ssh: ${err})`);
    const remoteEnv = { TOKEN_AGENT_SOCK: remote, OIDC_SOCK: '' };
    const got = await world.run('token-get', ['fwd'], remoteEnv);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const refused = await world.run('token-get', ['secret'], remoteEnv);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /operation forbidden/);
    const removed = await world.run('token-add', ['--remove', 'fwd'], remoteEnv);
    assert.notEqual(removed.code, 0);
    assert.match(removed.stderr, /operation forbidden/);
    if (existsSync(OIDC_TOKEN)) {
      const ot = await collect(spawn(OIDC_TOKEN, ['fwd'], { env: { PATH: process.env['PATH'], HOME: world.env['HOME'], OIDC_SOCK: remote }, stdio: ['pipe', 'pipe', 'pipe'] }));
      assert.equal(ot.code, 0, ot.stderr);
      assert.match(ot.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    }
  });

  test('after the forward is closed: a clear error, no hang', async () => {
    assert.ok(ssh !== undefined);
    const exited = new Promise((r) => ssh!.once('exit', r));
    ssh!.kill('SIGTERM');
    await exited;
    ssh = undefined;
    const t0 = Date.now();
    const r = await world.run('token-get', ['fwd'], { TOKEN_AGENT_SOCK: remote, OIDC_SOCK: '' });
    assert.ok(Date.now() - t0 < 10_000, 'no hang');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot reach the agent at \S+remote\.sock \((no socket|nobody listening)\)/);
  });
});
