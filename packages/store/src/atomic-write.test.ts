import assert from 'node:assert/strict';
import {
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFileAtomic } from './atomic-write.js';
import { StoreError } from './errors.js';

const isRoot = process.getuid?.() === 0;

function storeCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe('writeFileAtomic', () => {
  let root: string;
  let n = 0;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'store-atomic-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  const freshDir = (): string => {
    const dir = join(root, `d${n++}`);
    mkdirSync(dir);
    return dir;
  };

  it('creates a 0600 file and leaves no temp file behind', async () => {
    const dir = freshDir();
    await writeFileAtomic(join(dir, 'acct'), 'hello');
    assert.equal(readFileSync(join(dir, 'acct'), 'utf8'), 'hello');
    assert.equal(lstatSync(join(dir, 'acct')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['acct']);
  });

  it('replaces an existing file and tightens its mode', async () => {
    const dir = freshDir();
    const path = join(dir, 'acct');
    writeFileSync(path, 'old', { mode: 0o644 });
    await writeFileAtomic(path, new TextEncoder().encode('new'));
    assert.equal(readFileSync(path, 'utf8'), 'new');
    assert.equal(lstatSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['acct']);
  });

  it('applies an explicit mode exactly, regardless of the umask', async () => {
    const dir = freshDir();
    const old = process.umask(0o077);
    try {
      await writeFileAtomic(join(dir, 'f'), 'x', { mode: 0o640 });
    } finally {
      process.umask(old);
    }
    assert.equal(lstatSync(join(dir, 'f')).mode & 0o777, 0o640);
  });

  it('refuses to replace a symlink, and the link target is untouched', async () => {
    const dir = freshDir();
    const target = join(dir, 'target');
    writeFileSync(target, 'precious');
    symlinkSync(target, join(dir, 'acct'));
    await assert.rejects(writeFileAtomic(join(dir, 'acct'), 'evil'), storeCode('STORE_UNSAFE_PATH'));
    assert.equal(readFileSync(target, 'utf8'), 'precious');
    assert.ok(lstatSync(join(dir, 'acct')).isSymbolicLink());
    assert.deepEqual(readdirSync(dir).sort(), ['acct', 'target'], 'temp file removed');
  });

  it('refuses to replace a directory', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'acct'));
    await assert.rejects(writeFileAtomic(join(dir, 'acct'), 'x'), storeCode('STORE_UNSAFE_PATH'));
    assert.deepEqual(readdirSync(dir), ['acct']);
  });

  it("refuses to replace someone else's file", { skip: !isRoot && 'needs root to chown' }, async () => {
    const dir = freshDir();
    const path = join(dir, 'acct');
    writeFileSync(path, 'theirs');
    chownSync(path, 12345, 12345);
    await assert.rejects(writeFileAtomic(path, 'mine'), storeCode('STORE_UNSAFE_PATH'));
    assert.equal(readFileSync(path, 'utf8'), 'theirs');
  });

  it('with overwrite: false, refuses an existing file (STORE_EXISTS) and creates a new one', async () => {
    const dir = freshDir();
    const path = join(dir, 'acct');
    await writeFileAtomic(path, 'first', { overwrite: false });
    assert.equal(lstatSync(path).mode & 0o777, 0o600);
    await assert.rejects(writeFileAtomic(path, 'second', { overwrite: false }), storeCode('STORE_EXISTS'));
    assert.equal(readFileSync(path, 'utf8'), 'first');
    assert.deepEqual(readdirSync(dir), ['acct']);
  });

  it('fails cleanly when the directory is missing (STORE_IO, cause chained)', async () => {
    const err = await writeFileAtomic(join(root, 'missing-dir', 'acct'), 'x').catch((e: unknown) => e);
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'STORE_IO');
    assert.equal((err.cause as { code?: string }).code, 'ENOENT');
  });

  it('concurrent writers each land whole: the result is one of the inputs', async () => {
    const dir = freshDir();
    const path = join(dir, 'acct');
    const payloads = Array.from({ length: 8 }, (_, i) => `payload-${i}-`.repeat(5000));
    await Promise.all(payloads.map((p) => writeFileAtomic(path, p)));
    assert.ok(payloads.includes(readFileSync(path, 'utf8')));
    assert.deepEqual(readdirSync(dir), ['acct']);
  });
});
