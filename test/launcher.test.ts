/**
 * The `token-agent` launcher: shell output, reuse, status, kill, command mode, socket rules.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { World, alive, waitFor } from './harness.ts';

describe('token-agent launcher', () => {
  const worlds: World[] = [];
  const world = (env: NodeJS.ProcessEnv = {}) => {
    const w = new World(env);
    worlds.push(w);
    return w;
  };
  after(async () => {
    for (const w of worlds) await w.cleanup();
  });

  test('sh output: exports that a shell can eval, and the agent answers', async () => {
    const w = world();
    const r = await w.run('token-agent', []);
    assert.equal(r.code, 0, r.stderr);
    const m = /^TOKEN_AGENT_SOCK=(\S+); export TOKEN_AGENT_SOCK;\nOIDC_SOCK=\1; export OIDC_SOCK;\nTOKEN_AGENT_PID=(\d+); export TOKEN_AGENT_PID;\necho Agent pid \2;\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    w.agentPid = Number(m[2]);
    // A real shell evaluates it.
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('sh', ['-c', `eval "$1" >/dev/null; echo "$OIDC_SOCK $TOKEN_AGENT_PID"`, 'sh', r.stdout], { encoding: 'utf8' });
    assert.equal(out.trim(), `${m[1]} ${m[2]}`);
    assert.ok(alive(w.agentPid));
  });

  test('csh, fish and quiet output', async () => {
    const w = world();
    const { socket, pid } = await w.startAgent();
    const csh = await w.run('token-agent', ['--csh']);
    assert.equal(csh.stdout, `setenv TOKEN_AGENT_SOCK ${socket};\nsetenv OIDC_SOCK ${socket};\nsetenv TOKEN_AGENT_PID ${pid};\necho Agent pid ${pid};\n`);
    const fish = await w.run('token-agent', ['--fish', '-q']);
    assert.equal(fish.stdout, `set -gx TOKEN_AGENT_SOCK ${socket};\nset -gx OIDC_SOCK ${socket};\nset -gx TOKEN_AGENT_PID ${pid};\n`);
  });

  test('a live agent in the environment is reused, not duplicated', async () => {
    const w = world();
    const first = await w.startAgent();
    const again = await w.run('token-agent', ['--json']);
    assert.deepEqual(JSON.parse(again.stdout), { socket: first.socket, pid: first.pid, dpid: String(first.pid) });
  });

  test('the default socket under XDG_RUNTIME_DIR is found by a second launcher without any socket variable', async () => {
    const w = world();
    const runtime = join(w.root, 'run');
    mkdirSync(runtime, { mode: 0o700 });
    w.env['XDG_RUNTIME_DIR'] = runtime;
    const first = await w.startAgent();
    assert.equal(first.socket, join(runtime, 'token-agent', 'agent.sock'));
    const second = await w.run('token-agent', ['--json'], { TOKEN_AGENT_SOCK: '', OIDC_SOCK: '' });
    assert.equal((JSON.parse(second.stdout) as { pid: number }).pid, first.pid);
  });

  test('--status and --status --json describe the running agent', async () => {
    const w = world();
    const { pid, socket } = await w.startAgent();
    const text = await w.run('token-agent', ['--status']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`pid: ${pid}`));
    assert.match(text.stdout, /no accounts loaded/);
    const json = JSON.parse((await w.run('token-agent', ['--status', '--json'])).stdout) as { pid: number; loaded_accounts: string[]; command_line_options: { socket_path: string } };
    assert.equal(json.pid, pid);
    assert.deepEqual(json.loaded_accounts, []);
    assert.equal(json.command_line_options.socket_path, socket);
  });

  test('--kill stops the agent, removes its socket, prints unset commands', async () => {
    const w = world();
    const { pid, socket } = await w.startAgent();
    const r = await w.run('token-agent', ['--kill']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `unset TOKEN_AGENT_SOCK;\nunset OIDC_SOCK;\nunset TOKEN_AGENT_PID;\necho Agent pid ${pid} killed;\n`);
    await waitFor(() => !alive(pid), 5_000, 'the agent to exit');
    assert.throws(() => statSync(socket), { code: 'ENOENT' });
    // The per-user default directory stays (it is stable); the socket is gone.
    assert.ok(statSync(join(socket, '..')).isDirectory());
    w.agentPid = undefined;
    const again = await w.run('token-agent', ['--kill']);
    assert.equal(again.code, 3);
  });

  test('token-agent CMD runs the command with the environment set and stops the agent afterwards', async () => {
    const w = world();
    const r = await w.run('token-agent', ['sh', '-c', 'echo "$TOKEN_AGENT_PID $OIDC_SOCK"; exit 7']);
    const [pidText, sock] = r.stdout.trim().split(' ');
    assert.ok(Number(pidText) > 0 && sock!.endsWith('agent.sock'), r.stdout);
    assert.equal(r.code, 7, 'the exit code of the command');
    await waitFor(() => !alive(Number(pidText)), 5_000, 'the command agent to exit');
  });

  test('a socket path longer than sun_path allows is refused with a clear error', async () => {
    const w = world();
    const long = join(w.root, 'x'.repeat(120), 'agent.sock');
    const r = await w.run('token-agent', ['--socket-path', long]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /socket path is \d+ bytes, more than the 107 a Unix socket allows/);
  });

  test('two shells without any socket variable share one agent at the per-user default under TMPDIR', async () => {
    const w = world();
    const first = await w.startAgent();
    const uid = process.getuid!();
    assert.equal(first.socket, join(w.root, `token-agent-${uid}`, 'agent.sock'));
    assert.equal(statSync(join(w.root, `token-agent-${uid}`)).mode & 0o777, 0o700);
    const clean = { TOKEN_AGENT_SOCK: '', OIDC_SOCK: '', TOKEN_AGENT_PID: '' };
    const second = await w.run('token-agent', ['--json'], clean);
    assert.equal((JSON.parse(second.stdout) as { pid: number }).pid, first.pid);
    // The other CLIs and --status/--kill find it too.
    const loaded = await w.run('token-add', ['--loaded'], clean);
    assert.equal(loaded.code, 0, loaded.stderr);
    const status = await w.run('token-agent', ['--status', '--json'], clean);
    assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, first.pid);
    const killed = await w.run('token-agent', ['--kill'], clean);
    assert.equal(killed.code, 0, killed.stderr);
    await waitFor(() => !alive(first.pid), 5_000, 'the agent to exit');
    w.agentPid = undefined;
  });

  test('concurrent starts on the default socket end with exactly one agent', async () => {
    const w = world();
    const results = await Promise.all(Array.from({ length: 5 }, () => w.run('token-agent', ['--json'])));
    const pids = new Set(results.map((r) => {
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { pid: number }).pid;
    }));
    assert.equal(pids.size, 1, [...pids].join(' '));
    const pid = [...pids][0]!;
    w.agentPid = pid;
    assert.ok(alive(pid));
    // No other agent process is left behind: the lock file is gone and the socket answers with that pid.
    const sock = join(w.root, `token-agent-${process.getuid!()}`, 'agent.sock');
    assert.throws(() => statSync(`${sock}.lock`), { code: 'ENOENT' });
  });

  test('a stale socket left by an agent killed with -9 is replaced by the next start', async () => {
    const w = world();
    const first = await w.startAgent();
    await w.killAgent('SIGKILL');
    assert.ok(statSync(first.socket).isSocket(), 'the stale socket is still there');
    const second = await w.startAgent();
    assert.equal(second.socket, first.socket);
    assert.notEqual(second.pid, first.pid);
    const r = await w.run('token-add', ['--loaded'], { TOKEN_AGENT_SOCK: '', OIDC_SOCK: '' });
    assert.equal(r.code, 0, r.stderr);
  });

  test('a default directory that is group/other-accessible is refused with a clear error', async () => {
    const w = world();
    const dir = join(w.root, `token-agent-${process.getuid!()}`);
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o755);
    const r = await w.run('token-agent', ['--json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /socket directory .*token-agent-\d+ has mode 0755, group\/other can access it; refusing to use it/);
    const get = await w.run('token-get', ['x']);
    assert.equal(get.code, 3);
    assert.match(get.stderr, /has mode 0755/);
  });

  test('no agent: clients say how to start one', async () => {
    const w = world();
    const r = await w.run('token-get', ['x']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no agent: TOKEN_AGENT_SOCK and OIDC_SOCK are not set and none runs at \S+agent\.sock; start one with: eval \$\(token-agent\)/);
    const gone = await w.run('token-get', ['x'], { TOKEN_AGENT_SOCK: join(w.root, 'nope.sock') });
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /cannot reach the agent at .*nope\.sock \(no socket\)/);
  });
});
