import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMytokenProfile } from './mytoken.js';

describe('parseMytokenProfile', () => {
  it('absent → undefined; a server profile name → include; JSON text → the object', () => {
    assert.equal(parseMytokenProfile(undefined), undefined);
    assert.equal(parseMytokenProfile(''), undefined);
    assert.deepEqual(parseMytokenProfile('web-default'), { include: 'web-default' });
    assert.deepEqual(parseMytokenProfile('group/agent'), { include: 'group/agent' });
    assert.deepEqual(parseMytokenProfile(' {"capabilities":["AT"]} '), { capabilities: ['AT'] });
  });

  it('keeps the known fields with the right types; response_type becomes mytoken_type', () => {
    const p = {
      name: 'job',
      capabilities: ['AT', 'tokeninfo:introspect'],
      restrictions: [{ scope: 'openid', audience: ['https://a'], exp: 1900000000, nbf: 0, hosts: ['this'], usages_AT: 3, usages_other: 0 }],
      rotation: { on_AT: true, on_other: false, auto_revoke: true, lifetime: 3600 },
      response_type: 'short_token',
      application_name: 'app',
      include: ['a', 'b'],
      max_token_len: 200,
      error_on_restrictions: false,
    };
    const out = parseMytokenProfile(p)!;
    assert.equal(out['mytoken_type'], 'short_token');
    assert.equal(out['response_type'], undefined);
    assert.deepEqual(out['restrictions'], p.restrictions);
    assert.deepEqual(out['rotation'], p.rotation);
  });

  const bad: [string, unknown, RegExp][] = [
    ['broken JSON', '{"a":', /"mytoken_profile" is not valid JSON/],
    ['a name with spaces', 'not a name', /JSON object or the name of a server profile/],
    ['an array', ['AT'], /must be a JSON object/],
    ['a number', 7, /must be a JSON object/],
    ['unknown field', { grant_type: 'mytoken' }, /"mytoken_profile\.grant_type" is not a mytoken profile field/],
    ['smuggled mytoken', { mytoken: 'x' }, /"mytoken_profile\.mytoken" is not a mytoken profile field/],
    ['capabilities as a string', { capabilities: 'AT' }, /"mytoken_profile\.capabilities" must be an array of strings/],
    ['capabilities with a number', { capabilities: ['AT', 1] }, /must be an array of strings/],
    ['restrictions as an object', { restrictions: { exp: 1 } }, /"mytoken_profile\.restrictions" must be an array/],
    ['exp as text', { restrictions: [{ exp: '+1d' }] }, /"mytoken_profile\.restrictions\[0\]\.exp" must be a non-negative integer/],
    ['negative usages', { restrictions: [{ usages_AT: -1 }] }, /usages_AT" must be a non-negative integer/],
    ['unknown clause field', { restrictions: [{ expires: 1 }] }, /restrictions\[0\]\.expires" is not a mytoken profile field/],
    ['audience as a string', { restrictions: [{ audience: 'https://a' }] }, /audience" must be an array of strings/],
    ['rotation flag as text', { rotation: { on_AT: 'true' } }, /"mytoken_profile\.rotation\.on_AT" must be true or false/],
    ['unknown token type', { mytoken_type: 'jwt' }, /must be one of token, short_token, transfer_code/],
    ['contradicting types', { mytoken_type: 'token', response_type: 'short_token' }, /contradicts "mytoken_type"/],
    ['empty name', { name: '' }, /"mytoken_profile\.name" must be a non-empty string/],
    ['zero max_token_len', { max_token_len: 0 }, /must be positive/],
  ];
  for (const [what, value, message] of bad) {
    it(`refuses ${what}`, () => assert.throws(() => parseMytokenProfile(value), (e: Error) => message.test(e.message) && e.message.startsWith('Bad Request: ')));
  }

  it('names the field it was given (token-gen sends config.mytoken_profile)', () => {
    assert.throws(() => parseMytokenProfile({ capabilities: 'AT' }, 'config.mytoken_profile'), /"config\.mytoken_profile\.capabilities"/);
  });
});
