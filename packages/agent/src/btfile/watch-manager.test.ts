import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CachedToken } from '../cache/token-cache.js';
import { AgentError } from '../errors.js';
import { silentLogger } from '../log.js';
import { WatchManager, type WatchSpec } from './watch-manager.js';

const root = mkdtempSync(join(tmpdir(), 'ta-watch-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A JWT-shaped token (only `exp` matters here). */
function jwt(exp: number, id: number): string {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'none' })}.${b({ exp, jti: `t${id}` })}.c2ln`;
}

/** The agent's cache in front of a fake OP: tokens living `ttl` s; the OP fails while `down`. */
class FakeTokens {
  ttl = 2;
  down = false;
  issued = 0;
  #current: CachedToken | undefined;
  get = async (_spec: WatchSpec, minValid: number): Promise<CachedToken> => {
    const now = Math.floor(Date.now() / 1000);
    if (this.#current !== undefined && this.#current.expires_at - now > minValid) return this.#current;
    if (this.down) throw new AgentError('OP unreachable');
    const expires_at = Date.now() / 1000 + this.ttl;
    this.#current = { access_token: jwt(expires_at, ++this.issued), expires_at };
    return this.#current;
  };
}

function setup(tokens = new FakeTokens()) {
  const dir = join(root, `w${++n}`);
  mkdirSync(dir);
  const listFile = join(dir, 'state', 'watches.json');
  const make = () => new WatchManager({ getToken: tokens.get, log: silentLogger, listFile });
  const m = make();
  const spec = (extra: Partial<WatchSpec> = {}): WatchSpec => ({ account: 'a', path: join(dir, 'bt'), scopes: [], audiences: [], minValid: 1, createdAt: 0, ...extra });
  return { dir, listFile, m, make, spec, tokens };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('watch writes the token before it answers, then replaces it before it has min-valid left', async (t) => {
  const { m, spec, tokens } = setup();
  t.after(() => m.shutdown());
  const s = await m.watch(spec());
  assert.equal(s.state, 'ok');
  const first = read(spec().path)!;
  assert.match(first, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  assert.equal(statSync(spec().path).mode & 0o777, 0o600);
  assert.ok(s.next_refresh_at !== undefined && s.expires_at !== undefined);
  // 2 s tokens, min-valid 1 s: replaced within the first second, before it has 1 s left.
  await until(() => read(spec().path) !== first, 1_500, 'a new token in the file');
  assert.equal(tokens.issued, 2);
});

test('a refresh failure keeps the valid token, reports it, removes the file when it expires, and recovers', async (t) => {
  const { m, spec, tokens } = setup();
  t.after(() => m.shutdown());
  tokens.ttl = 3;
  await m.watch(spec());
  const kept = read(spec().path);
  tokens.down = true;
  await until(() => m.list()[0]!.state === 'failing', 3_000, 'the failure');
  const s = m.list()[0]!;
  assert.equal(s.last_error?.error, 'OP unreachable');
  assert.ok(s.failures >= 1 && s.expires_at !== undefined);
  assert.equal(read(spec().path), kept, 'the still valid token stays');
  await until(() => !existsSync(spec().path), 4_000, 'the expired file to go');
  assert.equal(m.list()[0]!.expires_at, undefined);
  tokens.down = false;
  await until(() => m.list()[0]!.state === 'ok', 5_000, 'the watch to recover');
  assert.match(read(spec().path)!, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  assert.notEqual(read(spec().path), kept);
  assert.equal(m.list()[0]!.failures, 0);
});

test('unwatch removes the file and the persisted entry; an unknown watch is an error that lists the real ones', async () => {
  const { m, spec, listFile, dir } = setup();
  await m.watch(spec());
  await m.watch(spec({ path: join(dir, 'other') }));
  await m.flush();
  assert.equal((JSON.parse(readFileSync(listFile, 'utf8')) as { watches: unknown[] }).watches.length, 2);
  await assert.rejects(m.unwatch('a', join(dir, 'nope')), (e: unknown) => e instanceof AgentError && e.message.includes('no watch') && (e.info ?? '').includes(spec().path));
  assert.deepEqual(await m.unwatch('a', spec().path), [spec().path]);
  assert.equal(existsSync(spec().path), false);
  await m.flush();
  const left = JSON.parse(readFileSync(listFile, 'utf8')) as { watches: { path: string }[] };
  assert.deepEqual(left.watches.map((w) => w.path), [join(dir, 'other')]);
  assert.equal(statSync(listFile).mode & 0o777, 0o600);
  assert.ok(!readFileSync(listFile, 'utf8').includes('.c2ln'), 'no token in the list');
  await m.unwatch('a');
  assert.equal(existsSync(join(dir, 'other')), false);
});

test('a watch on an unloaded account waits without a file and comes back with the account', async (t) => {
  const { m, spec } = setup();
  t.after(() => m.shutdown());
  await m.watch(spec());
  await m.accountUnloaded('a');
  assert.equal(existsSync(spec().path), false);
  assert.equal(m.list()[0]!.state, 'waiting');
  m.accountLoaded('a');
  await until(() => m.list()[0]!.state === 'ok', 2_000, 'the watch to resume');
  assert.ok(existsSync(spec().path));
});

test('the list survives a restart: a new manager waits for the account, then writes the file', async (t) => {
  const { m, make, spec } = setup();
  await m.watch(spec({ scopes: ['storage.read:/'], audiences: ['https://x.example'], minValid: 1 }));
  await m.shutdown();
  assert.equal(existsSync(spec().path), false, 'stopping removes the file');
  const again = make();
  t.after(() => again.shutdown());
  await again.load();
  const [w] = again.list();
  assert.deepEqual({ state: w!.state, scope: w!.scope, audience: w!.audience, path: w!.path }, { state: 'waiting', scope: ['storage.read:/'], audience: ['https://x.example'], path: spec().path });
  again.accountLoaded('a');
  await until(() => existsSync(spec().path), 2_000, 'the file');
});

test('a file left by a killed agent goes at load when expired, at its expiry when not', async (t) => {
  const { m, make, spec, dir } = setup();
  await m.watch(spec());
  await m.watch(spec({ path: join(dir, 'fresh') }));
  await m.shutdown();
  // As if the agent had been killed instead: the files stayed, with these tokens.
  writeFileSync(spec().path, `${jwt(Date.now() / 1000 - 5, 100)}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'fresh'), `${jwt(Date.now() / 1000 + 1.5, 101)}\n`, { mode: 0o600 });
  const next = make();
  t.after(() => next.shutdown());
  await next.load();
  assert.equal(existsSync(spec().path), false, 'expired leftover removed');
  assert.equal(existsSync(join(dir, 'fresh')), true, 'a valid leftover stays while valid');
  await until(() => !existsSync(join(dir, 'fresh')), 3_000, 'the leftover to expire');
});

test('a watch ended while its refresh is at the OP writes nothing afterwards', async () => {
  const tokens = new FakeTokens();
  let release!: () => void;
  const { dir } = setup(tokens);
  const m = new WatchManager({
    getToken: async (s, min) => {
      if (tokens.issued >= 1) await new Promise<void>((r) => (release = r));
      return tokens.get(s, min);
    },
    log: silentLogger,
    listFile: undefined,
  });
  const path = join(dir, 'bt');
  await m.watch({ account: 'a', path, scopes: [], audiences: [], minValid: 1, createdAt: 0 });
  await until(() => release !== undefined, 2_000, 'the refresh to start');
  await m.unwatch('a');
  release();
  await sleep(100);
  assert.equal(existsSync(path), false);
});

test('an OP whose tokens do not outlive min-valid is refused at watch time', async () => {
  const { m, spec } = setup();
  await assert.rejects(m.watch(spec({ minValid: 5 })), (e: unknown) => e instanceof AgentError && /not more than the 5 s/.test(e.message));
  assert.equal(existsSync(spec().path), false);
  assert.deepEqual(m.list(), []);
});

test('write once refuses a watched path', async (t) => {
  const { m, spec } = setup();
  t.after(() => m.shutdown());
  await m.watch(spec());
  await assert.rejects(m.writeOnce(spec()), (e: unknown) => e instanceof AgentError && e.message.includes('is kept by a watch'));
});
