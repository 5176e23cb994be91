import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyRequest } from '@token-agent/protocol';
import { parseAllow, restrict } from './restricted.js';

const req = (request: string, params: Record<string, unknown> = {}) => ({ request, params }) as unknown as AnyRequest;

test('parseAllow: accounts, scopes with colons, repeats merge, a bare account means all its scopes', () => {
  const r = parseAllow(['wlcg:openid,storage.read:/', 'wlcg:storage.create:/', 'egi', 'egi:openid']);
  assert.deepEqual([...r.get('wlcg')!], ['openid', 'storage.read:/', 'storage.create:/']);
  assert.equal(r.get('egi'), undefined);
  assert.ok(r.has('egi'));
  assert.throws(() => parseAllow([':openid']), /expected ACCOUNT/);
  assert.throws(() => parseAllow(['a:']), /no scopes/);
});

test('restrict: only check and access_token for allowed accounts and scope subsets', () => {
  const r = parseAllow(['wlcg:openid,storage.read:/', 'any']);
  assert.equal(restrict(r, req('check')), undefined);
  for (const name of ['add', 'remove', 'remove_all', 'delete', 'lock', 'unlock', 'gen', 'status', 'status_json', 'loaded_accounts', 'watch', 'unwatch', 'state_lookup', 'term_http_server', 'mytoken']) {
    assert.equal(restrict(r, req(name, { account: 'wlcg' }))?.error, 'operation forbidden', name);
  }
  assert.equal(restrict(r, req('access_token', { account: 'other' }))?.error, 'operation forbidden');
  assert.equal(restrict(r, req('access_token', { issuer: 'https://x' }))?.error, 'operation forbidden');
  assert.equal(restrict(r, req('access_token', { account: 'wlcg', scope: 'storage.read:/' })), undefined);
  assert.match(restrict(r, req('access_token', { account: 'wlcg', scope: 'openid storage.modify:/' }))!.info, /storage\.modify:\//);
  const noScope = req('access_token', { account: 'wlcg' });
  assert.equal(restrict(r, noScope), undefined);
  assert.equal((noScope.params as { scope?: string }).scope, 'openid storage.read:/');
  assert.equal(restrict(r, req('access_token', { account: 'any', scope: 'whatever' })), undefined);
});
