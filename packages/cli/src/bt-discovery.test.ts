import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_TOKEN_FILE, defaultTokenFile, isBearerToken, ownedDiscoveryFiles, readTokenFile, trimToken } from './bt-discovery.js';

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

test("discovery files: another user's file is skipped and said, the user's own is found, in order", () => {
  // uid 4242 (no such user here): files made by this process belong to someone else for it.
  const uid = 4242;
  const xdg = mkdtempSync(join(tmpdir(), 'ta-xdg-'));
  try {
    writeFileSync(join(xdg, `mt_u${uid}`), 'planted');
    writeFileSync(join(xdg, `bt_u${uid}`), 'mine');
    const own = process.geteuid?.() === 0;
    if (own) chownSync(join(xdg, `bt_u${uid}`), uid, uid);
    const tried: string[] = [];
    const notes: string[] = [];
    const found = [...ownedDiscoveryFiles({ XDG_RUNTIME_DIR: xdg }, uid, [`mt_u${uid}`, `bt_u${uid}`], tried, (n) => notes.push(n))];
    assert.deepEqual(found, own ? [join(xdg, `bt_u${uid}`)] : []);
    assert.match(notes[0] ?? '', new RegExp(`^ignoring ${join(xdg, `mt_u${uid}`)}: it belongs to uid \\d+, not to you$`));
    assert.deepEqual(tried.slice(0, 2), [join(xdg, `mt_u${uid}`), join(xdg, `bt_u${uid}`)]);
    assert.deepEqual(tried.slice(2), [`/tmp/mt_u${uid}`, `/tmp/bt_u${uid}`], 'then /tmp');
  } finally {
    rmSync(xdg, { recursive: true });
  }
});

test('a token file must be a regular file of at most 64 KiB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ta-tf-'));
  try {
    writeFileSync(join(dir, 'ok'), 'tok\n');
    assert.equal(readTokenFile(join(dir, 'ok')), 'tok\n');
    writeFileSync(join(dir, 'big'), 'x'.repeat(MAX_TOKEN_FILE + 1));
    assert.throws(() => readTokenFile(join(dir, 'big'), '--MT-file'), /^CliError: --MT-file: .*big is too large for a token file/);
    assert.throws(() => readTokenFile(dir), /is not a regular file/);
    assert.throws(() => readTokenFile(join(dir, 'none')), { code: 'ENOENT' });
    assert.throws(() => readTokenFile(join(dir, 'none'), 'BEARER_TOKEN_FILE'), /BEARER_TOKEN_FILE: cannot read .*none \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
