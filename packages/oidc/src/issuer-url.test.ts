import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackHost, parseIssuerUrl, sameIssuer } from './issuer-url.js';

describe('issuer URLs', () => {
  const loopback: [string, boolean][] = [
    ['localhost', true],
    ['LOCALHOST', true],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['[::1]', true],
    ['128.0.0.1', false],
    ['127.0.0.1.example.org', false],
    ['localhost.example.org', false],
    ['[::ffff:10.0.0.1]', false],
    ['example.org', false],
  ];
  for (const [host, expected] of loopback) {
    it(`isLoopbackHost(${host}) = ${expected}`, () => assert.equal(isLoopbackHost(host), expected));
  }

  it('https issuers pass; http only on loopback with the opt-in', () => {
    assert.equal(parseIssuerUrl('https://op.example/realms/x', false).href, 'https://op.example/realms/x');
    assert.equal(parseIssuerUrl('http://[::1]:8080/', true).hostname, '[::1]');
    assert.throws(() => parseIssuerUrl('http://localhost:8080/', false), { code: 'OIDC_INSECURE_ISSUER' });
    assert.throws(() => parseIssuerUrl('http://10.0.0.1/', true), { code: 'OIDC_INSECURE_ISSUER' });
    assert.throws(() => parseIssuerUrl('https://op.example/#frag', false), { code: 'OIDC_INVALID_ISSUER' });
    assert.throws(() => parseIssuerUrl('https://user:pw@op.example/', false), { code: 'OIDC_INVALID_ISSUER' });
  });

  it('sameIssuer forgives only a trailing slash', () => {
    assert.equal(sameIssuer('https://a/x/', 'https://a/x'), true);
    assert.equal(sameIssuer('https://a/x', 'https://a/y'), false);
  });
});
