// Real misbehaving HTTP servers on 127.0.0.1 for the oidc package's tests (not compiled, not shipped).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { OidcError } from '../src/errors.js';

export interface Hit {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** 1 for the first request to this path, 2 for the second, … */
  n: number;
  /** Date.now() when the request arrived. */
  at: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, hit: Hit) => unknown;

export interface FaultServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  hits: Hit[];
  count(path: string): number;
  close(): Promise<void>;
}

/** Starts a server that routes by path (without query); unknown paths get a 404 HTML page. */
export async function startFaultServer(routes: Record<string, Handler>): Promise<FaultServer> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const hit: Hit = {
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        n: hits.filter((h) => h.path === path).length + 1,
        at: Date.now(),
      };
      hits.push(hit);
      const handler = routes[path];
      if (!handler) {
        res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
        return;
      }
      Promise.resolve(handler(req, res, hit)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    hits,
    count: (path) => hits.filter((h) => h.path === path).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** A port nothing listens on (bound, then released). */
export async function refusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface FakeOp extends FaultServer {
  issuer: string;
}

/**
 * A fake OP: serves a discovery document whose endpoints point at itself, and the given handlers
 * for `/token`, `/device`, `/register`, `/revoke` (only those given are advertised).
 */
export async function startFakeOp(
  routes: Partial<Record<'/token' | '/device' | '/register' | '/revoke', Handler>>,
  extraMetadata: Record<string, unknown> = {},
): Promise<FakeOp> {
  let issuer = '';
  const all: Record<string, Handler> = {
    '/.well-known/openid-configuration': (_req, res) => {
      const doc: Record<string, unknown> = { issuer, token_endpoint: `${issuer}/token`, ...extraMetadata };
      if (routes['/device']) doc['device_authorization_endpoint'] = `${issuer}/device`;
      if (routes['/register']) doc['registration_endpoint'] = `${issuer}/register`;
      if (routes['/revoke']) doc['revocation_endpoint'] = `${issuer}/revoke`;
      json(res, 200, doc);
    },
    ...(routes as Record<string, Handler>),
  };
  const server = await startFaultServer(all);
  issuer = server.origin;
  return { ...server, issuer };
}

/** A syntactically valid unsigned JWT with the given payload (the client never verifies ATs). */
export function fakeJwt(payload: Record<string, unknown>): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(payload)}.sig`;
}

export function form(body: string): URLSearchParams {
  return new URLSearchParams(body);
}

/** Awaits `p`, which must reject with an {@link OidcError} of `code`; returns that error. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<OidcError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OidcError, `expected OidcError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}
