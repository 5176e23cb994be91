/**
 * A fuzz run against the agent socket: ≥ 10 000 generated hostile messages (random bytes, truncated
 * and deeply nested JSON, huge strings, wrong types, bad encrypted frames, wrong length fields),
 * 2 000 idle connections and slow writers. Every connection is answered or closed, a well-formed
 * client is served throughout, and the agent's memory stays bounded (peak reported).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { SecureChannel, request } from '@token-agent/protocol';
import { World } from './harness.ts';

/** Deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REQUESTS = ['access_token', 'add', 'remove', 'gen', 'state_lookup', 'status', 'check', 'delete', 'lock', 'unlock', 'loaded_accounts', 'nope'];
const VALUES: unknown[] = [null, true, false, 0, -1, 1e308, 'x', '', [], {}, [1, [2, [3]]], { a: { b: {} } }, '60', 'soon', '\u0000', '"}{'];

function generate(rand: () => number, i: number): { data: Buffer; encrypted?: true } {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  switch (i % 9) {
    case 0: // random bytes
      return { data: Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 2000) }, () => Math.floor(rand() * 256))) };
    case 1: {
      // a valid-looking request, truncated anywhere
      const text = JSON.stringify({ request: pick(REQUESTS), account: 'a', min_valid_period: 5, config: { name: 'x' } });
      return { data: Buffer.from(text.slice(0, Math.floor(rand() * text.length))) };
    }
    case 2: {
      // deep nesting, closed or not
      const depth = 1 + Math.floor(rand() * 200);
      return { data: Buffer.from(`{"request":"check","x":${'['.repeat(depth)}${rand() < 0.5 ? ']'.repeat(depth) : ''}}`) };
    }
    case 3: // huge strings (mostly under the cap, some over)
      return { data: Buffer.from(JSON.stringify({ request: 'access_token', account: 'x'.repeat(Math.floor(rand() * (rand() < 0.9 ? 70_000 : 1_500_000))) })) };
    case 4: {
      // wrong types in every field
      const msg: Record<string, unknown> = { request: pick(REQUESTS) };
      for (const f of ['account', 'issuer', 'min_valid_period', 'scope', 'audience', 'config', 'lifetime', 'state', 'password', 'flow']) if (rand() < 0.5) msg[f] = pick(VALUES);
      return { data: Buffer.from(JSON.stringify(msg)) };
    }
    case 5: {
      // frames without a key exchange, with wrong length fields
      const len = Math.floor(rand() * 100_000_000);
      return { data: Buffer.from(`${len}:${'A'.repeat(Math.floor(rand() * 40))}:${'B'.repeat(Math.floor(rand() * 200))}`) };
    }
    case 6: // bad encrypted frames after a real key exchange
      return { data: Buffer.from(`${Math.floor(rand() * 300)}:${'A'.repeat(32)}:${'QUJD'.repeat(Math.floor(rand() * 60))}`), encrypted: true };
    case 7: // JSON that is not an object
      return { data: Buffer.from(JSON.stringify(pick(VALUES))) };
    default: // a well-formed request of some kind
      return { data: Buffer.from(JSON.stringify({ request: pick(['check', 'status', 'loaded_accounts', 'access_token']), account: 'nobody' })) };
  }
}

interface Outcome {
  reply: string;
  timedOut: boolean;
}

/** Sends one message (after a key exchange when asked), half-closes, reads until the agent closes. */
function send(socketPath: string, m: { data: Buffer; encrypted?: true }, limitMs = 15_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    let reply = '';
    let phase = m.encrypted ? 0 : 1;
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ reply, timedOut: true });
    }, limitMs);
    s.on('error', () => undefined);
    s.on('data', (d) => {
      if (phase === 0) {
        phase = 1;
        s.end(m.data);
        return;
      }
      reply += d.toString('latin1');
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ reply, timedOut: false });
    });
    s.on('connect', async () => {
      if (m.encrypted) s.write((await SecureChannel.offer()).publicKey);
      else s.end(m.data);
    });
  });
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('socket fuzz', () => {
  let world: World;
  before(async () => {
    world = new World({ TOKEN_AGENT_REQUEST_TIMEOUT_MS: '2000' });
    await world.startAgent();
  });
  after(() => world.cleanup());

  test('10 000 hostile messages, 2 000 idle connections and slow writers: all answered or closed, a good client served throughout, memory bounded', async (t) => {
    const pid = world.agentPid!;
    const rssStart = rssKiB(pid);
    let rssPeak = rssStart;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKiB(pid))), 100);

    // The well-formed client: a check every 50 ms for the whole run.
    let stop = false;
    const good = { ok: 0, failed: 0 };
    const goodLoop = (async () => {
      while (!stop) {
        try {
          const r = await request('check', {}, { socketPath: world.socket, timeoutMs: 5_000 });
          if (r.status === 'success') good.ok++;
          else good.failed++;
        } catch {
          good.failed++;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // 2 000 idle connections: the agent closes each after its request deadline.
    const idle = Promise.all(Array.from({ length: 2_000 }, () => send(world.socket, { data: Buffer.alloc(0) }, 20_000).catch(() => ({ reply: '', timedOut: true }))));
    // Slow writers: a valid request, one byte every 200 ms: the deadline cuts them off with an error.
    const slow = Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<Outcome>((resolve) => {
            const s = connect(world.socket);
            const text = '{"request":"check"}';
            let i = 0;
            let reply = '';
            const iv = setInterval(() => (i < text.length && !s.destroyed ? s.write(text[i++]!) : clearInterval(iv)), 200);
            s.on('data', (d) => (reply += d.toString()));
            s.on('error', () => undefined);
            s.on('close', () => {
              clearInterval(iv);
              resolve({ reply, timedOut: false });
            });
          }),
      ),
    );

    const rand = prng(20261123);
    const TOTAL = 10_000;
    const outcomes: Outcome[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < TOTAL) {
          const m = generate(rand, next++);
          outcomes.push(await send(world.socket, m));
        }
      }),
    );
    const idleOutcomes = await idle;
    const slowOutcomes = await slow;
    stop = true;
    await goodLoop;
    clearInterval(sampler);
    const rssEnd = rssKiB(pid);

    assert.equal(outcomes.length, TOTAL);
    assert.equal(outcomes.filter((o) => o.timedOut).length, 0, 'every fuzz connection was answered or closed');
    for (const o of outcomes) {
      if (o.reply === '' || !o.reply.startsWith('{')) continue; // closed, or an encrypted reply
      const parsed = JSON.parse(o.reply) as { status: string };
      assert.ok(['success', 'failure'].includes(parsed.status));
    }
    const answered = outcomes.filter((o) => o.reply !== '').length;
    assert.ok(answered > TOTAL * 0.95, `most messages get a reply (${answered})`);
    assert.equal(idleOutcomes.filter((o) => o.timedOut).length, 0, 'idle connections are closed by the agent');
    assert.ok(slowOutcomes.every((o) => /timed out/.test(o.reply)), 'slow writers are cut off at the deadline with an error');
    assert.equal(good.failed, 0, 'the well-formed client was never refused');
    assert.ok(good.ok > 20, `the well-formed client was served throughout (${good.ok})`);
    assert.equal(process.kill(pid, 0), true, 'the agent is alive');
    t.diagnostic(`agent RSS: start ${Math.round(rssStart / 1024)} MiB, peak ${Math.round(rssPeak / 1024)} MiB, end ${Math.round(rssEnd / 1024)} MiB; ${answered} replies`);
    assert.ok(rssPeak < 400 * 1024, `peak RSS ${Math.round(rssPeak / 1024)} MiB stays bounded`);
  });
});
