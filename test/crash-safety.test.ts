/**
 * Crash safety of the refresh-token write-back: the agent is SIGKILLed at random moments while it
 * rotates refresh tokens and writes them back; after every kill the account file must decrypt
 * (with the original key, hence the original password) to the content it had before the
 * iteration or to one the agent wrote during it — never a torn or empty file.
 *
 * 100 iterations in 4 parallel lanes (own agent, directory and account each) keep the test at
 * about 10–20 s. The OP is a fake on loopback that rotates on every refresh (rt-LANE-N) and
 * accepts any refresh token, so an iteration killed between the OP's answer and the write does
 * not end the lane (a real OP would revoke the grant on the replay: that loss is the OP's rule,
 * not a torn file). Only the rotation write-back is covered here: token-gen and account updates
 * write through the same store.saveAccount (temp file, fsync, rename), tested in store's
 * atomic-write tests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSodium, request } from '@token-agent/protocol';
import { decryptAccountFile, saveAccount, serializeFileKey, type FileKey } from '@token-agent/store';
import { json, startFakeOp, form, type FakeOp } from '../packages/oidc/test-support/fault-server.ts';
import { ROOT, World, alive, waitFor } from './harness.ts';

const DAEMON = join(ROOT, 'packages', 'agent', 'dist', 'bin', 'token-agentd.js');
const PASSWORD = 'crash-safety-pw';
const LANES = 4;
const ITERATIONS_PER_LANE = 25;

/** Opens account file text with the derived key (no KDF): the hash-key line must match too. */
async function openWithKey(text: string, key: FileKey): Promise<Record<string, unknown>> {
  const sodium = await loadSodium();
  const lines = text.split('\n');
  assert.equal(lines.length, 7, 'seven lines');
  assert.equal(lines[5], Buffer.from(key.derived.subarray(32)).toString('base64'), 'same hash key: same password');
  const plain = sodium.crypto_secretbox_open_easy(Buffer.from(lines[4]!, 'base64'), Buffer.from(lines[1]!, 'base64'), key.derived.subarray(0, 32));
  return JSON.parse(Buffer.from(plain).toString('utf8')) as Record<string, unknown>;
}

function startDaemon(socket: string, configDir: string, logFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [DAEMON, '--socket', socket, '--config-dir', configDir, '--log-file', logFile, '--ready-fd', '3'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...process.env, TOKEN_AGENT_ALLOW_HTTP_LOOPBACK: '1' },
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.startsWith('READY')) resolve(child);
      else if (buf.includes('\n')) reject(new Error(buf));
    });
    child.once('exit', (code) => reject(new Error(`daemon exited ${code}`)));
  });
}

describe('crash safety of the refresh-token write-back', () => {
  let op: FakeOp;
  let world: World;
  const issued = new Map<string, number>();
  let counter = 0;
  before(async () => {
    op = await startFakeOp({
      '/token': (_req, res, hit) => {
        const lane = (form(hit.body).get('refresh_token') ?? '').split('-')[1] ?? 'x';
        const rt = `rt-${lane}-${++counter}`;
        issued.set(rt, Date.now());
        json(res, 200, { access_token: `at-${counter}`, token_type: 'Bearer', expires_in: 3600, refresh_token: rt });
      },
    });
    world = new World();
  });
  after(async () => {
    await op.close();
    await world.cleanup();
  });

  test(`${LANES * ITERATIONS_PER_LANE} SIGKILLs during rotation write-back: the file always opens to the old or a new content`, async (t) => {
    const stats = { changed: 0, killedAfterWrites: 0 };
    const tempLeft = new Set<string>();
    const lane = async (n: number) => {
      const dir = join(world.root, `lane-${n}`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const config = { name: 'crash', issuer_url: op.issuer, client_id: 'cid', client_secret: 'csecret', refresh_token: `rt-${n}-0`, extra: {} };
      const key = await saveAccount(dir, 'crash', config, PASSWORD);
      const file = join(dir, 'crash');
      for (let i = 0; i < ITERATIONS_PER_LANE; i++) {
        const before = await openWithKey(readFileSync(file, 'utf8'), key);
        const socket = join(world.root, `l${n}-${i}.sock`);
        const agent = await startDaemon(socket, dir, join(world.root, `lane-${n}.log`));
        const startedAt = Date.now();
        await request('add', { config: before, plain_add: true, token_agent_file_key: serializeFileKey(key) as unknown as Record<string, unknown> }, { socketPath: socket });
        // Refresh in a loop (each rotation is written before its reply); kill at a random moment
        // after the first reply, i.e. while later write-backs run.
        let replies = 0;
        let stop = false;
        const loop = (async () => {
          while (!stop) {
            try {
              await request('access_token', { account: 'crash', min_valid_period: -1 }, { socketPath: socket, timeoutMs: 5_000 });
              replies++;
            } catch {
              return;
            }
          }
        })();
        await waitFor(() => replies > 0, 10_000, 'a first refresh');
        await new Promise((r) => setTimeout(r, Math.random() * 40));
        agent.kill('SIGKILL');
        stop = true;
        await loop;
        await waitFor(() => !alive(agent.pid!), 5_000, 'the agent to die');
        if (replies > 1) stats.killedAfterWrites++;

        const after = await openWithKey(readFileSync(file, 'utf8'), key);
        assert.equal(after['name'], 'crash');
        assert.equal(after['client_id'], 'cid');
        const rt = after['refresh_token'] as string;
        const newDuringIteration = (issued.get(rt) ?? 0) >= startedAt;
        assert.ok(rt === before['refresh_token'] || newDuringIteration, `lane ${n} iteration ${i}: ${rt} is neither the old nor a new refresh token`);
        if (rt !== before['refresh_token']) stats.changed++;
        for (const f of readdirSync(dir)) if (f.startsWith('.crash.tmp-')) tempLeft.add(`${n}/${f}`);
      }
      // The end state opens with the password itself (full Argon2id), not just the key.
      const final = await decryptAccountFile(readFileSync(file, 'utf8'), PASSWORD);
      assert.equal((JSON.parse(final.plaintext) as { name: string }).name, 'crash');
      assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('.')), ['crash'], 'only the account file is listed');
    };
    await Promise.all(Array.from({ length: LANES }, (_, n) => lane(n)));
    t.diagnostic(`iterations: ${LANES * ITERATIONS_PER_LANE}; file changed by the iteration: ${stats.changed}; killed after ≥ 2 replies: ${stats.killedAfterWrites}; kills that landed mid-write (temp file left behind): ${tempLeft.size}`);
    assert.ok(stats.changed > LANES * ITERATIONS_PER_LANE * 0.5, 'most iterations wrote the file before the kill');
  });
});
