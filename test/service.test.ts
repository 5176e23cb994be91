/**
 * `token-agent --print-service / --install-service`: the systemd user unit (and socket unit) pass
 * `systemd-analyze verify` when it is installed (else their content is checked), the launchd plist
 * is well-formed enough, and socket activation (as systemd does it) really serves clients.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { World, waitFor } from './harness.ts';

const ANALYZE = '/usr/bin/systemd-analyze';
const ACTIVATE = '/usr/bin/systemd-socket-activate';

function verify(dir: string, files: string[]): void {
  if (!existsSync(ANALYZE)) return;
  const rt = join(dir, 'rt');
  mkdirSync(rt, { recursive: true, mode: 0o700 });
  const r = spawnSync(ANALYZE, ['verify', '--user', ...files], { cwd: dir, encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: rt } });
  assert.equal(r.status, 0, `systemd-analyze verify: ${r.stderr}`);
  assert.equal(r.stderr.trim(), '', r.stderr);
}

describe('service definitions', () => {
  const w = new World();
  after(() => w.cleanup());

  test('--print-service: a systemd user unit running the agent in the foreground on the default socket', async () => {
    const r = await w.run('token-agent', ['--print-service']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ExecStart=\S+node\S* \S+token-agentd\.js --foreground --socket %t\/token-agent\/agent\.sock$/m);
    assert.match(r.stdout, /^WantedBy=default\.target$/m);
    const dir = join(w.root, 'units');
    mkdirSync(dir);
    writeFileSync(join(dir, 'token-agent.service'), r.stdout);
    verify(dir, ['./token-agent.service']);
  });

  test('--install-service socket writes the service and the socket unit and says how to enable them', async () => {
    const r = await w.run('token-agent', ['--install-service', 'socket']);
    assert.equal(r.code, 0, r.stderr);
    const dir = join(w.env['HOME']!, '.config', 'systemd', 'user');
    assert.match(r.stdout, /systemctl --user daemon-reload && systemctl --user enable --now token-agent\.socket/);
    const sock = readFileSync(join(dir, 'token-agent.socket'), 'utf8');
    assert.match(sock, /^ListenStream=%t\/token-agent\/agent\.sock$/m);
    assert.match(sock, /^SocketMode=0600$/m);
    assert.match(readFileSync(join(dir, 'token-agent.service'), 'utf8'), /^Requires=token-agent\.socket$/m);
    verify(dir, ['./token-agent.socket', './token-agent.service']);
  });

  test('--print-service launchd: a plist for macOS', async () => {
    const r = await w.run('token-agent', ['--print-service', 'launchd']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /<key>Label<\/key><string>org\.token-agent\.agent<\/string>/);
    assert.match(r.stdout, /<string>--foreground<\/string>/);
    const bad = await w.run('token-agent', ['--print-service', 'upstart']);
    assert.equal(bad.code, 2);
  });

  test('socket activation: the agent serves on the socket systemd passes as fd 3', { skip: !existsSync(ACTIVATE) && 'no systemd-socket-activate' }, async () => {
    const unit = (await w.run('token-agent', ['--print-service'])).stdout;
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');
    const sock = join(w.root, 'activated', 'agent.sock');
    mkdirSync(join(w.root, 'activated'), { mode: 0o700 });
    const args = exec.map((a) => a.replace('%t/token-agent/agent.sock', sock));
    const child = spawn(ACTIVATE, ['-l', sock, ...args], { env: { ...w.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await waitFor(() => existsSync(sock), 5_000, 'the activation socket');
      const r = await w.run('token-agent', ['--status', '--json'], { TOKEN_AGENT_SOCK: sock });
      assert.equal(r.code, 0, r.stderr);
      const pid = (JSON.parse(r.stdout) as { pid: number }).pid;
      assert.ok(pid > 0);
      w.agentPid = pid;
      const get = await w.run('token-get', ['nobody'], { TOKEN_AGENT_SOCK: sock });
      assert.match(get.stderr, /there is no account 'nobody'/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
