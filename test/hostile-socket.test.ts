/**
 * Hostile input on the agent socket: every bad client gets an error reply or is closed, and the
 * agent keeps serving well-behaved clients throughout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from '@token-agent/protocol';
import { World, alive } from './harness.ts';

/** Writes `data` (in pieces if an array), then reads until the agent closes. */
function raw(socketPath: string, data: (string | Buffer)[] | string | Buffer, opts: { halfClose?: boolean } = {}): Promise<{ reply: string; closed: true }> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let reply = '';
    s.on('data', (d) => (reply += d.toString('utf8')));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    s.on('close', () => resolve({ reply, closed: true }));
    s.on('connect', () => {
      for (const part of Array.isArray(data) ? data : [data]) s.write(part);
      if (opts.halfClose) s.end();
    });
  });
}

async function healthy(world: World): Promise<void> {
  const r = await request('check', {}, { socketPath: world.socket, timeoutMs: 2_000 });
  assert.equal(r.status, 'success');
}

// The agent serves through libuv's pipe handles where it may (packages/agent/src/transport.ts), else
// through node:net; under --pending-deprecation it must use node:net. Both get every hostile case.
const transports: [string, 'pipe' | 'net', Record<string, string>][] = [
  ['pipe handles', 'pipe', {}],
  ['node:net (agent under --pending-deprecation)', 'net', { NODE_OPTIONS: '--pending-deprecation' }],
];

for (const [transportName, kind, transportEnv] of transports) {
  describe(`hostile socket input, ${transportName}`, () => {
    let world: World;
    before(async () => {
      world = new World({ TOKEN_AGENT_REQUEST_TIMEOUT_MS: '1000', ...transportEnv });
      await world.startAgent();
    });
    after(() => world.cleanup());

    test(`the agent serves through ${kind}`, async () => {
      const { readFileSync } = await import('node:fs');
      assert.match(readFileSync(world.logFile, 'utf8'), new RegExp(`agent-started .* transport=${kind}$`, 'm'));
    });

    const cases: [string, () => (string | Buffer)[] | string | Buffer, RegExp][] = [
      ['garbage bytes', () => Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]), /"status":"failure".*neither a JSON object nor a public key/],
      ['a JSON array', () => '[1,2,3]', /"error":"Bad Request: message is not a JSON object"/],
      ['a request without "request"', () => '{"account":"x"}', /"error":"Bad Request: No request type."/],
      ['an unknown request', () => '{"request":"rm -rf"}', /"error":"Bad Request: Unknown request type."/],
      ['a wrong field type', () => '{"request":"access_token","account":"a","min_valid_period":"soon"}', /"min_valid_period\\" must be an integer/],
      ['invalid JSON inside braces', () => '{"request": nope}', /"error":"Bad Request: message is not valid JSON"/],
      ['too deep nesting', () => '{"a":' + '['.repeat(100), /nested deeper/],
      ['a request in many pieces', () => ['{"req', 'uest":"che', 'ck"', '}'], /^\{"status":"success"\}$/],
      ['a wrong public key length', () => 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', /neither a JSON object nor a public key/],
    ];
    for (const [name, data, expected] of cases) {
      test(`${name} gets the right reply, and the agent serves others`, async () => {
        const { reply } = await raw(world.socket, data());
        assert.match(reply, expected);
        JSON.parse(reply); // always valid JSON
        await healthy(world);
      });
    }

    test('a 5 MiB message is refused at the cap without buffering it all', async () => {
      const big = '{"request":"check","pad":"' + 'x'.repeat(5 * 1024 * 1024) + '"}';
      const { reply } = await raw(world.socket, big);
      assert.match(reply, /message exceeds 1048576 bytes/);
      await healthy(world);
    });

    test('a client that sends half a message and stalls is answered after the deadline, without blocking others', async () => {
      let stalledAnswered = false;
      const stalled = raw(world.socket, '{"request":"acc').finally(() => (stalledAnswered = true));
      // While it stalls, others are served: before the stalled client's deadline ends it.
      await healthy(world);
      assert.equal(stalledAnswered, false, 'served while the stalled client still waits');
      const { reply } = await stalled;
      assert.match(reply, /incomplete message \(timed out\)/);
    });

    test('a client that connects and sends nothing is closed after the deadline', async () => {
      const { reply } = await raw(world.socket, []);
      assert.equal(reply, '');
    });

    test('a half-closed client with an incomplete message gets an error at once', async () => {
      const { reply } = await raw(world.socket, '{"request":', { halfClose: true });
      assert.match(reply, /incomplete message/);
    });

    test('an encrypted exchange with a bad frame gets a plain JSON error', async () => {
      const { SecureChannel } = await import('@token-agent/protocol');
      const offer = await SecureChannel.offer();
      const reply = await new Promise<string>((resolve, reject) => {
        const s: Socket = connect(world.socket);
        let buf = '';
        let phase = 0;
        s.on('error', reject);
        s.on('data', (d) => {
          buf += d.toString();
          if (phase === 0 && buf.length >= 44) {
            phase = 1;
            buf = '';
            s.write(`5:${'A'.repeat(32)}:${'B'.repeat(28)}`); // right lengths, garbage MAC
          }
        });
        s.on('close', () => resolve(buf));
        s.on('connect', () => s.write(offer.publicKey));
      });
      assert.match(reply, /^\{"status":"failure","error":"Bad Request: could not decrypt the message"\}$/);
      await healthy(world);
    });

    test('500 connections at once: each gets its reply, the agent stays up', async () => {
      const replies = await Promise.all(Array.from({ length: 500 }, () => request('check', {}, { socketPath: world.socket, timeoutMs: 20_000 })));
      assert.equal(replies.filter((r) => r.status === 'success').length, 500);
      const mixed = await Promise.all(
        Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? raw(world.socket, 'garbage!') : request('check', {}, { socketPath: world.socket, timeoutMs: 20_000 }))),
      );
      assert.equal(mixed.length, 200);
      assert.ok(alive(world.agentPid!));
      await healthy(world);
    });

    test('the socket is 0600 in a 0700 directory', async () => {
      const { statSync } = await import('node:fs');
      const { dirname } = await import('node:path');
      assert.equal(statSync(world.socket).mode & 0o777, 0o600);
      assert.equal(statSync(dirname(world.socket)).mode & 0o777, 0o700);
    });
  });
}
