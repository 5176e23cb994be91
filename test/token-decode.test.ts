/**
 * token-decode (decode, verify, WLCG discovery order) and token-get's oidc-token output options,
 * against a real agent and the dev OP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, collect, jwtPayload, startOp } from './harness.ts';

const UID = process.geteuid!();
const AUD = 'https://storage.example.org';

interface DecodeJson {
  source: string;
  jwt: boolean;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  times: Record<string, { unix: number; local: string; seconds_from_now: number; note: string }>;
  valid?: boolean;
  invalid_reason?: string;
}

/** Flips one bit in the middle of the signature. */
function flipSignatureByte(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const sig = Buffer.from(s, 'base64url');
  sig[Math.floor(sig.length / 2)]! ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

describe('token-decode', () => {
  let op: DevOp;
  let world: World;
  let token: string;
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'dec', 'decode-password-1');
    const r = await world.run('token-get', ['dec', '--aud', AUD]);
    assert.equal(r.code, 0, r.stderr);
    token = r.stdout.trim();
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('shows header and payload as JSON, exp and iat in local time with the time left', async () => {
    const r = await world.run('token-decode', [token]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'token-decode: token from the command line\n');
    const p = jwtPayload(token);
    assert.ok(r.stdout.startsWith(`Header:\n${JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: 'dev-op-rs256' }, null, 2)}\nPayload:\n${JSON.stringify(p, null, 2)}\n`), r.stdout);
    assert.match(r.stdout, /\nexp {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d {2}\(valid for (4m \d+s|5m)\)\n/);
    assert.match(r.stdout, /\niat {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d {2}\(issued \d+s ago\)\n/);
  });

  test('--verify accepts a token of the dev OP, with and without --aud', async () => {
    const r = await world.run('token-decode', [token, '--verify']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nvalid: signature verified with the issuer's keys; not expired\n$/);
    const aud = await world.run('token-decode', [token, '--verify', '--aud', AUD, '--json']);
    assert.equal(aud.code, 0, aud.stderr);
    const j = JSON.parse(aud.stdout) as DecodeJson;
    assert.equal(j.valid, true);
    assert.equal(j.payload['aud'], AUD);
    assert.equal(j.times['exp']!.unix, jwtPayload(token)['exp']);
  });

  test('--verify rejects a flipped signature byte', async () => {
    const r = await world.run('token-decode', [flipSignatureByte(token), '--verify']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\ntoken-decode: invalid token: bad signature: the token was altered, or not signed by its issuer\n$/);
  });

  test('--verify rejects a wrong audience, naming both', async () => {
    const r = await world.run('token-decode', [token, '--verify', '--aud', 'https://other.example.org', '--json']);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.stdout) as DecodeJson;
    assert.equal(j.valid, false);
    assert.equal(j.invalid_reason, `wrong audience: the token is for ${AUD}, not https://other.example.org`);
    assert.equal(r.stderr, `token-decode: invalid token: ${j.invalid_reason}\n`);
  });

  test('--verify rejects an expired token, saying when it expired', async () => {
    op.setAccessTokenTtl(1);
    const short = (await world.run('token-get', ['dec', '-f'])).stdout.trim();
    op.setAccessTokenTtl(300);
    const exp = jwtPayload(short)['exp'] as number;
    await new Promise((res) => setTimeout(res, Math.max(0, exp * 1000 - Date.now()) + 1_100));
    const r = await world.run('token-decode', [short, '--verify']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\ntoken-decode: invalid token: expired at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d \(\d+s ago\)\n$/);
    assert.match(r.stdout, /\nexp {2}.*\(expired \d+s ago\)\n/);
  });

  test('--verify of a plain-http issuer needs the same opt-in as the agent', async () => {
    const r = await world.run('token-decode', [token, '--verify'], { TOKEN_AGENT_ALLOW_HTTP_LOOPBACK: '' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`invalid token: the issuer ${op.issuer.replace(/\./g, '\\.')} uses plain http: set TOKEN_AGENT_ALLOW_HTTP_LOOPBACK=1 to allow http:// on loopback hosts\\n$`));
  });

  test('claims with control characters (a forged token): escaped in the output, never raw on the terminal', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = { sub: 'csi\u009b31m', name: 'esc\u001b]0;owned\u0007', del: 'x\u007f' };
    const forged = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    for (const args of [[forged], ['--json', forged]]) {
      const r = await world.run('token-decode', args);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stdout), `raw control character in: ${JSON.stringify(r.stdout)}`);
      assert.match(r.stdout, /"csi\\u009b31m"/);
      if (args[0] === '--json') assert.deepEqual((JSON.parse(r.stdout) as DecodeJson).payload, claims, 'the same JSON value');
    }
  });

  test('an opaque token: said so, exit 1', async () => {
    const r = await world.run('token-decode', ['2YotnFZFEjr1zCsicMWpAA']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'token-decode: the token from the command line is not a JWT but an opaque token (22 characters): only its issuer can tell what it holds (token introspection)\n');
    const j = await world.run('token-decode', ['--json'], { BEARER_TOKEN: '2YotnFZFEjr1zCsicMWpAA' });
    assert.equal(j.code, 1);
    assert.deepEqual(JSON.parse(j.stdout), { source: 'BEARER_TOKEN', jwt: false, kind: 'opaque' });
  });

  test('a file argument, whitespace trimmed; stdin with -', async () => {
    const file = join(world.root, 'tok');
    writeFileSync(file, ` \t\n${token}\r\n\n`);
    const r = await world.run('token-decode', [file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as DecodeJson).source, `file ${file}`);
    const s = await world.run('token-decode', ['-', '--json'], {}, `${token}\n`);
    assert.equal(s.code, 0, s.stderr);
    assert.equal((JSON.parse(s.stdout) as DecodeJson).payload['jti'], jwtPayload(token)['jti']);
  });

  test('without an argument: BEARER_TOKEN, BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u$UID, /tmp/bt_u$UID, in that order; empty means next', async () => {
    // Four different tokens, one per place.
    const tokens: string[] = [];
    for (let i = 0; i < 4; i++) tokens.push((await world.run('token-get', ['dec', '-f'])).stdout.trim());
    const jti = (t: string) => jwtPayload(t)['jti'];
    const named = join(world.root, 'named');
    writeFileSync(named, `\n${tokens[1]}\n`);
    const xdg = join(world.root, 'xdg');
    mkdirSync(xdg, { mode: 0o700 });
    writeFileSync(join(xdg, `bt_u${UID}`), `${tokens[2]}\n`, { mode: 0o600 });
    const tmpFile = `/tmp/bt_u${UID}`;
    const saved = existsSync(tmpFile) ? readFileSync(tmpFile) : undefined;
    try {
      // token-get --bt fills the last place, the way a user would.
      rmSync(tmpFile, { force: true });
      const bt = await world.run('token-get', ['dec', '--bt', '-t', '5'], { XDG_RUNTIME_DIR: '' });
      assert.equal(bt.code, 0, bt.stderr);
      assert.equal(bt.stdout, `${tmpFile}\n`, 'no XDG_RUNTIME_DIR, no BEARER_TOKEN_FILE: /tmp');
      assert.equal(lstatSync(tmpFile).mode & 0o777, 0o600);
      const inTmp = readFileSync(tmpFile, 'utf8').trim();

      const decode = async (env: NodeJS.ProcessEnv) => {
        const r = await world.run('token-decode', ['--json'], { XDG_RUNTIME_DIR: '', ...env });
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as DecodeJson;
      };
      const all = { BEARER_TOKEN: `  ${tokens[0]}\n`, BEARER_TOKEN_FILE: named, XDG_RUNTIME_DIR: xdg };
      let j = await decode(all);
      assert.deepEqual([j.source, j.payload['jti']], ['BEARER_TOKEN', jti(tokens[0]!)]);
      j = await decode({ ...all, BEARER_TOKEN: ' \n' });
      assert.deepEqual([j.source, j.payload['jti']], [`BEARER_TOKEN_FILE (${named})`, jti(tokens[1]!)]);
      j = await decode({ XDG_RUNTIME_DIR: xdg });
      assert.deepEqual([j.source, j.payload['jti']], [`$XDG_RUNTIME_DIR/bt_u${UID} (${join(xdg, `bt_u${UID}`)})`, jti(tokens[2]!)]);
      j = await decode({});
      assert.deepEqual([j.source, j.payload['jti']], [tmpFile, jwtPayload(inTmp)['jti']]);
      // A human is told where the token came from.
      const human = await world.run('token-decode', [], { BEARER_TOKEN_FILE: named, XDG_RUNTIME_DIR: '' });
      assert.equal(human.stderr, `token-decode: token from BEARER_TOKEN_FILE (${named})\n`);
    } finally {
      rmSync(tmpFile, { force: true });
      if (saved !== undefined) writeFileSync(tmpFile, saved, { mode: 0o600 });
    }
    const none = await world.run('token-decode', [], { XDG_RUNTIME_DIR: '' });
    if (saved === undefined) {
      assert.equal(none.code, 1);
      assert.equal(none.stderr, `token-decode: no token found (looked at BEARER_TOKEN, BEARER_TOKEN_FILE, ${tmpFile}); give one as an argument or: token-get NAME --bt\n`);
    }
  });
});

describe('token-get output options (oidc-token compatible)', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'out', 'output-password-1');
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('--bearer, --auth-header, --issuer, --expires-at print the cached token\'s values', async () => {
    const token = (await world.run('token-get', ['out'])).stdout.trim();
    const exp = jwtPayload(token)['exp'] as number;
    const json = JSON.parse((await world.run('token-get', ['out', '--json'])).stdout) as { expires_at: number };
    const cases: [string[], string][] = [
      [['--bearer'], `Bearer ${token}\n`],
      [['--auth-header'], `Authorization: Bearer ${token}`],
      [['--issuer'], `${op.issuer}\n`],
      [['-i'], `${op.issuer}\n`],
      [['--expires-at'], `${json.expires_at}\n`],
      [['-e'], `${json.expires_at}\n`],
      [['-i', '-e'], `OIDC_ISS=${op.issuer}; export OIDC_ISS;\nOIDC_EXP=${json.expires_at}; export OIDC_EXP;\n`],
    ];
    for (const [args, want] of cases) {
      const r = await world.run('token-get', ['out', ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, want, args.join(' '));
    }
    assert.ok(Math.abs(json.expires_at - exp) <= 1);
  });

  test('-oVAR/--issuer=VAR with a name the shell cannot take is a usage error, no token printed', async () => {
    for (const args of [['--token=FOO BAR'], ['-o=X'], ['--issuer='], ['-e1X']]) {
      const r = await world.run('token-get', ['out', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /=VAR: VAR must be a shell variable name/);
    }
  });

  test('the same command lines give the same output as Debian\'s oidc-token', async () => {
    const env = { PATH: world.env['PATH'], HOME: world.env['HOME'], OIDC_SOCK: world.socket };
    const lines = [
      ['-i'], ['-e'], ['-i', '-e'], ['-c'],
      // -o/-i/-e with =VAR (argp: only attached, -oVAR or --token=VAR), and how they combine with -c and -a.
      ['-o'], ['-oMY_AT'], ['--token=MY_AT'], ['-o', '-i'], ['-oMY_AT', '-i'], ['-iISS'], ['--issuer=ISS'], ['-eEXP'], ['--expires-at=EXP'],
      ['-e', '-o'], ['-oie'], ['-i', '-oA', '-eB'], ['-c', '-oX'], ['-c', '-iY'], ['-a'], ['-a', '-oX'], ['-a', '-c'], ['-c', '-a'],
    ];
    for (const args of lines) {
      const theirs = await collect(spawn('/usr/bin/oidc-token', [...args, 'out'], { env, stdio: ['pipe', 'pipe', 'pipe'] }));
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.notEqual(theirs.stdout, '', args.join(' '));
      for (const ourArgs of [['out', ...args], [...args, 'out']]) {
        const ours = await world.run('token-get', ourArgs);
        assert.equal(ours.stdout, theirs.stdout, ourArgs.join(' '));
      }
    }
  });
});
