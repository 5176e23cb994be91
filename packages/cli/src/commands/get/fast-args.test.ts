import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFast } from './fast-args.js';
import { createProgram } from './program.js';
import type { GetOptions } from './run.js';
import { CliError, ExitCode } from '../../output.js';

function viaCommander(args: string[]): GetOptions | undefined {
  let out: GetOptions | undefined;
  const p = createProgram((o) => (out = o))
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    p.parse(['node', 'token-get', ...args]);
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
  ['kit', '-ie'],
  ['kit', '--bearer=1'],
  ['kit', '--bt-file'],
  ['kit', '--id-token'],
  ['kit', '-a'],
  ['kit', '--all'],
  ['kit', '-o'],
  ['kit', '--token'],
  ['kit', '--id-token', '-s', 'openid'],
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
    assert.throws(() => p.parse(['node', 'token-get', ...args]), (e: unknown) => e instanceof CliError && e.exitCode === ExitCode.usage);
  });
}

test('the file options and output options land where run() reads them', () => {
  assert.deepEqual(pick(parseFast(['kit', '--watch', '--bt-file', 'f'])), { bt: 'watch', btFile: 'f', output: 'token' });
  assert.deepEqual(pick(parseFast(['kit', '--bt-file', 'f'])), { bt: 'once', btFile: 'f', output: 'token' });
  assert.deepEqual(pick(parseFast(['kit', '--unwatch'])), { bt: 'unwatch', btFile: undefined, output: 'token' });
  assert.equal(parseFast(['kit', '-i', '-e'])?.output, 'issuer-expires-at');
  assert.equal(parseFast(['kit', '-e'])?.output, 'expires-at');
  assert.equal(parseFast(['kit', '--issuer'])?.output, 'issuer');
  assert.equal(parseFast(['kit', '--auth-header'])?.output, 'auth-header');
  assert.equal(parseFast(['kit', '--bearer', '--issuer'])?.output, 'bearer');
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
