/**
 * The demo: everything a user does, on a throwaway local setup, with nothing to type.
 *   1. a local OpenID Provider (scripts/dev-op) on 127.0.0.1
 *   2. a private agent: eval $(token-agent)
 *   3. token-gen demo --flow device   (the login is approved by a scripted "browser")
 *   4. token-get demo                  (prints the access token and its claims)
 * Everything lives in a temp directory that is removed at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { approveDevice } from './dev-op/drive.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME, startDevOp } from './dev-op/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => join(root, 'packages', 'cli', 'bundle', `${name}.cjs`);
const dim = (s: string) => (process.stdout.isTTY && !process.env['NO_COLOR'] ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s: string) => (process.stdout.isTTY && !process.env['NO_COLOR'] ? `\x1b[1m${s}\x1b[0m` : s);

const tmp = mkdtempSync(join(tmpdir(), 'token-agent-demo-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  OIDC_CONFIG_DIR: join(tmp, 'accounts'),
  XDG_STATE_HOME: join(tmp, 'state'),
  XDG_RUNTIME_DIR: '',
  TMPDIR: tmp,
  TOKEN_AGENT_ALLOW_HTTP_LOOPBACK: '1', // the demo OP is plain http on 127.0.0.1
  DEMO_ENCRYPTION_PW: 'demo-password-not-for-real-use',
};

function run(name: string, args: string[], onStderr?: (text: string) => void): Promise<{ code: number; stdout: string; stderr: string }> {
  console.log(bold(`$ ${name} ${args.join(' ')}`));
  const child = spawn(process.execPath, [bin(name), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    process.stderr.write(dim(d.toString()));
    onStderr?.(stderr);
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
}

async function main(): Promise<number> {
  const op = await startDevOp({ quiet: true, accessTokenTtl: 300 });
  let agentStarted = false;
  try {
    console.log(dim(`# a local OpenID Provider for the demo: ${op.issuer} (user ${DEFAULT_USERNAME})`));
    const agent = await run('token-agent', ['--json']);
    if (agent.code !== 0) return agent.code;
    const { socket, pid } = JSON.parse(agent.stdout) as { socket: string; pid: number };
    Object.assign(env, { TOKEN_AGENT_SOCK: socket, OIDC_SOCK: socket, TOKEN_AGENT_PID: String(pid) });
    agentStarted = true;
    console.log(dim(`# agent pid ${pid} listening on ${socket}`));

    let approving = false;
    const gen = await run('token-gen', ['demo', '--issuer', op.issuer, '--flow', 'device', '-s', 'openid', '-s', 'profile', '-s', 'storage.read:/', '--pw-env', 'DEMO_ENCRYPTION_PW', '--no-qr'], (text) => {
      const m = /open (\S+) and enter the code: (\S+)/.exec(text);
      if (m && !approving) {
        approving = true;
        console.log(dim(`# (the demo plays the user: logs in as ${DEFAULT_USERNAME} at ${m[1]} and enters ${m[2]})`));
        approveDevice({ verificationUri: m[1]!, userCode: m[2]!, username: DEFAULT_USERNAME, password: DEFAULT_PASSWORD }).catch((err: unknown) =>
          console.error(`demo: approval failed: ${String(err)}`),
        );
      }
    });
    if (gen.code !== 0) return gen.code;

    const got = await run('token-get', ['demo', '-s', 'storage.read:/', '--aud', 'https://storage.example.org']);
    if (got.code !== 0) return got.code;
    const token = got.stdout.trim();
    console.log(token);
    const [header, payload] = token.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
    console.log(dim('# decoded header and claims:'));
    console.log(JSON.stringify({ header, payload }, null, 2));
    const exp = Number(payload!['exp']);
    console.log(dim(`# valid until ${new Date(exp * 1000).toISOString()} (${exp - Math.floor(Date.now() / 1000)} s left)`));
    return 0;
  } finally {
    if (agentStarted) await run('token-agent', ['--kill']);
    await op.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    rmSync(tmp, { recursive: true, force: true });
    process.exit(1);
  },
);
