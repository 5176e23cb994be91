/**
 * Forwarding over ssh end to end: a private sshd (Debian openssh-server) on a high loopback port
 * with a throwaway host key and user key; `ssh -R remote.sock:restricted.sock` forwards the agent's
 * restricted socket; on the "remote" side token-get (TOKEN_AGENT_SOCK) and Debian's oidc-token
 * (OIDC_SOCK) get a token; once the forward is closed, a clear error and no hang.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, collect, startOp, waitFor } from './harness.ts';
import { sshKeygen, sshdSkipReason, startSshd, type Sshd } from './sshd.ts';

const OIDC_TOKEN = '/usr/bin/oidc-token';

describe('ssh forwarding of the restricted socket', { skip: sshdSkipReason() }, () => {
  let op: DevOp;
  let world: World;
  let sshd: Sshd | undefined;
  let ssh: ChildProcess | undefined;
  let dir: string;
  let port: number;
  let rsock: string;
  let remote: string;

  before(async () => {
    op = await startOp();
    world = new World();
    dir = join(world.root, 'ssh');
    mkdirSync(dir, { mode: 0o700 });
    rsock = join(world.root, 'fwd', 'restricted.sock');
    remote = join(dir, 'remote.sock');
    await world.startAgent(['--restricted-socket', rsock, '--allow', 'fwd']);
    await world.createAccount(op, 'fwd', 'pw-fwd-1');
    await world.createAccount(op, 'secret', 'pw-secret-1');

    sshd = await startSshd({
      dir: join(dir, 'sshd'),
      authorizedKeys: [sshKeygen(join(dir, 'user_key'))],
      config: ['AllowStreamLocalForwarding yes', 'StreamLocalBindUnlink yes'],
    });
    port = sshd.port;
  });

  after(async () => {
    ssh?.kill('SIGTERM');
    await sshd?.close();
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
