/**
 * Device flow output for scripts: `--json` prints the device-authorization fields on stdout, and
 * without a terminal stderr holds plain lines (no spinner, no QR code, no escape sequences).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { approveDevice } from '../scripts/dev-op/drive.ts';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, World, collect, waitFor, opAndAgent, stopAll } from './harness.ts';

describe('device flow output', () => {
  let op: DevOp;
  let world: World;
  before(async () => ({ op, world } = await opAndAgent()));
  after(() => stopAll(world, op));

  test('--json: one JSON line with the RFC 8628 fields on stdout; plain parseable stderr', async () => {
    const child = world.spawn('token-gen', ['dev-json', '--issuer', op.issuer, '--flow', 'device', '--json', '--pw-env', 'ENC_PW'], { ENC_PW: 'pw' });
    const done = collect(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('\n'), 20_000, 'the device JSON');
    const d = JSON.parse(out.split('\n')[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(d).sort(), ['expires_in', 'interval', 'user_code', 'verification_uri', 'verification_uri_complete']);
    assert.equal(typeof d['expires_in'], 'number');
    assert.ok(!('device_code' in d), 'the device code stays in the agent');
    await approveDevice({ verificationUri: d['verification_uri'] as string, userCode: d['user_code'] as string, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD });
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1, 'stdout holds only the JSON line');
    assert.match(r.stderr, new RegExp(`^To log in, open \\S+ and enter the code: ${d['user_code']}$`, 'm'));
    assert.match(r.stderr, new RegExp(`^expires_in: ${d['expires_in']}$`, 'm'));
    assert.match(r.stderr, /^Waiting for the approval \(up to \d+:\d\d min\)…$/m);
    assert.ok(!r.stderr.includes('\x1b'), 'no terminal escapes without a terminal');
  });
});
