import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CliError, type Io } from '../../output.js';
import { buildAccessTokenRequest, buildSubMytokenRequest, sshCommandWords } from './request.js';
import { run, serverUrlFor, thisHostAddresses, type Deps, type MytokenOptions } from './run.js';
import { keepRotated, resolveSource } from './source.js';
import { runSsh, SSH_OPTIONS, sshTarget } from './ssh.js';

const NOW = 1_800_000_000;
const deps: Deps = { now: () => NOW, thisHost: () => ['192.0.2.7'], prompt: async () => 'prompted-token-0123456789' };

function io(env: NodeJS.ProcessEnv = {}): Io & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env, out: () => o, err: () => e };
}

function jwt(payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'ES512', typ: 'MT+JWT' }): string {
  const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b(header)}.${b(payload)}.c2ln`;
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mt-unit-'));
}

test('sub-mytoken request: restrictions from options and template, capabilities, name, token type', () => {
  const req = buildSubMytokenRequest(
    {
      clause: { exp: '+1d', scope: ['openid'], usagesAt: '5' },
      template: { text: '[{"scope":"a"},{"scope":"b","hosts":["this"]}]', source: '--restriction' },
      capabilities: ['AT', 'tokeninfo:introspect'],
      name: 'job 7',
      tokenType: 'transfer',
    },
    { now: NOW, thisHost: () => ['192.0.2.7'] },
  );
  assert.deepEqual(req, {
    application_name: 'token-mytoken',
    restrictions: [
      { scope: 'openid', exp: NOW + 86_400, usages_AT: 5 },
      { scope: 'openid', hosts: ['192.0.2.7'], exp: NOW + 86_400, usages_AT: 5 },
    ],
    error_on_restrictions: true,
    capabilities: ['AT', 'tokeninfo:introspect'],
    name: 'job 7',
    response_type: 'transfer_code',
  });
  assert.deepEqual(buildSubMytokenRequest({ clause: {}, capabilities: [] }, { now: NOW, thisHost: () => [] }), { application_name: 'token-mytoken' });
  for (const [t, want] of [['jwt', 'token'], ['short', 'short_token']] as const) {
    assert.equal(buildSubMytokenRequest({ clause: {}, capabilities: [], tokenType: t }, { now: NOW, thisHost: () => [] }).response_type, want);
  }
});

test('sub-mytoken request: every refusal is a usage error naming the value', () => {
  const c = { now: NOW, thisHost: () => [] };
  const cases: [Parameters<typeof buildSubMytokenRequest>[0], RegExp][] = [
    [{ clause: { exp: 'next week' }, capabilities: [] }, /--exp: "next week" is not a time/],
    [{ clause: {}, capabilities: ['AT', 'root'] }, /unknown capability "root"/],
    [{ clause: {}, capabilities: [], template: { text: '{"ttl": 5}', source: 'f.json' } }, /f\.json: unknown restriction "ttl"/],
    [{ clause: {}, capabilities: [], template: { text: '{"exp": "+1q"}', source: 'f.json' } }, /f\.json "exp": "\+1q" is not a time/],
    [{ clause: {}, capabilities: [], name: 'x'.repeat(101) }, /--name is too long/],
  ];
  for (const [o, want] of cases) {
    assert.throws(
      () => buildSubMytokenRequest(o, c),
      (err: unknown) => err instanceof CliError && err.exitCode === 2 && want.test(err.message),
      String(want),
    );
  }
});

test('access-token request: scope and audience space-separated and deduplicated', () => {
  assert.deepEqual(buildAccessTokenRequest(['openid', 'profile openid'], ['a', 'b a'], 'c'), { scope: 'openid profile', audience: 'a b', comment: 'c' });
  assert.deepEqual(buildAccessTokenRequest([], [], undefined), {});
});

test('ssh command words: ACTION alone, or ACTION application/json;base64 DATA', () => {
  assert.deepEqual(sshCommandWords('introspect', undefined), ['introspect']);
  const [action, mime, data] = sshCommandWords('AT', { scope: 'openid', audience: "x'y" });
  assert.equal(action, 'AT');
  assert.equal(mime, 'application/json;base64');
  assert.match(data!, /^[A-Za-z0-9+/]+=*$/, 'shell-safe');
  assert.deepEqual(JSON.parse(Buffer.from(data!, 'base64').toString()), { scope: 'openid', audience: "x'y" });
});

test('server URL: the JWT iss; --mytoken-server must agree; short tokens need one', () => {
  const t = jwt({ iss: 'https://mt.example/', token_type: 'mytoken' });
  assert.equal(serverUrlFor(t, undefined, {}), 'https://mt.example/');
  assert.equal(serverUrlFor(t, 'https://mt.example', {}), 'https://mt.example/');
  assert.throws(() => serverUrlFor(t, 'https://evil.example', {}), /issued by https:\/\/mt\.example\/, not by --mytoken-server https:\/\/evil\.example/);
  const short = 'a'.repeat(64);
  assert.throws(() => serverUrlFor(short, undefined, {}), /--mytoken-server/);
  assert.equal(serverUrlFor(short, 'https://s.example', {}), 'https://s.example');
  assert.equal(serverUrlFor(short, undefined, { MYTOKEN_URL: 'https://env.example' }), 'https://env.example');
});

test('sources: --MT-file (first line), --MT-env, --MT-prompt; one at most', async () => {
  const dir = tmp();
  try {
    const mt = jwt({ iss: 'https://mt.example', token_type: 'mytoken' });
    writeFileSync(join(dir, 'mt'), `  ${mt}  \nsecond line\n`);
    assert.deepEqual(await resolveSource({ mtFile: join(dir, 'mt') }, io(), deps.prompt), { token: mt, label: `file ${join(dir, 'mt')}`, file: join(dir, 'mt') });
    assert.deepEqual(await resolveSource({ mtEnv: 'MY_MT' }, io({ MY_MT: mt }), deps.prompt), { token: mt, label: '$MY_MT' });
    assert.deepEqual(await resolveSource({ mtPrompt: true }, io(), deps.prompt), { token: 'prompted-token-0123456789', label: 'the prompt' });
    await assert.rejects(resolveSource({ mtEnv: 'NOPE' }, io(), deps.prompt), /\$NOPE is not set or empty/);
    await assert.rejects(resolveSource({ mtFile: join(dir, 'missing') }, io(), deps.prompt), /cannot read .*missing \(ENOENT\)/);
    await assert.rejects(resolveSource({ mtFile: 'x', mtEnv: 'Y' }, io(), deps.prompt), /give one of/);
    writeFileSync(join(dir, 'at'), jwt({ iss: 'https://op.example', scope: 'openid' }, { alg: 'RS256', typ: 'at+jwt' }));
    await assert.rejects(resolveSource({ mtFile: join(dir, 'at') }, io(), deps.prompt), /a JWT but not a mytoken/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('discovery: BEARER_TOKEN, BEARER_TOKEN_FILE, then mt_u/bt_u in XDG_RUNTIME_DIR; found files are write-back targets', async () => {
  const dir = tmp();
  const uid = process.geteuid?.() ?? 0;
  try {
    const mt = 'm'.repeat(64);
    assert.deepEqual(await resolveSource({}, io({ BEARER_TOKEN: mt }), deps.prompt, uid), { token: mt, label: 'BEARER_TOKEN' });
    writeFileSync(join(dir, 'named'), `${mt}\n`);
    assert.equal((await resolveSource({}, io({ BEARER_TOKEN_FILE: join(dir, 'named') }), deps.prompt, uid)).file, join(dir, 'named'));
    writeFileSync(join(dir, `bt_u${uid}`), 'b'.repeat(64));
    writeFileSync(join(dir, `mt_u${uid}`), 'c'.repeat(64));
    const found = await resolveSource({}, io({ XDG_RUNTIME_DIR: dir }), deps.prompt, uid);
    assert.deepEqual(found, { token: 'c'.repeat(64), label: join(dir, `mt_u${uid}`), file: join(dir, `mt_u${uid}`) }, 'mt_u before bt_u');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rotation: written back atomically (0600, through a symlink to its target), else to stderr', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'real');
    writeFileSync(file, 'old-token-000000000000000000000000\n', { mode: 0o644 });
    symlinkSync(file, join(dir, 'link'));
    const source = { token: 'old-token-000000000000000000000000', label: 'x', file: join(dir, 'link') };
    const i = io();
    await keepRotated(source, 'new-token-111111111111111111111111', i);
    assert.equal(readFileSync(file, 'utf8'), 'new-token-111111111111111111111111\n');
    assert.equal(lstatSync(file).mode & 0o777, 0o600);
    assert.ok(lstatSync(join(dir, 'link')).isSymbolicLink(), 'the link stays a link');
    assert.deepEqual(readdirSync(dir).sort(), ['link', 'real'], 'no temp file left');
    assert.equal(source.token, 'new-token-111111111111111111111111');
    assert.doesNotMatch(i.err(), /new-token/, 'a saved token is not printed');

    const e = io();
    const envSource = { token: 'old', label: '$MT' };
    await keepRotated(envSource, 'new-token-222222222222222222222222', e);
    assert.match(e.err(), /warning: the mytoken from \$MT was rotated.*\nnew-token-222222222222222222222222\n/s);
    assert.equal(e.out(), '', 'never on stdout');

    // A file that cannot be written: the token must not be lost.
    const ro = join(dir, 'ro');
    writeFileSync(ro, 'old\n');
    const roSource = { token: 'old', label: `file ${ro}`, file: join(dir, 'missing-dir', 'x') };
    const f = io();
    await keepRotated(roSource, 'new-token-333333333333333333333333', f);
    assert.match(f.err(), /cannot be written.*\n.*\nnew-token-333333333333333333333333\n/s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A fake ssh: records its argv, answers as told. */
function fakeSsh(dir: string, body: string): string {
  const path = join(dir, 'ssh');
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(dir, 'argv')}"\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

test('--ssh: ssh runs in batch mode with the base64 request after the host; stdout is the token', async () => {
  const dir = tmp();
  try {
    const sshPath = fakeSsh(dir, 'echo eyJhbGciOi.eyJzdWIi.c2ln');
    const i = io();
    const o: MytokenOptions = {
      mode: 'at',
      recursive: false,
      source: {},
      clause: { scope: ['openid'], aud: ['https://x'] },
      capabilities: [],
      json: false,
      timeout: 10,
      ssh: '-p 2222 user@mt.example',
    };
    await run(o, i, { ...deps, sshPath });
    assert.equal(i.out(), 'eyJhbGciOi.eyJzdWIi.c2ln\n');
    const argv = readFileSync(join(dir, 'argv'), 'utf8').trimEnd().split('\n');
    assert.deepEqual(argv.slice(0, SSH_OPTIONS.length), [...SSH_OPTIONS]);
    assert.ok(argv.includes('BatchMode=yes'));
    assert.deepEqual(argv.slice(SSH_OPTIONS.length, SSH_OPTIONS.length + 5), ['-p', '2222', 'user@mt.example', 'AT', 'application/json;base64']);
    assert.deepEqual(JSON.parse(Buffer.from(argv.at(-1)!, 'base64').toString()), { scope: 'openid', audience: 'https://x' });

    const m = io();
    await run({ ...o, mode: 'mt', clause: { exp: '+1h' }, capabilities: ['AT'], tokenType: 'short' }, m, { ...deps, sshPath });
    const mtArgv = readFileSync(join(dir, 'argv'), 'utf8').trimEnd().split('\n');
    assert.equal(mtArgv.at(-3), 'MT');
    assert.deepEqual(JSON.parse(Buffer.from(mtArgv.at(-1)!, 'base64').toString()), {
      application_name: 'token-mytoken',
      restrictions: [{ exp: NOW + 3600 }],
      error_on_restrictions: true,
      capabilities: ['AT'],
      response_type: 'short_token',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--ssh: a bad time is refused before ssh runs', async () => {
  const dir = tmp();
  try {
    const sshPath = fakeSsh(dir, 'echo token');
    await assert.rejects(
      run({ mode: 'mt', recursive: false, source: {}, clause: { exp: '+1 day' }, capabilities: [], json: false, timeout: 10, ssh: 'h' }, io(), { ...deps, sshPath }),
      /--exp: "\+1 day" is not a time/,
    );
    assert.throws(() => readFileSync(join(dir, 'argv')), /ENOENT/, 'ssh never ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--ssh: a stalled ssh is killed at the deadline; failures carry the reason; non-tokens are refused', async () => {
  const dir = tmp();
  try {
    await assert.rejects(runSsh({ target: ['h'], command: ['AT'], timeoutMs: 300, env: {}, sshPath: fakeSsh(dir, 'sleep 5 & wait') }), /no answer within 1 s \(ssh stopped\)/);
    await assert.rejects(
      runSsh({ target: ['h'], command: ['AT'], timeoutMs: 10_000, env: {}, sshPath: fakeSsh(dir, 'echo "Permission denied (publickey)." >&2; exit 255') }),
      /ssh failed: Permission denied \(publickey\)\./,
    );
    await assert.rejects(runSsh({ target: ['h'], command: ['AT'], timeoutMs: 10_000, env: {}, sshPath: fakeSsh(dir, 'echo "usage restricted"; exit 1') }), /the server refused: usage restricted/);
    // What a hostile server prints reaches the terminal without control characters (no escapes).
    await assert.rejects(
      runSsh({ target: ['h'], command: ['AT'], timeoutMs: 10_000, env: {}, sshPath: fakeSsh(dir, "printf 'bad\\033]0;owned\\007\\033[2Jend\\n'; exit 1") }),
      (err: Error) => /the server refused: bad ]0;owned \[2Jend$/.test(err.message) && !/[\u0000-\u001f]/.test(err.message),
    );
    await assert.rejects(runSsh({ target: ['h'], command: ['AT'], timeoutMs: 10_000, env: {}, sshPath: join(dir, 'no-ssh') }), /no ssh client/);
    const o: MytokenOptions = { mode: 'at', recursive: false, source: {}, clause: {}, capabilities: [], json: false, timeout: 10, ssh: 'h' };
    await assert.rejects(run(o, io(), { ...deps, sshPath: fakeSsh(dir, 'echo "error: insufficient capabilities"') }), /did not send a token: "error: insufficient capabilities"/);
    assert.throws(() => sshTarget('   '), /needs a host/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('"this" host: the interface addresses (loopback included), then the host name', () => {
  const list = thisHostAddresses();
  assert.ok(list.includes('127.0.0.1'), list.join(' '));
  assert.equal(list.at(-1), hostname());
  assert.ok(list.every((a) => !a.includes('%')), 'no zone ids');
});
