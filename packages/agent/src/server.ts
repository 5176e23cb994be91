/**
 * The socket server: accepts connections, reads exactly one request per connection (plaintext JSON,
 * or the encrypted exchange), answers with one write, closes. Every connection has a deadline and a
 * size cap; nothing a client does (garbage, a stall, a flood) blocks another client.
 * @see ../../../shared/reference/oidc-agent.md §1.3–1.5
 */
import { MessageReader, SecureChannel, type Message } from '@token-agent/protocol';
import type { AgentContext } from './context.js';
import { dispatch } from './dispatch.js';
import type { Restriction } from './restricted.js';
import { createListener, type Connection, type Listener } from './transport.js';

export interface ServerOptions {
  /** Time a client has to deliver its request (per phase of the exchange). Default 5 s. */
  requestTimeoutMs?: number;
  /** Serve only what this allows (the restricted socket). */
  restriction?: Restriction;
}

function failure(error: string): string {
  return JSON.stringify({ status: 'failure', error });
}

/** Serves one connection from first byte to close. */
function serveConnection(ctx: AgentContext, conn: Connection, timeoutMs: number, restriction: Restriction | undefined): void {
  let reader = new MessageReader('first');
  let channel: SecureChannel | undefined;
  let busy = false;
  let done = false;

  // One timer per connection, re-armed with refresh() (cheaper than a new one per phase): the
  // deadline for each phase of the exchange, then, once the reply is written, how long a peer that
  // does not read it may keep the socket. Cleared as soon as the socket closes, else every
  // connection of the last few seconds would stay reachable.
  const timer = setTimeout(() => {
    if (done) conn.destroy();
    else if (!busy) {
      ctx.log.debug('connection-timeout', { bytes: reader.size });
      finish(reader.size > 0 ? failure('Bad Request: incomplete message (timed out)') : undefined);
    }
  }, timeoutMs).unref();
  const arm = () => timer.refresh();

  const finish = (reply?: string) => {
    if (done) return;
    done = true;
    channel?.close();
    // No more reading: the 'data' handler ignores anything after this (done).
    if (reply !== undefined && conn.writable) conn.end(reply);
    else conn.destroy();
    if (conn.closed) clearTimeout(timer);
    else {
      timer.refresh();
      conn.onClose(() => clearTimeout(timer));
    }
  };

  const handle = async (m: Message) => {
    busy = true;
    try {
      switch (m.kind) {
        case 'incomplete':
          return;
        case 'invalid':
          finish(failure(`Bad Request: ${m.reason}`));
          return;
        case 'public-key': {
          // Hold the client's next message in the socket until the channel exists.
          conn.pause();
          const accepted = await SecureChannel.accept(m.key);
          channel = accepted.channel;
          reader = new MessageReader('encrypted');
          if (done) return;
          conn.write(accepted.publicKey);
          busy = false;
          arm();
          conn.resume();
          return;
        }
        case 'frame': {
          let text: string;
          try {
            text = channel!.open(m);
          } catch {
            // As oidc-agent: errors before a shared secret is trusted go back in plain JSON.
            finish(failure('Bad Request: could not decrypt the message'));
            return;
          }
          const reply = respond(text);
          finish(channel!.seal(typeof reply === 'string' ? reply : await reply));
          return;
        }
        case 'json': {
          if (channel !== undefined) {
            finish(failure('Bad Request: expected an encrypted message'));
            return;
          }
          // A cached token is answered without a promise: written in the turn the request was read.
          const reply = respond(m.text);
          finish(typeof reply === 'string' ? reply : await reply);
          return;
        }
      }
    } catch (err) {
      ctx.log.error('connection-failed', { error: err instanceof Error ? err.message : String(err) });
      finish(failure('internal error in the agent (see its log)'));
    }
  };

  const respond = (text: string): string | Promise<string> => {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return failure('Bad Request: message is not valid JSON');
    }
    const reply = dispatch(ctx, message, restriction);
    return reply instanceof Promise ? reply.then((r) => JSON.stringify(r)) : JSON.stringify(reply);
  };

  conn.onData((chunk: Buffer) => {
    if (busy || done) return;
    const m = reader.push(chunk);
    if (m.kind !== 'incomplete') void handle(m);
  });
  conn.onEnd(() => {
    // The client half-closed: what it sent is all there is.
    if (!busy && !done) void handle(reader.end());
  });
  conn.onError(() => finish());
}

/** Creates the server (transport.ts: pipe handles or node:net); the caller listens on the socket path. */
export function createAgentServer(ctx: AgentContext, options: ServerOptions = {}): Listener {
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  return createListener((conn) => serveConnection(ctx, conn, timeoutMs, options.restriction));
}
