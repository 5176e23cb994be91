import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountRegistry } from './accounts/registry.js';
import { TokenCache, cacheKey } from './cache/token-cache.js';
import type { AgentContext } from './context.js';
import { dispatch } from './dispatch.js';
import { silentLogger } from './log.js';
import { parseAllow } from './restricted.js';

const NOW = 1_000_000;

/** A context with account `a` loaded, a cached token for it valid 600 s, and an OP that counts refreshes. */
function world(opts: { confirm?: boolean } = {}) {
  const accounts = new AccountRegistry(() => {});
  accounts.add({ name: 'a', issuer_url: 'https://op.example/', client_id: 'c', refresh_token: 'rt' } as never, undefined, { confirm: opts.confirm ?? false });
  const cache = new TokenCache(() => NOW);
  cache.restore([[cacheKey('a', [], []), { access_token: 'cached', expires_at: NOW + 600 }]]);
  let refreshes = 0;
  const lock = { locked: false };
  const ctx = {
    accounts,
    cache,
    lock,
    log: silentLogger,
    settings: { confirm: false, confirmCmd: undefined, configDir: '/nonexistent', autoload: true },
    op: {
      refresh: async () => {
        refreshes++;
        return { access_token: `fresh${refreshes}`, expires_at: NOW + 3600 };
      },
    },
  } as unknown as AgentContext;
  return { ctx, lock, refreshes: () => refreshes };
}

const ask = (extra: Record<string, unknown> = {}) => ({ request: 'access_token', account: 'a', ...extra });

test('dispatch: a cached token is answered synchronously (no promise), with the same reply as before', () => {
  const { ctx, refreshes } = world();
  const r = dispatch(ctx, ask({ min_valid_period: '60', application_hint: 'x' }));
  assert.ok(!(r instanceof Promise));
  assert.deepEqual(r, { status: 'success', access_token: 'cached', issuer: 'https://op.example/', expires_at: NOW + 600 });
  assert.equal(refreshes(), 0);
});

test('dispatch: every check still applies on the synchronous path', async () => {
  const { ctx, lock, refreshes } = world();
  // Schema validation, with oidc-agent's leniency.
  assert.deepEqual(dispatch(ctx, ask({ min_valid_period: 'soon' })), { status: 'failure', error: 'Bad Request: "min_valid_period" must be an integer' });
  // min_valid_period beyond what the cached token has left, and -1: a refresh, not the cached token.
  assert.equal((await dispatch(ctx, ask({ min_valid_period: 600 })))['access_token'], 'fresh1');
  assert.equal((await dispatch(ctx, ask({ min_valid_period: -1 })))['access_token'], 'fresh2');
  assert.equal(refreshes(), 2);
  // Scope and audience are their own cache keys.
  assert.equal((await dispatch(ctx, ask({ scope: 'openid' })))['access_token'], 'fresh3');
  assert.equal((await dispatch(ctx, ask({ audience: 'x' })))['access_token'], 'fresh4');
  // Restricted socket rules.
  assert.equal((dispatch(ctx, ask(), parseAllow(['b'])) as Record<string, unknown>)['error'], 'operation forbidden');
  // Lock state.
  lock.locked = true;
  assert.equal((dispatch(ctx, ask()) as Record<string, unknown>)['error'], 'Agent locked');
  lock.locked = false;
  // An unloaded account (removed, or its lifetime over) is never served from the cache.
  ctx.accounts.remove('a');
  const gone = dispatch(ctx, ask());
  assert.ok(gone instanceof Promise);
  assert.equal((await gone)['error'], 'No account configured with that short name');
});

test('dispatch: an account that needs confirmation is never answered from the cache without asking', async () => {
  const { ctx, refreshes } = world({ confirm: true });
  const r = dispatch(ctx, ask());
  assert.ok(r instanceof Promise);
  assert.equal((await r)['error'], 'operation forbidden');
  ctx.settings.confirm = true;
  ctx.accounts.get('a')!.confirm = false;
  assert.equal((await dispatch(ctx, ask()))['error'], 'operation forbidden');
  assert.equal(refreshes(), 0);
});
