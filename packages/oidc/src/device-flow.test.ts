import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { form, json, startFakeOp, type FakeOp, type Handler, rejectsWith } from '../test-support/fault-server.js';
import { createClient } from './client.js';
import {
  DEFAULT_DEVICE_INTERVAL_S,
  pollDeviceAuthorization,
  pollDeviceOnce,
  startDeviceAuthorization,
  type DeviceAuthorization,
} from './device-flow.js';

const ops: FakeOp[] = [];
after(() => Promise.all(ops.map((s) => s.close())));

const deviceOk =
  (extra: Record<string, unknown> = {}): Handler =>
  (_q, res) =>
    json(res, 200, {
      device_code: 'dc-secret',
      user_code: 'ABCD-EFGH',
      verification_uri: 'https://op.example/device',
      expires_in: 600,
      ...extra,
    });

async function op(routes: Parameters<typeof startFakeOp>[0]): Promise<FakeOp> {
  const s = await startFakeOp(routes);
  ops.push(s);
  return s;
}

function client(s: FakeOp) {
  return createClient({ issuer: s.issuer, clientId: 'cid', allowInsecureLoopback: true, backoffMs: [10] });
}

/** A device handle as if the OP had just answered, with a chosen interval. */
function handle(interval: number, expiresIn = 600): DeviceAuthorization {
  return {
    device_code: 'dc-secret',
    user_code: 'ABCD-EFGH',
    verification_uri: 'https://op.example/device',
    expires_in: expiresIn,
    expires_at: Math.floor(Date.now() / 1000) + expiresIn,
    interval,
  };
}

const tokens: Handler = (_q, res) => json(res, 200, { access_token: 'at', token_type: 'Bearer', expires_in: 60, refresh_token: 'rt' });
const pending: Handler = (_q, res) => json(res, 400, { error: 'authorization_pending' });


describe('device flow', { concurrency: true }, () => {
  it('start: sends scope and resources, defaults a missing interval to 5 s', async () => {
    const s = await op({ '/device': deviceOk(), '/token': tokens });
    const now = Math.floor(Date.now() / 1000);
    const d = await startDeviceAuthorization(client(s), { scope: 'openid offline_access', resource: ['https://r.example'] });
    assert.equal(d.interval, DEFAULT_DEVICE_INTERVAL_S);
    assert.equal(d.user_code, 'ABCD-EFGH');
    assert.equal(d.expires_in, 600);
    assert.ok(d.expires_at >= now + 600 && d.expires_at <= now + 601);
    const body = form(s.hits.find((h) => h.path === '/device')!.body);
    assert.equal(body.get('scope'), 'openid offline_access');
    assert.deepEqual(body.getAll('resource'), ['https://r.example']);
    assert.equal(body.get('client_id'), 'cid');
  });

  it('start: keeps the OP interval and verification_uri_complete', async () => {
    const s = await op({ '/device': deviceOk({ interval: 7, verification_uri_complete: 'https://op.example/device?c=1' }), '/token': tokens });
    const d = await startDeviceAuthorization(client(s), { scope: 'openid' });
    assert.equal(d.interval, 7);
    assert.equal(d.verification_uri_complete, 'https://op.example/device?c=1');
  });

  it('start: no device endpoint → OIDC_UNSUPPORTED', async () => {
    const s = await op({ '/token': tokens });
    await rejectsWith(startDeviceAuthorization(client(s), { scope: 'openid' }), 'OIDC_UNSUPPORTED');
  });

  it('start: device answer without user_code → OIDC_BAD_RESPONSE', async () => {
    const s = await op({ '/device': deviceOk({ user_code: undefined }), '/token': tokens });
    await rejectsWith(startDeviceAuthorization(client(s), { scope: 'openid' }), 'OIDC_BAD_RESPONSE');
  });

  it('start: what the user is shown carries no terminal escapes; a non-http(s) URL is refused', async () => {
    const esc = '\u001b]0;owned\u0007\u001b[2J';
    const s = await op({
      '/device': deviceOk({ user_code: `AB${esc}CD`, verification_uri: `https://op.example/device?x=${esc}`, verification_uri_complete: `https://op.example/d?c=1${esc}` }),
      '/token': tokens,
    });
    const d = await startDeviceAuthorization(client(s), { scope: 'openid' });
    for (const shown of [d.user_code, d.verification_uri, d.verification_uri_complete!]) {
      assert.doesNotMatch(shown, /[\u0000-\u001f\u007f-\u009f]/, JSON.stringify(shown));
    }
    assert.ok(d.verification_uri.startsWith('https://op.example/device?x=%1B'), d.verification_uri);
    const js = await op({ '/device': deviceOk({ verification_uri: 'javascript:alert(1)' }), '/token': tokens });
    await rejectsWith(startDeviceAuthorization(client(js), { scope: 'openid' }), 'OIDC_BAD_RESPONSE');
  });

  it('start: unauthorized_client → OIDC_OP_ERROR', async () => {
    const s = await op({ '/device': (_q, res) => json(res, 400, { error: 'unauthorized_client', error_description: 'no device grant' }), '/token': tokens });
    const err = await rejectsWith(startDeviceAuthorization(client(s), {}), 'OIDC_OP_ERROR');
    assert.equal(err.message, 'unauthorized_client: no device grant');
  });

  it('pollDeviceOnce: pending, slow_down, done; sends the device_code grant', async () => {
    const answers: Handler[] = [pending, (_q, res) => json(res, 400, { error: 'slow_down' }), tokens];
    const s = await op({ '/token': (q, res, hit) => answers[hit.n - 1]!(q, res, hit) });
    const c = client(s);
    assert.deepEqual(await pollDeviceOnce(c, handle(5)), { status: 'pending' });
    assert.deepEqual(await pollDeviceOnce(c, handle(5)), { status: 'slow_down' });
    const done = await pollDeviceOnce(c, handle(5));
    assert.equal(done.status, 'done');
    assert.equal(done.status === 'done' && done.tokens.refresh_token, 'rt');
    const body = form(s.hits.find((h) => h.path === '/token')!.body);
    assert.equal(body.get('grant_type'), 'urn:ietf:params:oauth:grant-type:device_code');
    assert.equal(body.get('device_code'), 'dc-secret');
  });

  it('access_denied → OIDC_ACCESS_DENIED; expired_token → OIDC_EXPIRED_TOKEN', async () => {
    const s = await op({
      '/token': (_q, res, hit) =>
        json(res, 400, { error: hit.n === 1 ? 'access_denied' : 'expired_token', error_description: 'x' }),
    });
    await rejectsWith(pollDeviceOnce(client(s), handle(1)), 'OIDC_ACCESS_DENIED');
    await rejectsWith(pollDeviceOnce(client(s), handle(1)), 'OIDC_EXPIRED_TOKEN');
  });

  it('polls no faster than the OP interval and returns the tokens', async () => {
    const s = await op({ '/token': (q, res, hit) => (hit.n < 3 ? pending(q, res, hit) : tokens(q, res, hit)) });
    const t0 = Date.now();
    const t = await pollDeviceAuthorization(client(s), handle(1));
    assert.equal(t.access_token, 'at');
    const at = s.hits.filter((h) => h.path === '/token').map((h) => h.at);
    assert.equal(at.length, 3);
    assert.ok(at[0]! - t0 >= 990, 'waits one interval before the first poll');
    assert.ok(at[1]! - at[0]! >= 990 && at[2]! - at[1]! >= 990, `gaps ${at[1]! - at[0]!}, ${at[2]! - at[1]!}`);
  });

  it('slow_down adds 5 s to this and every later poll', async () => {
    const s = await op({
      '/token': (q, res, hit) =>
        hit.n === 1 ? json(res, 400, { error: 'slow_down' }) : hit.n === 2 ? pending(q, res, hit) : tokens(q, res, hit),
    });
    // Cancel after the 2nd poll's answer would leave the 3rd 6 s later; we only measure gap 1→2.
    const ac = new AbortController();
    const p = pollDeviceAuthorization(client(s), handle(1), { signal: ac.signal });
    const deadline = Date.now() + 10_000;
    while (s.count('/token') < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const gap = s.hits[2]!.at - s.hits[1]!.at; // hits[0] is discovery
    assert.ok(gap >= 5_990, `gap after slow_down was ${gap} ms`);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(s.count('/token'), 2, 'the later poll also waits 6 s, not 1 s');
    ac.abort();
    await rejectsWith(p, 'OIDC_ABORTED');
  });

  it('a transient failure doubles the interval and polling goes on', async () => {
    const s = await op({ '/token': (q, res, hit) => (hit.n === 1 ? q.socket.destroy() : tokens(q, res, hit)) });
    const c = createClient({ issuer: s.issuer, clientId: 'cid', allowInsecureLoopback: true, maxAttempts: 1 });
    const t = await pollDeviceAuthorization(c, handle(1));
    assert.equal(t.access_token, 'at');
    const [a, b] = s.hits.filter((h) => h.path === '/token').map((h) => h.at);
    assert.ok(b! - a! >= 1_990, `waited ${b! - a!} ms after the failure`);
  });

  it('gives up after 3 transient failures in a row', async () => {
    const s = await op({ '/token': (q) => void q.socket.destroy() });
    const c = createClient({ issuer: s.issuer, clientId: 'cid', allowInsecureLoopback: true, maxAttempts: 1 });
    await rejectsWith(pollDeviceAuthorization(c, handle(1)), 'OIDC_NETWORK');
    assert.equal(s.count('/token'), 3);
  });

  it('stops with OIDC_EXPIRED_TOKEN when the code expires while pending', async () => {
    const s = await op({ '/token': pending });
    const err = await rejectsWith(pollDeviceAuthorization(client(s), handle(1, 2)), 'OIDC_EXPIRED_TOKEN');
    assert.match(err.message, /expired/);
    assert.ok(s.count('/token') <= 2);
  });

  it('an AbortSignal stops polling at once', async () => {
    const s = await op({ '/token': pending });
    const ac = new AbortController();
    const p = pollDeviceAuthorization(client(s), handle(1), { signal: ac.signal });
    setTimeout(() => ac.abort(), 1_300);
    const t0 = Date.now();
    await rejectsWith(p, 'OIDC_ABORTED');
    assert.ok(Date.now() - t0 < 5_000, 'stopped, not polling on while pending');
    const polls = s.count('/token');
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(s.count('/token'), polls, 'no poll after the abort');
  });

  it('the device_code never appears in an error', async () => {
    const s = await op({ '/token': (_q, res) => json(res, 400, { error: 'invalid_grant', error_description: 'unknown code dc-secret' }) });
    const err = await rejectsWith(pollDeviceOnce(client(s), handle(1)), 'OIDC_INVALID_GRANT');
    assert.ok(!err.message.includes('dc-secret'));
  });
});
