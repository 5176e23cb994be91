import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canOpenBrowser } from './browser.js';
import { createProgram, defaultFlow } from './program.js';
import { formatLeft } from './progress.js';
import { CliError, ExitCode } from '../../output.js';

describe('token-gen: the default flow', () => {
  const cases: [string, Record<string, unknown>, NodeJS.ProcessEnv, string][] = [
    ['--flow wins', { flow: 'device' }, { DISPLAY: ':0' }, 'device'],
    ['a refresh token to import', { rtEnv: true }, { DISPLAY: ':0' }, 'refresh'],
    ['a user name', { username: 'alice' }, {}, 'password'],
    ['X display: the browser', {}, { DISPLAY: ':0' }, 'code'],
    ['Wayland: the browser', {}, { WAYLAND_DISPLAY: 'wayland-0' }, 'code'],
    ['no display (ssh to a login node): device', {}, {}, 'device'],
    ['--mytoken: the login at the mytoken server', { mytoken: true }, { DISPLAY: ':0' }, 'mytoken'],
    ['--mytoken with a mytoken to import', { mytoken: 'https://mt.example', rtFile: 'f' }, {}, 'refresh'],
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

describe('token-gen: --rt, --only-at, --no-save, -m (oidc-gen)', () => {
  const parse = (args: string[]): Record<string, unknown> => {
    let out: Record<string, unknown> | undefined;
    const p = createProgram((o) => (out = o as unknown as Record<string, unknown>), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: {} } as never)
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: () => {} });
    p.parse(['node', 'token-gen', ...args]);
    return out!;
  };
  const usage = (args: string[], message: RegExp) =>
    assert.throws(
      () => parse(args),
      (e: unknown) => e instanceof CliError && e.exitCode === ExitCode.usage && message.test(e.message),
      args.join(' '),
    );
  const ISS = ['--issuer', 'https://op.example/'];

  it('--rt=- (and --refresh-token=-) reads stdin and means the refresh flow', () => {
    for (const rt of [['--rt=-'], ['--rt', '-'], ['--refresh-token=-']]) {
      const o = parse(['x', ...ISS, ...rt]);
      assert.equal(o['rtStdin'], true, rt.join(' '));
      assert.equal(o['flow'], 'refresh');
    }
    assert.equal(parse(['x', ...ISS, '--refresh-token-env', 'MY_RT'])['rtEnv'], 'MY_RT');
    assert.equal(parse(['x', ...ISS, '--flow', 'device'])['rtStdin'], false);
  });
  it('a refresh token itself on the command line is refused, and not repeated in the message', () => {
    const secret = 'eyJhbGciOi.secret-refresh-token';
    for (const args of [['--rt', secret], [`--rt=${secret}`], [`--refresh-token=${secret}`]]) {
      assert.throws(
        () => parse(['x', ...ISS, ...args]),
        (e: unknown) => e instanceof CliError && e.exitCode === ExitCode.usage && /--rt=-/.test(e.message) && /--rt-env/.test(e.message) && !e.message.includes(secret),
      );
    }
  });
  it('--only-at: needs a registered client, no file options; the name may be left out', () => {
    const o = parse(['--only-at', ...ISS, '--client-id', 'c', '--flow', 'device']);
    assert.equal(o['onlyAt'], true);
    assert.equal(o['name'], 'only-at');
    assert.equal(parse(['n', '--only-at', ...ISS, '--pub', '--flow', 'device'])['onlyAt'], true);
    usage(['n', '--only-at', ...ISS, '--flow', 'device'], /needs a registered client/);
    usage(['n', '--only-at', ...ISS, '--client-id', 'c', '--rt-env', 'X'], /refresh-token import/);
    usage(['n', '--only-at', '--keyring', ...ISS, '--client-id', 'c'], /--keyring/);
    usage(['n', '--only-at', '--no-save', ...ISS, '--client-id', 'c'], /already stores nothing/);
    usage(['n', '--only-at', '--delete'], /only with a new login/);
    usage(['n', '--only-at', ...ISS, '-m', '--mytoken', 'https://mt.example.org'], /--only-at does not go with --mytoken/);
  });
  it('--no-save and -m/--manual', () => {
    assert.equal(parse(['n', ...ISS, '--no-save', '--flow', 'device'])['save'], false);
    assert.equal(parse(['n', ...ISS, '--flow', 'device'])['save'], true);
    assert.equal(parse(['n', ...ISS, '-m', '--client-id', 'c', '--flow', 'device'])['manual'], true);
    assert.equal(parse(['n', ...ISS, '--manual', '--flow', 'device'])['manual'], true);
    usage(['n', '--no-save', '--print'], /only with a new login/);
  });
});

describe('token-gen --mytoken options', () => {
  const parse = (args: string[]): Record<string, unknown> | undefined => {
    let out: Record<string, unknown> | undefined;
    const p = createProgram((o) => (out = o as unknown as Record<string, unknown>))
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: () => {} });
    p.parse(['node', 'token-gen', ...args]);
    return out;
  };
  it('--mytoken[=URL], --mytoken-issuer, --mytoken-profile, --TC', () => {
    const a = parse(['x', '--issuer', 'https://op.example', '--mytoken']);
    assert.equal(a?.['mytoken'], true);
    assert.equal(a?.['flow'], 'mytoken');
    const b = parse(['x', '--issuer', 'https://op.example', '--mytoken=https://mt.example', '--mytoken-profile', '{"capabilities":["AT"]}']);
    assert.equal(b?.['mytoken'], 'https://mt.example');
    assert.equal(b?.['mytokenProfile'], '{"capabilities":["AT"]}');
    assert.equal(parse(['x', '--issuer', 'https://op.example', '--mytoken-issuer', 'https://mt.example'])?.['mytoken'], 'https://mt.example');
    assert.equal(parse(['x', '--issuer', 'https://op.example', '--mytoken', 'https://mt.example', '--TC', 'ABCD1234'])?.['transferCode'], 'ABCD1234');
  });
  it('refuses combinations that make no sense', () => {
    const usage = (args: string[]) => assert.throws(() => parse(args), (e: unknown) => e instanceof CliError && e.exitCode === ExitCode.usage);
    usage(['x', '--issuer', 'https://op.example', '--TC', 'ABCD1234']);
    usage(['x', '--issuer', 'https://op.example', '--mytoken-profile', 'agent']);
    usage(['x', '--issuer', 'https://op.example', '--mytoken', '--pub']);
    usage(['x', '--issuer', 'https://op.example', '--mytoken', '--client-id', 'c']);
    usage(['x', '--issuer', 'https://op.example', '--mytoken', '--TC', 'ABCD1234', '--mytoken-profile', 'agent']);
  });
});
