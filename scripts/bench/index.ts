/**
 * Benchmarks (not tests): `pnpm bench`. Prints a Markdown report; figures are from one run on
 * this machine, and the ratios against a baseline measured in the same run are the headline.
 *
 *  1. token-get for a cached token vs `node -e 0` (interleaved, median and p90, ratio).
 *  2. Cached-token requests/s against the agent at 1, 16 and 128 concurrent clients speaking the
 *     plaintext protocol, one connection per request (as clients do): req/s, p50, p99, failures.
 *
 * Options: BENCH_RUNS (CLI runs per command, default 40), BENCH_REQUESTS (requests per level,
 * default 20000).
 */
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { request } from '@token-agent/protocol';
import { World, BIN, startOp } from '../../test/harness.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 40);
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 20_000);

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function timeOnce(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return ms;
}

async function cliLatency(world: World): Promise<string> {
  const env = { ...world.env };
  const raw = fileURLToPath(new URL('raw-client.cjs', import.meta.url));
  const base: number[] = [];
  const floor: number[] = [];
  const get: number[] = [];
  for (let i = 0; i < 5; i++) {
    timeOnce(process.execPath, ['-e', '0'], env);
    timeOnce(process.execPath, [raw, 'bench'], env);
    timeOnce(process.execPath, [BIN('token-get'), 'bench'], env);
  }
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so that drift in machine load hits all alike.
    base.push(timeOnce(process.execPath, ['-e', '0'], env));
    floor.push(timeOnce(process.execPath, [raw, 'bench'], env));
    get.push(timeOnce(process.execPath, [BIN('token-get'), 'bench'], env));
  }
  for (const xs of [base, floor, get]) xs.sort((a, b) => a - b);
  const row = (name: string, xs: number[]) => `| ${name} | ${quantile(xs, 0.5).toFixed(1)} | ${quantile(xs, 0.9).toFixed(1)} |`;
  const ratio = quantile(get, 0.5) / quantile(base, 0.5);
  return [
    `### 1. token-get, cached token, vs bare node (${RUNS} interleaved runs each)`,
    '',
    '| command | median ms | p90 ms |',
    '|---|---|---|',
    row('`node -e 0`', base),
    row('raw socket client (scripts/bench/raw-client.cjs: the floor for any Node client)', floor),
    row('`token-get bench`', get),
    '',
    `**Ratio (median): ${ratio.toFixed(2)}×** (target ≤ 1.25×); the raw client: ${(quantile(floor, 0.5) / quantile(base, 0.5)).toFixed(2)}×.`,
    'The environment is minimal (no NODE_EXTRA_CA_CERTS or NODE_OPTIONS, which add the same fixed cost to every node start and shrink all ratios).',
    '',
  ].join('\n');
}

async function load(socketPath: string, concurrency: number, total: number) {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < total) {
      next++;
      const s = process.hrtime.bigint();
      try {
        const r = await request('access_token', { account: 'bench' }, { socketPath, timeoutMs: 30_000 });
        if (r.status !== 'success') failed++;
      } catch {
        failed++;
      }
      latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  return { rps: total / seconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), failed };
}

async function throughput(world: World): Promise<string> {
  const lines = [
    `### 2. Agent throughput, cached token, plaintext protocol, new connection per request (${REQUESTS} requests per level)`,
    '',
    '| clients | req/s | p50 ms | p99 ms | failed |',
    '|---|---|---|---|---|',
  ];
  await load(world.socket, 16, 2_000); // warm-up
  for (const c of [1, 16, 128]) {
    const r = await load(world.socket, c, REQUESTS);
    lines.push(`| ${c} | ${Math.round(r.rps)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.failed} |`);
  }
  lines.push('', 'The load generator is one Node process on the same machine as the agent (2 cores shared).', '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const op = await startOp({ accessTokenTtl: 3600 });
  const world = new World();
  try {
    await world.startAgent();
    await world.createAccount(op, 'bench', 'bench-password-1');
    const header = [
      '## token-agent benchmarks',
      '',
      `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. ` +
        'Figures are from one run on a shared machine; the ratios against the baseline of the same run are what to compare.',
      '',
    ].join('\n');
    const part1 = await cliLatency(world);
    const part2 = await throughput(world);
    process.stdout.write(`${header}\n${part1}\n${part2}`);
  } finally {
    await world.cleanup();
    await op.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
