/** Entry of `token-get`: the fast parser for common command lines, commander for the rest. */
import { CliError, ExitCode, processIo, runAction, type Io } from '../../output.js';
import { ProtocolError } from '@token-agent/protocol';
import type { FastResult } from './fast.js';
import { parseFast } from './fast-args.js';
import { run } from './run.js';

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const fast = parseFast(argv.slice(2));
  if (fast !== undefined) return runAction('token-get', io, () => run(fast, io));
  const { main: full } = await import('./program.js');
  return full(argv, io);
}

/** Reports what the hot path (fast.ts) got instead of a token, exactly as `run` would have. */
export function reportFast(result: Extract<FastResult, { kind: 'failed' | 'status' }>, io: Io = processIo): Promise<number> {
  return runAction('token-get', io, async () => {
    if (result.kind === 'failed') throw adopt(result.error);
    throw new CliError(`unexpected reply status ${result.status}`, ExitCode.failure);
  });
}

/**
 * The hot path's bundle file has its own copy of the protocol package, so its ProtocolError is not
 * an instance of ours: rebuild it, so that the error translator (output.ts) recognises it.
 */
function adopt(err: unknown): unknown {
  if (!(err instanceof Error) || err.name !== 'ProtocolError' || err instanceof ProtocolError) return err;
  const e = err as ProtocolError;
  return new ProtocolError(e.code, e.message, { agentError: e.agentError, info: e.info, cause: e.cause });
}
