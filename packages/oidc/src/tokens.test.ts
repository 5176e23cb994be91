import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeJwt } from '../test-support/fault-server.js';
import { DEFAULT_EXPIRES_IN_S, jwtExpiry, toTokenSet } from './tokens.js';

const T0 = 1_700_000_000_000; // ms
const S0 = T0 / 1000;

describe('toTokenSet', () => {
  it('computes expires_at from expires_in at receipt time and keeps the optional fields', () => {
    assert.deepEqual(
      toTokenSet(
        { access_token: 'at', token_type: 'bearer', expires_in: 300.7, refresh_token: 'rt', id_token: 'it', scope: 'a b', x: 1 },
        T0,
      ),
      { access_token: 'at', token_type: 'Bearer', expires_at: S0 + 300, refresh_token: 'rt', id_token: 'it', scope: 'a b' },
    );
  });

  it('accepts expires_in as a numeric string and DPoP in any case', () => {
    const t = toTokenSet({ access_token: 'at', token_type: 'dPoP', expires_in: '60' }, T0);
    assert.equal(t.expires_at, S0 + 60);
    assert.equal(t.token_type, 'DPoP');
  });

  it('with expires_in: a JWT exp that ends earlier wins; a later one does not', () => {
    const early = fakeJwt({ exp: S0 + 59 });
    assert.equal(toTokenSet({ access_token: early, token_type: 'Bearer', expires_in: 60 }, T0).expires_at, S0 + 59);
    const late = fakeJwt({ exp: S0 + 3600 });
    assert.equal(toTokenSet({ access_token: late, token_type: 'Bearer', expires_in: 60 }, T0).expires_at, S0 + 60);
  });

  it('without expires_in: the JWT exp when in the future, else the default', () => {
    assert.equal(toTokenSet({ access_token: fakeJwt({ exp: S0 + 999 }), token_type: 'Bearer' }, T0).expires_at, S0 + 999);
    assert.equal(
      toTokenSet({ access_token: fakeJwt({ exp: S0 - 5 }), token_type: 'Bearer' }, T0).expires_at,
      S0 + DEFAULT_EXPIRES_IN_S,
    );
    assert.equal(toTokenSet({ access_token: 'opaque.with.dots', token_type: 'Bearer' }, T0).expires_at, S0 + DEFAULT_EXPIRES_IN_S);
  });

  const bad: [string, unknown][] = [
    ['not an object', 'at'],
    ['no access_token', { token_type: 'Bearer', expires_in: 60 }],
    ['empty access_token', { access_token: '', token_type: 'Bearer' }],
    ['no token_type', { access_token: 'at' }],
    ['unknown token_type', { access_token: 'at', token_type: 'mac' }],
    ['zero expires_in', { access_token: 'at', token_type: 'Bearer', expires_in: 0 }],
    ['non-numeric expires_in', { access_token: 'at', token_type: 'Bearer', expires_in: 'soon' }],
    ['non-string refresh_token', { access_token: 'at', token_type: 'Bearer', refresh_token: 5 }],
    // RFC 6749 A.12/A.17: 1*VSCHAR. A terminal escape in a token would reach the user's terminal.
    ['an escape sequence in access_token', { access_token: 'at\u001b]0;owned\u0007', token_type: 'Bearer' }],
    ['a newline in access_token', { access_token: 'at\nX-Injected: 1', token_type: 'Bearer' }],
    ['a C1 control in refresh_token', { access_token: 'at', token_type: 'Bearer', refresh_token: 'rt\u009b31m' }],
    ['non-ASCII in id_token', { access_token: 'at', token_type: 'Bearer', id_token: 'a.b\u00e9.c' }],
  ];
  for (const [name, body] of bad) {
    it(`refuses ${name} with OIDC_BAD_RESPONSE, naming no value`, () => {
      assert.throws(
        () => toTokenSet(body, T0),
        (e: unknown) => {
          assert.equal((e as { code?: unknown }).code, 'OIDC_BAD_RESPONSE');
          assert.ok(!(e as Error).message.includes('"at"'));
          return true;
        },
      );
    });
  }

  it('accepts every printable ASCII character and space in tokens (VSCHAR), as RFC 6749 allows', () => {
    const vschar = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
    const t = toTokenSet({ access_token: vschar, token_type: 'Bearer', refresh_token: vschar, scope: 'openid ü' }, T0);
    assert.equal(t.access_token, vschar);
    assert.equal(t.refresh_token, vschar);
    assert.equal(t.scope, 'openid ü', 'scope is no token: left as sent');
  });

  it('jwtExpiry ignores non-JWTs and JWTs without a numeric exp', () => {
    assert.equal(jwtExpiry('abc'), undefined);
    assert.equal(jwtExpiry('a.b.c.d.e'), undefined);
    assert.equal(jwtExpiry(fakeJwt({ exp: 'x' })), undefined);
    assert.equal(jwtExpiry('x.!!!.y'), undefined);
    assert.equal(jwtExpiry(fakeJwt({ exp: 12.9 })), 12);
  });
});
