/**
 * token-mytoken end to end: the real CLI bundle against the test mytoken server (in front of the
 * dev OP). Sub-mytokens from an --MT-file parent with every restriction option and with a
 * template, each refused by the server outside its restriction; transfer codes; rotation written
 * back to the file (0600, atomically) or shown on stderr; revoke --recursive; tokeninfo; bad input
 * refused before anything reaches the server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, jwtPayload, startOp, type RunResult } from './harness.ts';
import { API, completeOidcFlow, startMytokenServer, type MytokenServer } from './mytoken-server/index.ts';
import { startMytokenSshd, type MytokenSshd } from './mytoken-server/sshd.ts';
import { genMytoken as genMytokenAs } from './mytoken-server/gen.ts';
import { sshKeygen, sshdSkipReason } from './sshd.ts';

type Json = Record<string, any>;

async function post(url: string, body: Json): Promise<{ status: number; json: Json }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? (JSON.parse(text) as Json) : {} };
}

/** The server's clock: real time plus what the tests add (the CLI's +DURATION uses real time). */
function movableClock() {
  let offsetMs = 0;
  return { now: () => Date.now() + offsetMs, advance: (seconds: number) => (offsetMs += seconds * 1000) };
}

const nowS = () => Math.floor(Date.now() / 1000);

describe('token-mytoken', () => {
  let op: DevOp;
  let mt: MytokenServer;
  let world: World;
  const clock = movableClock();
  let n = 0;

  /** A fresh parent mytoken from the server's oidc_flow (the user logs in at the dev OP). */
  async function login(request: Json = {}): Promise<string> {
    const start = await post(`${mt.url}${API.mytoken}`, {
      grant_type: 'oidc_flow',
      oidc_flow: 'authorization_code',
      oidc_issuer: op.issuer,
      client_type: 'native',
      capabilities: ['AT', 'create_mytoken', 'tokeninfo'],
      ...request,
    });
    assert.equal(start.status, 200, JSON.stringify(start.json));
    await completeOidcFlow(start.json['consent_uri']);
    const done = await post(`${mt.url}${API.mytoken}`, { grant_type: 'polling_code', polling_code: start.json['polling_code'] });
    assert.equal(done.status, 200, JSON.stringify(done.json));
    return done.json['mytoken'] as string;
  }

  /** Writes a token to a new 0600 file in the world and returns its path. */
  function tokenFile(token: string, mode = 0o600): string {
    const path = join(world.root, `mt-${++n}`);
    writeFileSync(path, `${token}\n`, { mode });
    chmodSync(path, mode);
    return path;
  }

  function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
    return world.run('token-mytoken', args, env);
  }

  /** An access token straight from the server with this mytoken (the server's verdict). */
  function atFromServer(mytoken: string, extra: Json = {}) {
    return post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken, ...extra });
  }

  async function introspect(mytoken: string): Promise<Json> {
    const r = await post(`${mt.url}${API.tokeninfo}`, { action: 'introspect', mytoken });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json;
  }

  function ok(r: RunResult): string {
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  }

  before(async () => {
    op = await startOp({ accessTokenTtl: 600 });
    mt = await startMytokenServer({ op, clock: clock.now, geoip: () => 'de' });
    world = new World();
  });
  after(async () => {
    await world?.cleanup();
    await mt?.close();
    await op?.close();
  });

  test('a sub-mytoken with every restriction option: sent converted, kept by the server', async () => {
    const parent = tokenFile(await login());
    const nbf = nowS() - 60;
    const before = nowS();
    const child = ok(
      await run([
        '--MT-file', parent,
        '--nbf', String(nbf),
        '--exp', '+1d2h',
        '-s', 'openid', '--scope', 'profile',
        '--aud', 'https://storage.example.org',
        '--host', 'this', '--host', '10.0.0.0/8',
        '--geo-ip-allow', 'de,fr',
        '--geo-ip-disallow', 'us',
        '--usages-at', '5', '--usages-other', '0',
        '--capability', 'AT', '--capability', 'tokeninfo:introspect',
        '--name', 'e2e child',
      ]),
    );
    const after = nowS();
    const claims = jwtPayload(child);
    assert.equal(claims['iss'], mt.issuer);
    assert.equal(claims['name'], 'e2e child');
    assert.deepEqual(claims['capabilities'], ['AT', 'tokeninfo:introspect']);
    const [clause, ...rest] = (await introspect(child))['token']['restrictions'] as Json[];
    assert.equal(rest.length, 0);
    assert.equal(clause!['nbf'], nbf);
    assert.ok(clause!['exp'] >= before + 93_600 && clause!['exp'] <= after + 93_600, `exp ${clause!['exp']} is +1d2h`);
    assert.equal(clause!['scope'], 'openid profile');
    assert.deepEqual(clause!['audience'], ['https://storage.example.org']);
    assert.ok(clause!['hosts'].includes('127.0.0.1'), `this → this host's addresses: ${clause!['hosts']}`);
    assert.ok(clause!['hosts'].includes('10.0.0.0/8'));
    assert.deepEqual(clause!['geoip_allow'], ['de', 'fr']);
    assert.deepEqual(clause!['geoip_disallow'], ['us']);
    assert.equal(clause!['usages_AT'], 5);
    assert.equal(clause!['usages_other'], 0);
    // Usable within its restriction (from this host, from "de", with its scope and audience).
    const at = await atFromServer(child, { scope: 'openid', audience: 'https://storage.example.org' });
    assert.equal(at.status, 200, JSON.stringify(at.json));
  });

  test('the server refuses a sub-mytoken outside its restriction: scope, usages, expiry, host, geoip', async () => {
    const parent = tokenFile(await login());
    const make = async (...args: string[]) => ok(await run(['--MT-file', parent, '--capability', 'AT', ...args]));

    // Wrong scope: refused by the server, through the CLI's --at too.
    const scoped = tokenFile(await make('-s', 'openid'));
    assert.equal(jwtPayload(ok(await run(['--MT-file', scoped, '--at', '-s', 'openid'])))['scope'], 'openid');
    const wide = await run(['--MT-file', scoped, '--at', '-s', 'openid profile']);
    assert.equal(wide.code, 1, wide.stderr);
    assert.match(wide.stderr, /usage_restricted/);
    assert.equal(wide.stdout, '');

    // Usage count: one access token, then no more.
    const once = tokenFile(await make('--usages-at', '1'));
    ok(await run(['--MT-file', once, '--at']));
    const twice = await run(['--MT-file', once, '--at']);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /usage_restricted/);

    // Expiry, on the server's clock.
    const hour = tokenFile(await make('--exp', '+1h'));
    ok(await run(['--MT-file', hour, '--at']));
    clock.advance(2 * 3600);
    try {
      const late = await run(['--MT-file', hour, '--at']);
      assert.equal(late.code, 1, 'expired');
      assert.match(late.stderr, /token-mytoken: .*(usage_restricted|invalid_token|expired)/);
    } finally {
      clock.advance(-2 * 3600);
    }

    // Host and GeoIP (the server sees 127.0.0.1 from "de").
    const elsewhere = await make('--host', '192.0.2.1');
    assert.equal((await atFromServer(elsewhere)).status, 403);
    const here = await make('--host', '127.0.0.0/8');
    assert.equal((await atFromServer(here)).status, 200);
    const notDe = await make('--geo-ip-disallow', 'de');
    assert.equal((await atFromServer(notDe)).status, 403);
    const onlyFr = await make('--geo-ip-allow', 'fr');
    assert.equal((await atFromServer(onlyFr)).status, 403);
  });

  test('a restriction template (file or inline JSON): a list of clauses, string times converted; options laid over it', async () => {
    const parent = tokenFile(await login());
    const template = join(world.root, 'template.json');
    writeFileSync(template, JSON.stringify([{ scope: 'openid', exp: '+2h', usages_AT: 1 }, { scope: 'profile', nbf: '+1h', exp: '+3h' }]));
    const t0 = nowS();
    const child = ok(await run(['--MT-file', parent, '--restriction', template, '--capability', 'AT', '--capability', 'tokeninfo']));
    const t1 = nowS();
    const clauses = (await introspect(child))['token']['restrictions'] as Json[];
    assert.equal(clauses.length, 2);
    assert.equal(clauses[0]!['scope'], 'openid');
    assert.ok(clauses[0]!['exp'] >= t0 + 7200 && clauses[0]!['exp'] <= t1 + 7200);
    assert.ok(clauses[1]!['nbf'] >= t0 + 3600 && clauses[1]!['nbf'] <= t1 + 3600);
    // OR of clauses: openid works once (clause 1); profile not yet (clause 2 starts in an hour).
    assert.equal((await atFromServer(child, { scope: 'openid' })).status, 200);
    assert.equal((await atFromServer(child, { scope: 'openid' })).status, 403);
    assert.equal((await atFromServer(child, { scope: 'profile' })).status, 403);

    // Inline JSON (one clause object) plus an option that overrides its exp.
    const inline = ok(await run(['--MT-file', parent, '--restriction', '{"scope":"openid","exp":"+5h"}', '--exp', '+1h', '--capability', 'tokeninfo']));
    const [c] = (await introspect(inline))['token']['restrictions'] as Json[];
    assert.ok(c!['exp'] <= nowS() + 3600, 'the option won');
    assert.equal(c!['scope'], 'openid');
  });

  test('bad times, capabilities and restriction keys are refused before anything is sent', async () => {
    const parent = tokenFile(await login());
    const before = mt.stats().requests;
    const cases: [string[], RegExp][] = [
      [['--exp', '+3x'], /--exp: "\+3x" is not a time: unknown unit "x"/],
      [['--nbf', '2026-13-40 10:00'], /--nbf: "2026-13-40 10:00" is not a time: month 13/],
      [['--exp', '+'], /--exp: "\+" is not a time/],
      [['--capability', 'AT', '--capability', 'superuser'], /unknown capability "superuser"/],
      [['--restriction', '{"expires":"+1d"}'], /unknown restriction "expires"/],
      [['--restriction', '[{"exp":"+1d"},{"__proto__":{"x":1}}]'], /clause 2: unknown restriction "__proto__"/],
      [['--restriction', '{"exp":"next week"}'], /"exp": "next week" is not a time/],
      [['--host', 'not_a_host!'], /--host: "not_a_host!" is not an IP address/],
      [['--usages-at', '-1'], /--usages-at must be a whole number/],
    ];
    for (const [args, want] of cases) {
      const r = await run(['--MT-file', parent, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(mt.stats().requests, before, 'nothing reached the server (not even discovery)');
  });

  test('--token-type transfer prints a transfer code that the server exchanges for the mytoken (once)', async () => {
    const parent = tokenFile(await login());
    const r = await run(['--MT-file', parent, '--token-type', 'transfer', '--capability', 'AT', '--exp', '+1h']);
    const code = ok(r);
    assert.match(code, /^[A-Za-z0-9]{8}$/);
    assert.match(r.stderr, /transfer code .*single use/);
    const ex = await post(`${mt.url}${API.mytoken}`, { grant_type: 'transfer_code', transfer_code: code });
    assert.equal(ex.status, 200, JSON.stringify(ex.json));
    assert.equal(jwtPayload(ex.json['mytoken'])['iss'], mt.issuer);
    assert.equal((await atFromServer(ex.json['mytoken'])).status, 200);
    const again = await post(`${mt.url}${API.mytoken}`, { grant_type: 'transfer_code', transfer_code: code });
    assert.equal(again.status, 401);

    const short = ok(await run(['--MT-file', parent, '--token-type', 'short', '--capability', 'AT']));
    assert.match(short, /^[A-Za-z0-9]{64}$/);
    // A short token names no server: --mytoken-server is needed, and then it works.
    const shortFile = tokenFile(short);
    const noServer = await run(['--MT-file', shortFile, '--at']);
    assert.equal(noServer.code, 2);
    assert.match(noServer.stderr, /--mytoken-server/);
    ok(await run(['--MT-file', shortFile, '--at', '--mytoken-server', mt.url]));
  });

  test('rotation with --MT-file: the new mytoken replaces the file (0600, atomically) before the AT is printed', async () => {
    const first = await login({ rotation: { on_AT: true } });
    const file = tokenFile(first, 0o644);
    const r = await run(['--MT-file', file, '--at', '-s', 'openid']);
    const at = ok(r);
    assert.equal(jwtPayload(at)['scope'], 'openid');
    const second = readFileSync(file, 'utf8').trim();
    assert.notEqual(second, first);
    assert.equal(jwtPayload(second)['seq_no'], 2);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(world.root).filter((f) => f.includes('.tmp-')), [], 'no temp file left');
    assert.match(r.stderr, /rotated; the new one is saved in/);
    assert.ok(!r.stderr.includes(second) && !r.stdout.includes(second), 'a saved mytoken is not printed');
    // The old one is dead, the file's works (and rotates again).
    assert.equal((await atFromServer(first)).status, 401);
    ok(await run(['--MT-file', file, '--at']));
    assert.equal(jwtPayload(readFileSync(file, 'utf8').trim())['seq_no'], 3);
  });

  test('concurrent commands on one --MT-file take turns: every one gets its AT, the file holds the last rotation', async () => {
    const first = await login({ rotation: { on_AT: true } });
    const file = tokenFile(first);
    const runs = await Promise.all(Array.from({ length: 5 }, () => run(['--MT-file', file, '--at'])));
    for (const r of runs) ok(r);
    const last = readFileSync(file, 'utf8').trim();
    assert.equal(jwtPayload(last)['seq_no'], 6, 'five rotations, one after the other');
    assert.equal((await atFromServer(last)).status, 200);
    assert.deepEqual(readdirSync(world.root).filter((f) => f.startsWith(`mt-${n}.`)), [], 'no lock or temp file left');
  });

  test("another user's file where the lock goes (a shared /tmp): a warning, the command works without the lock, the file is left", async () => {
    const first = await login({ rotation: { on_AT: true } });
    const file = tokenFile(first);
    writeFileSync(`${file}.lock`, '1 elsewhere\n');
    chownSync(`${file}.lock`, 4321, 4321);
    const r = await run(['--MT-file', file, '--at']);
    ok(r);
    assert.match(r.stderr, /warning: .*\.lock is not a file of yours; going on without the lock/);
    assert.equal(jwtPayload(readFileSync(file, 'utf8').trim())['seq_no'], 2);
    assert.equal(statSync(`${file}.lock`).uid, 4321);
  });

  test('rotation with --MT-env: a warning and the new mytoken on stderr, the AT alone on stdout', async () => {
    const first = await login({ rotation: { on_AT: true } });
    const r = await run(['--MT-env', 'MY_MT', '--at'], { MY_MT: first });
    const at = ok(r);
    assert.equal(at.split('\n').length, 1);
    const m = /warning: the mytoken from \$MY_MT was rotated[^\n]*\n(\S+)\n/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.equal(jwtPayload(m[1]!)['seq_no'], 2);
    assert.equal((await atFromServer(m[1]!)).status, 200, 'the printed mytoken is the live one');
  });

  test('--revoke --recursive kills the mytoken and its sub-tokens; --revoke alone leaves them', async () => {
    const parentToken = await login();
    const parent = tokenFile(parentToken);
    const child = ok(await run(['--MT-file', parent, '--capability', 'AT', '--capability', 'create_mytoken']));
    const grandchild = ok(await run(['--MT-file', tokenFile(child), '--capability', 'AT']));
    assert.equal((await atFromServer(grandchild)).status, 200);
    const r = await run(['--MT-file', parent, '--revoke', '--recursive']);
    ok(r);
    assert.match(r.stderr, /revoked .* and its sub-tokens/);
    for (const t of [parentToken, child, grandchild]) assert.equal((await atFromServer(t)).status, 401);

    const p2 = await login();
    const c2 = ok(await run(['--MT-file', tokenFile(p2), '--capability', 'AT']));
    ok(await run(['--MT-env', 'P', '--revoke'], { P: p2 }));
    assert.equal((await atFromServer(p2)).status, 401);
    assert.equal((await atFromServer(c2)).status, 200, 'not recursive: the sub-token lives on');
  });

  test('--info introspect / history / subtokens: pretty JSON, --json one line', async () => {
    const token = await login({ capabilities: ['AT', 'create_mytoken', 'tokeninfo', 'manage_mytokens:list'] });
    const file = tokenFile(token);
    ok(await run(['--MT-file', file, '--capability', 'AT', '--name', 'kid']));
    const intro = await run(['--MT-file', file, '--info', 'introspect']);
    const text = ok(intro);
    assert.ok(text.includes('\n  "valid": true'), 'pretty');
    const info = JSON.parse(text) as Json;
    assert.equal(info['valid'], true);
    assert.equal(info['token']['iss'], mt.issuer);
    const raw = ok(await run(['--MT-file', file, '--info', 'introspect', '--json']));
    assert.equal(raw.split('\n').length, 1);
    assert.deepEqual(JSON.parse(raw), info);
    const history = JSON.parse(ok(await run(['--MT-file', file, '--info', 'history']))) as Json;
    assert.ok(history['events'].some((e: Json) => e['event'] === 'MT_created'), JSON.stringify(history));
    const tree = JSON.parse(ok(await run(['--MT-file', file, '--info', 'subtokens']))) as Json;
    assert.ok(JSON.stringify(tree).includes('"kid"'), JSON.stringify(tree));
    const list = JSON.parse(ok(await run(['--MT-file', file, '--info', 'list']))) as Json;
    assert.ok(Array.isArray(list['mytokens']));
  });

  test('the parent mytoken never shows up on stdout or in error text; it goes to its own issuer only', async () => {
    const token = await login();
    const file = tokenFile(token);
    const bad = await run(['--MT-file', file, '--at', '-s', 'not-a-scope-of-the-op']);
    assert.notEqual(bad.code, 0);
    assert.ok(!bad.stderr.includes(token) && !bad.stdout.includes(token));
    const wrongServer = await run(['--MT-file', file, '--at', '--mytoken-server', 'http://127.0.0.1:9']);
    assert.equal(wrongServer.code, 2);
    assert.match(wrongServer.stderr, /only sent to its issuer/);
  });
});

/** token-gen NAME --mytoken URL: logs in through the server as the user would (no browser). */
async function genMytoken(world: World, mt: MytokenServer, op: DevOp, name: string): Promise<void> {
  const r = await genMytokenAs(world, mt, op, name, 'enc-pw-mytoken-cli');
  assert.equal(r.code, 0, r.stderr);
}

describe('token-mytoken ACCOUNT (through the agent)', () => {
  let op: DevOp;
  let mt: MytokenServer;
  let world: World;

  before(async () => {
    op = await startOp({ accessTokenTtl: 600 });
    mt = await startMytokenServer({ op });
    world = new World();
    // Sub-mytokens from accounts are confirmed per use unless the agent says otherwise.
    await world.startAgent(['--always-allow-mytoken']);
    await genMytoken(world, mt, op, 'mtacc');
  });
  after(async () => {
    await world?.cleanup();
    await mt?.close();
    await op?.close();
  });

  test('a restricted sub-mytoken of the account: the agent derives it, the server enforces it', async () => {
    const t0 = nowS();
    const r = await world.run('token-mytoken', ['mtacc', '--exp', '+1h', '-s', 'openid', '--capability', 'AT', '--name', 'via agent']);
    assert.equal(r.code, 0, r.stderr);
    const sub = r.stdout.trim();
    const claims = jwtPayload(sub);
    assert.equal(claims['iss'], mt.issuer);
    assert.equal(claims['name'], 'via agent');
    assert.deepEqual(claims['capabilities'], ['AT']);
    const [clause] = claims['restrictions'] as Json[];
    assert.ok(clause!['exp'] >= t0 + 3600 && clause!['exp'] <= nowS() + 3600, JSON.stringify(clause));
    assert.equal((await post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken: sub, scope: 'openid' })).status, 200);
    assert.equal((await post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken: sub, scope: 'openid profile' })).status, 403);

    const tc = await world.run('token-mytoken', ['mtacc', '--token-type', 'transfer', '--capability', 'AT']);
    assert.equal(tc.code, 0, tc.stderr);
    assert.match(tc.stdout.trim(), /^[A-Za-z0-9]{8}$/);
    const ex = await post(`${mt.url}${API.mytoken}`, { grant_type: 'transfer_code', transfer_code: tc.stdout.trim() });
    assert.equal(ex.status, 200, JSON.stringify(ex.json));
  });

  test('bad input is refused before the agent is asked; an unknown account is exit 4; --at points to token-get', async () => {
    const before = mt.stats().requests['token_my'] ?? 0;
    const bad = await world.run('token-mytoken', ['mtacc', '--exp', '+1 week']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--exp: "\+1 week" is not a time/);
    assert.equal(mt.stats().requests['token_my'] ?? 0, before);
    const unknown = await world.run('token-mytoken', ['nosuch', '--capability', 'AT']);
    assert.equal(unknown.code, 4, unknown.stderr);
    const at = await world.run('token-mytoken', ['mtacc', '--at']);
    assert.equal(at.code, 2);
    assert.match(at.stderr, /token-get mtacc/);
  });

  test('without --always-allow-mytoken and without a prompt command the agent refuses, saying how to allow it', async () => {
    await world.killAgent();
    await world.startAgent();
    const add = await world.run('token-add', ['mtacc', '--pw-env', 'ENC_PW'], { ENC_PW: 'enc-pw-mytoken-cli' });
    assert.equal(add.code, 0, add.stderr);
    const before = mt.stats().requests['token_my'] ?? 0;
    const r = await world.run('token-mytoken', ['mtacc', '--capability', 'AT']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /operation forbidden: a new mytoken for account 'mtacc' needs a confirmation, but the agent has no prompt command.*--always-allow-mytoken/);
    assert.equal(mt.stats().requests['token_my'] ?? 0, before, 'nothing was asked of the server');
    // Access tokens of the account need no confirmation.
    assert.equal((await world.run('token-get', ['mtacc'])).code, 0);
  });
});

describe('token-mytoken --ssh (the ssh grant through a real sshd)', { skip: sshdSkipReason() }, () => {
  let op: DevOp;
  let mt: MytokenServer;
  let sshd: MytokenSshd;
  let world: World;
  let sshConfig: string;

  before(async () => {
    op = await startOp({ accessTokenTtl: 600 });
    mt = await startMytokenServer({ op });
    sshd = await startMytokenSshd(mt);
    world = new World();
    const key = join(world.root, 'id_ed25519');
    const keyLine = sshKeygen(key, 'token-mytoken-e2e');
    sshConfig = join(world.root, 'ssh_config');
    writeFileSync(sshConfig, sshd.clientConfig(key, 'mytoken'));
    // The user's setup, once, at the server: log in, enable the grant, register the key, consent.
    const start = await post(`${mt.url}${API.mytoken}`, {
      grant_type: 'oidc_flow', oidc_flow: 'authorization_code', oidc_issuer: op.issuer, client_type: 'native',
      capabilities: ['AT', 'create_mytoken', 'tokeninfo', 'settings'],
    });
    await completeOidcFlow(start.json['consent_uri']);
    const token = (await post(`${mt.url}${API.mytoken}`, { grant_type: 'polling_code', polling_code: start.json['polling_code'] })).json['mytoken'];
    assert.equal((await post(`${mt.url}${API.grants}`, { grant_type: 'ssh', mytoken: token })).status, 204);
    const add = await post(`${mt.url}${API.sshGrant}`, { grant_type: 'mytoken', mytoken: token, ssh_key: keyLine, capabilities: ['AT', 'create_mytoken'], restrictions: [{ scope: 'openid profile' }] });
    assert.equal(add.status, 200, JSON.stringify(add.json));
    await completeOidcFlow(add.json['consent_uri']);
    const done = await post(`${mt.url}${API.sshGrant}`, { grant_type: 'polling_code', polling_code: add.json['polling_code'] });
    assert.equal(done.status, 200, JSON.stringify(done.json));
  });
  after(async () => {
    await world?.cleanup();
    await sshd?.close();
    await mt?.close();
    await op?.close();
  });

  const ssh = () => ['--ssh', `-F ${sshConfig} mytoken`];

  test('--at: the access token comes back over ssh, with the requested scope and audience', async () => {
    const before = mt.stats().requests['ssh'] ?? 0;
    const r = await world.run('token-mytoken', [...ssh(), '--at', '-s', 'openid', '--aud', 'https://storage.example.org']);
    assert.equal(r.code, 0, r.stderr);
    const claims = jwtPayload(r.stdout.trim());
    assert.equal(claims['scope'], 'openid');
    assert.equal(claims['aud'], 'https://storage.example.org');
    assert.ok((mt.stats().requests['ssh'] ?? 0) > before, 'it went through the sshd');
  });

  test('sub-mytoken over ssh: restrictions sent base64-encoded, kept by the server; refusals carry the server text', async () => {
    const t0 = nowS();
    const r = await world.run('token-mytoken', [...ssh(), '--exp', '+1h', '-s', 'openid', '--capability', 'AT', '--name', 'over ssh']);
    assert.equal(r.code, 0, r.stderr);
    const child = r.stdout.trim();
    const claims = jwtPayload(child);
    assert.equal(claims['name'], 'over ssh');
    const [clause] = claims['restrictions'] as Json[];
    assert.equal(clause!['scope'], 'openid');
    assert.ok(clause!['exp'] >= t0 + 3600 && clause!['exp'] <= nowS() + 3600);
    assert.equal((await post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken: child, scope: 'openid' })).status, 200);
    assert.equal((await post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken: child, scope: 'profile' })).status, 403);

    // Outside the key's restriction: the server's refusal, exit 1, nothing on stdout.
    const wide = await world.run('token-mytoken', [...ssh(), '--at', '-s', 'compute.read']);
    assert.equal(wide.code, 1);
    assert.match(wide.stderr, /the server refused: error: usage_restricted/);
    assert.equal(wide.stdout, '');
  });

  test('an unreachable ssh host fails fast with ssh\'s reason (BatchMode, no prompt)', async () => {
    const r = await world.run('token-mytoken', ['--ssh', `-F ${sshConfig} -p 9 mytoken`, '--at', '--timeout', '30']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ssh failed: .*(refused|Connection)/i);
  });
});
