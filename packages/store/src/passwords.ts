import { spawn } from 'node:child_process';
import { constants, openSync, closeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ReadStream, WriteStream } from 'node:tty';
import { StoreError, StoreErrorCode, errnoCode, invalidArgument } from './errors.js';

/** The variable `--pw-env` reads when given no name (oidc-agent's). */
export const DEFAULT_PASSWORD_ENV = 'OIDC_ENCRYPTION_PW';

/** The error when nothing can supply a password (headless, no option given). */
export const NO_PASSWORD_SOURCE_MESSAGE =
  'no password source: use --pw-env, --pw-file or --pw-cmd (no terminal to prompt on)';

const MAX_SECRET_BYTES = 64 * 1024;
const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

function sourceError(message: string, cause?: unknown): StoreError {
  return new StoreError(StoreErrorCode.PASSWORD_SOURCE, message, cause === undefined ? undefined : { cause });
}

/** The first line of `text`, without its `\n` or `\r\n`. */
function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  const line = nl === -1 ? text : text.slice(0, nl);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Reads a password from an environment variable (default `OIDC_ENCRYPTION_PW`); unset or empty is an error. */
export function passwordFromEnv(name: string = DEFAULT_PASSWORD_ENV, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw invalidArgument('--pw-env needs an environment variable name');
  }
  const value = env[name];
  if (value === undefined) throw sourceError(`environment variable ${name} is not set`);
  if (value === '') throw sourceError(`environment variable ${name} is empty`);
  return value;
}

/**
 * Reads a password from the first line of a file (trailing `\n`/`\r\n` stripped). Refuses
 * anything but a regular file (a FIFO or device could block or never end); an empty first line
 * is an error. Symlinks are followed (e.g. to a secrets mount).
 */
export async function passwordFromFile(path: string): Promise<string> {
  if (typeof path !== 'string' || path === '') throw invalidArgument('--pw-file needs a file name');
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw sourceError(`password file ${path} does not exist`, err);
    throw sourceError(`cannot open password file ${path}`, err);
  }
  let text: string;
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw sourceError(`password file ${path} is not a regular file`);
    if (st.size > MAX_SECRET_BYTES) throw sourceError(`password file ${path} is larger than 64 KiB`);
    text = await handle.readFile({ encoding: 'utf8' });
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw sourceError(`cannot read password file ${path}`, err);
  } finally {
    await handle.close();
  }
  const pw = firstLine(text);
  if (pw === '') throw sourceError(`password file ${path} is empty`);
  return pw;
}

/** Options of {@link passwordFromCommand}. */
export type PasswordCommandOptions = {
  /** Environment of the command; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this long; default 60 000 ms. */
  timeoutMs?: number;
};

/**
 * Runs `command` through `/bin/sh -c` (stdin ignored, stderr passed through) and returns the
 * first line of its stdout. Non-zero exit, a signal, a timeout or empty output is an error
 * that names the status but never the output (nor the command, which may embed secrets).
 */
export function passwordFromCommand(command: string, options: PasswordCommandOptions = {}): Promise<string> {
  if (typeof command !== 'string' || command.trim() === '') throw invalidArgument('--pw-cmd needs a command');
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise<string>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: options.env ?? process.env,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: StoreError | undefined, value?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        // A grandchild may hold stdout open after sh dies: stop listening rather than wait.
        child.stdout.destroy();
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(err);
      } else {
        resolve(value as string);
      }
    };
    const timer = setTimeout(() => {
      settle(sourceError(`password command timed out after ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_SECRET_BYTES) {
        settle(sourceError('password command printed more than 64 KiB'));
        return;
      }
      chunks.push(chunk);
    });
    child.on('error', (err) => settle(sourceError('cannot run password command', err)));
    child.on('close', (code, signal) => {
      const out = Buffer.concat(chunks);
      const text = out.toString('utf8');
      out.fill(0);
      if (signal !== null) return settle(sourceError(`password command was killed by ${signal}`));
      if (code !== 0) return settle(sourceError(`password command exited with status ${code}`));
      const pw = firstLine(text);
      if (pw === '') return settle(sourceError('password command printed nothing'));
      settle(undefined, pw);
    });
  });
}

/** Result of feeding keystrokes to {@link editPasswordLine}. */
export type LineEdit = {
  /** The line typed so far. */
  line: string;
  /** `submit` on Enter or Ctrl-D, `cancel` on Ctrl-C; undefined while typing. */
  done?: 'submit' | 'cancel';
  /** Input after the key that ended the line (typed ahead, e.g. the confirmation). */
  rest: string;
};

/**
 * Applies raw-terminal keystrokes to a no-echo password line: Enter/Ctrl-D submit, Ctrl-C
 * cancels, Backspace/DEL, Ctrl-U (kill line) and Ctrl-W (kill word) edit; escape sequences
 * (arrow keys) and other control characters are dropped.
 */
export function editPasswordLine(line: string, input: string): LineEdit {
  const chars = Array.from(line);
  const keys = Array.from(input);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    switch (k) {
      case '\r':
      case '\n': {
        const next = k === '\r' && keys[i + 1] === '\n' ? i + 2 : i + 1;
        return { line: chars.join(''), done: 'submit', rest: keys.slice(next).join('') };
      }
      case '\x04':
        return { line: chars.join(''), done: 'submit', rest: keys.slice(i + 1).join('') };
      case '\x03':
        return { line: '', done: 'cancel', rest: '' };
      case '\x7f':
      case '\b':
        chars.pop();
        break;
      case '\x15':
        chars.length = 0;
        break;
      case '\x17':
        while (chars.length > 0 && /\s/.test(chars[chars.length - 1] as string)) chars.pop();
        while (chars.length > 0 && !/\s/.test(chars[chars.length - 1] as string)) chars.pop();
        break;
      case '\x1b': {
        // CSI (ESC [ … final) or SS3 (ESC O x): skip the whole sequence.
        const intro = keys[i + 1];
        if (intro === '[' || intro === 'O') {
          i += 2;
          if (intro === '[') {
            while (i < keys.length && !/[\x40-\x7e]/.test(keys[i] as string)) i++;
          }
        } else if (intro !== undefined) {
          i += 1;
        }
        break;
      }
      default:
        if (k >= ' ' && k !== '\x7f') chars.push(k);
    }
  }
  return { line: chars.join(''), rest: '' };
}

/** A terminal to prompt on: readable with raw mode, plus somewhere to write the question. */
export type PromptStreams = {
  input?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  output?: NodeJS.WritableStream;
};

/** Options of {@link promptPassword}. */
export type PromptOptions = PromptStreams & {
  /** Ask twice and require both to match (for a new password). */
  confirm?: boolean;
  /** The second question; default "Confirm password: ". */
  confirmQuestion?: string;
};

type Terminal = {
  input: NodeJS.ReadableStream & { setRawMode: (mode: boolean) => unknown };
  output: NodeJS.WritableStream;
  close: () => void;
};

// Like getpass(3): the controlling terminal, even when stdin/stderr are redirected.
function openTerminal(streams: PromptStreams): Terminal {
  if (streams.input) {
    const { input } = streams;
    if (!input.isTTY || typeof input.setRawMode !== 'function') throw sourceError(NO_PASSWORD_SOURCE_MESSAGE);
    return { input: input as Terminal['input'], output: streams.output ?? process.stderr, close: () => {} };
  }
  if (process.platform !== 'win32') {
    let rfd: number | undefined;
    let wfd: number | undefined;
    try {
      rfd = openSync('/dev/tty', constants.O_RDONLY | constants.O_NOCTTY);
      if (streams.output === undefined) wfd = openSync('/dev/tty', constants.O_WRONLY | constants.O_NOCTTY);
    } catch {
      // No controlling terminal (daemon, CI, setsid): fall back to stdin below.
      if (rfd !== undefined) closeSync(rfd);
      rfd = undefined;
    }
    if (rfd !== undefined) {
      const input = new ReadStream(rfd);
      const own = wfd === undefined ? undefined : new WriteStream(wfd);
      return {
        input,
        output: own ?? (streams.output as NodeJS.WritableStream),
        close: () => {
          input.destroy();
          own?.destroy();
        },
      };
    }
  }
  if (process.stdin.isTTY) {
    return { input: process.stdin, output: streams.output ?? process.stderr, close: () => process.stdin.pause() };
  }
  throw sourceError(NO_PASSWORD_SOURCE_MESSAGE);
}

function readLines(term: Terminal, questions: readonly string[]): Promise<string[]> {
  const { input, output } = term;
  return new Promise<string[]>((resolve, reject) => {
    const answers: string[] = [];
    let line = '';
    const cleanup = (): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.removeListener('error', onError);
      input.setRawMode(false);
      input.pause();
    };
    const next = (): boolean => {
      answers.push(line);
      line = '';
      output.write('\n');
      if (answers.length === questions.length) {
        cleanup();
        resolve(answers);
        return false;
      }
      output.write(questions[answers.length] as string);
      return true;
    };
    const onData = (chunk: string | Buffer): void => {
      let rest = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      while (rest !== '') {
        const edit = editPasswordLine(line, rest);
        line = edit.line;
        rest = edit.rest;
        if (edit.done === 'cancel') {
          output.write('\n');
          cleanup();
          reject(sourceError('password prompt cancelled'));
          return;
        }
        if (edit.done === 'submit' && !next()) return;
      }
    };
    const onEnd = (): void => {
      // EOF ends the current line like Enter, but cannot answer a further question.
      if (answers.length + 1 === questions.length) {
        next();
        return;
      }
      output.write('\n');
      cleanup();
      reject(sourceError('password prompt cancelled (end of input)'));
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(sourceError('cannot read from the terminal', err));
    };
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
    // Raw mode is on before the question shows, so nothing typed after it is ever echoed.
    output.write(questions[0] as string);
  });
}

/**
 * Asks for a password on the terminal without echo (raw mode). With `confirm`, asks twice.
 * Ctrl-C → `STORE_PASSWORD_SOURCE` "cancelled"; no terminal → `STORE_PASSWORD_SOURCE`
 * ({@link NO_PASSWORD_SOURCE_MESSAGE}). Uses `/dev/tty` unless `input` is given.
 */
export async function promptPassword(question: string, options: PromptOptions = {}): Promise<string> {
  if (typeof question !== 'string') throw invalidArgument('question must be a string');
  const term = openTerminal(options);
  try {
    const questions = options.confirm ? [question, options.confirmQuestion ?? 'Confirm password: '] : [question];
    const [first, second] = await readLines(term, questions);
    if (options.confirm && first !== second) throw sourceError('passwords do not match');
    return first as string;
  } finally {
    term.close();
  }
}

/** Options of {@link resolvePassword}: the CLI's `--pw-*` flags plus how to prompt. */
export type ResolvePasswordOptions = {
  /** `--pw-env[=VAR]`: `true` reads `OIDC_ENCRYPTION_PW`. */
  pwEnv?: string | true;
  /** `--pw-file FILE`. */
  pwFile?: string;
  /** `--pw-cmd CMD`. */
  pwCmd?: string;
  /** Prompt settings, or `false` never to prompt. Default question "Encryption password: ". */
  prompt?: (PromptStreams & { question?: string; confirmQuestion?: string }) | false;
  /** Ask twice when prompting (a new password). Non-interactive sources are taken as given. */
  confirm?: boolean;
  /** Environment for `--pw-env` and `--pw-cmd`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Timeout of `--pw-cmd`; default 60 s. */
  commandTimeoutMs?: number;
};

/**
 * Gets a password from the first configured source: `--pw-env`, `--pw-file`, `--pw-cmd`, then
 * a terminal prompt. Never reads argv. `STORE_PASSWORD_SOURCE` when the source fails or none is
 * usable.
 */
export async function resolvePassword(options: ResolvePasswordOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  if (options.pwEnv !== undefined) {
    return passwordFromEnv(options.pwEnv === true ? DEFAULT_PASSWORD_ENV : options.pwEnv, env);
  }
  if (options.pwFile !== undefined) return passwordFromFile(options.pwFile);
  if (options.pwCmd !== undefined) {
    const cmdOptions: PasswordCommandOptions = { env };
    if (options.commandTimeoutMs !== undefined) cmdOptions.timeoutMs = options.commandTimeoutMs;
    return passwordFromCommand(options.pwCmd, cmdOptions);
  }
  if (options.prompt === false) throw sourceError(NO_PASSWORD_SOURCE_MESSAGE);
  const { question = 'Encryption password: ', ...rest } = options.prompt ?? {};
  return promptPassword(question, { ...rest, confirm: options.confirm ?? false });
}
