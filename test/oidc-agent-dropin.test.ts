/**
 * The last oidc-agent drop-in flags (issue 6), as processes against the dev OP:
 * token-gen --only-at, --no-save, --rt=-, -m; token-agent --no-autoload, -d/--console, and the
 * note about oidc-agent `config` settings the agent does not apply.
 * (token-get's -o/-i/-e=VAR forms are compared with oidc-token in token-decode.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '@token-agent/protocol';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { approveDevice } from '../scripts/dev-op/drive.ts';
import { BIN, DEFAULT_PASSWORD, DEFAULT_USERNAME, World, alive, collect, jwtPayload, opAndAgent, stopAll, waitFor } from './harness.ts';

const ENC = 'dropin-enc-pw-4';

/** The client (and refresh token) of an account, from token-gen --print --show-secrets. */
async function secrets(world: World, name: string): Promise<{ client_id: string; client_secret: string; refresh_token: string }> {
  const r = await world.run('token-gen', [name, '--print', '--show-secrets', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { client_id: string; client_secret: string; refresh_token: string };
}

async function loaded(world: World): Promise<string[]> {
  const r = await world.run('token-add', ['--loaded']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('token-gen: --only-at, --no-save, --rt=-, -m', () => {
  let op: DevOp;
  let world: World;
  let client: { client_id: string; client_secret: string };
  before(async () => {
    ({ op, world } = await opAndAgent({ accessTokenTtl: 300 }));
    await world.createAccount(op, 'src', ENC);
    const s = await secrets(world, 'src');
    client = { client_id: s.client_id, client_secret: s.client_secret };
  });
  after(() => stopAll(world, op));

  const login = () => ['--issuer', op.issuer, '--flow', 'password', '--username', DEFAULT_USERNAME, '--op-password-env', 'OP_PW'];

  test('--only-at prints an access token of the login; no file, nothing loaded, no encryption password asked', async () => {
    const before = await loaded(world);
    const r = await world.run('token-gen', ['once', '--only-at', ...login(), '--client-id', client.client_id, '--client-secret-env', 'CS'], {
      OP_PW: DEFAULT_PASSWORD,
      CS: client.client_secret,
    });
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.equal(r.stdout, `${token}\n`, 'the token alone on stdout');
    assert.equal(jwtPayload(token)['sub'], DEFAULT_USERNAME);
    assert.equal(existsSync(join(world.configDir, 'once')), false, 'no account file');
    assert.deepEqual(await loaded(world), before, 'nothing loaded');
    assert.equal((await world.run('token-gen', ['--list'])).stdout.includes('once'), false);
  });

  test('--only-at with the device flow: the token comes through the flow the agent follows (state_lookup)', async () => {
    const reg = await fetch(`${op.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'openid profile offline_access',
      }),
    });
    assert.equal(reg.status, 201, await reg.clone().text());
    const dev = (await reg.json()) as { client_id: string; client_secret: string };
    const gen = world.spawn('token-gen', ['--only-at', '--issuer', op.issuer, '--flow', 'device', '--client-id', dev.client_id, '--client-secret-env', 'CS'], { CS: dev.client_secret });
    const done = collect(gen);
    let err = '';
    gen.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => /enter the code: (\S+)/.test(err), 20_000, 'the user code');
    await approveDevice({ verificationUri: /open (\S+) and enter/.exec(err)![1]!, userCode: /enter the code: (\S+)/.exec(err)![1]!, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD });
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(jwtPayload(r.stdout.trim())['sub'], DEFAULT_USERNAME);
    assert.equal((await loaded(world)).includes('only-at'), false, 'nothing loaded');
    assert.equal(existsSync(join(world.configDir, 'only-at')), false);
  });

  test('--only-at without a registered client is refused before any login', async () => {
    op.resetStats();
    const r = await world.run('token-gen', ['once', '--only-at', ...login()], { OP_PW: DEFAULT_PASSWORD });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--only-at needs a registered client: --client-id .* or --pub/);
    assert.equal(r.stdout, '');
    assert.equal(op.stats().registration, 0, 'no client registered');
  });

  test('--no-save: the account is loaded and gives tokens, but no file is written and no password asked', async () => {
    const r = await world.run('token-gen', ['mem', '--no-save', ...login()], { OP_PW: DEFAULT_PASSWORD });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Account 'mem' created and loaded into the agent, not saved \(--no-save\)/);
    assert.equal(existsSync(join(world.configDir, 'mem')), false, 'no account file');
    assert.ok((await loaded(world)).includes('mem'));
    const t = await world.run('token-get', ['mem']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(jwtPayload(t.stdout.trim())['sub'], DEFAULT_USERNAME);
  });

  test('--rt=TOKEN is refused without repeating the token; --rt=- reads it from stdin', async () => {
    await world.createAccount(op, 'rtsrc', ENC);
    // A refresh token is bound to its client: import it with that one.
    const { refresh_token: rt, client_id, client_secret } = await secrets(world, 'rtsrc');
    const base = ['imported', '--issuer', op.issuer, '--client-id', client_id, '--client-secret-env', 'CS', '--pw-env', 'ENC_PW'];
    const env = { CS: client_secret, ENC_PW: ENC };
    const refused = await world.run('token-gen', [...base, `--rt=${rt}`], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /process list.*--rt=- to read it from stdin, --rt-env VAR or --rt-file FILE/);
    assert.ok(!refused.stderr.includes(rt) && !refused.stdout.includes(rt), 'the token is not repeated');
    assert.equal(existsSync(join(world.configDir, 'imported')), false);

    const r = await world.run('token-gen', [...base, '--rt=-'], env, `${rt}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(world.configDir, 'imported')), 'account saved');
    assert.equal((await secrets(world, 'imported')).client_id, client_id);
    const t = await world.run('token-get', ['imported']);
    assert.equal(t.code, 0, t.stderr);

    const empty = await world.run('token-gen', ['other', '--issuer', op.issuer, '--client-id', client_id, '--rt=-', '--pw-env', 'ENC_PW'], env, '');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /--rt=-: stdin holds no refresh token/);
  });

  test('-m/--manual: no dynamic registration; without --client-id and a terminal it says what to pass', async () => {
    op.resetStats();
    const r = await world.run('token-gen', ['man', '-m', ...login(), '--pw-env', 'ENC_PW'], { OP_PW: DEFAULT_PASSWORD, ENC_PW: ENC });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /-m\/--manual uses a registered client: pass --client-id/);
    assert.equal(op.stats().registration, 0);
    const ok = await world.run('token-gen', ['man', '-m', ...login(), '--client-id', client.client_id, '--client-secret-env', 'CS', '--pw-env', 'ENC_PW'], {
      OP_PW: DEFAULT_PASSWORD,
      ENC_PW: ENC,
      CS: client.client_secret,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await secrets(world, 'man')).client_id, client.client_id);
    assert.equal(op.stats().registration, 0, 'no client registered');
  });
});

const PTY_DRIVER = 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';

describe('token-agent --no-autoload and the config-file note', () => {
  let op: DevOp;
  let world: World;
  let stderr: string;
  before(async () => {
    ({ op, world } = await opAndAgent({ accessTokenTtl: 300 }));
    await world.createAccount(op, 'auto', ENC);
    await world.killAgent();
    // An oidc-agent config: autoload off (applied), two settings token-agent does not apply.
    mkdirSync(world.configDir, { recursive: true });
    writeFileSync(join(world.configDir, 'config'), '# oidc-agent 5\n{"oidc-agent": {"autoload": false, "group": "oidc", "webserver": false}}\n');
    const r = await world.run('token-agent', ['--json']);
    assert.equal(r.code, 0, r.stderr);
    stderr = r.stderr;
    const out = JSON.parse(r.stdout) as { socket: string; pid: number };
    Object.assign(world.env, { TOKEN_AGENT_SOCK: out.socket, OIDC_SOCK: out.socket, TOKEN_AGENT_PID: String(out.pid) });
    world.agentPid = out.pid;
  });
  after(() => stopAll(world, op));

  test('starting the agent shows the settings it does not apply, once, on stderr', async () => {
    assert.equal(stderr, "token-agent: note: settings of oidc-agent's config file that token-agent does not apply: oidc-agent.group, oidc-agent.webserver\n");
    const again = await world.run('token-agent', []);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '', 'a running agent is reused without the note');
  });

  test('--status lists them and says autoload is off; status_json has autoload false', async () => {
    const r = await world.run('token-agent', ['--status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^autoload: off/m);
    assert.match(r.stdout, /^oidc-agent config settings not applied: oidc-agent\.group, oidc-agent\.webserver$/m);
    const j = await request('status_json', {}, { socketPath: world.socket });
    const info = (j as { info: { autoload?: boolean; config_unsupported?: string[] } }).info;
    assert.equal(info.autoload, false);
    assert.deepEqual(info.config_unsupported, ['oidc-agent.group', 'oidc-agent.webserver']);
  });

  test('on a terminal, token-get does not load the account: no prompt, exit 4, the reason', async () => {
    const proc = spawn('python3', ['-c', PTY_DRIVER, process.execPath, BIN('token-get'), 'auto'], { env: world.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    proc.stdout!.on('data', (d: Buffer) => {
      screen += d.toString('utf8');
      // A prompt would wait for keys that never come: end it at once, the test fails below.
      if (screen.includes('password')) proc.kill('SIGKILL');
    });
    const r = await collect(proc);
    screen += r.stderr;
    assert.doesNotMatch(screen, /password|loading it/i);
    assert.equal(r.code, 4, screen);
    assert.match(screen, /account 'auto' is not loaded: run token-add auto \(this agent runs with --no-autoload/);
    assert.equal((await loaded(world)).includes('auto'), false);
  });

  test('token-agent --no-autoload does the same without a config file', async () => {
    const w = new World();
    try {
      await w.startAgent(['--no-autoload']);
      const j = await request('status_json', {}, { socketPath: w.socket });
      assert.equal((j as { info: { autoload?: boolean } }).info.autoload, false);
      assert.equal((j as { info: { config_unsupported?: string[] } }).info.config_unsupported, undefined);
    } finally {
      await w.cleanup();
    }
    const plain = await request('status_json', {}, { socketPath: world.socket });
    assert.ok(plain.status === 'success');
  });
});

describe('token-agent -d/--console', () => {
  test('runs the agent in the foreground: exports on stdout, log on stderr, SIGTERM stops it and removes the socket', async () => {
    const world = new World();
    try {
      const sock = join(world.root, 'console', 'agent.sock');
      const proc = world.spawn('token-agent', ['-d', '-a', sock]);
      let stdout = '';
      let stderr = '';
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
      await waitFor(() => /echo Agent pid \d+;/.test(stdout), 20_000, 'the exports');
      assert.match(stdout, new RegExp(`^OIDC_SOCK=${sock.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}; export OIDC_SOCK;$`, 'm'));
      const pid = Number(/^TOKEN_AGENT_PID=(\d+);/m.exec(stdout)?.[1]);
      assert.ok(alive(pid), 'the agent runs');
      const status = await world.run('token-agent', ['--status'], { TOKEN_AGENT_SOCK: sock });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`pid: ${pid},`));
      assert.match(stderr, /INFO agent-started /, 'the log goes to the console');
      proc.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      await waitFor(() => !alive(pid), 5_000, 'the agent to exit');
      assert.equal(existsSync(sock), false, 'socket removed');
      assert.match(stderr, /agent-stopping/);
    } finally {
      await world.cleanup();
    }
  });
});
