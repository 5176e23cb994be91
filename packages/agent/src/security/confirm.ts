/**
 * Per-use confirmation (`token-agent --confirm`, `token-add NAME --confirm`): every token request
 * for such an account needs a yes from a prompt command, like ssh-askpass with
 * `SSH_ASKPASS_REQUIRE`. The command (`--confirm-cmd` or `TOKEN_AGENT_CONFIRM_CMD`) runs through
 * `/bin/sh -c`; it learns what is asked from environment variables and a one-line question on
 * stdin — never from argv — and answers with its exit status: 0 = yes, anything else = no.
 *
 * No prompt command → `operation forbidden` at once, with an `info` saying how to configure one:
 * never a wait for a prompt nobody can see. A prompt that does not answer within the timeout
 * counts as no. Other clients are not held up: the prompt is a child process awaited asynchronously.
 * @see ../../../../shared/reference/oidc-agent.md §2.6 (Confirm)
 */
import { spawn } from 'node:child_process';
import { AgentErrorText } from '@token-agent/protocol';
import type { LoadedAccount } from '../accounts/registry.js';
import type { AgentContext } from '../context.js';
import { AgentError } from '../errors.js';

/** Environment variables the prompt command gets (besides the agent's own, minus secrets). */
export const ConfirmEnv = {
  account: 'TOKEN_AGENT_CONFIRM_ACCOUNT',
  issuer: 'TOKEN_AGENT_CONFIRM_ISSUER',
  application: 'TOKEN_AGENT_CONFIRM_APPLICATION',
  question: 'TOKEN_AGENT_CONFIRM_QUESTION',
} as const;

/**
 * Variables never passed to a child of the agent: passwords and tokens a user may have exported
 * (`OIDC_ENCRYPTION_PW`, `BEARER_TOKEN`, `*_REFRESH_TOKEN`, …). `BEARER_TOKEN_FILE` and
 * `TOKEN_AGENT_*` are names of files and settings, not secrets, and stay. Same rule as the launcher's.
 */
const SECRET_ENV = /PASSW|SECRET|_PW$|(^|_)TOKEN$|REFRESH_TOKEN|ACCESS_TOKEN|^OIDC_AT$|CREDENTIAL|API_?KEY|PRIVATE_KEY/i;

/** The agent's environment without anything that looks like a secret. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!SECRET_ENV.test(k)) out[k] = v;
  return out;
}

/** A client-supplied text made safe to show: no control characters, bounded length. */
function printable(s: string | undefined, max = 200): string {
  const clean = (s ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function needsConfirmation(ctx: AgentContext, account: LoadedAccount): boolean {
  return account.confirm || ctx.settings.confirm;
}

/** Resolves when the user said yes; throws `operation forbidden` (with why in `info`) otherwise. */
export async function confirmUse(ctx: AgentContext, account: LoadedAccount, applicationHint: string | undefined, what = 'an access token'): Promise<void> {
  const name = account.name;
  const command = ctx.settings.confirmCmd;
  if (command === undefined || command.trim() === '') {
    ctx.log.info('confirmation-impossible', { account: name });
    throw new AgentError(
      AgentErrorText.forbidden,
      `${what === 'an access token' ? `account '${name}' needs a confirmation for every use` : `${what} for account '${name}' needs a confirmation`}, but the agent has no prompt command: start it with TOKEN_AGENT_CONFIRM_CMD set (or token-agent --confirm-cmd CMD)${what === 'a new mytoken' ? ', or with --always-allow-mytoken' : ''}`,
    );
  }
  const app = printable(applicationHint) || 'an application';
  const question = `Allow ${app} to get ${what} for account '${name}' (${printable(account.config.issuer_url)})?`;
  const yes = await runPrompt(command, {
    ...childEnv(),
    [ConfirmEnv.account]: name,
    [ConfirmEnv.issuer]: account.config.issuer_url,
    [ConfirmEnv.application]: app,
    [ConfirmEnv.question]: question,
  }, question, ctx.settings.confirmTimeoutMs);
  ctx.log.info(yes ? 'use-confirmed' : 'use-denied', { account: name, application: app });
  if (!yes) throw new AgentError(AgentErrorText.forbidden, `the use of account '${name}' was not confirmed`);
}

function runPrompt(command: string, env: NodeJS.ProcessEnv, question: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (yes: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(yes);
    };
    const child = spawn('/bin/sh', ['-c', command], { env, stdio: ['pipe', 'ignore', 'ignore'], detached: false });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(false);
    }, timeoutMs);
    timer.unref();
    child.once('error', () => done(false));
    child.once('exit', (code) => done(code === 0));
    child.stdin.on('error', () => undefined);
    child.stdin.end(`${question}\n`);
  });
}
