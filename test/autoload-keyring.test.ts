/**
 * Autoload (token-get loads a configured account itself on a terminal) and the OS keychain
 * (`--keyring`, through @napi-rs/keyring against a real gnome-keyring on a private D-Bus).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { BIN, DEFAULT_USERNAME, ROOT, World, collect, jwtPayload, startOp, waitFor } from './harness.ts';

const ENC = 'autoload-enc-pw-9';
const PTY_DRIVER = 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';

function ptySkipReason(): string | false {
  const r = spawnSync('python3', ['-c', 'import pty, os; os.waitstatus_to_exitcode'], { stdio: 'ignore' });
  return r.status === 0 ? false : 'python3 with the pty module is not available';
}

/** Runs a CLI on a pseudo-terminal; types `keys` each time `question` shows (at most `times`). */
async function onPty(world: World, args: string[], question: string, keys: string, times = 1): Promise<{ code: number | null; screen: string; typed: boolean }> {
  const proc = spawn('python3', ['-c', PTY_DRIVER, process.execPath, ...args], { env: world.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let typed = false;
  let answered = 0;
  const deadline = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  proc.stdout!.on('data', (d: Buffer) => {
    screen += d.toString('utf8');
    if (answered < times && screen.split(question).length - 1 > answered) {
      typed = true;
      answered++;
      proc.stdin!.write(keys);
    }
  });
  // Not harness.collect: that ends stdin, and the keys are typed later.
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => proc.once('close', (c) => resolve(c)));
  clearTimeout(deadline);
  proc.stdin!.destroy();
  return { code, screen: screen + stderr, typed };
}

describe('autoload', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'auto', ENC);
    await world.killAgent('SIGKILL');
    await world.startAgent();
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('without a terminal: the one-line error naming token-add', async () => {
    const r = await world.run('token-get', ['auto']);
    assert.equal(r.code, 4);
    assert.equal(r.stderr, "token-get: account 'auto' is not loaded: run token-add auto\n");
  });

  test('on a terminal: token-get asks for the password, loads the account and prints the token', { skip: ptySkipReason() }, async () => {
    const r = await onPty(world, [BIN('token-get'), 'auto'], "Encryption password for account 'auto': ", `${ENC}\r`);
    assert.ok(r.typed, `no password prompt: ${JSON.stringify(r.screen)}`);
    assert.equal(r.code, 0, r.screen);
    assert.match(r.screen, /Account 'auto' is not loaded; loading it \(token-add auto\)/);
    assert.match(r.screen, /Account 'auto' loaded\./);
    const jwt = /(eyJ[\w-]+\.[\w-]+\.[\w-]+)/.exec(r.screen)?.[1];
    assert.ok(jwt !== undefined, 'a token on the screen');
    assert.equal(jwtPayload(jwt)['sub'], DEFAULT_USERNAME);
    assert.ok(!r.screen.includes(ENC), 'the password was not echoed');
    const loaded = await world.run('token-add', ['--loaded']);
    assert.equal(loaded.stdout, 'auto\n');
  });

  test('on a terminal, a wrong password three times: token-get fails with token-add\'s exit code, nothing loaded', { skip: ptySkipReason() }, async () => {
    await world.run('token-add', ['--remove-all']);
    const r = await onPty(world, [BIN('token-get'), 'auto'], "Encryption password for account 'auto': ", 'no\r', 3);
    assert.equal(r.code, 5, r.screen);
    assert.match(r.screen, /wrong password for account 'auto'/);
    assert.equal((await world.run('token-add', ['--loaded'])).stdout, '');
  });
});

function keyringSkipReason(): string | false {
  for (const bin of ['dbus-daemon', 'gnome-keyring-daemon']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status !== 0) return `${bin} is not installed (Debian: dbus, gnome-keyring)`;
  }
  try {
    createRequire(join(ROOT, 'packages', 'cli', 'package.json')).resolve('@napi-rs/keyring');
  } catch {
    return '@napi-rs/keyring (optional dependency) is not installed';
  }
  return false;
}

describe('keychain (gnome-keyring on a private D-Bus session)', { skip: keyringSkipReason() }, () => {
  let op: DevOp;
  let world: World;
  let bus: ChildProcess;
  let keyring: ChildProcess;
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
    world = new World();
    mkdirSync(world.env['HOME']!, { recursive: true });
    bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let address = '';
    bus.stdout!.on('data', (d: Buffer) => (address += d.toString()));
    await waitFor(() => address.includes('\n'), 10_000, 'the session bus address');
    world.env['DBUS_SESSION_BUS_ADDRESS'] = address.trim();
    // Unlocked non-interactively: the login keyring's password on stdin.
    keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env: world.env, stdio: ['pipe', 'pipe', 'ignore'] });
    keyring.stdin!.end('keyring-login-pw');
    let out = '';
    keyring.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('GNOME_KEYRING_CONTROL='), 10_000, 'gnome-keyring-daemon');
    await world.startAgent();
  });
  after(async () => {
    await world.cleanup();
    keyring?.kill('SIGTERM');
    bus?.kill('SIGTERM');
    await op.close();
  });

  test('token-gen --keyring saves the password; token-add --keyring loads with no password source at all', async () => {
    // gnome-keyring claims its bus name a moment after start: retry the first save briefly.
    let gen;
    for (let i = 0; i < 20; i++) {
      gen = await world.createAccount(op, `kr${i}`, ENC, ['--keyring']);
      if (/saved in the keychain/.test(gen.stderr)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(gen!.stderr, /Its password is saved in the keychain/);
    const name = /Account '(kr\d+)' created/.exec(gen!.stderr)![1]!;

    await world.killAgent('SIGKILL');
    await world.startAgent();
    const add = await world.run('token-add', [name, '--keyring']);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stderr, `Account '${name}' loaded.\n`);
    assert.equal((await world.run('token-get', [name])).code, 0);

    // The password is really in the Secret Service (service token-agent, account = short name).
    const probe = spawnSync(process.execPath, ['-e', `require('@napi-rs/keyring').AsyncEntry && new (require('@napi-rs/keyring').AsyncEntry)('token-agent', ${JSON.stringify(name)}, { linux: { store: 'secret-service' } }).getPassword().then((p) => process.stdout.write(String(p)))`], {
      cwd: join(ROOT, 'packages', 'cli'),
      env: world.env,
      encoding: 'utf8',
    });
    assert.equal(probe.stdout, ENC);

    const del = await world.run('token-gen', [name, '--delete', '--keyring']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stderr, /Its password was removed from the keychain/);
  });

  test('no Secret Service: one clear message, and --pw-env still works', async () => {
    await world.createAccount(op, 'nobus', ENC);
    await world.run('token-add', ['--remove-all']);
    const r = await world.run('token-add', ['nobus', '--keyring', '--pw-env', 'ENC_PW'], { ENC_PW: ENC, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0]!, /^the OS keychain is not available \(.*\); using the other password sources\.$/);
    assert.equal(lines[1], "Account 'nobus' loaded.");
  });

  test('the optional module missing: one clear message, and --pw-env still works', async () => {
    // A copy of the token-add bundle that can resolve libsodium but not @napi-rs/keyring.
    const dir = join(world.root, 'no-keyring');
    mkdirSync(join(dir, 'bundle'), { recursive: true });
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    copyFileSync(BIN('token-add'), join(dir, 'bundle', 'token-add.cjs'));
    let sodium = createRequire(join(ROOT, 'packages', 'cli', 'package.json')).resolve('libsodium-wrappers-sumo');
    while (basename(sodium) !== 'libsodium-wrappers-sumo') sodium = dirname(sodium);
    symlinkSync(sodium, join(dir, 'node_modules', 'libsodium-wrappers-sumo'));
    await world.run('token-add', ['--remove-all']);
    const r = await collect(
      spawn(process.execPath, [join(dir, 'bundle', 'token-add.cjs'), 'nobus', '--keyring', '--pw-env', 'ENC_PW'], { env: { ...world.env, ENC_PW: ENC } }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stderr,
      "the OS keychain is not available: the optional module @napi-rs/keyring is not installed; using the other password sources.\nAccount 'nobus' loaded.\n",
    );
    assert.ok(!readFileSync(world.logFile, 'utf8').includes(ENC));
  });
});
