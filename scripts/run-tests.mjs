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
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-timeout=${process.env['TEST_TIMEOUT_MS'] ?? 300_000}`, `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files];
// A watchdog for the whole run: a test file that never exits must fail the run, not hang CI.
const limitMs = Number(process.env['TEST_RUN_LIMIT_MS'] ?? 20 * 60_000);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', timeout: limitMs, killSignal: 'SIGKILL' });
if (r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGKILL') {
  console.error(`run-tests: the test run exceeded ${limitMs / 60_000} minutes and was stopped`);
  process.exit(1);
}
process.exit(r.status ?? 1);
