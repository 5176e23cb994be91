/**
 * The agent's one logger: one line per event, to a file under the state directory (or stderr in
 * the foreground). Fields are redacted by key, so a token or password never reaches the log even
 * when a caller passes it by mistake. Quiet by default: `info` and above.
 */
import { appendFileSync } from 'node:fs';

export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LogLevel;

const SECRET_KEY = /token|secret|password|passwd|code_verifier|^code$|device_code|key|authorization|cookie/i;

export type LogFields = Record<string, unknown>;

function render(v: unknown): string {
  if (typeof v === 'string') return /^[\w.:/@+-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return JSON.stringify(v);
}

/** Formats one line; exported for tests. Secrets are replaced by `[redacted]` by key name. */
export function formatLine(level: LogLevel, event: string, fields: LogFields = {}, now = new Date()): string {
  const parts = [now.toISOString(), level.toUpperCase(), event];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    parts.push(`${k}=${SECRET_KEY.test(k) ? '[redacted]' : render(v)}`);
  }
  return parts.join(' ') + '\n';
}

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** A logger writing to `file` (appending, mode 0600 on creation), or to stderr when `file` is undefined. */
export function createLogger(file: string | undefined, minLevel: LogLevel = 'info'): Logger {
  const min = LogLevel[minLevel];
  const write = (level: LogLevel, event: string, fields?: LogFields) => {
    if (LogLevel[level] < min) return;
    const line = formatLine(level, event, fields);
    try {
      if (file === undefined) process.stderr.write(line);
      else appendFileSync(file, line, { mode: 0o600 });
    } catch {
      // Logging must never take the agent down.
    }
  };
  return {
    debug: (e, f) => write('debug', e, f),
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
