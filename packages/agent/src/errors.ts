/**
 * Failures the agent reports to a client: `error` is the text clients see (oidc-agent's strings
 * where clients match on them), `info` is help for a human. Never built from an unexpected
 * error's message: {@link toFailure} maps only known errors and hides the rest.
 */
import { AgentErrorText, type FailureReply } from '@token-agent/protocol';
import { OidcError } from '@token-agent/oidc';
import { StoreError } from '@token-agent/store';

export class AgentError extends Error {
  readonly info: string | undefined;
  constructor(message: string, info?: string) {
    super(message);
    this.name = 'AgentError';
    this.info = info;
  }
}

export function accountNotLoaded(name: string, autoload = true): AgentError {
  const help = `account '${name}' is not loaded: run token-add ${name}`;
  return new AgentError(AgentErrorText.accountNotLoaded, autoload ? help : `${help} (this agent runs with --no-autoload: token-get does not load it)`);
}

export function noSuchAccount(name: string): AgentError {
  return new AgentError(AgentErrorText.noAccount, `there is no account '${name}': create it with token-gen ${name}`);
}

/** Maps an error to a failure reply; unexpected errors become a generic text (and are logged by the caller). */
export function toFailure(err: unknown): { reply: FailureReply; expected: boolean } {
  if (err instanceof AgentError) {
    return { reply: withInfo({ status: 'failure', error: err.message }, err.info), expected: true };
  }
  if (err instanceof OidcError) {
    // The OP's own words (`error: description`, secrets already redacted by the oidc package).
    return { reply: { status: 'failure', error: err.message }, expected: true };
  }
  if (err instanceof StoreError) {
    return { reply: { status: 'failure', error: err.message }, expected: true };
  }
  return { reply: { status: 'failure', error: 'internal error in the agent (see its log)' }, expected: false };
}

function withInfo(r: FailureReply, info: string | undefined): FailureReply {
  if (info !== undefined) r.info = info;
  return r;
}
