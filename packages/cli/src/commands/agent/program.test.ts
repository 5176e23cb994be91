import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgram } from './program.js';
import type { AgentCliOptions } from './run.js';

function parse(args: string[]): AgentCliOptions {
  let out: AgentCliOptions | undefined;
  createProgram((o) => (out = o), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: {} } as never)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .parse(['node', 'token-agent', ...args]);
  return out!;
}

test('oidc-agent flags: --no-autoload, -d/--console; -c stays csh (ssh-agent), --confirm is confirm', () => {
  assert.equal(parse([]).autoload, true);
  assert.equal(parse(['--no-autoload']).autoload, false);
  assert.equal(parse(['-d']).action, 'console');
  assert.equal(parse(['--console', '-a', '/tmp/x.sock', '--no-autoload']).action, 'console');
  assert.equal(parse([]).action, 'start');
  const c = parse(['-c']);
  assert.equal(c.shell, 'csh');
  assert.equal(c.confirm, false);
  assert.equal(parse(['--confirm']).confirm, true);
});
