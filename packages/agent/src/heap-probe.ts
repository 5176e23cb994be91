/**
 * A benchmark probe, off unless `TOKEN_AGENT_HEAP_PROBE` names a file: on SIGUSR2 the agent runs a
 * full garbage collection and appends one JSON line `{"heapUsed":…,"rss":…}` (bytes) to that file.
 * `pnpm bench` uses it to tell a leak from the heap's sawtooth (RSS alone cannot). It is not part
 * of the socket protocol: only a process that may signal the agent (same user) can trigger it,
 * and the file is written 0600. Never enabled by the launcher.
 */
import { appendFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Installs the SIGUSR2 handler when the variable is set; returns whether it did. */
export function installHeapProbe(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = env['TOKEN_AGENT_HEAP_PROBE'];
  if (!file) return false;
  // Exposes gc() to a fresh context only (this process's global stays as it was).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  process.on('SIGUSR2', () => {
    gc();
    const m = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ heapUsed: m.heapUsed, rss: m.rss })}\n`, { mode: 0o600 });
  });
  return true;
}
