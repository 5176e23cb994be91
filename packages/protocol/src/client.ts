/**
 * A client for one exchange with the agent: connect, send one request, read one reply.
 *
 * Plaintext by default (the socket is 0600 in a 0700 directory); `encrypted: true` speaks the
 * NaCl-box exchange that liboidc-agent uses. Every exchange has a deadline and a size cap.
 */
import type { Socket } from 'node:net';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { MAX_MESSAGE_BYTES, MessageReader } from './frame.js';
import { pipeTransport } from './pipe-transport.js';
import { buildRequest, type FailureReply, type Reply, type RequestName, type RequestParams } from './requests.js';

export interface ExchangeOptions {
  /** Path of the agent's socket. */
  socketPath: string;
  /** Deadline for the whole exchange; default 30 s. */
  timeoutMs?: number;
  /** Speak the encrypted protocol (X25519 + secretbox). */
  encrypted?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;

function connectError(socketPath: string, err: NodeJS.ErrnoException): ProtocolError {
  const why = err.code === 'ENOENT' ? 'no socket' : err.code === 'ECONNREFUSED' ? 'nobody listening' : (err.code ?? 'error');
  return new ProtocolError(ProtocolErrorCode.connect, `cannot reach the agent at ${socketPath} (${why}): start one with: eval $(token-agent)`, {
    cause: err,
  });
}

// Imported once: a dynamic import() per exchange costs a module resolution every time (and, under
// a loader such as tsx, a round trip to the loader thread).
let secureChannelModule: Promise<typeof import('./secure-channel.js')> | undefined;
function loadSecureChannel(): Promise<typeof import('./secure-channel.js')> {
  secureChannelModule ??= import('./secure-channel.js');
  return secureChannelModule;
}

/** Reads from `socket` until `done` says a message is complete, or EOF. */
function readMessage(socket: Socket, reader: MessageReader, stopEarly: boolean): Promise<ReturnType<MessageReader['end']>> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
    };
    const onData = (chunk: Buffer) => {
      const m = reader.push(chunk);
      if (m.kind === 'invalid' || (stopEarly && m.kind !== 'incomplete')) {
        cleanup();
        resolve(m);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(reader.end());
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
  });
}

/**
 * Sends one message and returns the agent's reply as text (decrypted if encrypted).
 * Low level: {@link request} is what callers usually want.
 *
 * A plaintext exchange goes over libuv's pipe handle where that is known to work (pipe-transport.ts:
 * it spares a CLI loading node:net); everything else, and a connect that failed there, over node:net.
 */
export async function exchange(message: string, options: ExchangeOptions): Promise<string> {
  const { socketPath, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) throw new ProtocolError(ProtocolErrorCode.tooLarge, 'request too large');
  const pipe = options.encrypted ? undefined : pipeTransport();
  if (pipe !== undefined) {
    const outcome = await pipe.exchange(message, socketPath, timeoutMs);
    if (outcome.kind === 'reply') return outcome.text;
    // Not connected, so nothing was sent: node:net tries once more and words the failure.
  }
  return netExchange(message, options);
}

/** {@link exchange} over node:net alone (exported for the tests that compare both transports). */
export async function netExchange(message: string, options: ExchangeOptions): Promise<string> {
  const { socketPath, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) throw new ProtocolError(ProtocolErrorCode.tooLarge, 'request too large');
  // Loaded here, not at the top: a CLI whose exchanges all go over the pipe transport never loads it.
  const { connect } = await import('node:net');
  const socket = connect(socketPath);
  let timer: NodeJS.Timeout | undefined;
  let answered = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new ProtocolError(ProtocolErrorCode.timeout, `the agent at ${socketPath} did not answer within ${Math.round(timeoutMs / 1000)} s`));
      socket.destroy();
    }, timeoutMs);
  });
  // Plaintext: write at once; the socket sends it as soon as it connects (saves an event-loop turn).
  if (!options.encrypted) socket.write(message);
  try {
    await Promise.race([
      deadline,
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', (err: NodeJS.ErrnoException) => reject(connectError(socketPath, err)));
      }),
    ]);
    const run = async (): Promise<string> => {
      if (!options.encrypted) {
        const reply = await readMessage(socket, new MessageReader('first'), false);
        if (reply.kind !== 'json') throw new ProtocolError(ProtocolErrorCode.badReply, 'the agent sent an unreadable reply');
        return reply.text;
      }
      const { SecureChannel } = await loadSecureChannel();
      const offer = await SecureChannel.offer();
      socket.write(offer.publicKey);
      const key = await readMessage(socket, new MessageReader('first'), true);
      // On errors the agent may answer in plain JSON right away.
      if (key.kind === 'json') return key.text;
      if (key.kind !== 'public-key') throw new ProtocolError(ProtocolErrorCode.badReply, 'the agent sent no public key');
      const channel = offer.complete(key.key);
      socket.write(channel.seal(message));
      const reply = await readMessage(socket, new MessageReader('encrypted'), false);
      if (reply.kind === 'json') return reply.text;
      if (reply.kind !== 'frame') throw new ProtocolError(ProtocolErrorCode.badReply, 'the agent sent an unreadable reply');
      try {
        return channel.open(reply);
      } catch (err) {
        throw new ProtocolError(ProtocolErrorCode.badReply, 'could not decrypt the agent reply', { cause: err });
      } finally {
        channel.close();
      }
    };
    const reply = await Promise.race([deadline, run()]);
    answered = true;
    return reply;
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError(ProtocolErrorCode.connect, `connection to the agent at ${socketPath} failed`, { cause: err });
  } finally {
    clearTimeout(timer);
    if (answered) {
      // The agent has closed its side: close ours once our FIN is out. Not destroy(): Node's
      // Socket#_destroy creates process.stderr (~0.5 ms in a CLI that exits right after).
      socket.on('error', () => undefined);
      socket.destroySoon();
    } else socket.destroy();
  }
}

/**
 * Sends a catalogue request and returns the parsed success (or `accepted`) reply.
 * A `failure` reply throws `PROTOCOL_AGENT_ERROR` carrying the agent's `error` and `info`.
 * Other statuses (`NotFound`, `FoundButReceived`) are returned as they are.
 */
export async function request<N extends RequestName>(
  name: N,
  params: RequestParams<N>,
  options: ExchangeOptions,
): Promise<Reply<N> | { status: 'NotFound' | 'FoundButReceived'; info?: string }> {
  const text = await exchange(JSON.stringify(buildRequest(name, params)), options);
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch (err) {
    throw new ProtocolError(ProtocolErrorCode.badReply, 'the agent sent invalid JSON', { cause: err });
  }
  if (typeof reply !== 'object' || reply === null || typeof (reply as { status?: unknown }).status !== 'string') {
    throw new ProtocolError(ProtocolErrorCode.badReply, 'the agent reply has no status');
  }
  const r = reply as { status: string } & Partial<FailureReply>;
  if (r.status === 'failure') {
    const error = typeof r.error === 'string' ? r.error : 'unknown error';
    const info = typeof r.info === 'string' ? r.info : undefined;
    throw new ProtocolError(ProtocolErrorCode.agent, error, info === undefined ? { agentError: error } : { agentError: error, info });
  }
  return reply as Reply<N>;
}
