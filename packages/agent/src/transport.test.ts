/**
 * The server transport on its own: real unix sockets, real clients (node:net), the pipe-handle
 * listener (and node:net's where the bindings are not used). server.ts's behaviour on top is
 * tested end to end (test/hostile-socket.test.ts runs every hostile case on both transports).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TESTED_NODE_MAJORS } from '@token-agent/protocol';
import { createListener, type Connection } from './transport.js';

const dir = mkdtempSync(join(tmpdir(), 'transport-'));
let n = 0;
const path = () => join(dir, `t${n++}.sock`);

/** Connects, writes `data`, reads until the server closes; resolves with what came back. */
function client(socketPath: string, data: string): Promise<{ reply: string; error?: string }> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    let reply = '';
    let error: string | undefined;
    s.on('data', (d) => (reply += d.toString('utf8')));
    s.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
    s.on('close', () => resolve(error === undefined ? { reply } : { reply, error }));
    s.write(data);
  });
}

describe('agent transport', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the pipe-handle listener is the one used on a tested Node major', () => {
    const tested = TESTED_NODE_MAJORS.includes(Number(process.versions.node.split('.')[0]));
    assert.equal(createListener(() => undefined).kind, tested ? 'pipe' : 'net');
  });

  test('a reply larger than the socket buffer (an asynchronous write) arrives whole before the close', async () => {
    const big = 'x'.repeat(4 * 1024 * 1024);
    const p = path();
    const l = createListener((c) => c.onData(() => c.end(big)));
    await l.listen({ path: p, backlog: 16 });
    const r = await client(p, 'hello');
    assert.equal(r.reply.length, big.length);
    assert.equal(r.error, undefined);
    l.close();
  });

  test('write, pause/resume, then end: the peer gets both writes in order; onClose runs once', async () => {
    const p = path();
    let closes = 0;
    const l = createListener((c: Connection) => {
      c.onClose(() => closes++);
      c.onData((chunk) => {
        c.pause();
        c.write(`first:${chunk.toString()};`);
        setTimeout(() => {
          c.resume();
          c.end('second');
          assert.equal(c.writable, false);
        }, 20);
      });
    });
    await l.listen({ path: p, backlog: 16 });
    assert.deepEqual(await client(p, 'abc'), { reply: 'first:abc;second' });
    assert.equal(closes, 1);
    l.close();
  });

  test('EOF from the client reaches onEnd; a reply after it is still delivered', async () => {
    const p = path();
    const l = createListener((c) => {
      let got = '';
      c.onData((d) => (got += d.toString()));
      c.onEnd(() => c.end(`got ${got}`));
    });
    await l.listen({ path: p, backlog: 16 });
    const reply = await new Promise<string>((resolve) => {
      const s = connect(p);
      let r = '';
      s.on('data', (d) => (r += d));
      s.on('close', () => resolve(r));
      s.end('half-closed');
    });
    assert.equal(reply, 'got half-closed');
    l.close();
  });

  test('maxConnections: connections beyond it are closed at once; the others are served', async () => {
    const p = path();
    const held: Connection[] = [];
    const l = createListener((c) => {
      held.push(c);
      c.onData(() => undefined);
    });
    l.maxConnections = 2;
    await l.listen({ path: p, backlog: 16 });
    const first = client(p, 'a');
    const second = client(p, 'b');
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    const third = await client(p, 'c');
    assert.equal(third.reply, '', 'closed without a reply');
    assert.equal(held.length, 2, 'the third never reached the server');
    for (const c of held) c.end('served');
    assert.equal((await first).reply, 'served');
    assert.equal((await second).reply, 'served');
    // Slots are given back on close.
    const fourth = client(p, 'd');
    while (held.length < 3) await new Promise((r) => setTimeout(r, 5));
    held[2]!.end('again');
    assert.equal((await fourth).reply, 'again');
    l.close();
  });

  test('a peer that goes away: writes to it fail quietly, onError runs, the connection closes', async () => {
    const p = path();
    let errored!: () => void;
    const gotError = new Promise<void>((r) => (errored = r));
    const l = createListener((c) => {
      c.onError(() => errored());
      c.onData(() => {
        // The client is gone by now; keep writing until the kernel says so.
        const again = () => {
          if (c.closed) return;
          c.write('y'.repeat(64 * 1024));
          setTimeout(again, 1);
        };
        setTimeout(again, 50);
      });
    });
    await l.listen({ path: p, backlog: 16 });
    const s = connect(p);
    s.write('go', () => s.destroy());
    await gotError;
    l.close();
  });

  test('listen: mode from the umask, EADDRINUSE for a live socket, close removes the file', async () => {
    const p = path();
    const l = createListener((c) => c.destroy());
    const old = process.umask(0o177);
    try {
      await l.listen({ path: p, backlog: 16 });
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(p).mode & 0o777, 0o600);
    const other = createListener(() => undefined);
    await assert.rejects(other.listen({ path: p, backlog: 16 }), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE');
    assert.equal(statSync(p).isSocket(), true, 'the failed listen left the live socket alone');
    const probe = connect(p);
    assert.equal(await new Promise<boolean>((r) => probe.on('connect', () => r(true)).on('error', () => r(false))), true, 'still accepting');
    probe.destroy();
    l.close();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(existsSync(p), false);
  });
});
