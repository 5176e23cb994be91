/**
 * What the socket server listens and talks through: libuv's pipe handles directly where Node's
 * bindings may be used (@token-agent/protocol pipe-transport.ts says where), else node:net.
 *
 * Why: a net.Socket per connection (a Duplex stream, its buffers and events) costs more than the
 * agent's whole answer for a cached token; with a new connection per request, as clients make
 * them, that decides requests/s (docs/benchmarks.md §2). server.ts sees only {@link Connection}
 * and {@link Listener}, the same for both.
 *
 * Rules for the pipe handles (the bindings abort the process on misuse, so they are kept here):
 * `onread`/`onconnection`/`oncomplete` are always functions; a handle is closed exactly once and
 * never used after; a reply written in one synchronous write is in the peer's receive queue, so
 * the handle closes at once (as oidc-agent does), else when the write completes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { pipeBindings, type PipeBindings, type ServerHandle, type StreamHandle } from '@token-agent/protocol';

/** One client connection, as the server uses it. */
export interface Connection {
  onData(listener: (chunk: Buffer) => void): void;
  /** The client half-closed (EOF). */
  onEnd(listener: () => void): void;
  /** A read or write failed; the connection is already closed or about to be. */
  onError(listener: () => void): void;
  onClose(listener: () => void): void;
  pause(): void;
  resume(): void;
  write(text: string): void;
  /** Writes `text` and closes once it is out (or the peer is gone). */
  end(text: string): void;
  destroy(): void;
  readonly writable: boolean;
  readonly closed: boolean;
}

/** A listening socket. */
export interface Listener {
  /** Listens on `path` (the caller sets the umask) or on an inherited listening `fd`. */
  listen(target: { path: string; backlog: number } | { fd: number }): Promise<void>;
  /** Connections beyond this are closed as soon as they are accepted. */
  maxConnections: number;
  onError(listener: (err: Error) => void): void;
  /** Stops accepting (a socket file bound by path is removed); open connections are served to the end. */
  close(): void;
  /** Which implementation serves (for the log). */
  readonly kind: 'pipe' | 'net';
}

function netConnection(socket: Socket): Connection {
  return {
    onData: (l) => void socket.on('data', l),
    onEnd: (l) => void socket.on('end', l),
    onError: (l) => void socket.on('error', l),
    onClose: (l) => void socket.once('close', l),
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
    write: (text) => void socket.write(text),
    end: (text) => void socket.end(text),
    destroy: () => void socket.destroy(),
    get writable() {
      return socket.writable;
    },
    get closed() {
      return socket.destroyed;
    },
  };
}

class PipeConnection implements Connection {
  #handle: StreamHandle;
  #b: PipeBindings;
  #closed = false;
  #ending = false;
  #data: ((chunk: Buffer) => void) | undefined;
  #end: (() => void) | undefined;
  #error: (() => void) | undefined;
  #close: Array<() => void> = [];
  #release: () => void;

  constructor(handle: StreamHandle, b: PipeBindings, release: () => void) {
    this.#handle = handle;
    this.#b = b;
    this.#release = release;
    handle.onread = (buffer) => this.#onRead(buffer);
  }

  #onRead(buffer: ArrayBuffer | undefined): void {
    if (this.#closed) return;
    const r = this.#b.readResult(buffer);
    if (r === 'eof') this.#end?.();
    else if (r === 'error') this.#fail();
    else if (r !== 'nothing') this.#data?.(r);
  }

  #fail(): void {
    if (this.#closed) return;
    const onError = this.#error;
    this.destroy();
    onError?.();
  }

  /** Starts reading; false when that failed (the connection is then closed). */
  start(): boolean {
    if (this.#handle.readStart() < 0) {
      this.destroy();
      return false;
    }
    return true;
  }

  onData(l: (chunk: Buffer) => void): void {
    this.#data = l;
  }
  onEnd(l: () => void): void {
    this.#end = l;
  }
  onError(l: () => void): void {
    this.#error = l;
  }
  onClose(l: () => void): void {
    if (this.#closed) l();
    else this.#close.push(l);
  }
  pause(): void {
    if (!this.#closed) this.#handle.readStop();
  }
  resume(): void {
    if (!this.#closed && this.#handle.readStart() < 0) this.#fail();
  }

  /** One write; `then` runs once it is out: at once when the kernel took it all, else on completion. */
  #write(text: string, then?: () => void): void {
    const req = this.#b.newWriteReq();
    req.handle = this.#handle;
    req.oncomplete = (status) => {
      if (status < 0) this.#fail();
      else if (!this.#closed) then?.();
    };
    if (this.#handle.writeUtf8String(req, text) < 0) return this.#fail();
    if (!this.#b.lastWriteWasAsync()) then?.();
  }

  write(text: string): void {
    if (this.writable) this.#write(text);
  }
  end(text: string): void {
    if (!this.writable) return;
    this.#ending = true;
    this.#write(text, () => this.destroy());
  }
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
    this.#release();
    for (const l of this.#close.splice(0)) l();
  }
  get writable(): boolean {
    return !this.#closed && !this.#ending;
  }
  get closed(): boolean {
    return this.#closed;
  }
}

function errnoError(op: string, status: number, where: string): Error {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = String(status);
  }
  return Object.assign(new Error(`${op} ${code} ${where}`), { code });
}

class PipeListener implements Listener {
  readonly kind = 'pipe';
  maxConnections = Infinity;
  #b: PipeBindings;
  #handle: ServerHandle | undefined;
  #serve: (c: Connection) => void;
  #errors: Array<(err: Error) => void> = [];
  #open = 0;

  constructor(b: PipeBindings, serve: (c: Connection) => void) {
    this.#b = b;
    this.#serve = serve;
  }

  listen(target: { path: string; backlog: number } | { fd: number }): Promise<void> {
    const h = this.#b.newServer();
    const where = 'path' in target ? target.path : `fd ${target.fd}`;
    let status = 'path' in target ? h.bind(target.path) : h.open(target.fd);
    if (status === 0) status = h.listen('path' in target ? target.backlog : 511);
    if (status < 0) {
      h.close();
      return Promise.reject(errnoError('listen', status, where));
    }
    h.onconnection = (err, client) => this.#accept(err, client);
    this.#handle = h;
    return Promise.resolve();
  }

  #accept(status: number, client: StreamHandle | undefined): void {
    if (status < 0 || client === undefined) {
      const err = errnoError('accept', status, '');
      for (const l of this.#errors) l(err);
      return;
    }
    if (this.#open >= this.maxConnections) {
      // onread is set first: a handle must never be left with a non-function there.
      client.onread = () => undefined;
      client.close();
      return;
    }
    this.#open++;
    const conn = new PipeConnection(client, this.#b, () => this.#open--);
    this.#serve(conn);
    conn.start();
  }

  onError(l: (err: Error) => void): void {
    this.#errors.push(l);
  }
  close(): void {
    this.#handle?.close();
    this.#handle = undefined;
  }
}

class NetListener implements Listener {
  readonly kind = 'net';
  #server: Server;
  constructor(serve: (c: Connection) => void) {
    this.#server = createServer({ allowHalfOpen: true }, (socket) => serve(netConnection(socket)));
  }
  get maxConnections(): number {
    return this.#server.maxConnections;
  }
  set maxConnections(n: number) {
    this.#server.maxConnections = n;
  }
  listen(target: { path: string; backlog: number } | { fd: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(target, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }
  onError(l: (err: Error) => void): void {
    this.#server.on('error', l);
  }
  close(): void {
    this.#server.close();
  }
}

/** A listener that hands every accepted connection to `serve` (before the first read). */
export function createListener(serve: (c: Connection) => void): Listener {
  const b = pipeBindings();
  return b === undefined ? new NetListener(serve) : new PipeListener(b, serve);
}
