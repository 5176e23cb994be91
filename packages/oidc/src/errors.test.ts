import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseBodyError } from 'openid-client';
import { OidcError, oauthError, sanitizeOpText, translateError } from './errors.js';

describe('errors', () => {
  it('OidcError keeps cause out of enumeration and serialisation', () => {
    const err = new OidcError('OIDC_OP_ERROR', 'x', { cause: { body: { refresh_token: 'secret-rt' } }, error: 'e' });
    assert.equal((err.cause as { body: unknown }).body !== undefined, true);
    assert.ok(!JSON.stringify(err).includes('secret-rt'));
    assert.ok(!Object.keys(err).includes('cause'));
    assert.equal(err.name, 'OidcError');
    assert.ok(err instanceof Error);
  });

  it('oauthError maps the OAuth error values and formats "error: description"', () => {
    assert.equal(oauthError('invalid_grant', 'expired').code, 'OIDC_INVALID_GRANT');
    assert.equal(oauthError('access_denied', undefined).code, 'OIDC_ACCESS_DENIED');
    assert.equal(oauthError('expired_token', '').code, 'OIDC_EXPIRED_TOKEN');
    const other = oauthError('invalid_scope', 'nope', { status: 400 });
    assert.equal(other.code, 'OIDC_OP_ERROR');
    assert.equal(other.message, 'invalid_scope: nope');
    assert.equal(oauthError('x', undefined).message, 'x');
    assert.equal(oauthError(42, undefined).error, 'unknown_error');
  });

  it('sanitizeOpText strips control characters, bounds length and redacts secrets', () => {
    assert.equal(sanitizeOpText('a\u001b[31mb\nc', 100), 'a [31mb c');
    assert.equal(sanitizeOpText('x'.repeat(20), 5), 'xxxxx…');
    assert.equal(sanitizeOpText('token abcd1234 bad', 100, ['abcd1234']), 'token [redacted] bad');
    assert.equal(sanitizeOpText('', 100), undefined);
  });

  it('translateError: ResponseBodyError → our code; OidcError deep in a cause chain → itself', () => {
    const rbe = new ResponseBodyError('x', {
      cause: { error: 'invalid_grant', error_description: 'gone' },
      response: new Response(null, { status: 400 }),
    });
    const t = translateError(rbe, { what: 'token endpoint' });
    assert.ok(t instanceof OidcError);
    assert.equal(t.code, 'OIDC_INVALID_GRANT');
    assert.equal(t.status, 400);
    const ours = new OidcError('OIDC_TIMEOUT', 't');
    assert.equal(translateError(new Error('wrap', { cause: new Error('w2', { cause: ours }) }), { what: 'x' }), ours);
  });

  it('translateError: caller misuse passes through, the unexpected becomes OIDC_INTERNAL without its message', () => {
    const misuse = Object.assign(new TypeError('bad arg'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.equal(translateError(misuse, { what: 'x' }), misuse);
    const t = translateError(new RangeError('secret-in-message'), { what: 'x' });
    assert.ok(t instanceof OidcError);
    assert.equal(t.code, 'OIDC_INTERNAL');
    assert.ok(!t.message.includes('secret-in-message'));
  });
});
