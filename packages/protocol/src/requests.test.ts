import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequest, buildRequest } from './requests.js';

const table: [string, unknown, unknown][] = [
  ['plain access_token', { request: 'access_token', account: 'kit', min_valid_period: 60 }, { request: 'access_token', params: { account: 'kit', min_valid_period: 60 } }],
  ['numbers as strings', { request: 'access_token', account: 'kit', min_valid_period: '60' }, { request: 'access_token', params: { account: 'kit', min_valid_period: 60 } }],
  ['-1 forces a new token', { request: 'access_token', account: 'kit', min_valid_period: '-1' }, { request: 'access_token', params: { account: 'kit', min_valid_period: -1 } }],
  ['empty strings and null are absent', { request: 'access_token', account: 'kit', scope: '', audience: null }, { request: 'access_token', params: { account: 'kit' } }],
  ['unknown keys ignored', { request: 'check', foo: [1, 2] }, { request: 'check', params: {} }],
  ['config as JSON text', { request: 'add', config: '{"name":"a"}', confirm: 1 }, { request: 'add', params: { config: { name: 'a' }, confirm: true } }],
  ['flow as a JSON array string', { request: 'gen', config: {}, flow: '["device","code"]' }, { request: 'gen', params: { config: {}, flow: ['device', 'code'] } }],
  ['flow as one string', { request: 'gen', config: {}, flow: 'device' }, { request: 'gen', params: { config: {}, flow: ['device'] } }],
];
for (const [name, input, expected] of table) {
  test(`parseRequest: ${name}`, () => {
    assert.deepEqual(parseRequest(input), { ok: true, request: expected });
  });
}

const bad: [string, unknown, RegExp][] = [
  ['not an object', [1, 2], /not a JSON object/],
  ['null', null, /not a JSON object/],
  ['no request', { account: 'kit' }, /^Bad Request: No request type\.$/],
  ['unknown request', { request: 'make_coffee' }, /^Bad Request: Unknown request type\.$/],
  ['request of wrong type', { request: 42 }, /Unknown request type/],
  ['prototype key as request', { request: '__proto__' }, /Unknown request type/],
  ['bad integer', { request: 'access_token', min_valid_period: 'soon' }, /"min_valid_period" must be an integer/],
  ['fractional integer', { request: 'access_token', min_valid_period: 1.5 }, /"min_valid_period" must be an integer/],
  ['object for a string', { request: 'access_token', account: { a: 1 } }, /"account" must be a string/],
  ['missing required', { request: 'remove' }, /"account" is required/],
  ['config not an object', { request: 'add', config: '[1]' }, /"config" must be a JSON object/],
  ['config not JSON', { request: 'add', config: '{nope' }, /"config" must be a JSON object/],
  ['huge string', { request: 'access_token', account: 'x'.repeat(100_000) }, /"account" is too long/],
];
for (const [name, input, re] of bad) {
  test(`parseRequest refuses: ${name}`, () => {
    const r = parseRequest(input);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, re);
  });
}

test('buildRequest drops absent fields and keeps the request first', () => {
  assert.equal(
    JSON.stringify(buildRequest('access_token', { account: 'kit', scope: undefined, min_valid_period: 0 })),
    '{"request":"access_token","account":"kit","min_valid_period":0}',
  );
});
