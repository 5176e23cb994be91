/**
 * The real oidc-agent clients against our agent, through OIDC_SOCK only: Debian's oidc-token and
 * oidc-add (oidc-agent-cli 4.2.6), a C program built against liboidc-agent (liboidc-agent-dev), and
 * a client that writes its request in several pieces (plaintext and encrypted).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecureChannel, request, type Reply } from '@token-agent/protocol';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { ROOT, World, collect, jwtPayload, startOp, DEFAULT_USERNAME } from './harness.ts';

const OIDC_TOKEN = '/usr/bin/oidc-token';
const OIDC_ADD = '/usr/bin/oidc-add';
const API_H = '/usr/include/oidc-agent/api.h';

/**
 * An account oidc-add loaded carries the file's issuer_url, which is slash-terminated (oidc-agent's
 * form; oidc-add drops our token_agent section holding the exact spelling), and oidc-agent replies
 * with issuer_url as configured: both spellings are the issuer.
 */
let issuer = '';
function sameIssuer(got: string | undefined): void {
  assert.equal(got?.replace(/\/$/, ''), issuer);
}

/** Only what oidc-agent's clients look at: OIDC_SOCK (never TOKEN_AGENT_SOCK) and the config dir. */
function realEnv(world: World, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: world.env['PATH'],
    HOME: world.env['HOME'],
    OIDC_SOCK: world.socket,
    OIDC_CONFIG_DIR: world.configDir,
    ...extra,
  };
}

function real(bin: string, world: World, args: string[], extra: NodeJS.ProcessEnv = {}) {
  return collect(spawn(bin, args, { env: realEnv(world, extra), stdio: ['pipe', 'pipe', 'pipe'] }));
}

let cClient: string | undefined;
/** Builds test/fixtures/liboidc-token.c against Debian's liboidc-agent-dev (once). */
async function buildCClient(world: World): Promise<string> {
  if (cClient !== undefined) return cClient;
  assert.ok(existsSync(API_H), `${API_H} is missing: install Debian's liboidc-agent-dev (npm test does)`);
  const exe = join(world.root, 'liboidc-token');
  const cc = spawnSync('gcc', ['-o', exe, join(ROOT, 'test', 'fixtures', 'liboidc-token.c'), '-loidc-agent'], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  return (cClient = exe);
}

/** Runs oidc-add on a pseudo-terminal (its lock/unlock password prompts need one), typing `lines`. */
function onTty(world: World, args: string[], lines: string[]) {
  const cmd = [OIDC_ADD, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: realEnv(world), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  void (async () => {
    for (const line of lines) {
      await new Promise((r) => setTimeout(r, 300));
      child.stdin.write(`${line}\n`);
    }
    await new Promise((r) => setTimeout(r, 300));
    child.stdin.end();
  })();
  return done;
}

/**
 * Sends `message` in pieces with pauses between them and returns the reply text. `wrongKey`: the
 * encrypted frame is sealed for another key exchange, so the agent cannot open it (raw reply).
 */
async function piecewise(socketPath: string, message: string, encrypted: boolean, wrongKey = false): Promise<string> {
  const socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const pause = () => new Promise((r) => setTimeout(r, 30));
  const writeInPieces = async (text: string) => {
    const third = Math.ceil(text.length / 3);
    for (let i = 0; i < text.length; i += third) {
      socket.write(text.slice(i, i + third));
      await pause();
    }
  };
  if (!encrypted) {
    await writeInPieces(message);
    await closed;
    return Buffer.concat(chunks).toString('utf8');
  }
  const offer = await SecureChannel.offer();
  await writeInPieces(offer.publicKey);
  const deadline = Date.now() + 5000;
  while (Buffer.concat(chunks).length < 44 && Date.now() < deadline) await pause();
  const key = Buffer.concat(chunks).toString('utf8').slice(0, 44);
  chunks.length = 0;
  const channel = offer.complete(key);
  const sealer = wrongKey ? (await SecureChannel.offer()).complete(key) : channel;
  await writeInPieces(sealer.seal(message));
  await closed;
  const text = Buffer.concat(chunks).toString('utf8');
  if (wrongKey) return text;
  const m = /^(\d+):([^:]+):(.+)$/s.exec(text.trim());
  assert.ok(m, `an encrypted reply, got ${text.slice(0, 80)}`);
  return channel.open({ kind: 'frame', length: Number(m[1]), nonce: m[2]!, cipher: m[3]! } as never);
}

describe('oidc-agent 4.2.6 clients (oidc-token, oidc-add, liboidc-agent) against token-agent', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    for (const f of [OIDC_TOKEN, OIDC_ADD]) assert.ok(existsSync(f), `${f} is missing: install Debian's oidc-agent-cli (npm test does)`);
    op = await startOp();
    issuer = op.issuer;
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'first', 'pw-first-1');
    await world.createAccount(op, 'second', 'pw-second-1');
  });
  after(async () => {
    await world.cleanup();
    await op?.close();
  });

  test('oidc-token -f gets a new token', async () => {
    const a = await real(OIDC_TOKEN, world, ['first']);
    assert.equal(a.code, 0, a.stderr);
    const b = await real(OIDC_TOKEN, world, ['-f', 'first']);
    assert.equal(b.code, 0, b.stderr);
    assert.notEqual(b.stdout.trim(), a.stdout.trim(), '-f: a new token');
  });

  test('oidc-token -t 600: a token that lives at least 10 more minutes', async () => {
    op.setAccessTokenTtl(3600);
    try {
      const c = await real(OIDC_TOKEN, world, ['-t', '600', 'first']);
      assert.equal(c.code, 0, c.stderr);
      assert.ok(Number(jwtPayload(c.stdout.trim())['exp']) - Date.now() / 1000 >= 600);
    } finally {
      op.setAccessTokenTtl(60);
    }
  });

  test('oidc-token -s/--aud (repeated) and -a/-i/-e', async () => {
    const r = await real(OIDC_TOKEN, world, ['-s', 'openid', '-s', 'profile', '--aud=https://a.example.org', 'first']);
    assert.equal(r.code, 0, r.stderr);
    const p = jwtPayload(r.stdout.trim());
    assert.equal(p['scope'], 'openid profile');
    assert.equal(p['sub'], DEFAULT_USERNAME);
    const all = await real(OIDC_TOKEN, world, ['-a', 'first']);
    assert.equal(all.code, 0, all.stderr);
    const [at, iss, exp] = all.stdout.trim().split('\n');
    sameIssuer(iss);
    assert.equal(Number(exp), jwtPayload(at!)['exp']);
  });

  test('issuer requests (liboidc-agent): the only loaded account, else default_account, else the last loaded', async () => {
    // oidc-token 4.2.6 takes only https:// arguments for issuers, so the C client asks by issuer here.
    const exe = await buildCClient(world);
    const byIssuer = async () => {
      const r = await collect(spawn(exe, ['-i', issuer], { env: realEnv(world), stdio: ['pipe', 'pipe', 'pipe'] }));
      assert.equal(r.code, 0, r.stderr);
      const [at, iss] = r.stdout.trim().split('\n');
      sameIssuer(iss);
      return jwtPayload(at!)['client_id'];
    };
    // Each account registered its own client: the token's client_id says which account served it.
    const clientOf = async (name: string) => jwtPayload((await real(OIDC_TOKEN, world, [name])).stdout.trim())['client_id'];
    const firstTok = await clientOf('first');
    const secondTok = await clientOf('second');
    assert.notEqual(firstTok, secondTok);
    assert.equal(await byIssuer(), secondTok, 'no default: the account loaded last');
    writeFileSync(join(world.configDir, 'issuer.config'), JSON.stringify([{ issuer, default_account: 'first' }]));
    assert.equal(await byIssuer(), firstTok, 'default_account wins while it is loaded');
    assert.equal((await real(OIDC_ADD, world, ['-r', 'first'])).code, 0);
    assert.equal(await byIssuer(), secondTok, 'the only loaded account');
    rmSync(join(world.configDir, 'issuer.config'));
    const r = await real(OIDC_ADD, world, ['--pw-env', 'first'], { OIDC_ENCRYPTION_PW: 'pw-first-1' });
    assert.equal(r.code, 0, r.stderr);
  });

  test('oidc-add NAME (decrypts locally, encrypted add), -a, -l, -r, -R', async () => {
    const env = { OIDC_ENCRYPTION_PW: 'pw-first-1' };
    const add = await real(OIDC_ADD, world, ['--pw-env', 'first'], env);
    assert.equal(add.code, 0, add.stderr + add.stdout);
    const loaded = await real(OIDC_ADD, world, ['-a']);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /first/);
    assert.match(loaded.stdout, /second/);
    const ours = await world.run('token-add', ['--loaded', '--json']);
    assert.deepEqual((JSON.parse(ours.stdout) as { name: string }[]).map((a) => a.name).sort(), ['first', 'second']);
    const t = await real(OIDC_TOKEN, world, ['first']);
    assert.equal(t.code, 0, t.stderr);
    // A lifetime with the add.
    const again = await real(OIDC_ADD, world, ['--pw-env', '-t', '300', 'first'], env);
    assert.equal(again.code, 0, again.stderr + again.stdout);
    const rm = await real(OIDC_ADD, world, ['-r', 'first']);
    assert.equal(rm.code, 0, rm.stderr);
    const gone = await real(OIDC_TOKEN, world, ['first']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr + gone.stdout, /account not loaded/i);
    const rmAll = await real(OIDC_ADD, world, ['-R']);
    assert.equal(rmAll.code, 0, rmAll.stderr);
    const none = await world.run('token-add', ['--loaded', '--json']);
    assert.deepEqual(JSON.parse(none.stdout), []);
    const wrong = await real(OIDC_ADD, world, ['--pw-env', 'first'], { OIDC_ENCRYPTION_PW: 'nope' });
    assert.notEqual(wrong.code, 0);
    // Back for the tests that follow.
    for (const [n, pw] of [['first', 'pw-first-1'], ['second', 'pw-second-1']] as const) {
      const r = await real(OIDC_ADD, world, ['--pw-env', n], { OIDC_ENCRYPTION_PW: pw });
      assert.equal(r.code, 0, r.stderr);
    }
  });

  test('oidc-token for an unknown and an unloaded account: oidc-agent\'s error texts', async () => {
    const unknown = await real(OIDC_TOKEN, world, ['nobody']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr + unknown.stdout, /No account configured with that short name/);
    assert.equal((await real(OIDC_ADD, world, ['-r', 'second'])).code, 0);
    const unloaded = await real(OIDC_TOKEN, world, ['second']);
    assert.notEqual(unloaded.code, 0);
    assert.match(unloaded.stderr + unloaded.stdout, /account not loaded/);
    assert.equal((await real(OIDC_ADD, world, ['--pw-env', 'second'], { OIDC_ENCRYPTION_PW: 'pw-second-1' })).code, 0);
  });

  test('a C program built against liboidc-agent gets tokens (getAccessToken3, getAgentTokenResponse[ForIssuer])', async (t) => {
    const exe = await buildCClient(world);
    const r = await collect(spawn(exe, ['first'], { env: realEnv(world), stdio: ['pipe', 'pipe', 'pipe'] }));
    assert.equal(r.code, 0, r.stderr);
    const [at, at2, iss, exp] = r.stdout.trim().split('\n');
    assert.equal(jwtPayload(at!)['sub'], DEFAULT_USERNAME);
    assert.equal(jwtPayload(at2!)['aud'], 'https://c.example.org');
    sameIssuer(iss);
    assert.equal(Number(exp), jwtPayload(at2!)['exp']);
    const byIss = await collect(spawn(exe, ['-i', issuer], { env: realEnv(world), stdio: ['pipe', 'pipe', 'pipe'] }));
    assert.equal(byIss.code, 0, byIss.stderr);
    const bad = await collect(spawn(exe, ['nobody'], { env: realEnv(world), stdio: ['pipe', 'pipe', 'pipe'] }));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /No account configured with that short name/);
    t.diagnostic('liboidc-agent 4.2.6 has no account-info call (account_info came with 5.0)');
  });

  test('a request written in several pieces: plaintext and encrypted', async () => {
    const msg = JSON.stringify({ request: 'access_token', min_valid_period: 0, account: 'first', application_hint: 'pieces' });
    const plain = JSON.parse(await piecewise(world.socket, msg, false)) as Record<string, unknown>;
    assert.equal(plain['status'], 'success', JSON.stringify(plain));
    assert.equal(jwtPayload(plain['access_token'] as string)['sub'], DEFAULT_USERNAME);
    const enc = JSON.parse(await piecewise(world.socket, msg, true)) as Record<string, unknown>;
    assert.equal(enc['status'], 'success', JSON.stringify(enc));
    sameIssuer(enc['issuer'] as string);
  });

  test('an encrypted request the agent cannot open: the error comes back as plain JSON (as oidc-agent)', async () => {
    const msg = JSON.stringify({ request: 'access_token', account: 'first' });
    const raw = await piecewise(world.socket, msg, true, true);
    assert.deepEqual(JSON.parse(raw), { status: 'failure', error: 'Bad Request: could not decrypt the message' });
  });

  test('oidc-add -x / -X lock and unlock our agent', async () => {
    const lock = await onTty(world, ['-x'], ['lock-pw-1', 'lock-pw-1']);
    assert.equal(lock.code, 0, lock.stderr + lock.stdout);
    const refused = await real(OIDC_TOKEN, world, ['first']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr + refused.stdout, /Agent locked/);
    const unlock = await onTty(world, ['-X'], ['lock-pw-1']);
    assert.equal(unlock.code, 0, unlock.stderr + unlock.stdout);
    const ok = await real(OIDC_TOKEN, world, ['first']);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('id_token, account_info, status_json (oidc-agent shapes)', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp();
    issuer = op.issuer;
    world = new World();
    // A prompt command that says yes when the question is about account "yes".
    await world.startAgent(['--confirm-cmd', 'test "$TOKEN_AGENT_CONFIRM_ACCOUNT" = yes']);
    await world.createAccount(op, 'yes', 'pw-yes-1');
    await world.createAccount(op, 'no', 'pw-no-1');
  });
  after(async () => {
    await world.cleanup();
    await op?.close();
  });

  test('id_token needs a confirmation: yes gives the id token, no is "operation forbidden"', async () => {
    const yes = await world.run('token-get', ['yes', '--id-token']);
    assert.equal(yes.code, 0, yes.stderr);
    const p = jwtPayload(yes.stdout.trim());
    assert.equal(p['sub'], DEFAULT_USERNAME);
    assert.equal(p['iss'], issuer);
    assert.equal(p['aud'], jwtPayload((await world.run('token-get', ['yes'])).stdout.trim())['client_id']);
    const no = await world.run('token-get', ['no', '--id-token']);
    assert.equal(no.code, 1);
    assert.match(no.stderr, /operation forbidden/);
    // The raw reply: oidc-agent's shape.
    const raw = await request('id_token', { account: 'yes', application_hint: 'raw' }, { socketPath: world.socket, encrypted: true });
    assert.deepEqual(Object.keys(raw).sort(), ['id_token', 'issuer', 'status']);
  });

  test('token-add --always-allow-idtoken (oidc-add\'s flag) and token-agent --always-allow-idtoken skip the confirmation', async () => {
    const add = await world.run('token-add', ['no', '--always-allow-idtoken', '--pw-env'], { OIDC_ENCRYPTION_PW: 'pw-no-1' });
    assert.equal(add.code, 0, add.stderr);
    // Already loaded: adding again with the flag turns it on.
    const r = await world.run('token-get', ['no', '--id-token']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(jwtPayload(r.stdout.trim())['sub'], DEFAULT_USERNAME);
    const other = new World();
    try {
      await other.startAgent(['--always-allow-idtoken']);
      await other.createAccount(op, 'free', 'pw-free-1');
      const t = await other.run('token-get', ['free', '--id-token']);
      assert.equal(t.code, 0, t.stderr);
      const status = (await request('status_json', {}, { socketPath: other.socket })) as Reply<'status_json'>;
      assert.deepEqual(status.info.loaded_accounts, ['free']);
    } finally {
      await other.cleanup();
    }
  });

  test('account_info: issuers from issuer.config and the loaded accounts, with loaded flags', async () => {
    writeFileSync(join(world.configDir, 'issuer.config'), JSON.stringify([{ issuer: 'https://other.example.org/', accounts: ['elsewhere'], pubclient: { client_id: 'pub' } }]));
    const r = await request('account_info', {}, { socketPath: world.socket, encrypted: true });
    assert.equal(r.status, 'success');
    assert.deepEqual(r.info[issuer], { pubclient: false, accounts: { yes: true, no: true } });
    assert.deepEqual(r.info['https://other.example.org/'], { pubclient: true, accounts: { elsewhere: false } });
  });

  test('oidc-agent\'s config file: supported settings applied, the others reported once in the log', async () => {
    const other = new World();
    try {
      mkdirSync(other.configDir, { recursive: true, mode: 0o700 });
      writeFileSync(
        join(other.configDir, 'config'),
        '# oidc-agent 5 settings\n{\n  # whole-line comments are allowed\n  "oidc-agent": {"lifetime": 120, "always_allow_id_token": true, "group": "science"},\n  "oidc-token": {"default-min-lifetime": 30}\n}\n',
      );
      await other.startAgent();
      await other.createAccount(op, 'cfg', 'pw-cfg-1');
      const loaded = JSON.parse((await other.run('token-add', ['--loaded', '--json'])).stdout) as { name: string; time_left?: number }[];
      assert.ok(loaded[0]!.time_left! > 100 && loaded[0]!.time_left! <= 120, JSON.stringify(loaded));
      const id = await other.run('token-get', ['cfg', '--id-token']);
      assert.equal(id.code, 0, id.stderr);
      const log = readFileSync(other.logFile, 'utf8');
      assert.equal(log.match(/config-unsupported/g)?.length, 1, log);
      assert.match(log, /oidc-agent\.group/);
      assert.match(log, /oidc-token\.default-min-lifetime/);
    } finally {
      await other.cleanup();
    }
  });

  test('token-add -f (oidc-add\'s --force) reloads a loaded account from its file', async () => {
    const env = { OIDC_ENCRYPTION_PW: 'pw-yes-1' };
    const again = await world.run('token-add', ['yes', '--pw-env'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /account already loaded/);
    const forced = await world.run('token-add', ['yes', '-f', '--pw-env'], env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.doesNotMatch(forced.stderr, /already loaded/);
    assert.equal((await world.run('token-get', ['yes'])).code, 0);
  });

  test('status_json: version, command_line_options, loaded_accounts (plus our extras)', async () => {
    const r = (await request('status_json', {}, { socketPath: world.socket })) as Reply<'status_json'>;
    assert.equal(typeof r.info.version, 'string');
    assert.equal(typeof r.info.command_line_options, 'object');
    assert.deepEqual([...r.info.loaded_accounts].sort(), ['no', 'yes']);
  });
});
