/**
 * Secret hygiene: a scenario with a recognisable encryption password, lock password, OP password,
 * refresh token, client secret and access token. None may show in any process's argv (scanned
 * from /proc while the scenario runs), in the agent's environment or its children's, in the agent
 * log, or on any CLI's stderr (error messages included).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DevOp } from '../scripts/dev-op/index.ts';
import { DEFAULT_PASSWORD, World, startOp, type Cli, type RunResult } from './harness.ts';

const ENC = 'Enc-Pw-RECOGNISABLE-4711';
const LOCK = 'Lock-Pw-RECOGNISABLE-0815';

/** Reads every process's argv over and over until stopped; returns all distinct ones seen. */
function scanArgv(): { stop: () => Promise<Set<string>>; scans: () => number } {
  const seen = new Set<string>();
  let running = true;
  let scans = 0;
  const loop = (async () => {
    while (running) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8');
          if (argv) seen.add(argv.replace(/\0/g, ' '));
        } catch {
          // gone meanwhile
        }
      }
      scans++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
    scans: () => scans,
  };
}

describe('secret hygiene', () => {
  let op: DevOp;
  let world: World;
  before(async () => {
    op = await startOp({ accessTokenTtl: 300 });
    world = new World({ OIDC_ENCRYPTION_PW: ENC });
  });
  after(async () => {
    await world.cleanup();
    await op.close();
  });

  test('no secret in argv, the agent environment, its children, the log or CLI stderr', async (t) => {
    const scan = scanArgv();
    const stderr: string[] = [];
    const run = async (cli: Cli, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> => {
      const r = await world.run(cli, args, env);
      stderr.push(`${cli} ${args.join(' ')}: ${r.stderr}`);
      return r;
    };

    // The confirmation prompt dumps the environment it was given.
    const childEnvFile = join(world.root, 'prompt-env');
    const prompt = join(world.root, 'prompt.sh');
    writeFileSync(prompt, `#!/bin/sh\nenv > "${childEnvFile}"\nexit 0\n`);
    chmodSync(prompt, 0o755);
    world.env['TOKEN_AGENT_CONFIRM_CMD'] = prompt;
    await world.startAgent();

    const gen = await world.createAccount(op, 'hyg', ENC);
    stderr.push(gen.stderr);
    const pwFile = join(world.root, 'pw');
    writeFileSync(pwFile, `${ENC}\n`, { mode: 0o600 });
    assert.equal((await run('token-get', ['hyg'])).code, 0);
    assert.equal((await run('token-get', ['hyg', '-f', '--env'])).code, 0);
    await run('token-add', ['hyg', '--remove']);
    assert.equal((await run('token-add', ['hyg', '--pw-file', pwFile])).code, 0);
    await run('token-add', ['hyg', '--remove']);
    assert.equal((await run('token-add', ['hyg', '--pw-cmd', `cat '${pwFile}'`, '--confirm'])).code, 0);
    assert.equal((await run('token-get', ['hyg', '--name', 'hygiene-app'])).code, 0);
    assert.equal((await run('token-add', ['hyg', '--pw-env', 'WRONG'], { WRONG: `${ENC}-wrong` })).code, 5);
    assert.equal((await run('token-add', ['--lock', '--pw-env', 'LOCK_PW'], { LOCK_PW: LOCK })).code, 0);
    assert.equal((await run('token-get', ['hyg'])).code, 1);
    assert.equal((await run('token-add', ['--unlock', '--pw-env', 'LOCK_PW'], { LOCK_PW: `${LOCK}-wrong` })).code, 5);
    assert.equal((await run('token-add', ['--unlock', '--pw-env', 'LOCK_PW'], { LOCK_PW: LOCK })).code, 0);
    await run('token-gen', ['hyg', '--print', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    await run('token-gen', ['nope', '--print', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    await run('token-agent', ['--status']);
    const agentEnviron = readFileSync(`/proc/${world.agentPid}/environ`, 'utf8');
    const argvSeen = await scan.stop();

    // The secrets, learnt at the end (stdout of --print --show-secrets and token-get is meant to show them).
    const shown = await world.run('token-gen', ['hyg', '--print', '--show-secrets', '--pw-env', 'ENC_PW'], { ENC_PW: ENC });
    const cfg = JSON.parse(shown.stdout) as { refresh_token: string; client_secret: string };
    const at = (await world.run('token-get', ['hyg'])).stdout.trim();
    const secrets: Record<string, string> = {
      'encryption password': ENC,
      'lock password': LOCK,
      'OP password': DEFAULT_PASSWORD,
      'refresh token': cfg.refresh_token,
      'client secret': cfg.client_secret,
      'access token': at,
    };
    const places: Record<string, string> = {
      argv: [...argvSeen].join('\n'),
      'agent environment': agentEnviron,
      "the prompt's environment": readFileSync(childEnvFile, 'utf8'),
      'agent log': readFileSync(world.logFile, 'utf8'),
      'CLI stderr': stderr.join('\n'),
    };
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(secret.length >= 12, `${what} is recognisable`);
      for (const [where, text] of Object.entries(places)) assert.ok(!text.includes(secret), `the ${what} shows in ${where}`);
    }
    // The scan did run while the CLIs did: it saw them.
    assert.ok([...argvSeen].some((a) => a.includes('token-add.cjs hyg --pw-cmd')), 'the argv scan saw the CLIs');
    assert.match(places["the prompt's environment"]!, /^TOKEN_AGENT_CONFIRM_ACCOUNT=hyg$/m);
    t.diagnostic(`${scan.scans()} scans of /proc, ${argvSeen.size} distinct command lines`);
  });
});
