/**
 * Waiting for a login: a spinner with a countdown on a terminal, plain lines otherwise, and a
 * clean Ctrl-C (the caller cancels the flow in the agent; nothing is written).
 */
import type { Io } from '../../output.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/** `m:ss` for a countdown. */
export function formatLeft(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export interface Progress {
  /** Stops the spinner and clears its line. */
  stop(): void;
}

/**
 * Shows that we wait until `deadline` (ms since epoch): a spinner with `what` and the time left
 * on a TTY (redrawn in place), one plain line otherwise.
 */
export function showProgress(io: Io, what: string, deadline: number): Progress {
  if (!isTty(io.stderr)) {
    io.stderr.write(`${what} (up to ${formatLeft((deadline - Date.now()) / 1000)} min)…\n`);
    return { stop() {} };
  }
  let frame = 0;
  const draw = () => {
    const left = formatLeft((deadline - Date.now()) / 1000);
    io.stderr.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${what}… ${left} left (Ctrl-C to cancel)`);
  };
  draw();
  const timer = setInterval(draw, 120);
  return {
    stop() {
      clearInterval(timer);
      io.stderr.write('\r\x1b[2K');
    },
  };
}

/**
 * Runs `wait` with a signal that fires on Ctrl-C (SIGINT) or SIGTERM; `onCancel` runs once then.
 * The handlers are removed afterwards, so a later Ctrl-C behaves as usual.
 */
export async function cancellable<T>(wait: (signal: AbortSignal) => Promise<T>, onCancel: () => Promise<void>): Promise<T> {
  const abort = new AbortController();
  let cancelling: Promise<void> | undefined;
  const handler = () => {
    if (cancelling !== undefined) return;
    cancelling = onCancel().catch(() => undefined);
    abort.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    return await wait(abort.signal);
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    if (cancelling !== undefined) await cancelling;
  }
}
