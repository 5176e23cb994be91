import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAccountConfig } from './account-config.js';
import {
  accountExists,
  deleteAccountFile,
  isValidAccountName,
  listAccounts,
  loadAccount,
  readAccountFile,
  saveAccount,
  validateAccountName,
  writeAccountFile,
} from './accounts.js';
import { StoreError } from './errors.js';

function storeCode(code: string, message?: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('accounts directory', () => {
  let root: string;
  let n = 0;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'store-accounts-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  const freshDir = (): string => {
    const dir = join(root, `d${n++}`);
    mkdirSync(dir, { mode: 0o700 });
    return dir;
  };

  describe('validateAccountName', () => {
    it('accepts ordinary short names', () => {
      for (const name of ['wlcg', 'egi-checkin', 'my_account.2', 'ümlaut', 'a'.repeat(200), 'x.configured', 'config2']) {
        validateAccountName(name);
        assert.ok(isValidAccountName(name), name);
      }
    });

    it('refuses names that cannot or must not be account files', () => {
      const cases: [string, RegExp][] = [
        ['', /empty/],
        ['.', /not a file name/],
        ['..', /not a file name/],
        ['.hidden', /starts with "."/],
        ['a/b', /"\/"/],
        ['../escape', /starts with "."/],
        ['nul\0byte', /control character/],
        ['new\nline', /control character/],
        ['tab\t', /control character/],
        ['del\x7f', /control character/],
        ['a'.repeat(201), /longer than 200 bytes/],
        ['é'.repeat(101), /longer than 200 bytes/],
        ['config', /reserves/],
        ['issuer.config', /reserves/],
        ['oidc-agent.stats', /reserves/],
        ['agent.log', /reserves/],
        ['op.example_2020-01-01_cid.clientconfig', /reserves/],
        ['op.example_2020-01-01_cid.clientconfig3', /reserves/],
        ['oidc-agent-service.options', /reserves/],
      ];
      for (const [name, reason] of cases) {
        assert.throws(() => validateAccountName(name), storeCode('STORE_INVALID_NAME', reason), JSON.stringify(name));
        assert.equal(isValidAccountName(name), false);
      }
    });

    it('does not echo control characters raw in the message', () => {
      assert.throws(
        () => validateAccountName('evil\x1b[2Jname'),
        (err: unknown) => err instanceof StoreError && !err.message.includes('\x1b'),
      );
    });

    it('throws TypeError for a non-string', () => {
      assert.throws(() => validateAccountName(7 as unknown as string), TypeError);
    });

    it('every file operation validates the name first', async () => {
      const dir = freshDir();
      await assert.rejects(readAccountFile(dir, '../x'), storeCode('STORE_INVALID_NAME'));
      await assert.rejects(writeAccountFile(dir, 'a/b', 'x'), storeCode('STORE_INVALID_NAME'));
      await assert.rejects(deleteAccountFile(dir, '..'), storeCode('STORE_INVALID_NAME'));
      await assert.rejects(accountExists(dir, ''), storeCode('STORE_INVALID_NAME'));
    });
  });

  describe('listAccounts', () => {
    it('lists regular account files only, sorted', async () => {
      const dir = freshDir();
      for (const f of ['zeta', 'alpha', 'Beta', 'config', 'issuer.config', 'oidc-agent.stats', 'x.log', 'old.clientconfig']) {
        writeFileSync(join(dir, f), 'x');
      }
      writeFileSync(join(dir, '.hidden'), 'x');
      // What a crash between open and rename leaves behind.
      writeFileSync(join(dir, '.alpha.tmp-0123456789abcdef'), 'half');
      mkdirSync(join(dir, 'issuer.config.d'));
      mkdirSync(join(dir, 'subdir'));
      symlinkSync(join(dir, 'alpha'), join(dir, 'linked'));
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      assert.deepEqual(await listAccounts(dir), ['Beta', 'alpha', 'zeta']);
    });

    it('a missing directory has no accounts', async () => {
      assert.deepEqual(await listAccounts(join(root, 'does-not-exist')), []);
    });
  });

  describe('read, write, delete', () => {
    it('writes 0600 files in a 0700 directory it creates', async () => {
      const dir = join(root, 'created', 'oidc-agent');
      await writeAccountFile(dir, 'acct', 'text-1');
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(lstatSync(join(dir, 'acct')).mode & 0o777, 0o600);
      assert.equal(await readAccountFile(dir, 'acct'), 'text-1');
      assert.equal(await accountExists(dir, 'acct'), true);
      assert.equal(await accountExists(dir, 'other'), false);
    });

    it("tightens an existing oidc-agent directory's loose modes", async () => {
      const dir = freshDir();
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'acct'), 'old', { mode: 0o644 });
      await writeAccountFile(dir, 'acct', 'new');
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(lstatSync(join(dir, 'acct')).mode & 0o777, 0o600);
    });

    it('refuses to overwrite when asked to create (STORE_EXISTS)', async () => {
      const dir = freshDir();
      await writeAccountFile(dir, 'acct', 'first', { overwrite: false });
      await assert.rejects(writeAccountFile(dir, 'acct', 'second', { overwrite: false }), storeCode('STORE_EXISTS'));
      assert.equal(await readAccountFile(dir, 'acct'), 'first');
    });

    it('missing account → STORE_NOT_FOUND', async () => {
      const dir = freshDir();
      await assert.rejects(readAccountFile(dir, 'nope'), storeCode('STORE_NOT_FOUND', /nope/));
      await assert.rejects(deleteAccountFile(dir, 'nope'), storeCode('STORE_NOT_FOUND'));
    });

    it('a symlink in place of the account file: read refused, write refused, target untouched', async () => {
      const dir = freshDir();
      const target = join(root, `outside-${n}`);
      writeFileSync(target, 'not yours');
      symlinkSync(target, join(dir, 'acct'));
      await assert.rejects(readAccountFile(dir, 'acct'), storeCode('STORE_UNSAFE_PATH', /symbolic link/));
      await assert.rejects(writeAccountFile(dir, 'acct', 'overwrite'), storeCode('STORE_UNSAFE_PATH', /symbolic link/));
      assert.equal(readFileSync(target, 'utf8'), 'not yours');
      assert.deepEqual(readdirSync(dir), ['acct']);
      // Deleting removes the link itself, never the target.
      await deleteAccountFile(dir, 'acct');
      assert.equal(readFileSync(target, 'utf8'), 'not yours');
    });

    it('a FIFO or directory in place of the account file is refused without blocking', async () => {
      const dir = freshDir();
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      mkdirSync(join(dir, 'dir'));
      await assert.rejects(readAccountFile(dir, 'fifo'), storeCode('STORE_UNSAFE_PATH', /not a regular file/));
      await assert.rejects(readAccountFile(dir, 'dir'), storeCode('STORE_UNSAFE_PATH', /not a regular file/));
      await assert.rejects(deleteAccountFile(dir, 'dir'), storeCode('STORE_UNSAFE_PATH'));
    });

    it('refuses to read an oversized file', async () => {
      const dir = freshDir();
      writeFileSync(join(dir, 'big'), Buffer.alloc(1024 * 1024 + 1, 0x41));
      await assert.rejects(readAccountFile(dir, 'big'), storeCode('STORE_CORRUPT_FILE'));
    });

    it('deletes an account', async () => {
      const dir = freshDir();
      await writeAccountFile(dir, 'acct', 'x');
      await deleteAccountFile(dir, 'acct');
      assert.equal(await accountExists(dir, 'acct'), false);
    });
  });

  describe('loadAccount / saveAccount', () => {
    const config = parseAccountConfig({
      name: 'wlcg',
      issuer_url: 'https://op.example/',
      client_id: 'cid',
      refresh_token: 'rt-1',
      auth_scope: 'openid offline_access',
      daeSetByUser: 0,
      token_agent: { watch: true },
    });

    it('saves with a password, loads back, re-saves a rotated token with the key alone', async () => {
      const dir = freshDir();
      const key = await saveAccount(dir, 'wlcg', config, 'pw-1', { overwrite: false });
      assert.equal(lstatSync(join(dir, 'wlcg')).mode & 0o777, 0o600);

      const loaded = await loadAccount(dir, 'wlcg', 'pw-1');
      assert.deepEqual(loaded.config, config);
      assert.deepEqual(loaded.key.derived, key.derived);

      await saveAccount(dir, 'wlcg', { ...loaded.config, refresh_token: 'rt-2' }, loaded.key);
      const again = await loadAccount(dir, 'wlcg', 'pw-1');
      assert.equal(again.config.refresh_token, 'rt-2');
      assert.deepEqual(again.config.token_agent, { watch: true });
      assert.deepEqual(readdirSync(dir), ['wlcg']);
    });

    it('a wrong password fails with STORE_WRONG_PASSWORD and leaves the file untouched', async () => {
      const dir = freshDir();
      await saveAccount(dir, 'acct', config, 'right');
      const before = readFileSync(join(dir, 'acct'));
      const mtime = statSync(join(dir, 'acct')).mtimeMs;
      await assert.rejects(loadAccount(dir, 'acct', 'wrong'), storeCode('STORE_WRONG_PASSWORD'));
      assert.deepEqual(readFileSync(join(dir, 'acct')), before);
      assert.equal(statSync(join(dir, 'acct')).mtimeMs, mtime);
    });

    it('saveAccount validates the name before any key derivation', async () => {
      await assert.rejects(saveAccount(freshDir(), 'config', config, 'pw'), storeCode('STORE_INVALID_NAME'));
    });
  });
});
