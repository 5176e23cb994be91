/**
 * Runs the dev OP as its own process, for the demo and for tests that need it out of process.
 *
 *   node --import tsx scripts/dev-op/cli.ts [--port N] [--at-ttl S] [--rt-ttl S]
 *     [--device-interval S] [--rotate] [--quiet]
 *
 * Prints one JSON line `{"issuer":"http://127.0.0.1:PORT","pid":N}` on stdout once it accepts
 * requests, then runs until SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 startup failure,
 * 2 usage error.
 */
import { parseArgs } from 'node:util';

import { startDevOp, type DevOpOptions } from './index.ts';

const USAGE =
  'usage: cli.ts [--port N] [--at-ttl SECONDS] [--rt-ttl SECONDS] [--device-interval SECONDS] [--rotate] [--quiet]';

function integerOption(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new TypeError(`--${name} must be an integer >= ${min}`);
  }
  return Number(value);
}

/** argv (without node and script) → options; throws TypeError on misuse. */
function parseCliArgs(argv: string[]): DevOpOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      'at-ttl': { type: 'string' },
      'rt-ttl': { type: 'string' },
      'device-interval': { type: 'string' },
      rotate: { type: 'boolean' },
      quiet: { type: 'boolean' },
    },
  });
  const port = integerOption(values.port, 'port', 0);
  if (port !== undefined && port > 65535) throw new TypeError('--port must be at most 65535');
  return {
    port,
    accessTokenTtl: integerOption(values['at-ttl'], 'at-ttl', 1),
    refreshTokenTtl: integerOption(values['rt-ttl'], 'rt-ttl', 1),
    devicePollInterval: integerOption(values['device-interval'], 'device-interval', 1),
    rotateRefreshTokens: values.rotate ?? false,
    quiet: values.quiet ?? false,
  };
}

async function main(): Promise<void> {
  let options: DevOpOptions;
  try {
    options = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`dev-op: ${(err as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }

  const op = await startDevOp(options);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    op.close().then(
      () => {
        process.stderr.write(`dev-op: stopped (${signal})\n`);
      },
      (err: unknown) => {
        process.stderr.write(`dev-op: error while stopping: ${(err as Error).message}\n`);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ issuer: op.issuer, pid: process.pid })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`dev-op: failed to start: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
