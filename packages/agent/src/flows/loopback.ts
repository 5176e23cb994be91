/**
 * The loopback redirect listener of one code flow (RFC 8252 §7.3): an HTTP server on 127.0.0.1,
 * started by the agent for the flow and closed when the flow ends. It serves only `GET` on the
 * redirect URI's path; everything else is answered 400. What a callback means is decided by the
 * caller's handler; this file knows sockets, not OAuth.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** oidc-agent's redirect ports (reference/oidc-agent.md §1.9). */
export const DEFAULT_REDIRECT_PORTS: readonly number[] = [4242, 8080, 43985];

export interface Page {
  status: number;
  html: string;
}

/** Decides what a request to the redirect URI means; `done` closes the listener after the answer. */
export type CallbackHandler = (url: URL) => Promise<Page & { done?: boolean }>;

export interface LoopbackListener {
  readonly port: number;
  /** `http://HOST:PORT/` as registered and sent as `redirect_uri`. */
  readonly redirectUri: string;
  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void>;
}

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'",
  connection: 'close',
};

function listenOn(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host: '127.0.0.1', exclusive: true });
  });
}

/**
 * Listens on the first free port of `ports` (0 = any free port), then on a random free port when
 * `randomFallback` is set and all are taken. Requests are handled one at a time in arrival order,
 * so two callbacks can never both be exchanged. `badRequest` is the page for anything that is
 * not a `GET` of `/`.
 */
export async function listenLoopback(options: {
  ports: readonly number[];
  randomFallback: boolean;
  host: '127.0.0.1' | 'localhost';
  handler: CallbackHandler;
  badRequest: Page;
}): Promise<LoopbackListener> {
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();
  let server!: Server;
  let port: number | undefined;

  const close = (): Promise<void> => {
    if (closed) return Promise.resolve();
    closed = true;
    return new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  const answer = (res: ServerResponse, page: Page) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(page.status, { ...HEADERS, 'content-length': Buffer.byteLength(page.html) }).end(page.html);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '', `http://${options.host}:${port}`);
    } catch {
      url = undefined;
    }
    if (req.method !== 'GET' || url === undefined || url.pathname !== '/' || !(req.url ?? '').startsWith('/')) {
      answer(res, options.badRequest);
      return;
    }
    const callback = url;
    queue = queue.then(async () => {
      if (closed) {
        answer(res, options.badRequest);
        return;
      }
      let page: Page & { done?: boolean };
      try {
        page = await options.handler(callback);
      } catch {
        page = { ...options.badRequest, status: 500 };
      }
      if (page.done) {
        // Answer first, then stop: the browser gets its page, nothing else gets in.
        res.once('finish', () => void close());
        res.once('close', () => void close());
      }
      answer(res, page);
    });
  };

  const candidates = [...options.ports];
  if (options.randomFallback && !candidates.includes(0)) candidates.push(0);
  let lastError: unknown;
  for (const candidate of candidates) {
    server = createServer(onRequest);
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    server.keepAliveTimeout = 1_000;
    try {
      port = await listenOn(server, candidate);
      break;
    } catch (err) {
      lastError = err;
      port = undefined;
    }
  }
  if (port === undefined) {
    const code = (lastError as NodeJS.ErrnoException | undefined)?.code ?? 'error';
    throw Object.assign(new Error(`no free port for the redirect listener (tried ${candidates.join(', ')}: ${code})`), {
      code: 'AGENT_NO_REDIRECT_PORT',
    });
  }
  const bound = port;
  return { port: bound, redirectUri: `http://${options.host}:${bound}/`, close };
}
