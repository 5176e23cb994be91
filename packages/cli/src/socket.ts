/** The agent socket a CLI talks to: `TOKEN_AGENT_SOCK`, else `OIDC_SOCK`. */
import { socketPathFromEnv } from '@token-agent/protocol';
import { CliError, ExitCode } from './output.js';

export function requireSocket(env: NodeJS.ProcessEnv): string {
  const path = socketPathFromEnv(env);
  if (path === undefined) throw new CliError('no agent: TOKEN_AGENT_SOCK and OIDC_SOCK are not set; start one with: eval $(token-agent)', ExitCode.noAgent);
  return path;
}
