import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StoreError } from './errors.js';
import { configDir, ensurePrivateDir, runtimeDir, stateDir } from './paths.js';

const isRoot = process.getuid?.() === 0;

function storeCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe('paths', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'store-paths-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const fresh = (name: string): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  describe('configDir', () => {
    it('uses $OIDC_CONFIG_DIR when set, even if it does not exist yet', () => {
      const home = fresh('home-env');
      mkdirSync(join(home, '.config', 'oidc-agent'), { recursive: true });
      assert.equal(configDir({ env: { OIDC_CONFIG_DIR: '/srv/oidc' }, homedir: home }), '/srv/oidc');
    });

    it("prefers an existing ~/.config/oidc-agent (oidc-agent's accounts)", () => {
      const home = fresh('home-oidc');
      mkdirSync(join(home, '.config', 'oidc-agent'), { recursive: true });
      mkdirSync(join(home, '.oidc-agent'));
      assert.equal(configDir({ env: {}, homedir: home, platform: 'linux' }), join(home, '.config', 'oidc-agent'));
    });

    it('falls back to legacy ~/.oidc-agent when that is what exists', () => {
      const home = fresh('home-legacy');
      mkdirSync(join(home, '.oidc-agent'));
      assert.equal(configDir({ env: {}, homedir: home, platform: 'linux' }), join(home, '.oidc-agent'));
    });

    it('ignores a plain file named like the oidc-agent dir', () => {
      const home = fresh('home-file');
      mkdirSync(join(home, '.config'));
      writeFileSync(join(home, '.config', 'oidc-agent'), '');
      assert.equal(configDir({ env: {}, homedir: home, platform: 'linux' }), join(home, '.config', 'token-agent'));
    });

    it('otherwise uses the XDG config dir for token-agent', () => {
      const home = fresh('home-new');
      assert.equal(configDir({ env: {}, homedir: home, platform: 'linux' }), join(home, '.config', 'token-agent'));
      assert.equal(
        configDir({ env: { XDG_CONFIG_HOME: '/xdg/conf' }, homedir: home, platform: 'linux' }),
        '/xdg/conf/token-agent',
      );
      // A relative XDG value is invalid per the basedir spec and ignored.
      assert.equal(
        configDir({ env: { XDG_CONFIG_HOME: 'rel/conf' }, homedir: home, platform: 'linux' }),
        join(home, '.config', 'token-agent'),
      );
    });

    it('takes the home directory from env.HOME when none is given', () => {
      const home = fresh('home-from-env');
      assert.equal(configDir({ env: { HOME: home }, platform: 'linux' }), join(home, '.config', 'token-agent'));
    });
  });

  it('stateDir follows XDG_STATE_HOME', () => {
    assert.equal(stateDir({ env: {}, homedir: '/h', platform: 'linux' }), '/h/.local/state/token-agent');
    assert.equal(stateDir({ env: { XDG_STATE_HOME: '/st' }, homedir: '/h', platform: 'linux' }), '/st/token-agent');
  });

  it('runtimeDir is $XDG_RUNTIME_DIR only when it exists', () => {
    const rt = fresh('runtime');
    assert.equal(runtimeDir({ env: { XDG_RUNTIME_DIR: rt } }), rt);
    assert.equal(runtimeDir({ env: { XDG_RUNTIME_DIR: join(rt, 'missing') } }), undefined);
    assert.equal(runtimeDir({ env: { XDG_RUNTIME_DIR: 'relative' } }), undefined);
    assert.equal(runtimeDir({ env: {} }), undefined);
  });

  describe('ensurePrivateDir', () => {
    it('creates missing directories with mode 0700', async () => {
      const dir = join(root, 'priv', 'a', 'b');
      await ensurePrivateDir(dir);
      const st = lstatSync(dir);
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o777, 0o700);
      await ensurePrivateDir(dir); // idempotent
    });

    it('tightens an existing group/other-accessible directory to 0700', async () => {
      const dir = fresh('loose');
      chmodSync(dir, 0o755);
      await ensurePrivateDir(dir);
      assert.equal(lstatSync(dir).mode & 0o777, 0o700);
    });

    it('refuses a symlink in place of the directory', async () => {
      const target = fresh('sym-target');
      const link = join(root, 'sym-link');
      symlinkSync(target, link);
      await assert.rejects(ensurePrivateDir(link), storeCode('STORE_UNSAFE_PATH'));
      const dangling = join(root, 'sym-dangling');
      symlinkSync(join(root, 'nowhere'), dangling);
      await assert.rejects(ensurePrivateDir(dangling), storeCode('STORE_UNSAFE_PATH'));
    });

    it('refuses a regular file in place of the directory', async () => {
      const file = join(root, 'a-file');
      writeFileSync(file, '');
      await assert.rejects(ensurePrivateDir(file), storeCode('STORE_UNSAFE_PATH'));
    });

    it("refuses someone else's directory and leaves its mode alone", { skip: !isRoot && 'needs root to chown' }, async () => {
      const dir = fresh('foreign');
      chmodSync(dir, 0o755);
      chownSync(dir, 12345, 12345);
      await assert.rejects(ensurePrivateDir(dir), storeCode('STORE_UNSAFE_PATH'));
      assert.equal(lstatSync(dir).mode & 0o777, 0o755);
    });
  });
});
