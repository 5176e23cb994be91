/**
 * The restricted socket (`token-agent --restricted-socket PATH --allow ACCOUNT[:SCOPES]`): only
 * `check` and `access_token` for allowed accounts and scopes; everything else `operation forbidden`
 * (logged); hostile input handled like on the main socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from '@token-agent/protocol';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { World, startOp } from './harness.ts';

function raw(socketPath: string, data: (string | Buffer)[] | string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let reply = '';
    s.on('data', (d) => (reply += d.toString('utf8')));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    s.on('close', () => resolve(reply));
    s.on('connect', () => {
      for (const part of Array.isArray(data) ? data : [data]) s.write(part);
    });
  });
}

describe('restricted socket', () => {
  let op: DevOp;
  let world: World;
  let rsock: string;
  before(async () => {
    op = await startOp();
    world = new World({ TOKEN_AGENT_REQUEST_TIMEOUT_MS: '1000' });
    rsock = join(world.root, 'fwd', 'restricted.sock');
    await world.startAgent(['--restricted-socket', rsock, '--allow', 'ok', '--allow', 'narrow:openid']);
    await world.createAccount(op, 'ok', 'pw-ok-1');
    await world.createAccount(op, 'other', 'pw-other-1');
    await world.createAccount(op, 'narrow', 'pw-narrow-1');
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });
  const viaRestricted = { TOKEN_AGENT_SOCK: '', OIDC_SOCK: '' };

  test('the restricted socket is a private socket', () => {
    assert.ok(statSync(rsock).isSocket());
    assert.equal(statSync(rsock).mode & 0o777, 0o600);
  });

  test('an allowed account is served through token-get', async () => {
    const r = await world.run('token-get', ['ok'], { ...viaRestricted, TOKEN_AGENT_SOCK: rsock });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  test('an account that is not allowed is refused, and so are requests by issuer', async () => {
    const r = await world.run('token-get', ['other'], { TOKEN_AGENT_SOCK: rsock });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /operation forbidden/);
    const byIssuer = await request('access_token', { issuer: op.issuer }, { socketPath: rsock, timeoutMs: 5_000 }).catch((e: Error) => e);
    assert.match(String(byIssuer), /operation forbidden/);
    // The main socket still serves it.
    const main = await world.run('token-get', ['other']);
    assert.equal(main.code, 0, main.stderr);
  });

  test('scopes: a subset of the allowed ones is served, more is refused', async () => {
    const asked = await world.run('token-get', ['narrow', '-s', 'openid'], { TOKEN_AGENT_SOCK: rsock });
    assert.equal(asked.code, 0, asked.stderr);
    const defaulted = await world.run('token-get', ['narrow'], { TOKEN_AGENT_SOCK: rsock });
    assert.equal(defaulted.code, 0, defaulted.stderr);
    const wider = await world.run('token-get', ['narrow', '-s', 'openid', '-s', 'offline_access'], { TOKEN_AGENT_SOCK: rsock });
    assert.notEqual(wider.code, 0);
    assert.match(wider.stderr, /operation forbidden/);
  });

  test('add, remove, remove_all, delete, lock, unlock, gen, status, loaded_accounts, watch are forbidden and logged', async () => {
    const reqs: [string, Record<string, unknown>][] = [
      ['add', { config: { name: 'x' } }],
      ['remove', { account: 'ok' }],
      ['remove_all', {}],
      ['delete', { account: 'ok' }],
      ['lock', { password: 'p' }],
      ['unlock', { password: 'p' }],
      ['gen', {}],
      ['status', {}],
      ['status_json', {}],
      ['loaded_accounts', {}],
      ['watch', {}],
    ];
    for (const [name, params] of reqs) {
      const reply = await raw(rsock, JSON.stringify({ request: name, ...params }));
      const parsed = JSON.parse(reply) as { status: string; error: string };
      assert.equal(parsed.status, 'failure', `${name}: ${reply}`);
      assert.ok(parsed.error === 'operation forbidden' || parsed.error.startsWith('Bad Request'), `${name}: ${reply}`);
    }
    const removeReply = JSON.parse(await raw(rsock, '{"request":"remove","account":"ok"}')) as { error: string };
    assert.equal(removeReply.error, 'operation forbidden');
    // Nothing happened: the accounts are still loaded.
    const loaded = await world.run('token-add', ['--loaded']);
    assert.match(loaded.stdout, /ok/);
    assert.match(readFileSync(world.logFile, 'utf8'), /restricted-refused request=remove account=ok/);
    // check is served.
    assert.equal((await request('check', {}, { socketPath: rsock, timeoutMs: 2_000 })).status, 'success');
  });

  const hostile: [string, () => (string | Buffer)[] | string | Buffer, RegExp][] = [
    ['garbage bytes', () => Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]), /"status":"failure".*neither a JSON object nor a public key/],
    ['an unknown request', () => '{"request":"rm -rf"}', /"error":"Bad Request: Unknown request type."/],
    ['invalid JSON inside braces', () => '{"request": nope}', /"error":"Bad Request: message is not valid JSON"/],
    ['too deep nesting', () => '{"a":' + '['.repeat(100), /nested deeper/],
    ['a request in many pieces', () => ['{"req', 'uest":"che', 'ck"', '}'], /^\{"status":"success"\}$/],
  ];
  for (const [name, data, expected] of hostile) {
    test(`hostile input on the restricted socket: ${name}`, async () => {
      const reply = await raw(rsock, data());
      assert.match(reply, expected);
      JSON.parse(reply);
      assert.equal((await request('check', {}, { socketPath: rsock, timeoutMs: 2_000 })).status, 'success');
    });
  }

  test('a stalled client on the restricted socket is cut off and does not block others', async () => {
    const stalled = raw(rsock, '{"request":"ch');
    assert.equal((await request('check', {}, { socketPath: rsock, timeoutMs: 2_000 })).status, 'success');
    assert.match(await stalled, /incomplete message/);
  });

  test('--kill removes the restricted socket too', async () => {
    const r = await world.run('token-agent', ['--kill']);
    assert.equal(r.code, 0, r.stderr);
    world.agentPid = undefined;
    assert.throws(() => statSync(rsock), { code: 'ENOENT' });
  });
});
