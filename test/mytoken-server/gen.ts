/**
 * token-gen against the test mytoken server, as a user without a browser: waits for the consent
 * URL token-gen shows on stderr, completes the login with {@link completeOidcFlow}, and returns
 * token-gen's result. Shared by the mytoken e2e suites.
 */
import type { DevOp } from '../../scripts/dev-op/index.ts';
import type { RunResult, World } from '../harness.ts';
import { completeOidcFlow } from './drive.ts';
import type { MytokenServer } from './server.ts';

/** Runs `token-gen ARGS` (env added to the world's) and logs in at the consent URL it prints. */
export async function loginThroughServer(world: World, mt: MytokenServer, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult & { url: string }> {
  const child = world.spawn('token-gen', args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = new RegExp(`${mt.url.replace(/[.]/g, '\\.')}/c/\\S+`).exec(stderr);
      if (m) resolve(m[0]);
    });
    child.once('exit', () => reject(new Error(`token-gen exited before showing a URL: ${stderr}`)));
  });
  await completeOidcFlow(url);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    if (child.exitCode !== null) resolve([child.exitCode, child.signalCode]);
    else child.once('exit', (c, s) => resolve([c, s]));
  });
  return { code, signal, stdout, stderr, url };
}

/** `token-gen NAME --mytoken URL --issuer OP --pw-env ENC_PW --no-url-call EXTRA…`, logged in. */
export function genMytoken(world: World, mt: MytokenServer, op: DevOp, name: string, encPassword: string, extra: string[] = []): Promise<RunResult & { url: string }> {
  return loginThroughServer(world, mt, [name, '--mytoken', mt.url, '--issuer', op.issuer, '--pw-env', 'ENC_PW', '--no-url-call', ...extra], { ENC_PW: encPassword });
}
