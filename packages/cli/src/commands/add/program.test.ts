import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgram } from './program.js';
import type { AddOptions } from './run.js';

function parse(args: string[]): AddOptions | undefined {
  let out: AddOptions | undefined;
  const p = createProgram((o) => (out = o))
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  p.parse(['node', 'token-add', ...args]);
  return out;
}

const table: [string[], AddOptions][] = [
  [['kit'], { action: 'add', name: 'kit', lifetime: undefined, confirm: false, keyring: false, password: {} }],
  [['kit', '-t', '60', '-c'], { action: 'add', name: 'kit', lifetime: 60, confirm: true, keyring: false, password: {} }],
  [['kit', '--confirm', '--keyring', '--pw-env'], { action: 'add', name: 'kit', lifetime: undefined, confirm: true, keyring: 'use', password: { pwEnv: true } }],
  [['kit', '--try-keyring'], { action: 'add', name: 'kit', lifetime: undefined, confirm: false, keyring: 'try', password: {} }],
  [['-x', '--pw-env', 'LOCK'], { action: 'lock', password: { pwEnv: 'LOCK' } }],
  [['--lock', '--pw-file', 'f'], { action: 'lock', password: { pwFile: 'f' } }],
  [['-X', '--pw-cmd', 'pass show x'], { action: 'unlock', password: { pwCmd: 'pass show x' } }],
  [['--loaded', '--long'], { action: 'loaded', format: 'long' }],
  [['-a', '--json'], { action: 'loaded', format: 'json' }],
];
for (const [args, want] of table) {
  test(`token-add ${args.join(' ')}`, () => {
    assert.deepEqual(parse(args), want);
  });
}

test('token-add --loaded prints names when stdout is not a terminal', () => {
  const tty = process.stdout.isTTY;
  Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
  try {
    assert.deepEqual(parse(['--loaded']), { action: 'loaded', format: 'names' });
  } finally {
    Object.defineProperty(process.stdout, 'isTTY', { value: tty, configurable: true });
  }
});

test('--lock/--unlock refuse an argument (a password typed there would be in the process list)', () => {
  for (const flag of ['--lock', '-X']) {
    assert.throws(() => parse([flag, 'secret']), (e: unknown) => (e as { exitCode?: number }).exitCode === 2 && /take no argument/.test((e as Error).message));
  }
});
