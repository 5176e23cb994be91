/**
 * `token-agent --print-service [systemd|socket|launchd]` and `--install-service [socket]`: a
 * systemd user unit (optionally with a socket unit for socket activation) that runs the agent in
 * the foreground on the default socket `%t/token-agent/agent.sock` (= $XDG_RUNTIME_DIR/…), or a
 * launchd agent plist for macOS.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, ExitCode, type Io } from '../../output.js';

export type ServiceKind = 'systemd' | 'socket' | 'launchd';

/** systemd's quoting for one ExecStart word. */
function unitWord(s: string): string {
  if (/^[\w@%+=:,./-]+$/.test(s)) return s;
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function systemdService(node: string, daemon: string, socketActivated = false): string {
  const exec = [node, daemon, '--foreground', '--socket', '%t/token-agent/agent.sock'].map(unitWord).join(' ');
  return [
    '[Unit]',
    'Description=token-agent: OpenID Connect token agent (oidc-agent compatible)',
    ...(socketActivated ? ['Requires=token-agent.socket', 'After=token-agent.socket'] : []),
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec}`,
    'Restart=on-failure',
    'UMask=0077',
    '',
    '[Install]',
    socketActivated ? 'Also=token-agent.socket' : 'WantedBy=default.target',
    '',
  ].join('\n');
}

export function systemdSocket(): string {
  return [
    '[Unit]',
    'Description=token-agent socket (oidc-agent compatible token agent)',
    '',
    '[Socket]',
    'ListenStream=%t/token-agent/agent.sock',
    'SocketMode=0600',
    'DirectoryMode=0700',
    '',
    '[Install]',
    'WantedBy=sockets.target',
    '',
  ].join('\n');
}

export function launchdPlist(node: string, daemon: string, home: string): string {
  const args = [node, daemon, '--foreground', '--socket', join(home, 'Library', 'Caches', 'token-agent', 'agent.sock')];
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>org.token-agent.agent</string>
  <key>ProgramArguments</key>
  <array>
${args.map((a) => `    <string>${xml(a)}</string>`).join('\n')}
  </array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
  <key>StandardErrorPath</key><string>${xml(join(home, 'Library', 'Logs', 'token-agent.log'))}</string>
</dict>
</plist>
`;
}

export interface ServiceOptions {
  kind: ServiceKind;
  install: boolean;
  node: string;
  daemon: string;
}

export async function service(o: ServiceOptions, io: Io): Promise<number> {
  const home = io.env['HOME'] || homedir();
  if (!o.install) {
    if (o.kind === 'launchd') io.stdout.write(launchdPlist(o.node, o.daemon, home));
    else if (o.kind === 'socket') io.stdout.write(`# token-agent.socket\n${systemdSocket()}\n# token-agent.service\n${systemdService(o.node, o.daemon, true)}`);
    else io.stdout.write(systemdService(o.node, o.daemon));
    return ExitCode.ok;
  }
  if (o.kind === 'launchd') {
    const dir = join(home, 'Library', 'LaunchAgents');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'org.token-agent.agent.plist');
    await writeFile(file, launchdPlist(o.node, o.daemon, home), { mode: 0o644 });
    io.stdout.write(`wrote ${file}\nenable it with: launchctl load -w ${file}\nthen in your shell profile: export TOKEN_AGENT_SOCK=${join(home, 'Library', 'Caches', 'token-agent', 'agent.sock')}\n`);
    return ExitCode.ok;
  }
  const configHome = io.env['XDG_CONFIG_HOME'] || join(home, '.config');
  const dir = join(configHome, 'systemd', 'user');
  await mkdir(dir, { recursive: true });
  const socketActivated = o.kind === 'socket';
  const unit = join(dir, 'token-agent.service');
  await writeFile(unit, systemdService(o.node, o.daemon, socketActivated), { mode: 0o644 });
  const written = [unit];
  if (socketActivated) {
    const sock = join(dir, 'token-agent.socket');
    await writeFile(sock, systemdSocket(), { mode: 0o644 });
    written.push(sock);
  }
  io.stdout.write(
    `wrote ${written.join(' and ')}\nenable it with: systemctl --user daemon-reload && systemctl --user enable --now ${socketActivated ? 'token-agent.socket' : 'token-agent.service'}\n` +
      'every shell then finds the agent at $XDG_RUNTIME_DIR/token-agent/agent.sock without any variable\n',
  );
  return ExitCode.ok;
}

export function parseServiceKind(v: unknown): ServiceKind {
  if (v === undefined || v === true) return process.platform === 'darwin' ? 'launchd' : 'systemd';
  if (v === 'systemd' || v === 'socket' || v === 'launchd') return v;
  throw new CliError(`unknown service kind '${String(v)}': systemd, socket or launchd`, ExitCode.usage);
}
