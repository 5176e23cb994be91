/** Entry of `token-get`: the fast parser for common command lines, commander for the rest. */
import { processIo, runAction, type Io } from '../../output.js';
import { parseFast } from './fast-args.js';
import { run } from './run.js';

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const fast = parseFast(argv.slice(2));
  if (fast !== undefined) return runAction('token-get', io, () => run(fast, io));
  const { main: full } = await import('./program.js');
  return full(argv, io);
}
