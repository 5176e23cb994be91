import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTokenFile, isBearerToken, trimToken } from './bt-discovery.js';

test('the default token file: BEARER_TOKEN_FILE (relative to cwd), else an existing XDG_RUNTIME_DIR, else /tmp', () => {
  const xdg = mkdtempSync(join(tmpdir(), 'ta-xdg-'));
  try {
    assert.equal(defaultTokenFile({ BEARER_TOKEN_FILE: '/a/b', XDG_RUNTIME_DIR: xdg }, 1000), '/a/b');
    assert.equal(defaultTokenFile({ BEARER_TOKEN_FILE: 'rel/t' }, 1000, '/home/u'), '/home/u/rel/t');
    assert.equal(defaultTokenFile({ BEARER_TOKEN_FILE: '', XDG_RUNTIME_DIR: xdg }, 1000), join(xdg, 'bt_u1000'));
    assert.equal(defaultTokenFile({ XDG_RUNTIME_DIR: join(xdg, 'missing') }, 1000), '/tmp/bt_u1000');
    assert.equal(defaultTokenFile({ XDG_RUNTIME_DIR: 'relative' }, 7), '/tmp/bt_u7');
    assert.equal(defaultTokenFile({}, 0), '/tmp/bt_u0');
  } finally {
    rmSync(xdg, { recursive: true });
  }
});

test('C99 whitespace is trimmed, nothing else; b64token characters only', () => {
  assert.equal(trimToken(' \f\n\r\t\vabc.def \n\v'), 'abc.def');
  assert.equal(trimToken('\u00a0abc'), '\u00a0abc', 'not C99 isspace');
  assert.ok(isBearerToken('eyJ.eyJ.sig-_~+/=='));
  assert.ok(!isBearerToken('a b'));
  assert.ok(!isBearerToken('a\nb'));
  assert.ok(!isBearerToken(''));
});
