import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentConfigSettings, loadAgentConfig, mergePatch, parseAgentConfigText } from './agent-config.js';

describe('oidc-agent config file', () => {
  it('merge-patch (RFC 7386): objects merge, null deletes, arrays and scalars replace', () => {
    assert.deepEqual(mergePatch({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: null, e: 3 }, d: [2] }), { a: { b: 1, e: 3 }, d: [2] });
    assert.deepEqual(mergePatch({ a: 1 }, 'x'), 'x');
  });
  it('whole-line # comments are dropped', () => {
    assert.deepEqual(parseAgentConfigText('# c\n{\n  # x\n  "a": "#not a comment"\n}\n', 'f'), { a: '#not a comment' });
    assert.throws(() => parseAgentConfigText('{ "a": 1 # trailing }', '/x/config'), /\/x\/config: not valid JSON/);
  });
  it('applies the settings we support and names every other one', () => {
    const r = agentConfigSettings({
      'oidc-agent': { lifetime: 600, confirm: true, always_allow_id_token: true, autoload: true, group: 'x', webserver: false },
      'oidc-token': { 'default-min-lifetime': 60 },
    });
    assert.deepEqual(r.settings, { lifetime: 600, confirm: true, alwaysAllowIdToken: true, autoload: true });
    assert.deepEqual(agentConfigSettings({ 'oidc-agent': { autoload: false } }), { settings: { autoload: false }, unsupported: [] });
    assert.deepEqual(agentConfigSettings({ 'oidc-agent': { autoload: 'no' } }).unsupported, ['oidc-agent.autoload']);
    assert.deepEqual(r.unsupported, ['oidc-agent.group', 'oidc-agent.webserver', 'oidc-token.default-min-lifetime']);
    assert.deepEqual(agentConfigSettings({ 'oidc-agent': { lifetime: 'long' } }).unsupported, ['oidc-agent.lifetime']);
  });
  it('system then user, the user winning; a malformed file is an error, the other still counts', () => {
    const root = mkdtempSync(join(tmpdir(), 'ta-cfg-'));
    try {
      const sys = join(root, 'etc');
      const user = join(root, 'user');
      mkdirSync(sys);
      mkdirSync(user);
      writeFileSync(join(sys, 'config'), '# system\n{"oidc-agent": {"lifetime": 100, "confirm": true}}\n');
      writeFileSync(join(user, 'config'), '{"oidc-agent": {"lifetime": 200, "confirm": null}}\n');
      const r = loadAgentConfig({ configDir: user, systemDir: sys });
      assert.deepEqual(r.settings, { lifetime: 200 });
      assert.deepEqual(r.errors, []);
      assert.equal(r.files.length, 2);
      writeFileSync(join(user, 'config'), '{ broken');
      const bad = loadAgentConfig({ configDir: user, systemDir: sys });
      assert.deepEqual(bad.settings, { lifetime: 100, confirm: true });
      assert.equal(bad.errors.length, 1);
      assert.match(bad.errors[0]!, /user\/config: not valid JSON/);
      assert.deepEqual(loadAgentConfig({ configDir: join(root, 'none'), systemDir: join(root, 'none') }).settings, {});
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
