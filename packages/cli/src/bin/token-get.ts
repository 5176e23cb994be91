#!/usr/bin/env node
// The hot path first (fast.ts: the token, or a hand-over); the full command is its own bundle file
// (build.mjs), loaded only when the hot path hands over.
import { fastGet, printAndExit } from '../commands/get/fast.js';

void fastGet(process.argv.slice(2), process.env).then(async (r) => {
  if (r.kind === 'token') return printAndExit(r.text);
  const { main, reportFast } = await import('../commands/get/main.js');
  process.exitCode = r.kind === 'defer' ? await main(process.argv) : await reportFast(r);
});
