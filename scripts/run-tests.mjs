#!/usr/bin/env node
// Runs the test suites with node's own test runner (TypeScript through tsx).
//   node scripts/run-tests.mjs [unit|e2e|all] [extra files…]
// Unit tests live beside the code (packages/*/src/**/*.test.ts, scripts/**/*.test.ts); end-to-end tests in test/**/*.test.ts.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const which = process.argv[2] ?? 'all';
const extra = process.argv.slice(3);

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

let files = extra;
if (files.length === 0) {
  if (which === 'unit' || which === 'all') files.push(...find(join(root, 'packages')), ...find(join(root, 'scripts')));
  if (which === 'e2e' || which === 'all') files.push(...find(join(root, 'test')));
}
files.sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
