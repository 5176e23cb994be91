import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canOpenBrowser } from './browser.js';
import { createProgram, defaultFlow } from './program.js';
import { formatLeft } from './progress.js';

describe('token-gen: the default flow', () => {
  const cases: [string, Record<string, unknown>, NodeJS.ProcessEnv, string][] = [
    ['--flow wins', { flow: 'device' }, { DISPLAY: ':0' }, 'device'],
    ['a refresh token to import', { rtEnv: true }, { DISPLAY: ':0' }, 'refresh'],
    ['a user name', { username: 'alice' }, {}, 'password'],
    ['X display: the browser', {}, { DISPLAY: ':0' }, 'code'],
    ['Wayland: the browser', {}, { WAYLAND_DISPLAY: 'wayland-0' }, 'code'],
    ['no display (ssh to a login node): device', {}, {}, 'device'],
  ];
  for (const [what, o, env, flow] of cases) {
    it(what, () => assert.equal(defaultFlow(o, env), flow));
  }
  it('macOS and Windows always have a browser', () => {
    assert.equal(canOpenBrowser({}, 'darwin'), true);
    assert.equal(canOpenBrowser({}, 'win32'), true);
    assert.equal(canOpenBrowser({}, 'linux'), false);
  });
  it('countdown format', () => {
    assert.equal(formatLeft(300), '5:00');
    assert.equal(formatLeft(59.2), '1:00');
    assert.equal(formatLeft(-3), '0:00');
  });
});

describe('token-gen: oidc-gen spellings', () => {
  const parse = (args: string[]): Record<string, unknown> | undefined => {
    let out: Record<string, unknown> | undefined;
    const p = createProgram((o) => (out = o as unknown as Record<string, unknown>))
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: () => {} });
    p.parse(['node', 'token-gen', ...args]);
    return out;
  };
  it('--iss, --op-username, --scope-max/--scope-all mean --issuer, --username, --scope max', () => {
    const a = parse(['x', '--iss', 'https://op.example/', '--flow', 'password', '--op-username', 'alice', '--scope-max']);
    const b = parse(['x', '--issuer', 'https://op.example/', '--flow', 'password', '--username', 'alice', '--scope', 'max']);
    assert.deepEqual(a, b);
    assert.deepEqual(parse(['x', '--iss', 'https://op.example/', '--scope-all']), parse(['x', '--issuer', 'https://op.example/', '--scope', 'max']));
  });
});
