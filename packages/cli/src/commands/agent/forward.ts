/**
 * `token-agent --forward`: the ssh options that forward the agent's (preferably restricted) socket
 * to a remote host (`RemoteForward` of a Unix socket), and the remote side's environment. Writes
 * `~/.ssh/config` only with `--write-ssh-config`.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { request } from '@token-agent/protocol';
import { CliError, ExitCode, shellQuote, type Io } from '../../output.js';

export interface ForwardOptions {
  /** The agent's socket (to find its restricted socket). */
  agentSocket: string;
  /** The socket to forward; default: the agent's restricted socket, else the agent socket. */
  restrictedSocket: string | undefined;
  host: string | undefined;
  remoteSocket: string | undefined;
  writeSshConfig: boolean;
  json: boolean;
}

export interface ForwardPlan {
  local: string;
  remote: string;
  restricted: boolean;
  sshArgs: string[];
  sshConfig: string;
  remoteEnv: Record<string, string>;
}

export function forwardPlan(local: string, remote: string, host: string, restricted: boolean): ForwardPlan {
  return {
    local,
    remote,
    restricted,
    sshArgs: ['-o', 'StreamLocalBindUnlink=yes', '-R', `${remote}:${local}`, host],
    sshConfig: `# token-agent forward ${host}\nHost ${host}\n    RemoteForward ${remote} ${local}\n    StreamLocalBindUnlink yes\n`,
    remoteEnv: { TOKEN_AGENT_SOCK: remote, OIDC_SOCK: remote },
  };
}

export async function forward(o: ForwardOptions, io: Io): Promise<number> {
  let local = o.restrictedSocket;
  if (local === undefined) {
    const r = await request('status_json', {}, { socketPath: o.agentSocket, timeoutMs: 5_000 }).catch(() => undefined);
    if (r === undefined) throw new CliError(`no agent answers at ${o.agentSocket}; start one (with --restricted-socket PATH --allow ACCOUNT) first`, ExitCode.noAgent);
    const opts = (r as { info?: { command_line_options?: { restricted_socket?: unknown } } }).info?.command_line_options;
    local = typeof opts?.restricted_socket === 'string' ? opts.restricted_socket : undefined;
  }
  const restricted = local !== undefined;
  if (local === undefined) {
    local = o.agentSocket;
    io.stderr.write(
      'token-agent: warning: the agent has no restricted socket; forwarding the full agent socket lets the remote host use, add and remove every account.\n' +
        '  Safer: token-agent --kill; token-agent --restricted-socket PATH --allow ACCOUNT[:SCOPES]\n',
    );
  }
  const remote = o.remoteSocket ?? `/tmp/token-agent-fwd-${userInfo().username}.sock`;
  const plan = forwardPlan(local, remote, o.host ?? 'HOST', restricted);
  if (o.writeSshConfig) {
    if (o.host === undefined) throw new CliError('--write-ssh-config needs --ssh-host HOST', ExitCode.usage);
    const home = io.env['HOME'];
    if (!home) throw new CliError('HOME is not set: cannot find ~/.ssh/config');
    const dir = join(home, '.ssh');
    const file = join(dir, 'config');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const existing = await readFile(file, 'utf8').catch(() => '');
    if (existing.includes(`# token-agent forward ${o.host}\n`)) {
      io.stderr.write(`token-agent: ${file} already has a token-agent forward for ${o.host}; not changed\n`);
    } else {
      await appendFile(file, (existing === '' || existing.endsWith('\n') ? '' : '\n') + '\n' + plan.sshConfig, { mode: 0o600 });
      io.stderr.write(`token-agent: added to ${file}:\n${plan.sshConfig}`);
    }
  }
  if (o.json) {
    io.stdout.write(`${JSON.stringify({ local: plan.local, remote: plan.remote, restricted, ssh_args: plan.sshArgs, ssh_config: plan.sshConfig, remote_env: plan.remoteEnv })}\n`);
    return ExitCode.ok;
  }
  const exportLine = `export TOKEN_AGENT_SOCK=${shellQuote(remote)} OIDC_SOCK=${shellQuote(remote)}`;
  io.stdout.write(
    `# Forward the token agent's ${restricted ? 'restricted ' : ''}socket ${local} to ${plan.sshArgs.at(-1)} as ${remote}:\n` +
      `ssh ${plan.sshArgs.map(shellQuote).join(' ')}\n` +
      `# or in ~/.ssh/config (token-agent --forward --ssh-host HOST --write-ssh-config adds it):\n` +
      plan.sshConfig.replace(/^# token-agent forward .*\n/, '') +
      `# on the remote host (its sshd decides about StreamLocalBindUnlink for -R: without it, remove a stale ${remote} first):\n` +
      `${exportLine}\n`,
  );
  return ExitCode.ok;
}
