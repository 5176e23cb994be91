import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import {
  ACCOUNT_FILE_VERSION_LINE,
  decryptAccountFile,
  encryptAccountFile,
  encryptWithKey,
  fileKeyMatches,
  parseFileKey,
  serializeFileKey,
} from './account-file.js';
import type { FileKey } from './account-file.js';
import { StoreError } from './errors.js';
import { loadSodium } from './sodium.js';
import type { Sodium } from './sodium.js';

const PASSWORD = 'correct horse battery staple ✓';
const PLAINTEXT = JSON.stringify({ name: 'wlcg', issuer_url: 'https://op.example/', refresh_token: 'rt-Ω-1' });

function storeCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

function setLine(text: string, index: number, value: string): string {
  const lines = text.split('\n');
  lines[index] = value;
  return lines.join('\n');
}

// Flips one bit of the decoded bytes of a base64 line, keeping it valid base64 of the same length.
function flipByte(line: string, at: number): string {
  const bytes = Buffer.from(line, 'base64');
  bytes[at] = (bytes[at] as number) ^ 0x01;
  return bytes.toString('base64');
}

describe('account file (oidc-agent ≥ 2.1 format)', () => {
  let sodium: Sodium;
  let text: string;
  let key: FileKey;

  before(async () => {
    sodium = await loadSodium();
    ({ text, key } = await encryptAccountFile(PLAINTEXT, PASSWORD));
  });

  it('writes seven lines in the documented layout, no trailing newline', () => {
    const lines = text.split('\n');
    assert.equal(lines.length, 7);
    assert.ok(!text.endsWith('\n'));
    const plainBytes = Buffer.byteLength(PLAINTEXT, 'utf8');
    assert.equal(lines[0], String(plainBytes + 16));
    assert.equal(Buffer.from(lines[1] as string, 'base64').length, 24);
    assert.equal(Buffer.from(lines[2] as string, 'base64').length, 16);
    assert.equal(lines[3], '24:16:16:32:1:2:67108864:2');
    assert.equal(Buffer.from(lines[4] as string, 'base64').length, plainBytes + 16);
    assert.equal(Buffer.from(lines[5] as string, 'base64').length, 32);
    assert.equal(lines[6], 'Generated using version: 5.3.3');
    assert.equal(lines[6], ACCOUNT_FILE_VERSION_LINE);
    assert.equal(key.derived.length, 64);
    assert.equal(key.salt.length, 16);
    assert.deepEqual([key.opslimit, key.memlimit], [2, 67108864]);
  });

  it('round-trips with the right password and returns the same key material', async () => {
    const out = await decryptAccountFile(text, PASSWORD);
    assert.equal(out.plaintext, PLAINTEXT);
    assert.deepEqual(out.key.salt, key.salt);
    assert.deepEqual(out.key.derived, key.derived);
  });

  it('tolerates one trailing newline and CRLF line ends', async () => {
    const crlf = text.split('\n').join('\r\n') + '\r\n';
    assert.equal((await decryptAccountFile(crlf, PASSWORD)).plaintext, PLAINTEXT);
    assert.equal((await decryptAccountFile(text + '\n', PASSWORD)).plaintext, PLAINTEXT);
  });

  it('tells a wrong password apart (STORE_WRONG_PASSWORD)', async () => {
    await assert.rejects(decryptAccountFile(text, 'correct horse battery staple'), storeCode('STORE_WRONG_PASSWORD'));
  });

  it('reports a flipped ciphertext byte as corruption, not a wrong password', async () => {
    const tampered = setLine(text, 4, flipByte(text.split('\n')[4] as string, 5));
    await assert.rejects(decryptAccountFile(tampered, PASSWORD), storeCode('STORE_CORRUPT_FILE'));
  });

  it('encryptWithKey output opens with the original password, under a fresh nonce', async () => {
    const rotated = PLAINTEXT.replace('rt-Ω-1', 'rt-rotated-2');
    const again = await encryptWithKey(rotated, key);
    const [a, b] = [text.split('\n'), again.split('\n')];
    assert.notEqual(b[1], a[1], 'nonce must be fresh');
    assert.equal(b[2], a[2], 'salt is kept');
    assert.equal(b[5], a[5], 'hash key is kept');
    assert.equal((await decryptAccountFile(again, PASSWORD)).plaintext, rotated);
  });

  it('a serialized key survives JSON and still encrypts for the same password', async () => {
    const wire = JSON.parse(JSON.stringify(serializeFileKey(key))) as unknown;
    const parsed = parseFileKey(wire);
    assert.deepEqual(parsed.derived, key.derived);
    assert.deepEqual(parsed.salt, key.salt);
    const again = await encryptWithKey('{"x":1}', parsed);
    // Decrypt by hand with the parsed key: no KDF needed for this check.
    const lines = again.split('\n');
    const opened = sodium.crypto_secretbox_open_easy(
      sodium.from_base64(lines[4] as string, sodium.base64_variants.ORIGINAL),
      sodium.from_base64(lines[1] as string, sodium.base64_variants.ORIGINAL),
      key.derived.subarray(0, 32),
    );
    assert.equal(sodium.to_string(opened), '{"x":1}');
  });

  it('fileKeyMatches: true for the file and its re-encryptions, false for another password or junk', async () => {
    assert.equal(fileKeyMatches(text, key), true);
    assert.equal(fileKeyMatches(await encryptWithKey('{"y":2}', key), key), true);
    const other = await encryptAccountFile(PLAINTEXT, 'another password');
    assert.equal(fileKeyMatches(other.text, key), false);
    assert.equal(fileKeyMatches(text, other.key), false);
    assert.equal(fileKeyMatches('not an account file', key), false);
    assert.equal(fileKeyMatches(setLine(text, 5, flipByte(text.split('\n')[5] as string, 0)), key), false);
  });

  it('parseFileKey rejects malformed keys with STORE_INVALID_KEY', () => {
    const good = serializeFileKey(key);
    const cases: unknown[] = [
      null,
      [],
      'x',
      { ...good, salt: undefined },
      { ...good, salt: Buffer.alloc(15).toString('base64') },
      { ...good, derived: Buffer.alloc(32).toString('base64') },
      { ...good, derived: good.derived.replace(/=*$/, '') + '!' },
      { ...good, derived: good.derived.slice(0, -4) + 'AAA' },
      { ...good, opslimit: '2' },
      { ...good, opslimit: 2.5 },
      { ...good, opslimit: 17 },
      { ...good, memlimit: 2 ** 31 },
      { ...good, memlimit: 0 },
    ];
    for (const c of cases) assert.throws(() => parseFileKey(c), storeCode('STORE_INVALID_KEY'), JSON.stringify(c));
  });

  it('refuses misuse with TypeError', async () => {
    await assert.rejects(encryptAccountFile(PLAINTEXT, 'a\0b'), TypeError);
    await assert.rejects(encryptWithKey('a\0b', key), TypeError);
    await assert.rejects(encryptWithKey('x', { ...key, derived: new Uint8Array(32) }), TypeError);
    await assert.rejects(encryptWithKey('x', { ...key, memlimit: 2 ** 40 }), TypeError);
    await assert.rejects(decryptAccountFile(42 as unknown as string, PASSWORD), TypeError);
  });

  describe('hostile files are refused before any key derivation', () => {
    // Every case here fails in parsing; none may reach the (slow) KDF or decryption.
    const cases: [string, (t: string) => string, string][] = [
      ['empty file', () => '', 'STORE_CORRUPT_FILE'],
      ['truncated to 6 lines', (t) => t.split('\n').slice(0, 6).join('\n'), 'STORE_CORRUPT_FILE'],
      ['truncated mid-line', (t) => t.slice(0, t.indexOf('\n', t.indexOf('24:16')) + 10), 'STORE_CORRUPT_FILE'],
      ['an extra line', (t) => t + '\nextra', 'STORE_CORRUPT_FILE'],
      ['two trailing newlines', (t) => t + '\n\n', 'STORE_CORRUPT_FILE'],
      ['length line not a number', (t) => setLine(t, 0, 'abc'), 'STORE_CORRUPT_FILE'],
      ['length line with sign', (t) => setLine(t, 0, '+' + t.split('\n')[0]), 'STORE_CORRUPT_FILE'],
      ['length line off by one', (t) => setLine(t, 0, String(Number(t.split('\n')[0]) + 1)), 'STORE_CORRUPT_FILE'],
      ['nonce not base64', (t) => setLine(t, 1, '!!!!' + (t.split('\n')[1] as string).slice(4)), 'STORE_CORRUPT_FILE'],
      ['nonce too short', (t) => setLine(t, 1, Buffer.alloc(23).toString('base64')), 'STORE_CORRUPT_FILE'],
      ['nonce unpadded', (t) => setLine(t, 1, Buffer.alloc(23).toString('base64').replace(/=+$/, '')), 'STORE_CORRUPT_FILE'],
      ['salt wrong size', (t) => setLine(t, 2, Buffer.alloc(32).toString('base64')), 'STORE_CORRUPT_FILE'],
      ['ciphertext with a space', (t) => setLine(t, 4, ' ' + t.split('\n')[4]), 'STORE_CORRUPT_FILE'],
      ['ciphertext url-safe alphabet', (t) => setLine(t, 4, '-_' + (t.split('\n')[4] as string).slice(2)), 'STORE_CORRUPT_FILE'],
      ['ciphertext shorter than a MAC', (t) => setLine(setLine(t, 4, 'AAAA'), 0, '3'), 'STORE_CORRUPT_FILE'],
      ['hash key wrong size', (t) => setLine(t, 5, Buffer.alloc(31).toString('base64')), 'STORE_CORRUPT_FILE'],
      ['params line garbage', (t) => setLine(t, 3, '24:16:16:32:1:2:67108864'), 'STORE_CORRUPT_FILE'],
      ['params line negative', (t) => setLine(t, 3, '24:16:16:32:1:-2:67108864:2'), 'STORE_CORRUPT_FILE'],
      ['unknown algorithm (Argon2i)', (t) => setLine(t, 3, '24:16:16:32:1:2:67108864:1'), 'STORE_UNSUPPORTED_FORMAT'],
      ['other key length', (t) => setLine(t, 3, '24:16:16:16:1:2:67108864:2'), 'STORE_UNSUPPORTED_FORMAT'],
      ['url-safe base64 variant', (t) => setLine(t, 3, '24:16:16:32:5:2:67108864:2'), 'STORE_UNSUPPORTED_FORMAT'],
      // These would take hours or gigabytes if run: the test would hang or crash, not pass.
      ['absurd opslimit', (t) => setLine(t, 3, '24:16:16:32:1:4000000000:67108864:2'), 'STORE_UNSUPPORTED_FORMAT'],
      ['opslimit just above cap', (t) => setLine(t, 3, '24:16:16:32:1:17:67108864:2'), 'STORE_UNSUPPORTED_FORMAT'],
      ['absurd memlimit (4 GiB)', (t) => setLine(t, 3, '24:16:16:32:1:2:4294967296:2'), 'STORE_UNSUPPORTED_FORMAT'],
      ['memlimit just above 1 GiB', (t) => setLine(t, 3, `24:16:16:32:1:2:${2 ** 30 + 1024}:2`), 'STORE_UNSUPPORTED_FORMAT'],
      ['opslimit zero', (t) => setLine(t, 3, '24:16:16:32:1:0:67108864:2'), 'STORE_UNSUPPORTED_FORMAT'],
      [
        'pre-2.1 hex format',
        () => `56:${'ab'.repeat(16)}:${'cd'.repeat(24)}:${'ef'.repeat(56)}`,
        'STORE_UNSUPPORTED_FORMAT',
      ],
      [
        'pre-2.1 hex format with version line',
        () => `56:${'ab'.repeat(16)}:${'cd'.repeat(24)}:${'ef'.repeat(56)}\nGenerated using version: 2.0.3`,
        'STORE_UNSUPPORTED_FORMAT',
      ],
      [
        'gpg armour',
        () => '-----BEGIN PGP MESSAGE-----\n\nhQEMA0\n-----END PGP MESSAGE-----\nGenerated using version: 4.5.0',
        'STORE_UNSUPPORTED_FORMAT',
      ],
    ];
    for (const [title, mutate, code] of cases) {
      it(title, async () => {
        await assert.rejects(decryptAccountFile(mutate(text), PASSWORD), storeCode(code));
      });
    }

    it('names the format it refuses', async () => {
      await assert.rejects(decryptAccountFile(`56:${'ab'.repeat(16)}:cd:ef`, PASSWORD), /pre-2\.1 hex/);
      await assert.rejects(decryptAccountFile('-----BEGIN PGP MESSAGE-----\nx', PASSWORD), /gpg/);
    });

    it('never puts the password in an error message', async () => {
      const err = await decryptAccountFile(text, 'hunter2-SECRET').catch((e: unknown) => e);
      assert.ok(err instanceof StoreError);
      assert.ok(!err.message.includes('hunter2'));
      assert.ok(!JSON.stringify(err).includes('hunter2'));
    });
  });

  describe('known answer, independent of our encryptor', () => {
    it('reads a file assembled by hand from libsodium primitives', async () => {
      const salt = Uint8Array.from({ length: 16 }, (_, i) => i);
      const nonce = Uint8Array.from({ length: 24 }, (_, i) => 0xa0 + i);
      const password = 'known-answer';
      const plaintext = '{"name":"kat","issuer_url":"https://kat.example/","scope":"openid"}';
      const derived = sodium.crypto_pwhash(
        64,
        password,
        salt,
        2,
        67108864,
        sodium.crypto_pwhash_ALG_ARGON2ID13,
      );
      const cipher = sodium.crypto_secretbox_easy(sodium.from_string(plaintext), nonce, derived.subarray(0, 32));
      const b64 = (b: Uint8Array): string => sodium.to_base64(b, sodium.base64_variants.ORIGINAL);
      const file = [
        String(cipher.length),
        b64(nonce),
        b64(salt),
        '24:16:16:32:1:2:67108864:2',
        b64(cipher),
        b64(derived.subarray(32)),
        'Generated using version: 4.2.6',
      ].join('\n');
      const out = await decryptAccountFile(file, password);
      assert.equal(out.plaintext, plaintext);
      assert.deepEqual(out.key.derived, derived);
      // Pinned: Argon2id(known-answer, 00..0f) must not drift between libsodium builds.
      assert.equal(b64(derived.subarray(32)), KNOWN_HASH_KEY);
    });

    it('our output decrypts by hand with libsodium primitives', () => {
      const lines = text.split('\n');
      const from = (s: string): Uint8Array => sodium.from_base64(s, sodium.base64_variants.ORIGINAL);
      const derived = sodium.crypto_pwhash(64, PASSWORD, from(lines[2] as string), 2, 67108864, 2);
      assert.ok(sodium.memcmp(derived.subarray(32), from(lines[5] as string)), 'hash key');
      const opened = sodium.crypto_secretbox_open_easy(from(lines[4] as string), from(lines[1] as string), derived.subarray(0, 32));
      assert.equal(sodium.to_string(opened), PLAINTEXT);
    });
  });

  // The native C libsodium oidc-agent links against, driven from python3 through ctypes
  // exactly as crypt.c does it: a second, non-WASM implementation of the same format.
  describe('against native libsodium (as oidc-agent uses it)', { skip: nativeSkipReason() }, () => {
    it('native-written file decrypts here', async () => {
      const plaintext = '{"name":"native","refresh_token":"r€fresh"}';
      const file = runNative({ op: 'encrypt', password: 'nat-pw', plaintext });
      assert.equal(file.split('\n').length, 7);
      assert.equal((await decryptAccountFile(file, 'nat-pw')).plaintext, plaintext);
    });

    it('our file decrypts natively', () => {
      assert.equal(runNative({ op: 'decrypt', password: PASSWORD, text }), PLAINTEXT);
    });
  });
});

// Computed with native libsodium (python3 ctypes): crypto_pwhash(64, "known-answer", 00..0f, 2, 64 MiB, Argon2id13)[32:].
const KNOWN_HASH_KEY = 'tiFc92x/u2QAwEbPV6PhEe6DpHvctEJieGucawJVkfc=';

const NATIVE_SCRIPT = String.raw`
import base64, ctypes, ctypes.util, json, os, sys
name = ctypes.util.find_library('sodium') or 'libsodium.so.23'
lib = ctypes.CDLL(name)
if lib.sodium_init() < 0: sys.exit(3)
U, S, ULL, SZ, I = ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_size_t, ctypes.c_int
lib.crypto_pwhash.argtypes = [U, ULL, S, ULL, U, ULL, SZ, I]
lib.crypto_secretbox_easy.argtypes = [U, U, ULL, U, U]
lib.crypto_secretbox_open_easy.argtypes = [U, U, ULL, U, U]
req = json.load(sys.stdin)
pw = req['password'].encode()
def derive(salt):
    out = ctypes.create_string_buffer(64)
    assert lib.crypto_pwhash(out, 64, pw, len(pw), salt, 2, 67108864, 2) == 0
    return out.raw
b64 = lambda b: base64.b64encode(b).decode()
if req['op'] == 'encrypt':
    m = req['plaintext'].encode()
    salt, nonce = os.urandom(16), os.urandom(24)
    key = derive(salt)
    c = ctypes.create_string_buffer(len(m) + 16)
    assert lib.crypto_secretbox_easy(c, m, len(m), nonce, key[:32]) == 0
    sys.stdout.write('%d\n%s\n%s\n%d:%d:%d:%d:%d:%d:%d:%d\n%s\n%s\n%s' % (
        len(m) + 16, b64(nonce), b64(salt), 24, 16, 16, 32, 1, 2, 67108864, 2,
        b64(c.raw), b64(key[32:]), 'Generated using version: 5.3.3'))
else:
    lines = req['text'].split('\n')
    key = derive(base64.b64decode(lines[2]))
    assert key[32:] == base64.b64decode(lines[5]), 'hash key'
    c = base64.b64decode(lines[4])
    m = ctypes.create_string_buffer(len(c) - 16)
    assert lib.crypto_secretbox_open_easy(m, c, len(c), base64.b64decode(lines[1]), key[:32]) == 0, 'mac'
    sys.stdout.write(m.raw.decode())
`;

function nativeSkipReason(): string | false {
  const r = spawnSync('python3', ['-c', "import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library('sodium') or 'libsodium.so.23')"], {
    stdio: 'ignore',
  });
  return r.status === 0 ? false : 'python3 with a native libsodium is not available';
}

function runNative(req: Record<string, string>): string {
  const r = spawnSync('python3', ['-c', NATIVE_SCRIPT], { input: JSON.stringify(req), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}
