/**
 * mytoken-backed accounts end to end: the dev OP, the test mytoken server in front of it, the real
 * agent and the CLIs. token-gen --mytoken logs in through the server (driven headlessly), access
 * tokens come from the server and are cached by the agent, a rotating mytoken is written back
 * before the token is handed out (and survives a kill -9), transfer codes become accounts, and the
 * `mytoken` request derives restricted sub-mytokens; bad profiles never reach the server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, type LoadedAccountStatus } from '@token-agent/protocol';
import { decryptAccountFile, loadAccount, saveAccount } from '@token-agent/store';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, collect, jwtPayload, startOp } from './harness.ts';
import { API, startMytokenServer, type MytokenServer } from './mytoken-server/index.ts';
import { genMytoken as genMytokenAs, loginThroughServer as loginAs } from './mytoken-server/gen.ts';

const ENC = 'mytoken-enc-password-3';
const OIDC_TOKEN = '/usr/bin/oidc-token';

async function fileConfig(world: World, name: string, password = ENC): Promise<Record<string, unknown> & { refresh_token: string }> {
  const raw = readFileSync(join(world.configDir, name), 'utf8');
  const { plaintext } = await decryptAccountFile(raw, password);
  return JSON.parse(plaintext) as Record<string, unknown> & { refresh_token: string };
}

async function accountStatus(world: World, name: string): Promise<LoadedAccountStatus> {
  const r = await request('status_json', {}, { socketPath: world.socket });
  return (r as { info: { accounts: LoadedAccountStatus[] } }).info.accounts.find((a) => a.name === name)!;
}

/** Requests the server's access-token endpoint has answered. */
function accessCount(mt: MytokenServer): number {
  return mt.stats().requests['token_access'] ?? 0;
}

/** One plain-JSON request on the socket, as a foreign client sends it. */
function rawRequest(socket: string, message: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    let buf = '';
    s.on('connect', () => s.write(message));
    s.on('data', (d) => (buf += d.toString('utf8')));
    s.on('error', reject);
    s.on('close', () => {
      try {
        resolve(JSON.parse(buf) as Record<string, unknown>);
      } catch {
        reject(new Error(`not JSON: ${buf}`));
      }
    });
  });
}

async function post(url: string, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function genMytoken(world: World, mt: MytokenServer, op: DevOp, name: string, extra: string[] = []) {
  return genMytokenAs(world, mt, op, name, ENC, extra);
}

function loginThroughServer(world: World, mt: MytokenServer, args: string[]) {
  return loginAs(world, mt, args, { ENC_PW: ENC });
}

describe('mytoken accounts', () => {
  let op: DevOp;
  let mt: MytokenServer;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: 600 });
    mt = await startMytokenServer({ op });
    // Every new sub-mytoken is confirmed (as in oidc-agent): this prompt says yes except for 'rot'.
    world = new World({ TOKEN_AGENT_CONFIRM_CMD: 'test "$TOKEN_AGENT_CONFIRM_ACCOUNT" != rot' });
    await world.startAgent();
  });
  after(async () => {
    await world?.cleanup();
    await mt?.close();
    await op?.close();
  });

  test('token-gen --mytoken: login through the server, stored in oidc-agent 5 layout, tokens with narrower scope and audience', async () => {
    const r = await genMytoken(world, mt, op, 'mt1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /mytoken server/);
    assert.equal(mt.stats().mytokenGrants['oidc_flow'], 1);

    const cfg = await fileConfig(world, 'mt1');
    assert.equal(cfg['mytoken_url'], mt.url);
    assert.equal(String(cfg['issuer_url']).replace(/\/$/, ''), op.issuer.replace(/\/$/, ''));
    assert.equal(cfg['config_endpoint'], `${mt.url}/.well-known/openid-configuration`);
    assert.equal(cfg['client_id'], 'mytoken');
    const claims = jwtPayload(cfg.refresh_token);
    assert.equal(claims['iss'], mt.url, 'the mytoken is the server\'s JWT');
    assert.deepEqual([...(claims['capabilities'] as string[])].sort(), ['AT', 'create_mytoken', 'tokeninfo']);
    // Nothing secret on token-gen's streams.
    assert.ok(!r.stderr.includes(cfg.refresh_token) && !r.stdout.includes(cfg.refresh_token));

    const st = await accountStatus(world, 'mt1');
    assert.equal(st.write_back, true, 'token-gen handed the file key over');

    const full = await world.run('token-get', ['mt1']);
    assert.equal(full.code, 0, full.stderr);
    const narrow = await world.run('token-get', ['mt1', '-s', 'openid', '--aud', 'https://storage.example.org']);
    assert.equal(narrow.code, 0, narrow.stderr);
    const n = jwtPayload(narrow.stdout.trim());
    assert.equal(n['scope'], 'openid');
    const aud = Array.isArray(n['aud']) ? n['aud'] : [n['aud']];
    assert.ok(aud.includes('https://storage.example.org'), `aud ${JSON.stringify(n['aud'])}`);
    assert.notEqual(narrow.stdout.trim(), full.stdout.trim());
  });

  test('--mytoken without a URL: oidc-gen.default_mytoken_server of the config file', async () => {
    const file = join(world.configDir, 'config');
    writeFileSync(file, JSON.stringify({ 'oidc-gen': { default_mytoken_server: mt.url } }), { mode: 0o600 });
    try {
      const r = await loginThroughServer(world, mt, ['dflt', '--mytoken', '--issuer', op.issuer, '--pw-env', 'ENC_PW', '--no-url-call']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await fileConfig(world, 'dflt'))['mytoken_url'], mt.url);
    } finally {
      rmSync(file, { force: true });
    }
  });

  test('a cached token does not reach the mytoken server; -f does', async () => {
    const first = await world.run('token-get', ['mt1', '-s', 'openid profile']);
    assert.equal(first.code, 0, first.stderr);
    const before = accessCount(mt);
    const again = await world.run('token-get', ['mt1', '-s', 'profile openid']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, first.stdout, 'same scope set: the cached token');
    assert.equal(accessCount(mt), before, 'no request to the access-token endpoint');
    const forced = await world.run('token-get', ['mt1', '-s', 'openid profile', '-f']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(accessCount(mt), before + 1);
  });

  test('concurrent misses for one key share one request at the server', async () => {
    const before = accessCount(mt);
    const runs = await Promise.all(Array.from({ length: 8 }, () => world.run('token-get', ['mt1', '-s', 'email openid'])));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.equal(new Set(runs.map((r) => r.stdout)).size, 1);
    assert.equal(accessCount(mt), before + 1);
  });

  test('rotation: every new mytoken is in the file before the token is out; kill -9, restart, token-add works; the old mytoken is dead', async () => {
    const profile = JSON.stringify({ capabilities: ['AT', 'create_mytoken', 'tokeninfo'], rotation: { on_AT: true, auto_revoke: true } });
    const r = await genMytoken(world, mt, op, 'rot', ['--mytoken-profile', profile]);
    assert.equal(r.code, 0, r.stderr);
    const initial = (await fileConfig(world, 'rot')).refresh_token;
    assert.deepEqual(jwtPayload(initial)['rotation'], { on_AT: true, auto_revoke: true });

    let last = initial;
    for (let i = 0; i < 8; i++) {
      const t = await world.run('token-get', ['rot', '-f']);
      assert.equal(t.code, 0, t.stderr);
      const now = (await fileConfig(world, 'rot')).refresh_token;
      assert.notEqual(now, last, `use ${i + 1} rotated the mytoken and the file holds the new one`);
      assert.equal(jwtPayload(now)['seq_no'], (jwtPayload(last)['seq_no'] as number) + 1);
      last = now;
    }
    // Many concurrent uses with different keys: serialised, so no stale mytoken reaches the server.
    const many = await Promise.all(['openid', 'profile', 'email', 'openid email', 'openid profile'].map((s) => world.run('token-get', ['rot', '-s', s, '-f'])));
    for (const m of many) assert.equal(m.code, 0, m.stderr);
    last = (await fileConfig(world, 'rot')).refresh_token;

    await world.killAgent('SIGKILL');
    await world.startAgent();
    const add = await world.run('token-add', ['rot', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(add.code, 0, add.stderr);
    // (mt1 is used by the later tests.)
    const addMt1 = await world.run('token-add', ['mt1', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(addMt1.code, 0, addMt1.stderr);
    const t = await world.run('token-get', ['rot', '-s', 'openid']);
    assert.equal(t.code, 0, t.stderr);
    assert.notEqual((await fileConfig(world, 'rot')).refresh_token, last, 'the loads rotated it again, and it was saved');

    // The first mytoken is refused (and, auto_revoke, revokes the tree: this account ends here).
    const old = await post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken: initial });
    assert.equal(old.status, 401, JSON.stringify(old.json));
    assert.equal(old.json['error'], 'invalid_token');
    const dead = await world.run('token-get', ['rot', '-f']);
    assert.notEqual(dead.code, 0);
    assert.match(dead.stderr, /mytoken expired or was revoked/);
    assert.match(dead.stderr, /token-gen rot --reauthenticate/);
  });

  test('token-gen --reauthenticate brings a revoked mytoken account back, through the mytoken server', async () => {
    const before = (await fileConfig(world, 'rot')).refresh_token;
    const r = await loginThroughServer(world, mt, ['rot', '--reauthenticate', '--pw-env', 'ENC_PW', '--no-url-call']);
    assert.equal(r.code, 0, r.stderr);
    const cfg = await fileConfig(world, 'rot');
    assert.notEqual(cfg.refresh_token, before);
    assert.equal(cfg['mytoken_url'], mt.url);
    assert.deepEqual(jwtPayload(cfg.refresh_token)['rotation'], { on_AT: true, auto_revoke: true }, 'the stored profile was used again');
    const t = await world.run('token-get', ['rot', '-f']);
    assert.equal(t.code, 0, t.stderr);
    assert.notEqual((await fileConfig(world, 'rot')).refresh_token, cfg.refresh_token, 'rotates and is saved again');
  });

  test('write-back refused when the file was re-encrypted meanwhile: the token is still served, the file untouched, the status says why', async () => {
    const profile = JSON.stringify({ capabilities: ['AT'], rotation: { on_AT: true } });
    const r = await genMytoken(world, mt, op, 'wb', ['--mytoken-profile', profile]);
    assert.equal(r.code, 0, r.stderr);
    // Re-encrypted behind the agent's back (another tool; token-gen --update would hand the agent the new key).
    const { config } = await loadAccount(world.configDir, 'wb', ENC);
    await saveAccount(world.configDir, 'wb', config, 'another-password-9');
    const fileBefore = readFileSync(join(world.configDir, 'wb'), 'utf8');
    const t = await world.run('token-get', ['wb', '-f']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(readFileSync(join(world.configDir, 'wb'), 'utf8'), fileBefore, 'not overwritten');
    const st = await accountStatus(world, 'wb');
    assert.match(st.last_error?.error ?? '', /^mytoken not saved: .*re-encrypted with another password/);
    // The rotated mytoken lives on in memory: the next use works.
    const t2 = await world.run('token-get', ['wb', '-f']);
    assert.equal(t2.code, 0, t2.stderr);
  });

  test('the mytoken request (plain JSON) returns a sub-mytoken that honours its restrictions', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const profile = { name: 'job 42', capabilities: ['AT'], restrictions: [{ scope: 'openid', exp }] };
    const reply = await rawRequest(world.socket, JSON.stringify({ request: 'mytoken', account: 'mt1', mytoken_profile: profile, application_hint: 'e2e' }));
    assert.equal(reply['status'], 'success', JSON.stringify({ ...reply, mytoken: undefined }));
    assert.equal(reply['mytoken_type'], 'token');
    assert.equal(reply['mytoken_issuer'], mt.url);
    assert.equal(String(reply['oidc_issuer']).replace(/\/$/, ''), op.issuer.replace(/\/$/, ''));
    assert.equal(reply['expires_in'], undefined);
    assert.ok(typeof reply['expires_at'] === 'number' && Math.abs((reply['expires_at'] as number) - exp) <= 1, `expires_at ${reply['expires_at']}`);
    const sub = reply['mytoken'] as string;
    const claims = jwtPayload(sub);
    assert.equal(claims['name'], 'job 42');
    assert.deepEqual(claims['capabilities'], ['AT']);

    const ok = await post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken: sub, scope: 'openid' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(jwtPayload(ok.json['access_token'] as string)['scope'], 'openid');
    const wider = await post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken: sub, scope: 'openid profile' });
    assert.notEqual(wider.status, 200, 'a scope outside the restriction is refused');
    const noCap = await post(`${mt.url}${API.mytoken}`, { grant_type: 'mytoken', mytoken: sub, capabilities: ['AT'] });
    assert.notEqual(noCap.status, 200, 'no create_mytoken capability');
    // The agent's own token-get is not disturbed.
    assert.equal((await world.run('token-get', ['mt1'])).code, 0);
  });

  test('a new sub-mytoken needs a yes from the prompt: a no is "operation forbidden" and nothing reaches the server', async () => {
    const before = JSON.stringify(mt.stats().mytokenGrants);
    const denied = await rawRequest(world.socket, JSON.stringify({ request: 'mytoken', account: 'rot', mytoken_profile: { capabilities: ['AT'] } }));
    assert.equal(denied['status'], 'failure');
    assert.equal(denied['error'], 'operation forbidden');
    assert.equal(JSON.stringify(mt.stats().mytokenGrants), before, 'no sub-token was created');
    // Access tokens of the same account need no confirmation.
    assert.equal((await world.run('token-get', ['rot'])).code, 0);
  });

  test('a transfer code from the mytoken request becomes a new account with token-gen --TC', async () => {
    const reply = await request('mytoken', { account: 'mt1', mytoken_profile: { capabilities: ['AT'], mytoken_type: 'transfer_code' } }, { socketPath: world.socket });
    const r = reply as Record<string, unknown>;
    assert.equal(r['mytoken_type'], 'transfer_code');
    const code = r['transfer_code'] as string;
    assert.ok(typeof code === 'string' && code.length > 0 && code.length < 32);
    const before = mt.stats().mytokenGrants['oidc_flow'] ?? 0;
    const g = await world.run('token-gen', ['fromtc', '--mytoken', mt.url, '--issuer', op.issuer, '--TC-env', 'TC_CODE', '--pw-env', 'ENC_PW'], { ENC_PW: ENC, TC_CODE: code });
    assert.equal(g.code, 0, g.stderr);
    assert.equal(mt.stats().mytokenGrants['oidc_flow'] ?? 0, before, 'no login');
    assert.equal(mt.stats().mytokenGrants['transfer_code'], 1);
    const cfg = await fileConfig(world, 'fromtc');
    assert.equal(cfg['mytoken_url'], mt.url);
    assert.deepEqual(jwtPayload(cfg.refresh_token)['capabilities'], ['AT']);
    const t = await world.run('token-get', ['fromtc', '-s', 'openid']);
    assert.equal(t.code, 0, t.stderr);
    // Single use: the same code again fails, with the server named.
    const again = await world.run('token-gen', ['fromtc2', '--mytoken', mt.url, '--issuer', op.issuer, '--TC', code, '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.notEqual(again.code, 0);
    assert.ok(again.stderr.includes(mt.url), again.stderr);
    // A code on the command line is visible in the process list: said; through --TC-env it is not.
    assert.match(again.stderr, /warning: a transfer code on the command line is visible to other users/);
    assert.doesNotMatch(g.stderr, /warning: a transfer code/);

    // token-gen --delete revokes the account's mytoken at the mytoken server (not at the OP).
    const doomed = (await fileConfig(world, 'fromtc')).refresh_token;
    const del = await world.run('token-gen', ['fromtc', '--delete', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(del.code, 0, del.stderr);
    assert.ok(!existsSync(join(world.configDir, 'fromtc')));
    const refused = await post(`${mt.url}${API.access}`, { grant_type: 'mytoken', mytoken: doomed });
    assert.equal(refused.status, 401, JSON.stringify(refused.json));
    assert.equal((await world.run('token-get', ['mt1'])).code, 0, 'the parent account is untouched');
  });

  test('liboidc-agent 4.2.6 (oidc-token, encrypted channel) gets tokens of a mytoken account; it has no mytoken call', { skip: existsSync(OIDC_TOKEN) ? false : `${OIDC_TOKEN} is not installed` }, async () => {
    const r = await collect(spawn(OIDC_TOKEN, ['-s', 'openid', '--aud=https://c.example.org', 'mt1'], { env: { ...world.env }, stdio: ['pipe', 'pipe', 'pipe'] }));
    assert.equal(r.code, 0, r.stderr);
    const p = jwtPayload(r.stdout.trim());
    assert.equal(p['scope'], 'openid');
    assert.ok((Array.isArray(p['aud']) ? p['aud'] : [p['aud']]).includes('https://c.example.org'));
  });

  test('Ctrl-C while waiting for the mytoken login: exit 130, nothing saved or loaded', async () => {
    const child = world.spawn('token-gen', ['cancelled', '--mytoken', mt.url, '--issuer', op.issuer, '--pw-env', 'ENC_PW', '--no-url-call'], { ENC_PW: ENC });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('Waiting for the login')) resolve();
      });
      child.once('exit', () => reject(new Error(`token-gen exited early: ${stderr}`)));
    });
    const url = new RegExp(`${mt.url.replace(/[.]/g, '\\.')}/c/\\S+`).exec(stderr)?.[0];
    assert.ok(url, stderr);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 130, stderr);
    assert.ok(!existsSync(join(world.configDir, 'cancelled')));
    const loaded = (await request('loaded_accounts', {}, { socketPath: world.socket })) as { info: string[] };
    assert.ok(!loaded.info.includes('cancelled'));
  });

  test('no mytoken in the agent log', async () => {
    const log = readFileSync(world.logFile, 'utf8');
    assert.ok(log.length > 0);
    for (const name of ['mt1', 'rot']) {
      const token = (await fileConfig(world, name)).refresh_token;
      assert.ok(!log.includes(token), `the mytoken of ${name} is in the log`);
    }
    assert.ok(!/eyJ[\w-]{20,}\.eyJ/.test(log), 'no JWT in the log');
  });

  test('hostile mytoken_profile values are refused with a clear error before anything reaches the server', async () => {
    const before = JSON.stringify(mt.stats().mytokenGrants);
    const cases: [unknown, RegExp][] = [
      ['{"capabilities": ["AT"', /"mytoken_profile" is not valid JSON/],
      ['no such profile!', /must be a JSON object or the name of a server profile/],
      [42, /must be a JSON object/],
      [['AT'], /must be a JSON object/],
      [{ capabilities: 'AT' }, /"mytoken_profile\.capabilities" must be an array of strings/],
      [{ restrictions: [{ exp: 'tomorrow' }] }, /"mytoken_profile\.restrictions\[0\]\.exp" must be a non-negative integer/],
      [{ restrictions: { scope: 'openid' } }, /"mytoken_profile\.restrictions" must be an array/],
      [{ rotation: { on_AT: 'yes' } }, /"mytoken_profile\.rotation\.on_AT" must be true or false/],
      [{ mytoken_type: 'jwt' }, /"mytoken_profile\.mytoken_type" must be one of token, short_token, transfer_code/],
      [{ grant_type: 'ssh', mytoken: 'x' }, /"mytoken_profile\.grant_type" is not a mytoken profile field/],
    ];
    for (const [profile, error] of cases) {
      const reply = await rawRequest(world.socket, JSON.stringify({ request: 'mytoken', account: 'mt1', mytoken_profile: profile }));
      assert.equal(reply['status'], 'failure', JSON.stringify(profile));
      assert.match(String(reply['error']), error);
      assert.match(String(reply['error']), /^Bad Request: /);
    }
    // token-gen's --mytoken-profile goes through the same check.
    const g = await world.run('token-gen', ['badprofile', '--mytoken', mt.url, '--issuer', op.issuer, '--pw-env', 'ENC_PW', '--mytoken-profile', '{"rotation":{"lifetime":-5}}'], { ENC_PW: ENC });
    assert.notEqual(g.code, 0);
    assert.match(g.stderr, /"config\.mytoken_profile\.rotation\.lifetime" must be a non-negative integer/);
    assert.ok(!existsSync(join(world.configDir, 'badprofile')));
    // A normal OIDC account has no mytoken to derive from; an unknown account is named.
    const noMt = await rawRequest(world.socket, JSON.stringify({ request: 'mytoken', account: 'nosuch' }));
    assert.equal(noMt['status'], 'failure');
    assert.equal(noMt['error'], 'No account configured with that short name');
    await world.createAccount(op, 'plain', ENC);
    const plain = await rawRequest(world.socket, JSON.stringify({ request: 'mytoken', account: 'plain' }));
    assert.equal(plain['status'], 'failure');
    assert.match(String(plain['error']), /account 'plain' is not a mytoken account/);
    assert.equal(JSON.stringify(mt.stats().mytokenGrants), before, 'nothing was sent to the mytoken server');
  });
});
