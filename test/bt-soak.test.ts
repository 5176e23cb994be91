/**
 * Soak: access tokens live 5 s, a watch keeps a bearer-token file for two minutes, and a reader
 * polls the file every 100 ms as a WLCG tool would. It must never find the file missing, empty,
 * partial or holding an expired token, and the watch must refresh close to the minimum needed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, jwtPayload, startOp } from './harness.ts';

const TTL_S = 5;
const MIN_VALID_S = 1;
const SOAK_MS = 120_000;
const POLL_MS = 100;

describe('bearer-token file soak (5 s tokens, 2 minutes)', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: TTL_S });
    world = new World();
    await world.startAgent();
    await world.createAccount(op, 'soak', 'soak-password-1');
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('a reader polling every 100 ms never sees a missing, empty, partial or expired token; refreshes stay close to the minimum', async (t) => {
    const path = join(world.root, 'bt_soak');
    const r = await world.run('token-get', ['soak', '--watch', '--bt-file', path, '-t', String(MIN_VALID_S)]);
    assert.equal(r.code, 0, r.stderr);
    op.resetStats();

    const jwks = createRemoteJWKSet(new URL(`${op.issuer}/jwks`));
    const seen = new Set<string>();
    const problems: string[] = [];
    let reads = 0;
    let minLeftMs = Infinity;
    const start = Date.now();
    while (Date.now() - start < SOAK_MS) {
      let text: string | undefined;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        problems.push(`read failed: ${(err as NodeJS.ErrnoException).code}`);
      }
      const now = Date.now();
      reads++;
      if (text === undefined) {
        // reported above
      } else if (!/^[\w-]+\.[\w-]+\.[\w-]+\n$/.test(text)) {
        problems.push(`not one token line: ${JSON.stringify(text.slice(0, 40))}… (${text.length} bytes)`);
      } else {
        const token = text.trim();
        const left = (jwtPayload(token)['exp'] as number) * 1000 - now;
        minLeftMs = Math.min(minLeftMs, left);
        if (left <= 0) problems.push(`expired token read ${-left} ms after exp`);
        if (!seen.has(token)) {
          seen.add(token);
          // A whole token: its signature verifies.
          await jwtVerify(token, jwks, { issuer: op.issuer }).catch((e: unknown) => problems.push(`token does not verify: ${(e as Error).message}`));
        }
      }
      if (problems.length > 20) break;
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
    const elapsedS = (Date.now() - start) / 1000;
    const refreshes = op.stats().token['refresh_token'] ?? 0;
    // Each token can serve at most TTL - min-valid seconds.
    const minimum = Math.ceil(elapsedS / (TTL_S - MIN_VALID_S));
    t.diagnostic(`reads ${reads}, distinct tokens ${seen.size}, refreshes ${refreshes} (minimum ${minimum}), least time left at a read ${minLeftMs} ms`);

    assert.deepEqual(problems, []);
    assert.ok(reads >= (SOAK_MS / POLL_MS) * 0.8, `only ${reads} reads`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(refreshes >= minimum - 1, `${refreshes} refreshes cannot have kept the file valid (minimum ${minimum})`);
    assert.ok(refreshes <= Math.ceil(minimum * 1.5), `${refreshes} refreshes, more than 1.5 × the minimum ${minimum}`);
  });
});
