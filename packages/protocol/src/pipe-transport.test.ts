/**
 * The pipe transport against stand-in agents (node:net servers on real unix sockets): the same
 * bytes and the same errors as the node:net client, and no hang or abort on hostile replies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exchange, netExchange } from './client.js';
import { ProtocolErrorCode } from './errors.js';
import { MAX_MESSAGE_BYTES } from './frame.js';
import { TESTED_NODE_MAJORS, pipeTransport } from './pipe-transport.js';

const dir = mkdtempSync(join(tmpdir(), 'pipe-transport-'));
let n = 0;

/** A stand-in agent: `serve` gets each connection and everything it sent so far. */
async function agent(serve: (socket: Socket, received: () => string) => void): Promise<{ path: string; server: Server; requests: string[] }> {
  const path = join(dir, `s${n++}.sock`);
  const requests: string[] = [];
  const server = createServer((socket) => {
    let text = '';
    const index = requests.push('') - 1;
    socket.on('data', (d) => {
      text += d.toString('utf8');
      requests[index] = text;
    });
    socket.on('error', () => undefined);
    serve(socket, () => text);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, server, requests };
}

/** Replies with `reply` once the request is a complete JSON object. */
function replyWhenComplete(reply: string | Buffer) {
  return (socket: Socket, received: () => string) => {
    socket.on('data', () => {
      try {
        JSON.parse(received());
      } catch {
        return;
      }
      socket.end(reply);
    });
  };
}

const servers: Server[] = [];
async function start(serve: Parameters<typeof agent>[0]) {
  const a = await agent(serve);
  servers.push(a.server);
  return a;
}

/** The error a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  assert.fail('expected a rejection');
}

const tested = TESTED_NODE_MAJORS.includes(Number(process.versions.node.split('.')[0]));

describe('pipe transport', () => {
  before(() => {
    if (tested) assert.ok(pipeTransport(), 'the pipe transport is available on a tested Node major');
  });
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a reply: the same text through the pipe transport and through node:net, and the agent received the same bytes', async () => {
    const reply = JSON.stringify({ status: 'success', access_token: 'eyJ.ä€𝄞.sig', issuer: 'https://op.example/' });
    const a = await start(replyWhenComplete(reply));
    const message = JSON.stringify({ request: 'access_token', account: 'wlcg-ä€', scope: 'openid' });
    const viaPipe = await pipeTransport()!.exchange(message, a.path, 5000);
    assert.deepEqual(viaPipe, { kind: 'reply', text: reply });
    assert.equal(await netExchange(message, { socketPath: a.path }), reply);
    assert.equal(await exchange(message, { socketPath: a.path }), reply);
    assert.deepEqual(a.requests, [message, message, message]);
  });

  test('a reply dribbled one byte at a time, and a large request (an asynchronous write) arrive whole', async () => {
    const reply = JSON.stringify({ status: 'success', access_token: 'x'.repeat(3000) });
    const a = await start((socket, received) => {
      socket.on('data', () => {
        try {
          JSON.parse(received());
        } catch {
          return;
        }
        let i = 0;
        const drip = () => {
          if (i < reply.length) {
            socket.write(reply[i++]!);
            setImmediate(drip);
          } else socket.end();
        };
        drip();
      });
    });
    const big = JSON.stringify({ request: 'access_token', account: 'a', scope: 's '.repeat(200_000) });
    assert.deepEqual(await pipeTransport()!.exchange(big, a.path, 10_000), { kind: 'reply', text: reply });
    assert.equal(a.requests[0], big);
  });

  test('no socket, and a socket nobody listens on: nothing sent, and exchange() words it as node:net does', async () => {
    const missing = join(dir, 'missing.sock');
    assert.deepEqual(await pipeTransport()!.exchange('{"request":"check"}', missing, 2000), { kind: 'not-connected' });
    const e1 = await failure(exchange('{"request":"check"}', { socketPath: missing }));
    const e2 = await failure(netExchange('{"request":"check"}', { socketPath: missing }));
    assert.equal(e1.code, ProtocolErrorCode.connect);
    assert.equal(e1.message, e2.message);
    assert.match(e1.message, /no socket/);

    // A path nobody accepts on (connect(2) answers ECONNREFUSED, as for a killed agent's socket).
    const dead = join(dir, 'dead.sock');
    writeFileSync(dead, '');
    const e3 = await failure(exchange('{"request":"check"}', { socketPath: dead }));
    assert.equal(e3.code, ProtocolErrorCode.connect);
    assert.equal(e3.message, (await failure(netExchange('{"request":"check"}', { socketPath: dead }))).message);
  });

  test('an agent that never answers: the deadline, and the connection is closed', async () => {
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => (closed = resolve));
    const a = await start((socket) => socket.on('close', closed));
    const e = await failure(pipeTransport()!.exchange('{"request":"check"}', a.path, 300));
    assert.equal(e.code, ProtocolErrorCode.timeout);
    assert.match(e.message, /did not answer/);
    await gone;
  });

  test('hostile replies: too large, garbage, trailing bytes, nothing at all → an unreadable reply, never a hang', async () => {
    const cases: Array<[string, (socket: Socket, received: () => string) => void]> = [
      ['over the cap', (socket) => socket.on('data', () => socket.end(Buffer.alloc(MAX_MESSAGE_BYTES + 10, 0x20)))],
      ['never-ending JSON', (socket) => socket.on('data', () => socket.end(`{"a":"${'x'.repeat(MAX_MESSAGE_BYTES)}`))],
      ['garbage', replyWhenComplete('\u0000\u0001 not json at all')],
      ['trailing bytes', replyWhenComplete('{"status":"success"} {"status":"success"}')],
      ['closed without a word', (socket) => socket.on('data', () => socket.end())],
      ['NUL bytes only', replyWhenComplete(Buffer.alloc(64))],
    ];
    for (const [name, serve] of cases) {
      const a = await start(serve);
      const e = await failure(pipeTransport()!.exchange('{"request":"check"}', a.path, 10_000));
      assert.equal(e.code, ProtocolErrorCode.badReply, name);
      const viaNet = await failure(netExchange('{"request":"check"}', { socketPath: a.path, timeoutMs: 10_000 }));
      assert.equal(viaNet.code, ProtocolErrorCode.badReply, `${name} (node:net)`);
    }
  });

  test('never under --pending-deprecation (process.binding would warn there): node:net, the same reply, a silent stderr', async () => {
    const a = await start(replyWhenComplete('{"status":"success","v":1}'));
    const client = fileURLToPath(new URL('./client.ts', import.meta.url));
    const transport = fileURLToPath(new URL('./pipe-transport.ts', import.meta.url));
    const script = `
      const { exchange } = await import(${JSON.stringify(client)});
      const { pipeTransport } = await import(${JSON.stringify(transport)});
      console.log(JSON.stringify({ pipe: pipeTransport() !== undefined, reply: await exchange('{"request":"check"}', { socketPath: ${JSON.stringify(a.path)} }) }));`;
    for (const env of [{ NODE_OPTIONS: '--pending-deprecation' }, { NODE_PENDING_DEPRECATION: '1' }]) {
      // Asynchronous: the stand-in agent runs in this process.
      const r = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
        execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
        ),
      );
      assert.deepEqual(JSON.parse(r.stdout), { pipe: false, reply: '{"status":"success","v":1}' });
      assert.doesNotMatch(r.stderr, /Deprecation|process\.binding/, JSON.stringify(env));
    }
  });
});
