/**
 * Refresh-token rotation without prompts: the agent writes every rotated refresh token back to the
 * account file at once, with the key token-gen/token-add handed over (never the password), so a
 * SIGKILL of the agent loses nothing and the next token-add needs the password once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { request, type LoadedAccountStatus } from '@token-agent/protocol';
import { decryptAccountFile } from '@token-agent/store';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_USERNAME, World, jwtPayload, startOp } from './harness.ts';

const ENC = 'rotation-enc-password-7';

async function fileConfig(world: World, name: string): Promise<{ refresh_token: string; raw: string }> {
  const raw = readFileSync(join(world.configDir, name), 'utf8');
  const { plaintext } = await decryptAccountFile(raw, ENC);
  return { refresh_token: (JSON.parse(plaintext) as { refresh_token: string }).refresh_token, raw };
}

async function accountStatus(world: World, name: string): Promise<LoadedAccountStatus> {
  const r = await request('status_json', {}, { socketPath: world.socket });
  const info = (r as { info: { accounts: LoadedAccountStatus[] } }).info;
  return info.accounts.find((a) => a.name === name)!;
}

describe('refresh-token rotation', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ rotateRefreshTokens: true, accessTokenTtl: 300 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'rot', ENC);
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('20 forced refreshes, kill -9, restart, one token-add: the latest refresh token is in the file', async () => {
    const initial = await fileConfig(world, 'rot');
    const st = await accountStatus(world, 'rot');
    assert.equal(st.write_back, true, 'token-gen handed the file key to the agent');

    op.resetStats();
    let last = initial;
    for (let i = 0; i < 20; i++) {
      const r = await world.run('token-get', ['rot', '-f']);
      assert.equal(r.code, 0, r.stderr);
      // Written before the token was handed out: the file already holds the new refresh token.
      const now = await fileConfig(world, 'rot');
      assert.notEqual(now.refresh_token, last.refresh_token, `refresh ${i + 1} rotated and was saved`);
      last = now;
    }
    assert.equal(op.stats().token['refresh_token'], 20);
    assert.notEqual(last.raw, initial.raw, 'the file was rewritten');
    assert.equal(last.raw.split('\n')[2], initial.raw.split('\n')[2], 'same salt: same password');

    await world.killAgent('SIGKILL');
    await world.startAgent();
    op.resetStats();
    const add = await world.run('token-add', ['rot', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(add.code, 0, add.stderr);
    assert.equal(op.stats().token['refresh_token'], 1, 'token-add validated with the latest refresh token');
    const got = await world.run('token-get', ['rot', '-f']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(jwtPayload(got.stdout.trim())['sub'], DEFAULT_USERNAME);

    const log = readFileSync(world.logFile, 'utf8');
    assert.match(log, / INFO refresh-token-saved account=rot/);
    assert.doesNotMatch(log, /refresh-token-not-saved/);
    assert.ok(!log.includes(last.refresh_token) && !log.includes(ENC));
  });

  test('a file that cannot be written: the new refresh token stays in memory, status and log say so', async () => {
    const file = join(world.configDir, 'rot');
    const saved = readFileSync(file);
    // The file replaced by a symlink: the agent refuses to write through it.
    const elsewhere = join(world.root, 'elsewhere');
    writeFileSync(elsewhere, saved);
    rmSync(file);
    symlinkSync(elsewhere, file);

    for (let i = 0; i < 3; i++) {
      const r = await world.run('token-get', ['rot', '-f']);
      assert.equal(r.code, 0, `refresh ${i + 1} works from memory: ${r.stderr}`);
    }
    assert.deepEqual(readFileSync(elsewhere), saved, 'nothing written through the symlink');
    const st = await accountStatus(world, 'rot');
    assert.match(st.last_error?.error ?? '', /^refresh token not saved: cannot read the account file: .*symbolic link/);
    assert.ok(st.last_refresh !== undefined && st.last_refresh >= st.last_error!.at - 1);
    const text = await world.run('token-agent', ['--status']);
    assert.match(text.stdout, /last error \(\d+ s ago\): refresh token not saved/);
    assert.match(readFileSync(world.logFile, 'utf8'), / WARN refresh-token-not-saved account=rot /);

    // Back to a regular file: the next rotation is saved again.
    rmSync(file);
    writeFileSync(join(world.configDir, '.restore'), saved, { mode: 0o600 });
    renameSync(join(world.configDir, '.restore'), file);
    const r = await world.run('token-get', ['rot', '-f']);
    assert.equal(r.code, 0, r.stderr);
    const now = await fileConfig(world, 'rot');
    assert.notEqual(now.raw, saved.toString('utf8'));
  });

  test('a file re-encrypted with another password is not overwritten with the old key', async () => {
    const { saveAccount, loadAccount } = await import('@token-agent/store');
    const { config } = await loadAccount(world.configDir, 'rot', ENC);
    await saveAccount(world.configDir, 'rot', config, 'a-new-password');
    const before = readFileSync(join(world.configDir, 'rot'), 'utf8');
    const r = await world.run('token-get', ['rot', '-f']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(world.configDir, 'rot'), 'utf8'), before);
    const st = await accountStatus(world, 'rot');
    assert.match(st.last_error?.error ?? '', /re-encrypted with another password/);
  });

  test('token-gen --rename and --update hand the new file key to the agent: rotated tokens keep being written back', async () => {
    await world.createAccount(op, 'mv', ENC);
    const r = await world.run('token-gen', ['mv', '--rename', 'mv2', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    assert.equal(r.code, 0, r.stderr);
    const renamed = await fileConfig(world, 'mv2');
    assert.equal((await accountStatus(world, 'mv2')).write_back, true, 'loaded under the new name with its key');
    assert.equal((await world.run('token-get', ['mv2', '-f'])).code, 0);
    const afterRename = await fileConfig(world, 'mv2');
    assert.notEqual(afterRename.refresh_token, renamed.refresh_token, 'the rotated refresh token went into the renamed file');

    const NEW = 'rotation-new-password-8';
    const u = await world.run('token-gen', ['mv2', '--update', '--pw-env', 'ENC_PW', '--new-pw-env', 'NEW_PW'], { ENC_PW: ENC, NEW_PW: NEW });
    assert.equal(u.code, 0, u.stderr);
    assert.equal((await world.run('token-get', ['mv2', '-f'])).code, 0);
    const { plaintext } = await decryptAccountFile(readFileSync(join(world.configDir, 'mv2'), 'utf8'), NEW);
    assert.notEqual((JSON.parse(plaintext) as { refresh_token: string }).refresh_token, afterRename.refresh_token, 'written back under the new password');
    assert.equal((await accountStatus(world, 'mv2')).last_error, undefined, 'no write-back failure');
  });
});
