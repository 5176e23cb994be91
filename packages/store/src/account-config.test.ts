import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertUsableAccount, parseAccountConfig, serializeAccountConfig } from './account-config.js';
import { StoreError } from './errors.js';

function storeCode(code: string, message?: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

// What oidc-agent 5.x writes (empty strings for unset fields, its own extra keys).
const OIDC_AGENT_5 = {
  name: 'wlcg',
  client_name: 'oidc-agent:wlcg-host',
  issuer_url: 'https://wlcg.cloud.cnaf.infn.it/',
  mytoken_url: '',
  config_endpoint: 'https://wlcg.cloud.cnaf.infn.it/.well-known/openid-configuration',
  device_authorization_endpoint: 'https://wlcg.cloud.cnaf.infn.it/devicecode',
  daeSetByUser: 0,
  client_id: 'cid',
  client_secret: 'csecret',
  refresh_token: 'rt',
  cert_path: '/etc/ssl/certs/ca-certificates.crt',
  auth_scope: 'openid profile offline_access storage.read:/',
  refresh_scope: 'openid profile offline_access storage.read:/',
  audience: '',
  oauth: 0,
  uses_pub_client: 0,
  mytoken_profile: { restrictions: [{ exp: 3600 }] },
  redirect_uris: ['http://localhost:8080', 'http://localhost:4242'],
  username: '',
  password: '',
};

describe('account config', () => {
  it('reads oidc-agent 5.x JSON and keeps unknown keys on round trip', () => {
    const cfg = parseAccountConfig(JSON.stringify(OIDC_AGENT_5));
    assert.equal(cfg.issuer_url, 'https://wlcg.cloud.cnaf.infn.it/');
    assert.equal(cfg.client_secret, 'csecret');
    assert.deepEqual(cfg.redirect_uris, ['http://localhost:8080', 'http://localhost:4242']);
    assert.deepEqual(cfg.extra, {
      daeSetByUser: 0,
      oauth: 0,
      uses_pub_client: 0,
      mytoken_profile: { restrictions: [{ exp: 3600 }] },
    });
    const back = JSON.parse(serializeAccountConfig(cfg)) as Record<string, unknown>;
    assert.deepEqual(back, { ...OIDC_AGENT_5, scope: OIDC_AGENT_5.auth_scope });
  });

  it('reads oidc-agent 4.x JSON: legacy `scope` feeds both scope fields, `issuer` feeds issuer_url', () => {
    const cfg = parseAccountConfig({ name: 'old', issuer: 'https://op.example/', client_id: 'c', scope: 'openid email' });
    assert.equal(cfg.issuer_url, 'https://op.example/');
    assert.equal(cfg.auth_scope, 'openid email');
    assert.equal(cfg.refresh_scope, 'openid email');
    assert.deepEqual(cfg.extra, {});
    const back = JSON.parse(serializeAccountConfig(cfg)) as Record<string, unknown>;
    assert.equal(back.issuer_url, 'https://op.example/');
    assert.equal(back.scope, 'openid email');
    assert.equal(back.auth_scope, 'openid email');
    assert.equal('issuer' in back, false);
  });

  it('prefers the 5.x keys over legacy ones when both are present', () => {
    const cfg = parseAccountConfig({ issuer_url: 'https://a/', issuer: 'https://b/', auth_scope: 'openid', scope: 'x y' });
    assert.equal(cfg.issuer_url, 'https://a/');
    assert.equal(cfg.auth_scope, 'openid');
    assert.equal(cfg.refresh_scope, undefined);
  });

  it('round-trips scopes stably (the written `scope` does not become a refresh_scope)', () => {
    const cfg = parseAccountConfig({ issuer_url: 'https://a/', auth_scope: 'openid email' });
    const again = parseAccountConfig(serializeAccountConfig(cfg));
    assert.deepEqual(again, cfg);
  });

  it('preserves token_agent and registration fields', () => {
    const input = {
      issuer_url: 'https://op/',
      registration_client_uri: 'https://op/reg/1',
      registration_access_token: 'rat',
      token_agent: { audience_mode: 'resource', nested: { a: [1, 2] } },
    };
    const back = JSON.parse(serializeAccountConfig(parseAccountConfig(input))) as Record<string, unknown>;
    assert.deepEqual(back.token_agent, input.token_agent);
    assert.equal(back.registration_client_uri, 'https://op/reg/1');
    assert.equal(back.registration_access_token, 'rat');
  });

  it('never writes a password, even if one was read', () => {
    const cfg = parseAccountConfig({ issuer_url: 'https://op/', username: 'alice', password: 'op-password' });
    assert.equal(cfg.password, 'op-password');
    const out = serializeAccountConfig(cfg);
    assert.ok(!out.includes('op-password'));
    assert.equal((JSON.parse(out) as { password: string }).password, '');
  });

  it('treats null as absent', () => {
    const cfg = parseAccountConfig({ issuer_url: 'https://op/', client_secret: null, redirect_uris: null, token_agent: null });
    assert.equal(cfg.client_secret, undefined);
    assert.equal(cfg.redirect_uris, undefined);
    assert.equal(cfg.token_agent, undefined);
  });

  it('keeps a "__proto__" key as data, without touching prototypes', () => {
    const json = '{"issuer_url":"https://op/","__proto__":{"polluted":true}}';
    const cfg = parseAccountConfig(json);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(cfg.extra), Object.prototype);
    assert.deepEqual(Object.keys(cfg.extra), ['__proto__']);
    const back = serializeAccountConfig(cfg);
    assert.match(back, /"__proto__":\{"polluted":true\}/);
  });

  it('names the bad field', () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      ['[]', /must be a JSON object/],
      [null, /must be a JSON object/],
      [{}, /"issuer_url" is missing/],
      [{ issuer_url: '' }, /"issuer_url" is missing/],
      [{ issuer_url: 42 }, /"issuer_url" must be a string/],
      [{ issuer_url: 'https://op/', client_id: 7 }, /"client_id" must be a string/],
      [{ issuer_url: 'https://op/', refresh_token: {} }, /"refresh_token" must be a string/],
      [{ issuer_url: 'https://op/', scope: ['openid'] }, /"scope" must be a string/],
      [{ issuer_url: 'https://op/', redirect_uris: 'http://localhost' }, /"redirect_uris" must be an array of strings/],
      [{ issuer_url: 'https://op/', redirect_uris: ['ok', 1] }, /"redirect_uris" must be an array of strings/],
      [{ issuer_url: 'https://op/', token_agent: [] }, /"token_agent" must be an object/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => parseAccountConfig(input), storeCode('STORE_INVALID_CONFIG', message), String(message));
    }
  });

  it('does not quote the JSON text (it holds secrets) in a parse error', () => {
    const err = (() => {
      try {
        parseAccountConfig('{"refresh_token":"SECRET-RT" oops}');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof StoreError);
    assert.ok(!err.message.includes('SECRET'));
    assert.equal(err.cause, undefined);
  });

  it('assertUsableAccount requires issuer, client id and refresh token', () => {
    const base = parseAccountConfig({ issuer_url: 'https://op/', client_id: 'c', refresh_token: 'rt' });
    assertUsableAccount(base);
    assert.throws(() => assertUsableAccount({ ...base, refresh_token: '' }), storeCode('STORE_ACCOUNT_INCOMPLETE', /refresh_token/));
    assert.throws(() => assertUsableAccount({ ...base, refresh_token: undefined }), storeCode('STORE_ACCOUNT_INCOMPLETE'));
    assert.throws(() => assertUsableAccount({ ...base, client_id: undefined }), storeCode('STORE_ACCOUNT_INCOMPLETE', /client_id/));
  });

  it('serialize refuses a non-config with TypeError', () => {
    assert.throws(() => serializeAccountConfig(null as never), TypeError);
    assert.throws(() => serializeAccountConfig({ extra: {} } as never), TypeError);
  });
});

describe('issuer_url in the file (oidc-agent builds the discovery URL as issuer_url + ".well-known/…")', () => {
  it('is written slash-terminated; the exact issuer comes back on parse', () => {
    const text = serializeAccountConfig(parseAccountConfig({ name: 'a', issuer_url: 'http://127.0.0.1:9000', client_id: 'c' }));
    const raw = JSON.parse(text) as Record<string, unknown>;
    assert.equal(raw['issuer_url'], 'http://127.0.0.1:9000/');
    assert.deepEqual(raw['token_agent'], { issuer: 'http://127.0.0.1:9000' });
    const back = parseAccountConfig(text);
    assert.equal(back.issuer_url, 'http://127.0.0.1:9000');
    assert.equal(back.token_agent, undefined);
    assert.equal(JSON.parse(serializeAccountConfig(back))['issuer_url'], 'http://127.0.0.1:9000/');
  });
  it('keeps a slash-terminated issuer as it is, and ignores a token_agent.issuer that does not match', () => {
    const raw = JSON.parse(serializeAccountConfig(parseAccountConfig({ issuer_url: 'https://op.example/', client_id: 'c' }))) as Record<string, unknown>;
    assert.equal(raw['issuer_url'], 'https://op.example/');
    assert.equal(raw['token_agent'], undefined);
    const other = parseAccountConfig({ issuer_url: 'https://b.example/', token_agent: { issuer: 'https://a.example' } });
    assert.equal(other.issuer_url, 'https://b.example/');
  });
});
