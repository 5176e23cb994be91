/**
 * The plaintext exchange on libuv's pipe handle directly, without node:net; and the bindings for
 * that, which the agent's server uses too (packages/agent/src/connection.ts).
 *
 * Why: a CLI that asks for one cached token spends about 5 ms of its ~35 ms on node:net — loading
 * the module (~3.5 ms) and building its first `net.Socket` (~1.5 ms) — while the exchange itself is
 * a connect, one write and reads to EOF (docs/benchmarks.md §1). This module does those on the
 * handle that node:net itself wraps (`Pipe` of the `pipe_wrap` binding), which is already in the
 * node binary.
 *
 * Those bindings are Node internals reached through `process.binding` (DEP0111, a
 * documentation-only deprecation). So the transport is used only where it is known to work and to
 * stay silent, and {@link pipeTransport} returns undefined otherwise, for the caller to use node:net:
 * - only on the Node majors it is tested with ({@link TESTED_NODE_MAJORS});
 * - never under `--pending-deprecation` (there `process.binding` prints a warning);
 * - only when every piece it uses is there with the expected type.
 * A connect that fails sends nothing; the caller then retries the exchange with node:net, which
 * words the error ("no socket", "nobody listening") the same way for both paths.
 */
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { MessageReader } from './frame.js';

/** Node major versions this transport has been run with (the whole test suite goes through it). */
export const TESTED_NODE_MAJORS: readonly number[] = [20];

/** A libuv stream handle of the `pipe_wrap` binding (what node:net wraps in a net.Socket). */
export interface StreamHandle {
  /** Must always be a function: the binding aborts the process on anything else. */
  onread: (this: StreamHandle, buffer: ArrayBuffer | undefined) => void;
  connect(req: ConnectReq, path: string): number;
  readStart(): number;
  readStop(): number;
  writeUtf8String(req: WriteReq, text: string): number;
  close(callback?: () => void): void;
}
/** A listening `pipe_wrap` handle. */
export interface ServerHandle {
  /** Must always be a function (as onread): called with a libuv status and the accepted handle. */
  onconnection: (status: number, client: StreamHandle | undefined) => void;
  bind(path: string): number;
  open(fd: number): number;
  listen(backlog: number): number;
  close(callback?: () => void): void;
}
export interface ConnectReq {
  oncomplete: (status: number) => void;
}
export interface WriteReq {
  handle: StreamHandle;
  oncomplete: (status: number) => void;
}
/** The pieces of Node's stream bindings this module and the agent's server use. */
export interface PipeBindings {
  newPipe(): StreamHandle;
  newServer(): ServerHandle;
  newConnectReq(): ConnectReq;
  newWriteReq(): WriteReq;
  /** Whether the last write went asynchronous (its request completes later) rather than at once. */
  lastWriteWasAsync(): boolean;
  /**
   * What an `onread` call delivered: the bytes (a view of `buffer`, checked against its bounds),
   * `nothing` (a zero-length read), `eof`, or `error` (a libuv error or a buffer that does not fit).
   */
  readResult(buffer: ArrayBuffer | undefined): Buffer | 'nothing' | 'eof' | 'error';
}

/** The outcome of one exchange: the reply text, or `not-connected` (nothing was sent). */
export type PipeOutcome = { kind: 'reply'; text: string } | { kind: 'not-connected' };

export interface PipeTransport {
  /** Connects to `socketPath`, writes `message`, reads one JSON reply until the agent closes. */
  exchange(message: string, socketPath: string, timeoutMs: number): Promise<PipeOutcome>;
}

function pendingDeprecation(): boolean {
  const flag = /(^|\s)--pending[-_]deprecation(\s|=|$)/;
  return (
    process.execArgv.some((a) => flag.test(a)) ||
    flag.test(process.env.NODE_OPTIONS ?? '') ||
    (process.env.NODE_PENDING_DEPRECATION ?? '') === '1'
  );
}

type Binding = Record<string, unknown>;

function loadBindings(): PipeBindings | undefined {
  const major = Number(process.versions.node.split('.')[0]);
  if (!TESTED_NODE_MAJORS.includes(major) || pendingDeprecation()) return undefined;
  const binding = (process as unknown as { binding?: (name: string) => Binding }).binding;
  if (typeof binding !== 'function') return undefined;
  try {
    const pipeWrap = binding('pipe_wrap');
    const streamWrap = binding('stream_wrap');
    const uv = binding('uv');
    const Pipe = pipeWrap.Pipe as (new (type: number) => StreamHandle & ServerHandle) | undefined;
    const PipeConnectWrap = pipeWrap.PipeConnectWrap as (new () => ConnectReq) | undefined;
    const WriteWrap = streamWrap.WriteWrap as (new () => WriteReq) | undefined;
    const socketType = (pipeWrap.constants as Binding | undefined)?.SOCKET;
    const serverType = (pipeWrap.constants as Binding | undefined)?.SERVER;
    const state = streamWrap.streamBaseState;
    const { kReadBytesOrError, kArrayBufferOffset, kLastWriteWasAsync } = streamWrap;
    const eof = uv.UV_EOF;
    if (
      typeof Pipe !== 'function' ||
      typeof PipeConnectWrap !== 'function' ||
      typeof WriteWrap !== 'function' ||
      typeof socketType !== 'number' ||
      typeof serverType !== 'number' ||
      !(state instanceof Int32Array) ||
      typeof kReadBytesOrError !== 'number' ||
      typeof kArrayBufferOffset !== 'number' ||
      typeof kLastWriteWasAsync !== 'number' ||
      typeof eof !== 'number' ||
      eof >= 0
    ) {
      return undefined;
    }
    for (const method of ['connect', 'readStart', 'readStop', 'writeUtf8String', 'close', 'bind', 'open', 'listen'] as const) {
      if (typeof (Pipe.prototype as unknown as Record<string, unknown>)[method] !== 'function') return undefined;
    }
    return {
      newPipe: () => new Pipe(socketType),
      newServer: () => new Pipe(serverType),
      newConnectReq: () => new PipeConnectWrap(),
      newWriteReq: () => new WriteWrap(),
      lastWriteWasAsync: () => state[kLastWriteWasAsync] !== 0,
      readResult(buffer) {
        const n = state[kReadBytesOrError]!;
        if (n === 0) return 'nothing';
        if (n < 0) return n === eof ? 'eof' : 'error';
        const offset = state[kArrayBufferOffset]!;
        if (!(buffer instanceof ArrayBuffer) || offset < 0 || offset + n > buffer.byteLength) return 'error';
        return Buffer.from(buffer, offset, n);
      },
    };
  } catch {
    return undefined;
  }
}

function exchangeOn(b: PipeBindings, message: string, socketPath: string, timeoutMs: number): Promise<PipeOutcome> {
  return new Promise((resolve, reject) => {
    const handle = b.newPipe();
    const reader = new MessageReader('first');
    let connected = false;
    let finished = false;
    const finish = (outcome: PipeOutcome | ProtocolError): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      // (onread stays: the binding aborts the process on a non-function; `finished` guards it.)
      handle.close();
      if (outcome instanceof ProtocolError) reject(outcome);
      else resolve(outcome);
    };
    const lost = (): void => finish(new ProtocolError(ProtocolErrorCode.connect, `connection to the agent at ${socketPath} failed`));
    const timer = setTimeout(
      () => finish(new ProtocolError(ProtocolErrorCode.timeout, `the agent at ${socketPath} did not answer within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    handle.onread = function onread(buffer) {
      if (finished) return;
      const r = b.readResult(buffer);
      if (r === 'nothing') return;
      if (r === 'error') return lost();
      const m = r === 'eof' ? reader.end() : reader.push(r);
      if (m.kind === 'invalid' || (r === 'eof' && m.kind !== 'json')) finish(new ProtocolError(ProtocolErrorCode.badReply, 'the agent sent an unreadable reply'));
      else if (m.kind === 'json' && r === 'eof') finish({ kind: 'reply', text: m.text });
    };
    const connectReq = b.newConnectReq();
    connectReq.oncomplete = (status) => {
      if (finished) return;
      if (status < 0) return finish({ kind: 'not-connected' });
      connected = true;
      const writeReq = b.newWriteReq();
      writeReq.handle = handle;
      // Completion of an asynchronous write: only a failure matters (the reply tells the rest).
      writeReq.oncomplete = (writeStatus) => {
        if (writeStatus < 0) lost();
      };
      if (handle.writeUtf8String(writeReq, message) < 0 || handle.readStart() < 0) lost();
    };
    if (handle.connect(connectReq, socketPath) < 0 && !connected) finish({ kind: 'not-connected' });
  });
}

let bindings: PipeBindings | null | undefined;

/** Node's pipe bindings, or undefined where they must not be used (see the module comment). */
export function pipeBindings(): PipeBindings | undefined {
  if (bindings === undefined) bindings = loadBindings() ?? null;
  return bindings ?? undefined;
}

let transport: PipeTransport | undefined;

/** The pipe transport, or undefined where it must not be used (see the module comment). */
export function pipeTransport(): PipeTransport | undefined {
  const b = pipeBindings();
  if (b === undefined) return undefined;
  transport ??= { exchange: (message, socketPath, timeoutMs) => exchangeOn(b, message, socketPath, timeoutMs) };
  return transport;
}
