import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFast } from './fast-args.js';
import { createProgram } from './program.js';
import type { GetOptions } from './run.js';

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
];
for (const args of deferred) {
  test(`fast parser defers to commander: ${JSON.stringify(args)}`, () => {
    assert.equal(parseFast(args), undefined);
  });
}
