import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../errors.js';
import { removeTokenFile, writeTokenFile } from './safe-file.js';

const dir = mkdtempSync(join(tmpdir(), 'ta-btfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln';
/** uid of `nobody` on Debian; any uid that is not ours will do. */
const OTHER_UID = 65534;

function assertRoot(): void {
  assert.equal(process.geteuid?.(), 0, 'this test gives a file to another user (chown) and must run as root, as the test suite does');
}

test('writes the token alone on one line, mode 0600, and leaves no temp file', async () => {
  const path = join(dir, 'bt_u1');
  await writeTokenFile(path, TOKEN);
  assert.equal(readFileSync(path, 'utf8'), `${TOKEN}\n`);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  await writeTokenFile(path, `${TOKEN}x`);
  assert.equal(readFileSync(path, 'utf8'), `${TOKEN}x\n`);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.')), []);
});

test('a symlink as target is refused, and neither it nor the file it points to changes', async () => {
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  const link = join(dir, 'bt_link');
  symlinkSync(victim, link);
  await assert.rejects(writeTokenFile(link, TOKEN), (e: unknown) => e instanceof AgentError && /symbolic link/.test(e.message) && e.message.includes(link));
  assert.equal(readlinkSync(link), victim);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
});

test("a file of another user is refused, naming the path and the owner, and is left as it was", async () => {
  assertRoot();
  const path = join(dir, 'bt_foreign');
  writeFileSync(path, 'theirs\n', { mode: 0o644 });
  chownSync(path, OTHER_UID, OTHER_UID);
  await assert.rejects(writeTokenFile(path, TOKEN), (e: unknown) => e instanceof AgentError && e.message.includes(path) && e.message.includes(`uid ${OTHER_UID}`));
  assert.equal(readFileSync(path, 'utf8'), 'theirs\n');
  assert.equal(statSync(path).uid, OTHER_UID);
  assert.equal(await removeTokenFile(path), 'kept', 'removal leaves it alone too');
});

test('a missing directory is a clear error; a directory as target is refused', async () => {
  const path = join(dir, 'nope', 'bt_u1');
  await assert.rejects(writeTokenFile(path, TOKEN), (e: unknown) => e instanceof AgentError && e.message === `cannot write ${path}: the directory ${join(dir, 'nope')} does not exist`);
  mkdirSync(join(dir, 'adir'));
  await assert.rejects(writeTokenFile(join(dir, 'adir'), TOKEN), /not a regular file/);
});

test('a token that is not a bearer token (say, with a newline) is never written', async () => {
  const path = join(dir, 'bt_bad');
  await assert.rejects(writeTokenFile(path, 'abc\ndef'), AgentError);
  assert.throws(() => lstatSync(path), /ENOENT/);
});

test('removal takes back only our own file, and only while it holds what we wrote', async () => {
  const path = join(dir, 'bt_rm');
  await writeTokenFile(path, TOKEN);
  assert.equal(await removeTokenFile(path, 'something else\n'), 'kept');
  assert.equal(await removeTokenFile(path, `${TOKEN}\n`), 'removed');
  assert.equal(await removeTokenFile(path, `${TOKEN}\n`), 'absent');
  const target = join(dir, 'target');
  writeFileSync(target, `${TOKEN}\n`);
  symlinkSync(target, path);
  assert.equal(await removeTokenFile(path, `${TOKEN}\n`), 'kept', 'a symlink is not ours to remove');
  assert.equal(readFileSync(target, 'utf8'), `${TOKEN}\n`);
});
