/**
 * The CLIs' contract with their callers: results on stdout, everything else on stderr, stable exit
 * codes, and one top-level translator from errors to a one-line message.
 */
import { AgentErrorText, ProtocolError } from '@token-agent/protocol';

/** Exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  /** The agent or the OP refused (the message says why). */
  failure: 1,
  /** Bad command line. */
  usage: 2,
  /** No agent reachable. */
  noAgent: 3,
  /** The account is not loaded, or does not exist. */
  account: 4,
  /** Wrong password, or no way to get one. */
  password: 5,
  /** The refresh token expired or was revoked: re-authenticate. */
  reauth: 6,
  /** A bug in token-agent. */
  bug: 70,
  /** Cancelled by the user (Ctrl-C) while waiting for a login. */
  cancelled: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure with a message meant for the user and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

// `token-get … | head -c 10`: a reader that goes away is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

/** One line for an agent failure, with its help text when there is one. */
function describeAgentError(err: ProtocolError): { message: string; code: ExitCode } {
  const error = err.agentError ?? err.message;
  let code: ExitCode = ExitCode.failure;
  if (error === AgentErrorText.accountNotLoaded || error === AgentErrorText.noAccount) code = ExitCode.account;
  else if (error === AgentErrorText.wrongPassword) code = ExitCode.password;
  else if (/\(refresh token expired or revoked\)$/.test(error)) code = ExitCode.reauth;
  const help = err.info?.replace(/\s*\n\s*/g, ' ').trim();
  // For "not loaded"/"unknown account" the help says it all (and names the account).
  if (help && code === ExitCode.account) return { message: help, code };
  return { message: help ? `${error}: ${help}` : error, code };
}

/** Maps any error to a message and an exit code; unknown errors are bugs. */
export function describeError(err: unknown): { message: string; code: ExitCode } {
  if (err instanceof CliError) return { message: err.message, code: err.exitCode };
  if (err instanceof ProtocolError) {
    if (err.code === 'PROTOCOL_AGENT_ERROR') return describeAgentError(err);
    if (err.code === 'PROTOCOL_CONNECT' || err.code === 'PROTOCOL_NO_SOCKET') return { message: err.message, code: ExitCode.noAgent };
    return { message: err.message, code: ExitCode.failure };
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('STORE_')) {
    const exit = code === 'STORE_WRONG_PASSWORD' || code === 'STORE_PASSWORD_SOURCE' ? ExitCode.password : code === 'STORE_NOT_FOUND' ? ExitCode.account : ExitCode.failure;
    return { message: (err as Error).message, code: exit };
  }
  if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander already printed its message (or the help, exit 0).
    return { message: '', code: (err as { exitCode?: number }).exitCode === 0 ? ExitCode.ok : ExitCode.usage };
  }
  return { message: `unexpected error, please report it: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, code: ExitCode.bug };
}

/** Runs a command's action; prints `prog: message` on failure and sets the exit code. */
export async function runAction(prog: string, io: Io, action: () => Promise<void>): Promise<number> {
  try {
    await action();
    return ExitCode.ok;
  } catch (err) {
    const { message, code } = describeError(err);
    if (message) io.stderr.write(`${prog}: ${message}\n`);
    return code;
  }
}

/** Single-quotes a value for sh/csh/fish output. */
export function shellQuote(s: string): string {
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * JSON for a terminal: `JSON.stringify`, with DEL and the C1 controls (U+007F–U+009F) escaped too.
 * JSON.stringify escapes only C0; a C1 CSI (U+009B) from a decoded token or a server answer would
 * otherwise reach the terminal raw. The result is the same JSON value.
 */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
