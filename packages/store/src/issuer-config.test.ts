import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StoreError } from './errors.js';
import { BUNDLED_ISSUERS, findIssuer, loadIssuerConfig, parseIssuerConfig } from './issuer-config.js';

const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'ta-issuers-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** An oidc-agent 5 user issuer.config with a public client and default accounts. */
const USER_FILE = `[
  {
    "issuer": "https://wlcg.cloud.cnaf.infn.it/",
    "register": "https://wlcg.cloud.cnaf.infn.it/manage/dev/dynreg",
    "pubclient": {
      "client_id": "pub-wlcg",
      "scope": "openid profile offline_access storage.read:/",
      "flow": ["code", "device"]
    },
    "legacy_aud_mode": true,
    "default_account": "wlcg",
    "accounts": ["wlcg", "wlcg-prod"]
  },
  { "issuer_url": "https://op.example.org", "pubclient": { "client_id": "c", "client_secret": "s", "flows": "device" } }
]`;

describe('parseIssuerConfig', () => {
  it('reads oidc-agent 5 entries: pubclient, default account, accounts, legacy_aud_mode', () => {
    const [wlcg, other] = parseIssuerConfig(USER_FILE, '/home/u/.config/oidc-agent/issuer.config');
    assert.equal(wlcg!.issuer, 'https://wlcg.cloud.cnaf.infn.it/');
    assert.deepEqual(wlcg!.pubclient, { client_id: 'pub-wlcg', scope: 'openid profile offline_access storage.read:/', flows: ['code', 'device'] });
    assert.equal(wlcg!.default_account, 'wlcg');
    assert.deepEqual(wlcg!.accounts, ['wlcg', 'wlcg-prod']);
    assert.equal(wlcg!.legacy_aud_mode, true);
    assert.equal(wlcg!.register, 'https://wlcg.cloud.cnaf.infn.it/manage/dev/dynreg');
    assert.equal(other!.issuer, 'https://op.example.org');
    assert.deepEqual(other!.pubclient, { client_id: 'c', client_secret: 's', flows: ['device'] });
  });

  it('reads a single object (issuer.config.d files) and whole-line comments', () => {
    const entries = parseIssuerConfig('# KIT\n{ "issuer": "https://oidc.scc.kit.edu/auth/realms/kit", "pubclient": { "client_id": "k" }, "pw-store": true }\n', 'kit');
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.pubclient?.client_id, 'k');
  });

  it("reads oidc-agent 4's line format", () => {
    const entries = parseIssuerConfig('https://a.example/ https://a.example/reg\nhttps://b.example/  b@example.org\n\n', '/etc/oidc-agent/issuer.config');
    assert.deepEqual(
      entries.map((e) => [e.issuer, e.register]),
      [
        ['https://a.example/', 'https://a.example/reg'],
        ['https://b.example/', 'b@example.org'],
      ],
    );
  });

  const malformed: [string, string][] = [
    ['[{"issuer": "https://a.example", "pubclient": {"client_id": 7}}]', '/x/issuer.config: "[0].pubclient.client_id" must be a string'],
    ['[{"issuer": "https://a.example"}, {"pubclient": {"client_id": "x"}}]', '/x/issuer.config: "[1].issuer" is missing'],
    ['[{"issuer": "https://a.example", "pubclient": {}}]', '/x/issuer.config: "[0].pubclient.client_id" is missing'],
    ['[{"issuer": "https://a.example", "accounts": "a"}, {"issuer": "https://b.example", "accounts": [1]}]', '/x/issuer.config: "[1].accounts[0]" must be a string'],
    ['{"issuer": "not a url"}', '/x/issuer.config: "$.issuer" must be a URL'],
    ['[{"issuer": "https://a.example", "legacy_aud_mode": "yes"}]', '/x/issuer.config: "[0].legacy_aud_mode" must be true or false'],
    ['[1]', '/x/issuer.config: "[0]" must be an object'],
  ];
  for (const [text, message] of malformed) {
    it(`malformed: ${message}`, () => {
      assert.throws(
        () => parseIssuerConfig(text, '/x/issuer.config'),
        (e: unknown) => e instanceof StoreError && e.code === 'STORE_INVALID_ISSUER_CONFIG' && e.message === message && !e.message.includes('\n'),
      );
    });
  }

  it('broken JSON names the file in one line', () => {
    assert.throws(() => parseIssuerConfig('[{"issuer": ', '/x/issuer.config'), /^StoreError: \/x\/issuer\.config: not valid JSON \([^\n]*\)$/);
  });
});

describe('loadIssuerConfig', () => {
  it('merges bundled, system (.d then file) and user (.d then file) in rising priority', async () => {
    const system = tree({
      'issuer.config.d/wlcg': '{"issuer": "https://wlcg.cloud.cnaf.infn.it/", "pubclient": {"client_id": "system-pub"}}',
      'issuer.config': 'https://legacy.example/ https://legacy.example/reg',
    });
    const user = tree({ 'issuer.config': USER_FILE, 'issuer.config.d/extra': '[{"issuer": "https://extra.example"}]' });
    const entries = await loadIssuerConfig({ configDir: user, systemDir: system });
    const wlcg = findIssuer(entries, 'https://wlcg.cloud.cnaf.infn.it')!;
    assert.equal(wlcg.pubclient?.client_id, 'pub-wlcg', "the user's file wins");
    assert.equal(wlcg.name, 'WLCG IAM', 'the bundled name stays');
    assert.equal(wlcg.default_account, 'wlcg');
    assert.equal(wlcg.source, join(user, 'issuer.config'));
    assert.ok(findIssuer(entries, 'https://legacy.example'));
    assert.ok(findIssuer(entries, 'https://extra.example/'));
    assert.ok(findIssuer(entries, 'https://cilogon.org'));
    assert.equal(entries.length, BUNDLED_ISSUERS.length + 3);
  });

  it('a malformed user file fails with its path', async () => {
    const user = tree({ 'issuer.config': '[{"issuer": "https://a.example", "pubclient": {"client_id": false}}]' });
    await assert.rejects(loadIssuerConfig({ configDir: user, systemDir: '/nonexistent' }), {
      message: `${join(user, 'issuer.config')}: "[0].pubclient.client_id" must be a string`,
    });
  });
});
