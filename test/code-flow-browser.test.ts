/**
 * The authorization-code flow in a real browser: Debian's headless Chromium, driven with
 * playwright-core, opens the URL token-gen printed, signs in at the dev OP, consents (or denies)
 * and lands on the agent's loopback listener. One browser (with a fresh profile directory) for the
 * file; cookies are cleared between tests, so each one signs in anew.
 * The success page's screenshot goes to test-artifacts/code-flow-success.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, ROOT, World, collect, jwtPayload, startOp, waitFor, type RunResult } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const ENC = 'browser test encryption pw';
const ARTIFACTS = join(ROOT, 'test-artifacts');

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Starts token-gen with the code flow and returns the URL it printed (it opens no browser: no display). */
async function startCodeGen(world: World, op: DevOp, name: string): Promise<{ url: string; port: number; done: Promise<RunResult> }> {
  const child = world.spawn('token-gen', [name, '--issuer', op.issuer, '--flow', 'code', '--port', '0', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
  const done = collect(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => /^http\S+\/auth\?\S+$/m.test(err), 20_000, 'the authorization URL');
  const url = /^(http\S+\/auth\?\S+)$/m.exec(err)![1]!;
  const port = Number(new URL(new URL(url).searchParams.get('redirect_uri')!).port);
  return { url, port, done };
}

/** What a person does at the dev OP: sign in, then Allow or Deny. */
async function signInAndConsent(page: Page, decision: 'Allow' | 'Deny'): Promise<void> {
  await page.locator('body[data-page="login"]').waitFor();
  await page.fill('#username', DEFAULT_USERNAME);
  await page.fill('#password', DEFAULT_PASSWORD);
  await page.click('button:has-text("Sign in")');
  await page.locator('body[data-page="consent"]').waitFor();
  await page.click(`button:has-text("${decision}")`);
}

describe('code flow in headless Chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (bash scripts/test.sh installs it)` }, () => {
  let op: DevOp;
  let world: World;
  let browser: BrowserContext;
  let profile: string;
  before(async () => {
    profile = mkdtempSync(join(tmpdir(), 'ta-chromium-'));
    [op, browser] = await Promise.all([
      startOp(),
      // A persistent context is how Playwright takes a --user-data-dir: a fresh, empty one here.
      chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 900, height: 640 },
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      }),
    ]);
    world = new World();
    await world.startAgent();
  });
  after(async () => {
    await browser?.close();
    await world?.cleanup();
    await op?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  test('sign in and consent: our success page, token-get returns a token, the listener is gone', async () => {
    const gen = await startCodeGen(world, op, 'browser');
    await browser.clearCookies();
    const page = await browser.newPage();
    try {
      await page.goto(gen.url);
      await signInAndConsent(page, 'Allow');
      await page.locator('body[data-page="login-success"]').waitFor();
      assert.equal(new URL(page.url()).origin, `http://127.0.0.1:${gen.port}`);
      assert.equal(await page.locator('h1').innerText(), 'You are logged in');
      assert.match(await page.locator('main').innerText(), /The account browser is set up and loaded into token-agent\.\s+You can close this tab/);
      const html = await page.content();
      const code = new URL(page.url()).searchParams.get('code')!;
      assert.ok(code.length > 10 && !html.includes(code), 'the code is not on the page');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'code-flow-success.png') });
    } finally {
      await page.close();
    }
    const r = await gen.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Account 'browser' created/);
    await waitFor(() => portIsFree(gen.port), 5_000, 'the listener to close');

    const got = await world.run('token-get', ['browser']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(jwtPayload(got.stdout.trim())['sub'], DEFAULT_USERNAME);
  });

  test('deny at the consent page: the error page names access_denied, token-gen fails, nothing stored', async () => {
    const gen = await startCodeGen(world, op, 'refused');
    await browser.clearCookies();
    const page = await browser.newPage();
    try {
      await page.goto(gen.url);
      await signInAndConsent(page, 'Deny');
      await page.locator('body[data-page="login-error"]').waitFor();
      assert.equal(await page.locator('h1').innerText(), 'Login failed');
      assert.match(await page.locator('.detail').innerText(), /^access_denied/);
    } finally {
      await page.close();
    }
    const r = await gen.done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^token-gen: access_denied/m);
    assert.equal(existsSync(join(world.configDir, 'refused')), false);
    await waitFor(() => portIsFree(gen.port), 5_000, 'the listener to close');
  });
});
