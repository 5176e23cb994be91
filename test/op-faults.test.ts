/**
 * A misbehaving OP (a real HTTP server on loopback, not a mock): unreachable, slow (20 s),
 * 500/503, HTML, truncated JSON, a token response without `access_token`. Each gives a clear
 * one-line error within the deadline; a still-valid cached token keeps being served; other
 * accounts are unaffected (their latency stays under 50 ms while the faulty OP hangs).
 *
 * The agent runs with TOKEN_AGENT_HTTP_TIMEOUT_MS=2000 and TOKEN_AGENT_HTTP_ATTEMPTS=2: one call
 * then takes at most 2 × 2 s + 0.5 s backoff.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { request } from '@token-agent/protocol';
import { saveAccount } from '@token-agent/store';
import { json, startFakeOp, type FakeOp } from '../packages/oidc/test-support/fault-server.ts';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, startOp } from './harness.ts';

const ENC = 'faults-enc-pw-3';
/** 2 tries × 2 s + 0.5 s backoff, plus starting token-get and the agent's own work. */
const DEADLINE_MS = 2 * 2_000 + 500 + 2_500;

type Mode = 'ok' | 'slow' | '500' | '503' | 'html' | 'truncated' | 'no-access-token' | 'escape-token';

describe('a misbehaving OP', () => {
  let devOp: DevOp;
  let flaky: FakeOp;
  let gone: FakeOp;
  let world: World;
  let mode: Mode = 'ok';
  let n = 0;
  const pending = new Set<NodeJS.Timeout>();

  const token = (res: ServerResponse) => json(res, 200, { access_token: `at-flaky-${++n}`, token_type: 'Bearer', expires_in: 600 });

  before(async () => {
    devOp = await startOp({ accessTokenTtl: 600 });
    flaky = await startFakeOp({
      '/token': (_req, res) => {
        switch (mode) {
          case 'ok':
            return token(res);
          case 'slow': {
            const t = setTimeout(() => {
              pending.delete(t);
              token(res);
            }, 20_000);
            pending.add(t);
            return;
          }
          case '500':
            return res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
          case '503':
            return res.writeHead(503, { 'content-type': 'text/html' }).end('<html>down for maintenance</html>');
          case 'html':
            return res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Please log in</body></html>');
          case 'truncated':
            return res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"at-trunc","token_ty');
          case 'no-access-token':
            return json(res, 200, { token_type: 'Bearer', expires_in: 600 });
          case 'escape-token':
            // A terminal escape (set the window title, clear the screen) where the token goes.
            return json(res, 200, { access_token: 'at\u001b]0;owned\u0007\u001b[2J', token_type: 'Bearer', expires_in: 600 });
        }
      },
    });
    gone = await startFakeOp({ '/token': (_req, res) => token(res) });
    world = new World({ TOKEN_AGENT_HTTP_TIMEOUT_MS: '2000', TOKEN_AGENT_HTTP_ATTEMPTS: '2' });
    await world.startAgent();
    await world.createAccount(devOp, 'healthy', ENC);
    for (const [name, op] of [['flaky', flaky], ['gone', gone]] as const) {
      await saveAccount(world.configDir, name, { name, issuer_url: op.issuer, client_id: 'cid', client_secret: 'csecret', refresh_token: `rt-${name}`, extra: {} }, ENC);
      const add = await world.run('token-add', [name, '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
      assert.equal(add.code, 0, add.stderr);
    }
    await gone.close();
  });
  after(async () => {
    for (const t of pending) clearTimeout(t);
    await world.cleanup();
    await flaky.close();
    await devOp.close();
  });

  async function cachedToken(name: string): Promise<string> {
    const r = await request('access_token', { account: name }, { socketPath: world.socket });
    return (r as { access_token: string }).access_token;
  }

  const cases: [Mode | 'unreachable', RegExp][] = [
    ['unreachable', /^token-get: cannot talk to .*127\.0\.0\.1:\d+.*\n$/],
    ['slow', /^token-get: no answer from .* (within 2 s|in time)\n$/],
    ['500', /^token-get: .*HTTP 500.*\n$/],
    ['503', /^token-get: .*unavailable \(HTTP 503\)\n$/],
    ['html', /^token-get: .*did not answer with JSON.*\n$/],
    ['truncated', /^token-get: .*malformed JSON.*\n$/],
    ['no-access-token', /^token-get: .*"access_token".*\n$/],
    ['escape-token', /^token-get: .*"access_token" .*no token may have.*\n$/],
  ];
  for (const [fault, message] of cases) {
    test(`${fault}: a clear error within the deadline; the cached token is still served`, async () => {
      const name = fault === 'unreachable' ? 'gone' : 'flaky';
      const cached = await cachedToken(name);
      if (fault !== 'unreachable') mode = fault;
      const started = Date.now();
      const r = await world.run('token-get', [name, '-f']);
      const took = Date.now() - started;
      mode = 'ok';
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
      assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stderr), 'no control character reaches the terminal');
      assert.ok(took < DEADLINE_MS, `${fault}: the error took ${took} ms`);
      assert.equal(await cachedToken(name), cached, 'the cached token is still served');
      const again = await world.run('token-get', [name]);
      assert.equal(again.stdout.trim(), cached);
    });
  }

  // Served *while* the refresh hangs is the property asserted here; the latency itself (the issue's
  // 50 ms) is measured by `pnpm bench` §5 and only reported here, as timing is no test assertion.
  test('while the OP of one account hangs, other accounts and cached tokens are answered meanwhile', async (t) => {
    await cachedToken('healthy');
    const cachedFlaky = await cachedToken('flaky');
    mode = 'slow';
    let hangingEnded = false;
    const hanging = world.run('token-get', ['flaky', '-f']).finally(() => (hangingEnded = true));
    // Let the refresh reach the OP and hang there.
    const before = flaky.count('/token');
    while (flaky.count('/token') === before) await new Promise((r) => setTimeout(r, 10));
    const latencies: number[] = [];
    for (let i = 0; i < 40; i++) {
      const name = i % 2 === 0 ? 'healthy' : 'flaky';
      const t0 = performance.now();
      const tok = await cachedToken(name);
      latencies.push(performance.now() - t0);
      if (name === 'flaky') assert.equal(tok, cachedFlaky);
    }
    const forced = performance.now();
    const fresh = await request('access_token', { account: 'healthy', min_valid_period: -1 }, { socketPath: world.socket });
    const forcedMs = performance.now() - forced;
    assert.ok((fresh as { access_token?: string }).access_token, 'a refresh at a healthy OP meanwhile works');
    assert.equal(hangingEnded, false, 'all of that was served while the refresh still hung at the OP');
    const r = await hanging;
    mode = 'ok';
    assert.equal(r.code, 1, 'the hanging refresh ended with an error');
    const max = Math.max(...latencies);
    t.diagnostic(`cached-token latency while the OP hangs: max ${max.toFixed(1)} ms, median ${latencies.sort((a, b) => a - b)[20]!.toFixed(1)} ms over 40; a forced refresh at the healthy OP: ${forcedMs.toFixed(1)} ms`);
  });
});
