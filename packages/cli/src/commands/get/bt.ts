/**
 * `token-get NAME --watch | --unwatch | --bt [--bt-file PATH]`: the agent keeps (writes once,
 * stops keeping) a bearer-token file. The path is resolved here, in the caller's environment
 * (BEARER_TOKEN_FILE, XDG_RUNTIME_DIR, uid), not in the agent's.
 */
import { resolve } from 'node:path';
import { request, type Reply } from '@token-agent/protocol';
import { defaultTokenFile } from '../../bt-discovery.js';
import { CliError, ExitCode, type Io } from '../../output.js';
import type { GetOptions } from './run.js';

export async function runBt(o: GetOptions, io: Io, socketPath: string): Promise<void> {
  const path = o.btFile !== undefined ? resolve(o.btFile) : defaultTokenFile(io.env);
  const again = `token-get ${o.target}${o.btFile !== undefined ? ` --bt-file ${path}` : ''}`;
  if (o.bt === 'unwatch') {
    const r = (await request('unwatch', { account: o.target, path }, { socketPath, timeoutMs: 30_000 })) as Reply<'unwatch'>;
    if (o.output === 'json') io.stdout.write(`${JSON.stringify({ removed: r.removed })}\n`);
    io.stderr.write(`No longer keeping ${r.removed.join(', ')}; the file is removed.\n`);
    return;
  }
  const scope = o.scopes.flatMap((s) => s.split(/\s+/)).filter(Boolean);
  const audience = o.audiences.flatMap((s) => s.split(/\s+/)).filter(Boolean);
  const reply = await request(
    'watch',
    {
      account: o.target,
      path,
      scope: scope.length > 0 ? scope.join(' ') : undefined,
      audience: audience.length > 0 ? audience.join(' ') : undefined,
      min_valid_period: o.minValid,
      once: o.bt === 'once' ? true : undefined,
    },
    { socketPath, timeoutMs: 60_000 },
  );
  if (reply.status !== 'success') throw new CliError(`unexpected reply status ${reply.status}`, ExitCode.failure);
  const r = reply as Reply<'watch'>;
  io.stdout.write(o.output === 'json' ? `${JSON.stringify({ path: r.path, expires_at: r.expires_at, watching: o.bt === 'watch' })}\n` : `${r.path}\n`);
  const until = new Date(r.expires_at * 1000).toLocaleString();
  if (o.bt === 'watch') {
    io.stderr.write(`Keeping a valid token of '${o.target}' in ${r.path} (this one until ${until}); stop with: ${again} --unwatch\n`);
  } else {
    io.stderr.write(`Wrote a token of '${o.target}' to ${r.path}, valid until ${until}.\n`);
  }
}
