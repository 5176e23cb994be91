import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingFlows } from './pending.js';

describe('PendingFlows: waiting for a device flow (oidc-gen\'s `device` request)', () => {
  test('found by its user code; settled resolves when it is done, and the result is handed out once', async () => {
    const flows = new PendingFlows();
    const { state } = flows.start(60, 'ABCD-EFGH');
    flows.start(60); // a code flow: no user code
    assert.equal(flows.deviceFlow('ABCD-EFGH'), state);
    assert.equal(flows.deviceFlow('ZZZZ-ZZZZ'), undefined);
    let settled = false;
    const waiting = flows.settled(state).then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'still pending');
    flows.succeed(state, { config: { name: 'x' } });
    await waiting;
    assert.deepEqual(flows.lookup(state), { kind: 'done', reply: { config: { name: 'x' } } });
    assert.deepEqual(flows.lookup(state), { kind: 'received' });
    flows.cancelAll();
  });

  test('a failure, and a cancelled or expired flow, release the waiters too (nobody waits forever)', async () => {
    const flows = new PendingFlows();
    const a = flows.start(60, 'AAAA-AAAA').state;
    const b = flows.start(60, 'BBBB-BBBB').state;
    const both = Promise.all([flows.settled(a), flows.settled(b)]);
    flows.fail(a, { status: 'failure', error: 'access_denied' });
    flows.cancel(b);
    await both;
    assert.equal(flows.lookup(a)?.kind, 'failed');
    assert.equal(flows.lookup(b), undefined);
    assert.equal(flows.deviceFlow('BBBB-BBBB'), undefined);
    // Settled right away when already finished or unknown.
    await flows.settled(a);
    await flows.settled('no-such-state');
    flows.cancelAll();
  });
});
