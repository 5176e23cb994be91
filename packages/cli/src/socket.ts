/** The agent socket a CLI talks to: `TOKEN_AGENT_SOCK`, else `OIDC_SOCK`, else the per-user default. */
import { lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkPrivateSocketDir, resolveSocketPath } from '@token-agent/protocol';
import { CliError, ExitCode } from './output.js';

export function requireSocket(env: NodeJS.ProcessEnv): string {
  const { path, fromEnv } = resolveSocketPath(env);
  if (fromEnv) return path;
  const bad = checkPrivateSocketDir(dirname(path));
  if (bad !== undefined) throw new CliError(bad, ExitCode.noAgent);
  try {
    lstatSync(path);
  } catch {
    throw new CliError(`no agent: TOKEN_AGENT_SOCK and OIDC_SOCK are not set and none runs at ${path}; start one with: eval $(token-agent)`, ExitCode.noAgent);
  }
  return path;
}
