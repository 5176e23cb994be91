/**
 * The ssh grant of the mytoken test server: a private OpenSSH sshd on loopback whose
 * ForceCommand (ssh-force-command.mjs) forwards `ssh … ACTION [MIMETYPE DATA]` to the server.
 * The real server runs its own ssh server on port 2222 and accepts any per-key user name;
 * OpenSSH needs a real account, so every key logs in as the local user running the tests
 * (`ssh_user` in the ssh-add answer) and the key alone selects the stored mytoken.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshd, type Sshd } from '../sshd.ts';
import { API, fingerprint, type MytokenServer } from './server.ts';

export const FORCE_COMMAND = fileURLToPath(new URL('./ssh-force-command.mjs', import.meta.url));

export interface MytokenSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The login name every ssh-grant key uses (the `ssh_user` the server answers). */
  readonly user: string;
  readonly dir: string;
  /** known_hosts with the sshd's host key (for StrictHostKeyChecking=yes). */
  readonly knownHostsFile: string;
  /**
   * The ssh arguments before the remote command, for a client key:
   * `-F /dev/null -p PORT -i KEY -o IdentitiesOnly=yes -o BatchMode=yes
   *  -o StrictHostKeyChecking=yes -o UserKnownHostsFile=KNOWN_HOSTS USER@127.0.0.1`
   */
  sshArgs(identityFile: string): string[];
  /** An ssh_config `Host <alias>` entry (HostName, Port, User, IdentityFile, known hosts). */
  clientConfig(identityFile: string, alias?: string): string;
  sshd: Sshd;
  close(): Promise<void>;
}

/**
 * Starts an sshd for `mt`'s ssh grant and attaches it (the configuration document then lists
 * grant type `ssh` and `ssh_keys`). Needs root; see test/sshd.ts `sshdSkipReason()`.
 */
export async function startMytokenSshd(mt: MytokenServer, options: { dir?: string } = {}): Promise<MytokenSshd> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'mytoken-sshd-'));
  const user = userInfo().username;
  const authorizedKeys = join(dir, 'authorized_keys');
  const forceConfig = join(dir, 'force.json');
  writeFileSync(authorizedKeys, '', { mode: 0o600 });
  writeFileSync(forceConfig, JSON.stringify({ url: `${mt.url}${API.sshInternal}`, secret: mt.sshSecret }), { mode: 0o600 });
  const sshd = await startSshd({
    dir,
    authorizedKeysFile: authorizedKeys,
    config: [
      `AllowUsers ${user}`,
      'ExposeAuthInfo yes',
      `ForceCommand ${process.execPath} ${FORCE_COMMAND} ${forceConfig}`,
      'PermitTTY no',
      'AllowTcpForwarding no',
      'AllowStreamLocalForwarding no',
      'X11Forwarding no',
      'PermitUserEnvironment no',
      // The real server: 30 s max session, 10 s idle.
      'ClientAliveInterval 10',
      'ClientAliveCountMax 1',
    ],
  });
  const [type = '', b64 = ''] = sshd.hostKey.split(/\s+/);
  mt.attachSsh({
    host: '127.0.0.1',
    port: sshd.port,
    user,
    hostKeys: [{ type, fingerprint: fingerprint(`${type} ${b64}`) ?? '' }],
    writeAuthorizedKeys(lines) {
      const tmp = `${authorizedKeys}.tmp`;
      writeFileSync(tmp, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
      renameSync(tmp, authorizedKeys);
    },
  });
  const base = (identityFile: string) => [
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${sshd.knownHostsFile}`,
    '-o', 'LogLevel=ERROR',
    '-i', identityFile,
  ];
  return {
    host: '127.0.0.1',
    port: sshd.port,
    user,
    dir,
    knownHostsFile: sshd.knownHostsFile,
    sshd,
    sshArgs: (identityFile) => ['-F', '/dev/null', '-p', String(sshd.port), ...base(identityFile), `${user}@127.0.0.1`],
    clientConfig: (identityFile, alias = 'mytoken') =>
      [
        `Host ${alias}`,
        '    HostName 127.0.0.1',
        `    Port ${sshd.port}`,
        `    User ${user}`,
        `    IdentityFile ${identityFile}`,
        '    IdentitiesOnly yes',
        '    BatchMode yes',
        '    StrictHostKeyChecking yes',
        `    UserKnownHostsFile ${sshd.knownHostsFile}`,
        '    LogLevel ERROR',
        '',
      ].join('\n'),
    async close() {
      await sshd.close();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Reads a public key file (`KEY.pub`) as the one-line string the ssh-add request wants. */
export function publicKeyLine(path: string): string {
  return readFileSync(path, 'utf8').trim();
}
