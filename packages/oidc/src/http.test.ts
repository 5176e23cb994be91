import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { json, refusedPort, startFaultServer, rejectsWith, type FaultServer } from '../test-support/fault-server.js';
import { USER_AGENT, createPolicyFetch, type FetchPolicy } from './http.js';

const fast: FetchPolicy = { allowInsecureLoopback: true, backoffMs: [20, 40], timeoutMs: 2_000 };

const servers: FaultServer[] = [];
async function serve(...args: Parameters<typeof startFaultServer>): Promise<FaultServer> {
  const s = await startFaultServer(...args);
  servers.push(s);
  return s;
}
after(() => Promise.all(servers.map((s) => s.close())));


describe('policy fetch', () => {
  it('sends token-agent/<package version> as User-Agent, overriding the library one', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(USER_AGENT, `token-agent/${pkg.version}`);
    const s = await serve({ '/x': (_q, res) => json(res, 200, { ok: true }) });
    const res = await createPolicyFetch(fast)(`${s.origin}/x`, {
      method: 'GET',
      headers: { 'user-agent': 'openid-client/v6' },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    assert.equal(s.hits[0]?.headers['user-agent'], USER_AGENT);
  });

  for (const status of [408, 429, 502, 503, 504]) {
    it(`retries HTTP ${status} and returns the later success`, async () => {
      const s = await serve({
        '/x': (_q, res, hit) => (hit.n < 3 ? json(res, status, { error: 'busy' }) : json(res, 200, { ok: hit.n })),
      });
      const res = await createPolicyFetch(fast)(`${s.origin}/x`, { method: 'POST', body: 'a=1' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: 3 });
      assert.equal(s.count('/x'), 3);
      assert.deepEqual(
        s.hits.map((h) => h.body),
        ['a=1', 'a=1', 'a=1'],
        'the same body is sent on every try',
      );
    });
  }

  it('gives up after 3 tries and hands the last 503 to the caller', async () => {
    const s = await serve({ '/x': (_q, res) => json(res, 503, {}) });
    const res = await createPolicyFetch(fast)(`${s.origin}/x`, { method: 'GET' });
    assert.equal(res.status, 503);
    assert.equal(s.count('/x'), 3);
  });

  it('waits between tries (backoff)', async () => {
    const s = await serve({ '/x': (_q, res, hit) => json(res, hit.n < 3 ? 502 : 200, {}) });
    await createPolicyFetch({ ...fast, backoffMs: [150, 300] })(`${s.origin}/x`, { method: 'GET' });
    const [a, b, c] = s.hits.map((h) => h.at);
    assert.ok(b! - a! >= 140, `first wait ${b! - a!} ms`);
    assert.ok(c! - b! >= 290, `second wait ${c! - b!} ms`);
  });

  for (const status of [400, 401, 404, 500]) {
    it(`does not retry HTTP ${status}`, async () => {
      const s = await serve({ '/x': (_q, res) => json(res, status, { error: 'invalid_grant' }) });
      const res = await createPolicyFetch(fast)(`${s.origin}/x`, { method: 'POST', body: '' });
      assert.equal(res.status, status);
      assert.equal(s.count('/x'), 1);
    });
  }

  it('does not wait for a Retry-After longer than the cap', async () => {
    const s = await serve({ '/x': (_q, res) => json(res, 503, {}, { 'retry-after': '120' }) });
    const res = await createPolicyFetch(fast)(`${s.origin}/x`, { method: 'GET' });
    assert.equal(res.status, 503);
    assert.equal(s.count('/x'), 1);
  });

  it('honours a short Retry-After', async () => {
    const s = await serve({ '/x': (_q, res, hit) => json(res, hit.n === 1 ? 429 : 200, {}, { 'retry-after': '1' }) });
    const res = await createPolicyFetch(fast)(`${s.origin}/x`, { method: 'GET' });
    assert.equal(res.status, 200);
    const [a, b] = s.hits.map((h) => h.at);
    assert.ok(b! - a! >= 950, `waited ${b! - a!} ms`);
  });

  it('times out a server that does not answer, on every try, then OIDC_TIMEOUT', async () => {
    const s = await serve({ '/slow': () => undefined });
    const t0 = Date.now();
    const err = await rejectsWith(
      createPolicyFetch({ ...fast, timeoutMs: 200 })(`${s.origin}/slow`, { method: 'GET' }),
      'OIDC_TIMEOUT',
    );
    assert.equal(err.attempts, 3);
    assert.equal(s.count('/slow'), 3);
    assert.ok(Date.now() - t0 < 2_000);
    assert.match(err.message, /within 0\.2 s/);
  });

  it('the deadline covers the body: headers then a stalled body is a timeout', async () => {
    const s = await serve({
      '/x': (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"access_token":');
      },
    });
    const err = await rejectsWith(
      createPolicyFetch({ ...fast, timeoutMs: 200, maxAttempts: 2 })(`${s.origin}/x`, { method: 'GET' }),
      'OIDC_TIMEOUT',
    );
    assert.equal(err.attempts, 2);
  });

  it('answers late: success when the slow answer still fits the deadline', async () => {
    const s = await serve({ '/x': (_q, res) => void setTimeout(() => json(res, 200, { late: true }), 100) });
    const res = await createPolicyFetch({ ...fast, timeoutMs: 1_000 })(`${s.origin}/x`, { method: 'GET' });
    assert.deepEqual(await res.json(), { late: true });
  });

  it('connection refused → OIDC_NETWORK after all tries', async () => {
    const port = await refusedPort();
    const err = await rejectsWith(
      createPolicyFetch(fast)(`http://127.0.0.1:${port}/x`, { method: 'GET' }),
      'OIDC_NETWORK',
    );
    assert.equal(err.attempts, 3);
    assert.match(err.message, /ECONNREFUSED/);
  });

  it('connection reset → retried, then success', async () => {
    const s = await serve({ '/x': (req, res, hit) => (hit.n === 1 ? req.socket.destroy() : json(res, 200, { ok: true })) });
    const res = await createPolicyFetch(fast)(`${s.origin}/x`, { method: 'POST', body: 'x=1' });
    assert.equal(res.status, 200);
    assert.equal(s.count('/x'), 2);
  });

  it('connection reset on every try → OIDC_NETWORK', async () => {
    const s = await serve({ '/x': (req) => void req.socket.destroy() });
    const err = await rejectsWith(createPolicyFetch(fast)(`${s.origin}/x`, { method: 'GET' }), 'OIDC_NETWORK');
    assert.equal(err.attempts, 3);
    assert.equal(s.count('/x'), 3);
  });

  it('a body cut off mid-way (connection closed before content-length) → OIDC_NETWORK', async () => {
    const s = await serve({
      '/x': (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"access_token":"abc');
        setTimeout(() => res.socket?.destroy(), 10);
      },
    });
    await rejectsWith(createPolicyFetch({ ...fast, maxAttempts: 1 })(`${s.origin}/x`, { method: 'GET' }), 'OIDC_NETWORK');
  });

  it('an AbortSignal cancels the wait between tries', async () => {
    const s = await serve({ '/x': (_q, res) => json(res, 503, {}) });
    const ac = new AbortController();
    const p = createPolicyFetch({ ...fast, backoffMs: [5_000], signal: ac.signal })(`${s.origin}/x`, { method: 'GET' });
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    await rejectsWith(p, 'OIDC_ABORTED');
    assert.ok(Date.now() - t0 < 4_000, 'before the 5 s wait ended');
    assert.equal(s.count('/x'), 1);
  });

  it('an AbortSignal cancels a request in flight, without retry', async () => {
    const s = await serve({ '/slow': () => undefined });
    const ac = new AbortController();
    const p = createPolicyFetch({ ...fast, signal: ac.signal })(`${s.origin}/slow`, { method: 'GET' });
    setTimeout(() => ac.abort(), 100);
    await rejectsWith(p, 'OIDC_ABORTED');
    assert.equal(s.count('/slow'), 1);
  });

  it('refuses an answer over the size cap', async () => {
    const s = await serve({ '/x': (_q, res) => res.writeHead(200).end('x'.repeat(5_000)) });
    const err = await rejectsWith(
      createPolicyFetch({ ...fast, maxResponseBytes: 1_000 })(`${s.origin}/x`, { method: 'GET' }),
      'OIDC_BAD_RESPONSE',
    );
    assert.equal(err.attempts, 1);
  });

  it('refuses plain http to loopback without the opt-in, naming the variable', async () => {
    const s = await serve({ '/x': (_q, res) => json(res, 200, {}) });
    const err = await rejectsWith(createPolicyFetch({})(`${s.origin}/x`, { method: 'GET' }), 'OIDC_INSECURE_ISSUER');
    assert.match(err.message, /TOKEN_AGENT_ALLOW_HTTP_LOOPBACK=1/);
    assert.equal(s.count('/x'), 0);
  });

  it('refuses plain http to a non-loopback host even with the opt-in', async () => {
    await rejectsWith(
      createPolicyFetch({ allowInsecureLoopback: true })('http://example.org/token', { method: 'GET' }),
      'OIDC_INSECURE_ISSUER',
    );
  });
});
