import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFast } from './fast-args.js';
import { createProgram, normalizeArgv } from './program.js';
import type { GetOptions } from './run.js';
import { CliError, ExitCode } from '../../output.js';

function viaCommander(args: string[]): GetOptions | undefined {
  let out: GetOptions | undefined;
  const p = createProgram((o) => (out = o))
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    p.parse(['node', 'token-get', ...normalizeArgv(args)]);
  } catch {
    return undefined;
  }
  return out;
}

const accepted: string[][] = [
  ['kit'],
  ['https://op.example.org/'],
  ['kit', '-s', 'openid', '-s', 'profile email'],
  ['-s', 'storage.read:/', 'kit', '--aud', 'https://a.example', '--aud=https://b.example'],
  ['kit', '--audience', 'x'],
  ['kit', '-t', '600'],
  ['kit', '--min-valid=30'],
  ['kit', '--time', '5'],
  ['kit', '-f'],
  ['kit', '--force-new', '--json'],
  ['kit', '-c'],
  ['kit', '--env', '--json'],
  ['kit', '--name', 'my app'],
  ['kit', '--scope=a b', '--name=x'],
  ['kit', '--bearer'],
  ['kit', '--auth-header'],
  ['kit', '--issuer'],
  ['kit', '-i'],
  ['kit', '--expires-at'],
  ['kit', '-e'],
  ['kit', '-i', '-e'],
  ['kit', '--issuer', '--expires-at', '-s', 'openid'],
  ['kit', '--json', '--bearer'],
  ['kit', '--env', '--auth-header'],
  ['kit', '--bearer', '--issuer'],
  ['kit', '--watch'],
  ['kit', '--watch', '-s', 'storage.read:/', '--aud', 'https://x.example', '-t', '120'],
  ['kit', '--watch', '--bt-file', '/run/user/1000/bt_u1000'],
  ['kit', '--watch', '--json'],
  ['kit', '--bt-file=rel/token'],
  ['kit', '--unwatch'],
  ['kit', '--unwatch', '--bt-file', '/tmp/x'],
  ['kit', '--bt'],
  ['kit', '--bt', '--json', '-t', '300'],
  // oidc-token's -o/-i/-e with and without =VAR.
  ['kit', '-o'],
  ['kit', '--token'],
  ['-o', 'kit'],
  ['-i', 'kit'],
  ['kit', '-oMY_AT'],
  ['-oMY_AT', 'kit'],
  ['kit', '--token=MY_AT'],
  ['kit', '-iISS'],
  ['kit', '--issuer=ISS'],
  ['kit', '-eEXP'],
  ['kit', '--expires-at=EXP'],
  ['kit', '-o', '-i'],
  ['kit', '-oA', '-i', '-eB'],
  ['kit', '-c', '-oX'],
  ['kit', '-c', '--issuer=Y', '--expires-at=Z'],
  ['kit', '-oX', '--bearer'],
  ['kit', '--watch', '-o'],
];
for (const args of accepted) {
  test(`fast parser agrees with commander: ${args.join(' ')}`, () => {
    const fast = parseFast(args);
    assert.notEqual(fast, undefined, 'the fast parser takes this command line');
    assert.deepEqual(fast, viaCommander(args));
  });
}

const deferred: string[][] = [
  [],
  ['--help'],
  ['-h'],
  ['kit', '-fc'],
  ['kit', 'other'],
  ['kit', '-t', 'soon'],
  ['kit', '-t', '-5'],
  ['kit', '-s'],
  ['kit', '--unknown'],
  ['kit', '--json=1'],
  ['-x', 'kit'],
  ['kit', '--bearer=1'],
  ['kit', '--bt-file'],
  ['kit', '--id-token'],
  ['kit', '-a'],
  ['kit', '--all'],
  ['kit', '--id-token', '-s', 'openid'],
  ['kit', '-fo'],
  ['kit', '--token='],
  ['kit', '-o=X'],
  ['kit', '--issuer=FOO BAR'],
  ['kit', '-a', '-oX'],
];

// Contradictions: commander reports them as usage errors (exit 2).
const conflicting: string[][] = [
  ['kit', '--watch', '--unwatch'],
  ['kit', '--bt', '--watch'],
  ['https://op.example.org/', '--watch'],
  ['kit', '--watch', '--env'],
  ['kit', '--bt', '--bearer'],
  ['kit', '--unwatch', '--issuer'],
  ['kit', '--watch', '-f'],
  ['kit', '--bt-file', '/x', '--auth-header'],
  ['kit', '--watch', '-oX'],
  ['kit', '--bt', '-i', '-e'],
  ['kit', '--token='],
  ['kit', '-o=X'],
  ['kit', '--issuer=FOO BAR'],
  ['kit', '--id-token', '-oX'],
];

for (const args of deferred) {
  test(`fast parser defers to commander: ${JSON.stringify(args)}`, () => {
    assert.equal(parseFast(args), undefined);
  });
}

for (const args of conflicting) {
  test(`a contradiction is a usage error, never the fast path: ${args.join(' ')}`, () => {
    assert.equal(parseFast(args), undefined);
    const p = createProgram(() => assert.fail('commander accepted it'))
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: () => {} });
    assert.throws(() => p.parse(['node', 'token-get', ...normalizeArgv(args)]), (e: unknown) => e instanceof CliError && e.exitCode === ExitCode.usage);
  });
}

test('the file options and output options land where run() reads them', () => {
  assert.deepEqual(pick(parseFast(['kit', '--watch', '--bt-file', 'f'])), { bt: 'watch', btFile: 'f', output: 'token' });
  assert.deepEqual(pick(parseFast(['kit', '--bt-file', 'f'])), { bt: 'once', btFile: 'f', output: 'token' });
  assert.deepEqual(pick(parseFast(['kit', '--unwatch'])), { bt: 'unwatch', btFile: undefined, output: 'token' });
  assert.deepEqual(pickOut(parseFast(['kit', '-i', '-e'])), { output: 'env', exports: { issuer: 'OIDC_ISS', expiresAt: 'OIDC_EXP' } });
  assert.equal(parseFast(['kit', '-e'])?.output, 'expires-at');
  assert.equal(parseFast(['kit', '--issuer'])?.output, 'issuer');
  assert.equal(parseFast(['kit', '--auth-header'])?.output, 'auth-header');
  assert.equal(parseFast(['kit', '--bearer', '--issuer'])?.output, 'bearer');
});

function pickOut(o: GetOptions | undefined): Partial<GetOptions> | undefined {
  return o === undefined ? undefined : { output: o.output, exports: o.exports };
}

test('-o/-i/-e and =VAR: one alone prints its value; several, or a name, export lines (oidc-token 4.2.6)', () => {
  const cases: [string[], Partial<GetOptions>][] = [
    [['kit', '-o'], { output: 'token', exports: undefined }],
    [['kit', '-i'], { output: 'issuer', exports: undefined }],
    [['kit', '-e'], { output: 'expires-at', exports: undefined }],
    [['kit', '-oX'], { output: 'env', exports: { token: 'X' } }],
    [['kit', '--issuer=Y'], { output: 'env', exports: { issuer: 'Y' } }],
    [['kit', '-eZ'], { output: 'env', exports: { expiresAt: 'Z' } }],
    [['kit', '-o', '-i'], { output: 'env', exports: { token: 'OIDC_AT', issuer: 'OIDC_ISS' } }],
    [['kit', '-oA', '-i', '-eB'], { output: 'env', exports: { token: 'A', issuer: 'OIDC_ISS', expiresAt: 'B' } }],
    [['kit', '-ie'], { output: 'env', exports: { issuer: 'e' } }],
    [['kit', '-c'], { output: 'env', exports: { token: 'OIDC_AT', issuer: 'OIDC_ISS', expiresAt: 'OIDC_EXP' } }],
    [['kit', '-c', '-iY'], { output: 'env', exports: { token: 'OIDC_AT', issuer: 'Y', expiresAt: 'OIDC_EXP' } }],
  ];
  for (const [args, want] of cases) {
    assert.deepEqual(pickOut(parseFast(args)), want, args.join(' '));
    assert.deepEqual(pickOut(viaCommander(args)), want, `commander: ${args.join(' ')}`);
  }
  // -a beats them all, as in oidc-token; commander only.
  assert.deepEqual(pickOut(viaCommander(['kit', '-a', '-oX'])), { output: 'all', exports: undefined });
  assert.deepEqual(pickOut(viaCommander(['kit', '-c', '-a'])), { output: 'all', exports: undefined });
  // The rest of a short cluster after o/i/e names the variable; a value option keeps its value.
  assert.deepEqual(normalizeArgv(['-foX', 'kit', '-s', '-oops', '-tio']), ['-fo', '--token-var=X', 'kit', '-s', '-oops', '-tio']);
  assert.deepEqual(normalizeArgv(['--token=A', '--', '-oB']), ['--token', '--token-var=A', '--', '-oB']);
});

function pick(o: GetOptions | undefined): Partial<GetOptions> | undefined {
  return o === undefined ? undefined : { bt: o.bt, btFile: o.btFile, output: o.output };
}

test('--id-token (commander only): sets idToken; with an output or file option it is a usage error', () => {
  assert.equal(viaCommander(['kit', '--id-token'])?.idToken, true);
  assert.deepEqual(viaCommander(['kit', '--id-token', '-s', 'openid', '-s', 'email'])?.scopes, ['openid', 'email']);
  assert.equal(viaCommander(['kit'])?.idToken, undefined);
  for (const bad of [['kit', '--id-token', '--json'], ['kit', '--id-token', '--watch'], ['kit', '--id-token', '-f'], ['kit', '--id-token', '--aud', 'x']]) {
    assert.equal(viaCommander(bad), undefined, bad.join(' '));
  }
});

test('-a/--all and -o/--token (commander only)', () => {
  assert.equal(viaCommander(['kit', '-a'])?.output, 'all');
  assert.equal(viaCommander(['kit', '--all', '-s', 'openid'])?.output, 'all');
  assert.equal(viaCommander(['kit', '--json', '--all'])?.output, 'json');
  assert.equal(viaCommander(['kit', '-o'])?.output, 'token');
});
