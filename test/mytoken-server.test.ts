/**
 * The mytoken test server (test/mytoken-server/) exercised over HTTP, as a mytoken client would:
 * discovery, the oidc_flow with polling, access tokens from the dev OP with narrowed scope and
 * audience, sub-tokens and their restrictions, rotation, transfer codes, revocation, tokeninfo.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { collect, jwtPayload, startOp } from './harness.ts';
import { sshKeygen, sshdSkipReason } from './sshd.ts';
import { completeOidcFlow, startMytokenServer, startMytokenSshd, type MytokenServer, type MytokenSshd } from './mytoken-server/index.ts';

type Json = Record<string, any>;

async function post(url: string, body: Json, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Json) : {} };
}

/** A fixed clock the tests move by hand (ms). */
function fixedClock(start = Date.UTC(2030, 0, 1)) {
  let t = start;
  return { now: () => t, advance: (seconds: number) => (t += seconds * 1000), seconds: () => Math.floor(t / 1000) };
}

describe('mytoken test server', () => {
  let op: DevOp;
  let mt: MytokenServer;
  const clock = fixedClock();
  let my: string; // mytoken endpoint
  let at: string; // access-token endpoint

  /** Runs the whole oidc_flow and returns the final MytokenResponse. */
  async function login(request: Json = {}): Promise<Json> {
    const start = await post(my, { grant_type: 'oidc_flow', oidc_flow: 'authorization_code', oidc_issuer: op.issuer, client_type: 'native', ...request });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    await completeOidcFlow(start.body['consent_uri']);
    const done = await post(my, { grant_type: 'polling_code', polling_code: start.body['polling_code'] });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    return done.body;
  }

  before(async () => {
    op = await startOp();
    mt = await startMytokenServer({ op, clock: clock.now });
    my = `${mt.url}/api/v0/token/my`;
    at = `${mt.url}/api/v0/token/access`;
  });

  after(async () => {
    await mt?.close();
    await op?.close();
  });

  test('serves the same configuration at mytoken-configuration and openid-configuration', async () => {
    const a = (await (await fetch(`${mt.url}/.well-known/mytoken-configuration`)).json()) as Json;
    const b = (await (await fetch(`${mt.url}/.well-known/openid-configuration`)).json()) as Json;
    assert.deepEqual(a, b);
    assert.equal(a['issuer'], mt.issuer);
    assert.equal(a['mytoken_endpoint'], `${mt.url}/api/v0/token/my`);
    assert.equal(a['access_token_endpoint'], `${mt.url}/api/v0/token/access`);
    assert.equal(a['token_endpoint'], a['access_token_endpoint']);
    assert.equal(a['revocation_endpoint'], `${mt.url}/api/v0/token/revoke`);
    assert.equal(a['tokeninfo_endpoint'], `${mt.url}/api/v0/tokeninfo`);
    assert.equal(a['usersettings_endpoint'], `${mt.url}/api/v0/settings`);
    assert.deepEqual(a['providers_supported'].map((p: Json) => p['issuer']), [op.issuer]);
    assert.ok(a['providers_supported'][0]['scopes_supported'].includes('storage.read:/'));
    for (const g of ['oidc_flow', 'mytoken', 'polling_code', 'transfer_code']) assert.ok(a['mytoken_endpoint_grant_types_supported'].includes(g), g);
    assert.deepEqual(a['access_token_endpoint_grant_types_supported'], ['mytoken']);
    assert.deepEqual(a['response_types_supported'], ['token', 'short_token', 'transfer_code']);
    assert.equal(a['restriction_claims_supported'].length, 9);
  });

  test('oidc_flow: 428 authorization_pending until the user has logged in at the OP, then the mytoken (once)', async () => {
    const start = await post(my, {
      grant_type: 'oidc_flow',
      oidc_flow: 'authorization_code',
      oidc_issuer: op.issuer,
      client_type: 'native',
      name: 'flow test',
      capabilities: ['AT', 'tokeninfo'],
    });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    assert.match(start.body['consent_uri'], new RegExp(`^${mt.url}/c/`));
    assert.equal(start.body['expires_in'], 300);
    assert.equal(typeof start.body['interval'], 'number');
    const code = start.body['polling_code'];
    const pending = await post(my, { grant_type: 'polling_code', polling_code: code });
    assert.equal(pending.status, 428);
    assert.equal(pending.body['error'], 'authorization_pending');

    await completeOidcFlow(start.body['consent_uri']);
    const done = await post(my, { grant_type: 'polling_code', polling_code: code });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body['mytoken_type'], 'token');
    assert.deepEqual(done.body['capabilities'], ['AT', 'tokeninfo']);
    assert.equal(typeof done.body['mom_id'], 'string');

    // A signed MT+JWT from this server, for the dev OP's user.
    const jwks = createRemoteJWKSet(new URL(`${mt.url}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(done.body['mytoken'], jwks, { issuer: mt.issuer, audience: mt.issuer, currentDate: new Date(clock.now()) });
    assert.equal(protectedHeader.typ, 'MT+JWT');
    assert.equal(payload['oidc_iss'], op.issuer);
    assert.equal(payload['oidc_sub'], 'alice');
    assert.equal(payload['seq_no'], 1);
    assert.equal(payload['name'], 'flow test');

    const again = await post(my, { grant_type: 'polling_code', polling_code: code });
    assert.equal(again.status, 401);
    assert.equal(again.body['error'], 'invalid_token');
    assert.equal(mt.stats().op.code_exchange >= 1, true);
  });

  test('oidc_flow denied at the OP: the poll answers 401 access_denied', async () => {
    const start = await post(my, { grant_type: 'oidc_flow', oidc_flow: 'authorization_code', oidc_issuer: op.issuer });
    await completeOidcFlow(start.body['consent_uri'], { deny: true });
    const r = await post(my, { grant_type: 'polling_code', polling_code: start.body['polling_code'] });
    assert.equal(r.status, 401);
    assert.equal(r.body['error'], 'access_denied');
  });

  test('access tokens: JSON grant_type=mytoken and form grant_type=refresh_token; narrower scope and an audience reach the OP', async () => {
    const token = (await login())['mytoken'] as string;
    const refreshesBefore = mt.stats().op.refresh;
    const a = await post(at, { grant_type: 'mytoken', mytoken: token, scope: 'openid storage.read:/', audience: 'https://storage.example.org', comment: 'test' });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const claims = jwtPayload(a.body['access_token']);
    assert.equal(claims['scope'], 'openid storage.read:/');
    assert.equal(claims['aud'], 'https://storage.example.org');
    assert.equal(claims['iss'], op.issuer);
    assert.deepEqual(a.body['audience'], ['https://storage.example.org']);
    assert.equal(a.body['scope'], 'openid storage.read:/');
    assert.equal(a.body['token_type'], 'Bearer');
    assert.equal(typeof a.body['expires_in'], 'number');
    assert.equal(a.body['token_update'], undefined);

    // oidc-agent's way: a form-encoded refresh_token grant with HTTP Basic mytoken:mytoken.
    const r = await fetch(at, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('mytoken:mytoken').toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, scope: 'openid compute.read' }),
    });
    assert.equal(r.status, 200);
    const b = (await r.json()) as Json;
    assert.equal(jwtPayload(b['access_token'])['scope'], 'openid compute.read');
    assert.equal(mt.stats().op.refresh, refreshesBefore + 2);
  });

  /** Access token request; returns status and body. */
  const getAt = (token: string, extra: Json = {}) => post(at, { grant_type: 'mytoken', mytoken: token, ...extra });

  test('an expired token is refused (fixed clock); with several clauses, any clause that fits is enough', async () => {
    const t = clock.seconds();
    const single = (await login({ restrictions: [{ exp: t + 3600 }] }))['mytoken'] as string;
    const multi = (await login({ restrictions: [{ exp: t + 3600 }, { scope: 'openid' }] }))['mytoken'] as string;
    assert.equal((await getAt(single)).status, 200);
    assert.equal((await getAt(multi, { scope: 'storage.read:/' })).status, 200);
    clock.advance(3601);
    const expired = await getAt(single);
    assert.equal(expired.status, 401);
    assert.equal(expired.body['error'], 'invalid_token');
    // The first clause has expired; the second (no exp) allows only scope openid.
    const outside = await getAt(multi, { scope: 'storage.read:/' });
    assert.equal(outside.status, 403);
    assert.equal(outside.body['error'], 'usage_restricted');
    const inside = await getAt(multi, { scope: 'openid' });
    assert.equal(inside.status, 200, JSON.stringify(inside.body));
    assert.equal(jwtPayload(inside.body['access_token'])['scope'], 'openid');
    // Without a scope, the clause's scope is what is asked for.
    assert.equal(jwtPayload((await getAt(multi)).body['access_token'])['scope'], 'openid');
  });

  test('a restriction exp in the past is refused at creation', async () => {
    const r = await post(my, { grant_type: 'oidc_flow', oidc_flow: 'authorization_code', oidc_issuer: op.issuer, restrictions: [{ exp: clock.seconds() - 10 }] });
    assert.equal(r.status, 400);
    assert.equal(r.body['error'], 'invalid_request');
  });

  test('sub-tokens: restrictions must be a subset, usage counts are enforced, capabilities are intersected', async () => {
    const parent = await login({
      capabilities: ['AT', 'create_mytoken', 'tokeninfo'],
      restrictions: [{ scope: 'openid storage.read:/', audience: ['https://a.example.org', 'https://b.example.org'], usages_other: 4 }],
    });
    const sub = (request: Json) => post(my, { grant_type: 'mytoken', mytoken: parent['mytoken'], error_on_restrictions: true, ...request });

    // No restrictions asked for: the parent's are inherited (with fresh counters).
    const inherit = await sub({});
    assert.equal(inherit.status, 200, JSON.stringify(inherit.body));
    assert.deepEqual(inherit.body['restrictions'], parent['restrictions']);

    const wider = await sub({ restrictions: [{ scope: 'openid compute.read', audience: ['https://a.example.org'], usages_AT: 1 }] });
    assert.equal(wider.status, 400, JSON.stringify(wider.body));
    assert.equal(wider.body['error'], 'invalid_request');
    const noAudience = await sub({ restrictions: [{ scope: 'openid', usages_other: 1 }] });
    assert.equal(noAudience.status, 400, 'dropping the audience limit widens the token');
    const noUsageLimit = await sub({ restrictions: [{ scope: 'openid', audience: ['https://a.example.org'] }] });
    assert.equal(noUsageLimit.status, 400, 'dropping the usages_other limit widens the token');

    const child = await sub({
      restrictions: [{ scope: 'openid', audience: ['https://a.example.org'], usages_AT: 1, usages_other: 0 }],
      capabilities: ['AT', 'settings', 'tokeninfo:introspect'],
      name: 'child',
    });
    assert.equal(child.status, 200, JSON.stringify(child.body));
    assert.deepEqual(child.body['capabilities'], ['AT', 'tokeninfo:introspect']);
    assert.equal(jwtPayload(child.body['mytoken'])['name'], 'child');

    const scopeOutside = await getAt(child.body['mytoken'], { scope: 'storage.read:/' });
    assert.equal(scopeOutside.status, 403);
    assert.equal(scopeOutside.body['error'], 'usage_restricted');
    const audOutside = await getAt(child.body['mytoken'], { audience: 'https://b.example.org' });
    assert.equal(audOutside.status, 403);
    const first = await getAt(child.body['mytoken']);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(jwtPayload(first.body['access_token'])['aud'], 'https://a.example.org');
    const second = await getAt(child.body['mytoken']);
    assert.equal(second.status, 403, 'usages_AT: 1 is used up');
    assert.equal(second.body['error'], 'usage_restricted');

    // The child may not create tokens; the parent's usages_other (4) run out: 2 used above, 2 more.
    const denied = await post(my, { grant_type: 'mytoken', mytoken: child.body['mytoken'] });
    assert.equal(denied.status, 403);
    assert.equal(denied.body['error'], 'insufficient_capabilities');
    const narrow = { restrictions: [{ scope: 'openid', audience: ['https://a.example.org'], usages_other: 1 }] };
    assert.equal((await sub(narrow)).status, 200);
    assert.equal((await sub(narrow)).status, 200);
    const exhausted = await sub(narrow);
    assert.equal(exhausted.status, 403);
    assert.equal(exhausted.body['error'], 'usage_restricted');
  });

  test('a token without the AT capability gets no access token', async () => {
    const parent = await login({ capabilities: ['create_mytoken', 'AT'] });
    const child = await post(my, { grant_type: 'mytoken', mytoken: parent['mytoken'], capabilities: ['tokeninfo'] });
    assert.equal(child.status, 200);
    const r = await getAt(child.body['mytoken']);
    assert.equal(r.status, 403);
    assert.equal(r.body['error'], 'insufficient_capabilities');
  });

  test('hosts and geoip restrictions match the client address (loopback)', async () => {
    const ok = (await login({ restrictions: [{ hosts: ['127.0.0.0/8'] }] }))['mytoken'] as string;
    const okName = (await login({ restrictions: [{ hosts: ['localhost'] }] }))['mytoken'] as string;
    const okThis = await login({ restrictions: [{ hosts: ['this'] }] });
    const elsewhere = (await login({ restrictions: [{ hosts: ['10.0.0.0/8', '192.0.2.7'] }] }))['mytoken'] as string;
    const geo = (await login({ restrictions: [{ geoip_allow: ['de'] }] }))['mytoken'] as string;
    assert.equal((await getAt(ok)).status, 200);
    assert.equal((await getAt(okName)).status, 200);
    assert.deepEqual(okThis['restrictions'][0]['hosts'], ['127.0.0.1']);
    assert.equal((await getAt(okThis['mytoken'])).status, 200);
    assert.equal((await getAt(elsewhere)).status, 403);
    assert.equal((await getAt(geo)).status, 403, 'no GeoIP database: a geoip_allow list never matches');
  });

  test('rotation on_AT: the new token works, the old one is refused', async () => {
    const first = await login({ rotation: { on_AT: true } });
    const a = await getAt(first['mytoken']);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const update = a.body['token_update'];
    assert.equal(update['mytoken_type'], 'token');
    assert.notEqual(update['mytoken'], first['mytoken']);
    assert.equal(jwtPayload(update['mytoken'])['seq_no'], 2);
    assert.equal(jwtPayload(update['mytoken'])['jti'], jwtPayload(first['mytoken'])['jti']);
    const old = await getAt(first['mytoken']);
    assert.equal(old.status, 401);
    assert.equal(old.body['error'], 'invalid_token');
    const b = await getAt(update['mytoken']);
    assert.equal(b.status, 200);
    assert.equal(jwtPayload(b.body['token_update']['mytoken'])['seq_no'], 3);
    // Introspection is not a use: no rotation.
    const i = await post(`${mt.url}/api/v0/tokeninfo`, { action: 'introspect', mytoken: b.body['token_update']['mytoken'] });
    assert.equal(i.status, 200);
    assert.equal(i.body['token_update'], undefined);
  });

  test('concurrent uses of one rotating token: exactly one succeeds, the others see a stale token', async () => {
    const t = (await login({ rotation: { on_AT: true } }))['mytoken'] as string;
    const results = await Promise.all([getAt(t), getAt(t), getAt(t)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401]);
    const winner = results.find((r) => r.status === 200)!;
    assert.equal((await getAt(winner.body['token_update']['mytoken'])).status, 200);
  });

  test('the mytoken may come as a Bearer header', async () => {
    const t = (await login())['mytoken'] as string;
    const r = await post(at, { grant_type: 'mytoken', scope: 'openid' }, { authorization: `Bearer ${t}` });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  test('rotation keeps the short-token form; auto_revoke: a stale token revokes the whole tree', async () => {
    const first = await login({ rotation: { on_AT: true, auto_revoke: true }, response_type: 'short_token' });
    assert.equal(first['mytoken_type'], 'short_token');
    assert.equal(first['mytoken'].length, 64);
    const a = await getAt(first['mytoken']);
    assert.equal(a.status, 200);
    const fresh = a.body['token_update']['mytoken'] as string;
    assert.equal(a.body['token_update']['mytoken_type'], 'short_token');
    assert.equal(fresh.length, 64);
    assert.notEqual(fresh, first['mytoken']);
    assert.equal((await getAt(first['mytoken'])).status, 401);
    // The theft signal revoked the token itself: the fresh string is dead too.
    const after = await getAt(fresh);
    assert.equal(after.status, 401);
    assert.equal(after.body['error'], 'invalid_token');
  });

  test('rotation on_other: a sub-token request returns token_update for the parent', async () => {
    const parent = await login({ capabilities: ['AT', 'create_mytoken'], rotation: { on_other: true, lifetime: 600 } });
    const child = await post(my, { grant_type: 'mytoken', mytoken: parent['mytoken'], capabilities: ['AT'] });
    assert.equal(child.status, 200);
    const update = child.body['token_update'];
    assert.ok(update, 'token_update present');
    assert.equal(jwtPayload(update['mytoken'])['exp'], clock.seconds() + 600);
    assert.equal((await getAt(parent['mytoken'])).status, 401);
    const r = await getAt(update['mytoken']);
    assert.equal(r.status, 200);
    assert.equal(r.body['token_update'], undefined, 'on_other does not rotate on AT requests');
  });

  test('transfer codes: exchanged once, then gone; as response_type of a new token', async () => {
    const token = await login({ response_type: 'short_token' });
    const t = await post(`${mt.url}/api/v0/token/transfer`, { mytoken: token['mytoken'] });
    assert.equal(t.status, 200);
    assert.equal(t.body['mytoken_type'], 'transfer_code');
    assert.equal(t.body['transfer_code'].length, 8);
    const redeemed = await post(my, { grant_type: 'transfer_code', transfer_code: t.body['transfer_code'] });
    assert.equal(redeemed.status, 200);
    assert.equal(redeemed.body['mytoken_type'], 'short_token');
    assert.equal((await getAt(redeemed.body['mytoken'])).status, 200);
    const again = await post(my, { grant_type: 'transfer_code', transfer_code: t.body['transfer_code'] });
    assert.equal(again.status, 401);
    assert.equal(again.body['error'], 'invalid_token');

    const viaFlow = await login({ response_type: 'transfer_code' });
    assert.equal(viaFlow['mytoken_type'], 'transfer_code');
    assert.equal(viaFlow['mytoken'], undefined);
    const jwtForm = await post(my, { grant_type: 'transfer_code', transfer_code: viaFlow['transfer_code'] });
    assert.equal(jwtForm.status, 200);
    assert.equal(jwtForm.body['mytoken_type'], 'token');
    assert.equal((await getAt(jwtForm.body['mytoken'])).status, 200);

    // An expired code is refused.
    const late = await post(`${mt.url}/api/v0/token/transfer`, { mytoken: token['mytoken'] });
    clock.advance(301);
    const expired = await post(my, { grant_type: 'transfer_code', transfer_code: late.body['transfer_code'] });
    assert.equal(expired.status, 401);
    assert.equal(expired.body['error'], 'expired_token');
  });

  test('revocation: plain revokes one token, recursive its sub-tokens too; the OP refresh token goes with the last', async () => {
    const revoke = `${mt.url}/api/v0/token/revoke`;
    const root = await login({ capabilities: ['AT', 'create_mytoken'] });
    const mk = async (parent: string) => (await post(my, { grant_type: 'mytoken', mytoken: parent, capabilities: ['AT', 'create_mytoken'] })).body['mytoken'] as string;
    const child = await mk(root['mytoken']);
    const grandchild = await mk(child);
    const sibling = await mk(root['mytoken']);

    const plain = await post(revoke, { token: sibling });
    assert.equal(plain.status, 204);
    assert.equal((await getAt(sibling)).status, 401);
    assert.equal((await getAt(child)).status, 200, 'a sibling is unaffected');

    const before = mt.stats().op.revocation;
    const rec = await post(revoke, { token: root['mytoken'], recursive: true });
    assert.equal(rec.status, 204);
    for (const t of [root['mytoken'], child, grandchild]) {
      const r = await getAt(t);
      assert.equal(r.status, 401);
      assert.equal(r.body['error'], 'invalid_token');
    }
    assert.equal(mt.stats().op.revocation, before + 1, 'the OP refresh token was revoked');
    // Garbage is answered 204 (RFC 7009 style).
    assert.equal((await post(revoke, { token: 'not-a-token-at-all-but-long-enough-to-be-short' })).status, 204);

    // Non-recursive revocation of a parent leaves its children working.
    const p2 = await login({ capabilities: ['AT', 'create_mytoken'] });
    const c2 = await mk(p2['mytoken']);
    assert.equal((await post(revoke, { token: p2['mytoken'] })).status, 204);
    assert.equal((await getAt(p2['mytoken'])).status, 401);
    assert.equal((await getAt(c2)).status, 200);
  });

  test('revocation by mom_id needs an ancestor (or manage_mytokens:revoke)', async () => {
    const revoke = `${mt.url}/api/v0/token/revoke`;
    const root = await login({ capabilities: ['AT', 'create_mytoken'] });
    const child = await post(my, { grant_type: 'mytoken', mytoken: root['mytoken'], capabilities: ['AT'] });
    const other = await login({ capabilities: ['AT'] });
    const refused = await post(revoke, { token: other['mytoken'], mom_id: child.body['mom_id'] });
    assert.equal(refused.status, 403);
    assert.equal(refused.body['error'], 'insufficient_capabilities');
    assert.equal((await post(revoke, { token: root['mytoken'], mom_id: child.body['mom_id'] })).status, 204);
    assert.equal((await getAt(child.body['mytoken'])).status, 401);
    assert.equal((await getAt(root['mytoken'])).status, 200);
  });

  test('tokeninfo: introspect with usage counters, event history, subtokens, list_mytokens', async () => {
    const info = `${mt.url}/api/v0/tokeninfo`;
    const root = await login({
      capabilities: ['AT', 'create_mytoken', 'tokeninfo', 'manage_mytokens:list'],
      restrictions: [{ usages_AT: 5, usages_other: 5 }],
      name: 'root',
    });
    const token = root['mytoken'] as string;
    assert.equal((await getAt(token, { comment: 'job 42' })).status, 200);
    const child = await post(my, { grant_type: 'mytoken', mytoken: token, capabilities: ['AT'], name: 'kid' });
    assert.equal(child.status, 200);

    const intro = await post(info, { action: 'introspect', mytoken: token });
    assert.equal(intro.status, 200, JSON.stringify(intro.body));
    assert.equal(intro.body['valid'], true);
    assert.equal(intro.body['token_type'], 'token');
    assert.equal(intro.body['mom_id'], root['mom_id']);
    assert.equal(intro.body['token']['name'], 'root');
    assert.equal(intro.body['token']['restrictions'][0]['usages_AT_done'], 1);
    assert.equal(intro.body['token']['restrictions'][0]['usages_other_done'], 1);

    const history = await post(info, { action: 'event_history', mytoken: token });
    assert.equal(history.status, 200);
    const events = history.body['events'] as Json[];
    assert.deepEqual(events.map((e) => e['event']), ['created', 'AT_created', 'MT_created']);
    assert.equal(events[1]!['comment'], 'job 42');
    assert.equal(events[1]!['ip'], '127.0.0.1');

    const subtokens = await post(info, { action: 'subtokens', mytoken: token });
    assert.equal(subtokens.status, 200);
    assert.equal(subtokens.body['mytokens']['token']['mom_id'], root['mom_id']);
    assert.deepEqual(subtokens.body['mytokens']['children'].map((c: Json) => c['token']['name']), ['kid']);

    const list = await post(info, { action: 'list_mytokens', mytoken: token });
    assert.equal(list.status, 200);
    assert.ok(list.body['mytokens'].some((t: Json) => t['token']['mom_id'] === root['mom_id']));

    const noCap = await post(info, { action: 'introspect', mytoken: child.body['mytoken'] });
    assert.equal(noCap.status, 403);
    assert.equal(noCap.body['error'], 'insufficient_capabilities');
    const bad = await post(info, { action: 'introspect', mytoken: 'x.y.z' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body['error'], 'invalid_token');
  });

  test('POST /c renders the consent preview oidc-agent shows for a sub-token request', async () => {
    const r = await fetch(`${mt.url}/c`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'sub <x>', capabilities: ['AT'] }) });
    assert.equal(r.status, 200);
    const html = await r.text();
    assert.match(html, /data-page="mytoken-consent-preview"/);
    assert.match(html, /sub &#60;x&#62;/);
  });

  test('errors: unknown grant type, unsupported issuer, missing token', async () => {
    const unknown = await post(my, { grant_type: 'password' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body['error'], 'invalid_grant');
    const iss = await post(my, { grant_type: 'oidc_flow', oidc_flow: 'authorization_code', oidc_issuer: 'https://elsewhere.example.org' });
    assert.equal(iss.status, 400);
    assert.equal(iss.body['error'], 'invalid_request');
    const none = await post(at, { grant_type: 'mytoken' });
    assert.equal(none.status, 401);
    assert.equal(none.body['error'], 'invalid_token');
  });
});

describe('mytoken ssh grant through a real sshd', { skip: sshdSkipReason() }, () => {
  let op: DevOp;
  let mt: MytokenServer;
  let sshd: MytokenSshd;
  let dir: string;
  let key: string;
  let keyLine: string;
  let token: string;

  before(async () => {
    op = await startOp();
    mt = await startMytokenServer({ op });
    sshd = await startMytokenSshd(mt);
    dir = mkdtempSync(join(tmpdir(), 'mytoken-ssh-client-'));
    key = join(dir, 'id_ed25519');
    keyLine = sshKeygen(key, 'mytoken-test-user');
    const my = `${mt.url}/api/v0/token/my`;
    const start = await post(my, {
      grant_type: 'oidc_flow', oidc_flow: 'authorization_code', oidc_issuer: op.issuer,
      capabilities: ['AT', 'create_mytoken', 'tokeninfo', 'settings'],
    });
    await completeOidcFlow(start.body['consent_uri']);
    token = (await post(my, { grant_type: 'polling_code', polling_code: start.body['polling_code'] })).body['mytoken'];
  });

  after(async () => {
    await sshd?.close();
    await mt?.close();
    await op?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `ssh … WORDS…` as the mytoken CLI runs it; resolves with the exit code and output. */
  function ssh(identity: string, ...words: string[]) {
    return collect(spawn('ssh', [...sshd.sshArgs(identity), ...words], { env: { PATH: process.env['PATH'], HOME: dir }, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  test('the configuration lists the ssh grant and the host key', async () => {
    const c = (await (await fetch(`${mt.url}/.well-known/mytoken-configuration`)).json()) as Json;
    assert.ok(c['mytoken_endpoint_grant_types_supported'].includes('ssh'));
    assert.match(c['ssh_keys'][0]['fingerprint'], /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(c['ssh_keys'][0]['type'], 'ssh-ed25519');
  });

  test('add a key (grant enabled, consent, poll), then ssh AT / MT print tokens; other keys are refused', async () => {
    const grants = `${mt.url}/api/v0/settings/grants`;
    const keys = `${mt.url}/api/v0/settings/grants/ssh`;
    const notEnabled = await post(keys, { grant_type: 'mytoken', mytoken: token, ssh_key: keyLine });
    assert.equal(notEnabled.status, 400);
    assert.equal((await post(grants, { grant_type: 'ssh', mytoken: token })).status, 204);
    const info = await fetch(grants, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(((await info.json()) as Json)['grant_types'], [{ grant_type: 'ssh', enabled: true }]);

    const add = await post(keys, { grant_type: 'mytoken', mytoken: token, ssh_key: keyLine, name: 'laptop', capabilities: ['AT', 'create_mytoken'], restrictions: [{ scope: 'openid storage.read:/' }] });
    assert.equal(add.status, 200, JSON.stringify(add.body));
    assert.equal(typeof add.body['consent_uri'], 'string');
    const pending = await post(keys, { grant_type: 'polling_code', polling_code: add.body['polling_code'] });
    assert.equal(pending.status, 428);
    await completeOidcFlow(add.body['consent_uri']);
    const done = await post(keys, { grant_type: 'polling_code', polling_code: add.body['polling_code'] });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body['ssh_user'], sshd.user);
    assert.match(done.body['ssh_host_config'], new RegExp(`Port ${sshd.port}\\n`));

    const atRes = await ssh(key, 'AT', 'application/json', `'${JSON.stringify({ scope: 'openid storage.read:/', audience: 'https://storage.example.org' })}'`);
    assert.equal(atRes.code, 0, atRes.stdout + atRes.stderr);
    const claims = jwtPayload(atRes.stdout.trim());
    assert.equal(claims['scope'], 'openid storage.read:/');
    assert.equal(claims['aud'], 'https://storage.example.org');
    assert.equal(claims['iss'], op.issuer);

    const b64 = Buffer.from(JSON.stringify({ scope: 'openid' })).toString('base64');
    const at64 = await ssh(key, 'AT', 'application/json;base64', b64);
    assert.equal(at64.code, 0, at64.stdout + at64.stderr);
    assert.equal(jwtPayload(at64.stdout.trim())['scope'], 'openid');

    const outside = await ssh(key, 'AT', 'application/json', `'{"scope":"compute.read"}'`);
    assert.notEqual(outside.code, 0);
    assert.match(outside.stdout, /usage_restricted/);

    const mtRes = await ssh(key, 'MT', 'application/json', `'{"capabilities":["AT"]}'`);
    assert.equal(mtRes.code, 0, mtRes.stdout + mtRes.stderr);
    const sub = mtRes.stdout.trim();
    assert.equal(jwtPayload(sub)['oidc_sub'], 'alice');
    const subAt = await post(`${mt.url}/api/v0/token/access`, { mytoken: sub, scope: 'openid' });
    assert.equal(subAt.status, 200, JSON.stringify(subAt.body));

    const other = join(dir, 'other_key');
    sshKeygen(other, 'not-registered');
    const refused = await ssh(other, 'AT');
    assert.notEqual(refused.code, 0);
    assert.doesNotMatch(refused.stdout, /\w+\.\w+\.\w+/);

    const list = await fetch(keys, { headers: { authorization: `Bearer ${token}` } });
    const listed = ((await list.json()) as Json)['ssh_keys'] as Json[];
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!['name'], 'laptop');
    assert.match(listed[0]!['ssh_key_fp'], /^SHA256:/);

    // Deleting the key ends its access.
    const del = await fetch(keys, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mytoken: token, ssh_key_fp: listed[0]!['ssh_key_fp'] }) });
    assert.equal(del.status, 204);
    const gone = await ssh(key, 'AT');
    assert.notEqual(gone.code, 0);
  });
});
