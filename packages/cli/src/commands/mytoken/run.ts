/**
 * `token-mytoken`: sub-mytokens with restrictions, access tokens, revocation and tokeninfo.
 *
 * Two ways to the parent mytoken:
 * - an ACCOUNT: the agent's `mytoken` request (oidc-agent 5); the agent holds the account's
 *   mytoken, talks to the server and keeps rotations. Only sub-mytoken creation goes this way.
 * - no account (mytoken-client style): `--MT-file`/`--MT-env`/`--MT-prompt`/discovery; the CLI
 *   talks to the mytoken server itself (URL from the JWT's `iss` or `--mytoken-server`) and writes
 *   a rotated mytoken back to its file before printing anything.
 * - `--ssh HOST`: the server's ssh grant; no mytoken on this host at all.
 *
 * Direct mode imports @token-agent/oidc (lazily, so `--help` and the agent path stay light): unlike
 * the other CLIs, it has no agent to do its HTTP.
 * @see ../../../../../shared/reference/mytoken-wlcg.md §1
 */
import { networkInterfaces, hostname } from 'node:os';
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { exchange, ProtocolError, ProtocolErrorCode } from '@token-agent/protocol';
import { withFileLock } from '@token-agent/store';
import { CliError, ExitCode, terminalJson, type Io } from '../../output.js';
import { requireSocket } from '../../socket.js';
import { decodeToken } from '../decode/jwt.js';
import type { ClauseContext, ClauseOptions } from './restrictions.js';
import { APPLICATION_NAME, buildAccessTokenRequest, buildSubMytokenRequest, INFO_ACTIONS, sshCommandWords, type InfoAction, type SubMytokenRequest, type TokenType } from './request.js';
import { keepRotated, reread, resolveSource, type MytokenSource, type SourceOptions } from './source.js';
import { runSsh, sshTarget } from './ssh.js';

export type Mode = 'mt' | 'at' | 'revoke' | 'info';

export interface MytokenOptions {
  mode: Mode;
  account?: string;
  info?: InfoAction;
  recursive: boolean;
  source: SourceOptions;
  /** `--mytoken-server URL`. */
  server?: string;
  clause: ClauseOptions;
  /** `--restriction FILE|JSON`. */
  restriction?: string;
  capabilities: string[];
  name?: string;
  tokenType?: TokenType;
  comment?: string;
  json: boolean;
  ssh?: string;
  /** Deadline of an ssh grant call, seconds. */
  timeout: number;
}

/** What `run` needs from the world; tests replace parts. */
export interface Deps {
  /** Unix seconds. */
  now: () => number;
  thisHost: () => string[];
  prompt: (question: string) => Promise<string>;
  sshPath?: string;
}

/**
 * `this` in `--host`: every address of this host's interfaces (zone ids dropped), then its name.
 * Addresses first: the server checks entries in order and a name costs it a DNS lookup.
 */
export function thisHostAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ''));
  }
  const name = hostname();
  if (name) out.add(name);
  return [...out];
}

export const defaultDeps: Deps = {
  now: () => Math.floor(Date.now() / 1000),
  thisHost: thisHostAddresses,
  prompt: async (question) => {
    const { promptPassword } = await import('@token-agent/store');
    return promptPassword(question);
  },
};

const PROG = 'token-mytoken';

function restrictionOptionsGiven(o: MytokenOptions): string[] {
  const c = o.clause;
  const given: [boolean, string][] = [
    [c.nbf !== undefined, '--nbf'],
    [c.exp !== undefined, '--exp'],
    [(c.host ?? []).length > 0, '--host'],
    [(c.geoIpAllow ?? []).length > 0, '--geo-ip-allow'],
    [(c.geoIpDisallow ?? []).length > 0, '--geo-ip-disallow'],
    [c.usagesAt !== undefined, '--usages-at'],
    [c.usagesOther !== undefined, '--usages-other'],
    [o.restriction !== undefined, '--restriction'],
    [o.capabilities.length > 0, '--capability'],
    [o.name !== undefined, '--name'],
    [o.tokenType !== undefined, '--token-type'],
  ];
  return given.filter(([g]) => g).map(([, n]) => n);
}

/** Refuses option combinations that would be silently ignored. */
export function checkCombination(o: MytokenOptions): void {
  const mtOnly = restrictionOptionsGiven(o);
  const scopeAud = (o.clause.scope ?? []).length > 0 || (o.clause.aud ?? []).length > 0;
  if (o.mode !== 'mt' && mtOnly.length > 0) throw new CliError(`${mtOnly.join(', ')}: only for creating a mytoken (not with ${o.mode === 'at' ? '--at' : o.mode === 'revoke' ? '--revoke' : '--info'})`, ExitCode.usage);
  if ((o.mode === 'revoke' || o.mode === 'info') && scopeAud) throw new CliError(`--scope/--aud: not with ${o.mode === 'revoke' ? '--revoke' : '--info'}`, ExitCode.usage);
  if (o.recursive && o.mode !== 'revoke') throw new CliError('--recursive goes with --revoke', ExitCode.usage);
  if (o.comment !== undefined && o.mode !== 'at') throw new CliError('--comment goes with --at', ExitCode.usage);
  const sourceGiven = o.source.mtFile !== undefined || o.source.mtEnv !== undefined || o.source.mtPrompt === true;
  if (o.account !== undefined) {
    if (sourceGiven || o.ssh !== undefined || o.server !== undefined) throw new CliError('an ACCOUNT takes its mytoken from the agent: not with --MT-file, --MT-env, --MT-prompt, --ssh or --mytoken-server', ExitCode.usage);
    if (o.mode === 'at') throw new CliError(`access tokens of an account come from the agent: token-get ${o.account}`, ExitCode.usage);
    if (o.mode !== 'mt') throw new CliError('--revoke and --info work on a mytoken given with --MT-file, --MT-env or --MT-prompt (or --ssh), not on an account', ExitCode.usage);
  }
  if (o.ssh !== undefined) {
    if (sourceGiven || o.server !== undefined) throw new CliError('--ssh uses the mytoken stored at the server: not with --MT-file, --MT-env, --MT-prompt or --mytoken-server', ExitCode.usage);
    if (o.mode === 'revoke') throw new CliError('--revoke is not offered through the ssh grant', ExitCode.usage);
  }
}

/** `--restriction` as template text: JSON when it looks like JSON, else a file name. */
function readTemplate(value: string): { text: string; source: string } {
  const t = value.trimStart();
  if (t.startsWith('{') || t.startsWith('[')) return { text: value, source: '--restriction' };
  let size: number;
  try {
    const st = statSync(value);
    if (!st.isFile()) throw new CliError(`--restriction: ${value} is not a regular file`, ExitCode.usage);
    size = st.size;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`--restriction: ${JSON.stringify(value.slice(0, 80))} is neither JSON nor a readable file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, ExitCode.usage);
  }
  if (size > 64 * 1024) throw new CliError(`--restriction: ${value} is larger than 65536 bytes`, ExitCode.usage);
  return { text: readFileSync(value, 'utf8'), source: `--restriction ${value}` };
}

function subRequest(o: MytokenOptions, deps: Deps): SubMytokenRequest {
  const ctx: ClauseContext = { now: deps.now(), thisHost: deps.thisHost };
  const req: Parameters<typeof buildSubMytokenRequest>[0] = { clause: o.clause, capabilities: o.capabilities };
  if (o.restriction !== undefined) req.template = readTemplate(o.restriction);
  if (o.name !== undefined) req.name = o.name;
  if (o.tokenType !== undefined) req.tokenType = o.tokenType;
  return buildSubMytokenRequest(req, ctx);
}

function print(io: Io, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function printJson(io: Io, value: unknown, raw: boolean): void {
  print(io, raw ? terminalJson(value) : terminalJson(value, 2));
}

/** The token a mytoken response stands for: the transfer code for `transfer_code`, else the mytoken. */
function issuedToken(r: { mytoken?: unknown; transfer_code?: unknown; mytoken_type?: unknown }): string {
  const t = r.mytoken_type === 'transfer_code' && typeof r.transfer_code === 'string' && r.transfer_code !== '' ? r.transfer_code : r.mytoken;
  if (typeof t !== 'string' || t === '') throw new CliError('the answer holds no mytoken');
  return t;
}

function describeIssued(io: Io, r: { mytoken_type?: unknown; expires_in?: unknown; expires_at?: unknown }): void {
  if (r.mytoken_type === 'transfer_code') {
    const s = typeof r.expires_in === 'number' ? ` (valid ${r.expires_in} s, single use)` : ' (single use)';
    io.stderr.write(`${PROG}: a transfer code${s}: redeem it at the mytoken server for the mytoken\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Through the agent

async function viaAgent(o: MytokenOptions, io: Io, deps: Deps): Promise<void> {
  const { application_name: _app, ...profile } = subRequest(o, deps);
  const socketPath = requireSocket(io.env);
  // Nothing asked for: no profile, so the agent applies its default (AT only, limited lifetime).
  const message: Record<string, unknown> = { request: 'mytoken', account: o.account, application_hint: APPLICATION_NAME };
  if (Object.keys(profile).length > 0) message['mytoken_profile'] = profile;
  const text = await exchange(JSON.stringify(message), { socketPath, timeoutMs: 330_000 });
  let reply: Record<string, unknown>;
  try {
    reply = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ProtocolError(ProtocolErrorCode.badReply, 'the agent sent invalid JSON', { cause: err });
  }
  if (typeof reply !== 'object' || reply === null) throw new ProtocolError(ProtocolErrorCode.badReply, 'the agent reply is not an object');
  if (reply['status'] !== 'success') {
    const error = typeof reply['error'] === 'string' ? reply['error'] : `unexpected status ${JSON.stringify(reply['status'])}`;
    const info = typeof reply['info'] === 'string' ? reply['info'] : undefined;
    throw new ProtocolError(ProtocolErrorCode.agent, error, info === undefined ? { agentError: error } : { agentError: error, info });
  }
  const { status: _status, ...rest } = reply;
  if (o.json) return printJson(io, rest, true);
  const token = issuedToken(rest);
  describeIssued(io, rest);
  print(io, token);
}

// ---------------------------------------------------------------------------------------------
// Through ssh

async function viaSsh(o: MytokenOptions, io: Io, deps: Deps): Promise<void> {
  const target = sshTarget(o.ssh as string);
  let command: string[];
  if (o.mode === 'mt') command = sshCommandWords('MT', subRequest(o, deps));
  else if (o.mode === 'at') command = sshCommandWords('AT', buildAccessTokenRequest(o.clause.scope ?? [], o.clause.aud ?? [], o.comment));
  else command = sshCommandWords(INFO_ACTIONS[o.info as InfoAction].ssh, undefined);
  const sshOpts: Parameters<typeof runSsh>[0] = { target, command, timeoutMs: o.timeout * 1000, env: io.env };
  if (deps.sshPath !== undefined) sshOpts.sshPath = deps.sshPath;
  const out = (await runSsh(sshOpts)).trim();
  if (o.mode === 'info') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(out);
    } catch {
      throw new CliError(`--ssh: the server's answer is not JSON: ${JSON.stringify(out.slice(0, 200))}`);
    }
    return printJson(io, parsed, o.json);
  }
  const token = out.split(/\r?\n/)[0]?.trim() ?? '';
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw new CliError(`--ssh: the server did not send a token: ${JSON.stringify(out.slice(0, 200))}`);
  if (o.json) return printJson(io, o.mode === 'at' ? { access_token: token } : { mytoken: token }, true);
  print(io, token);
}

// ---------------------------------------------------------------------------------------------
// Directly at the mytoken server

type Oidc = typeof import('@token-agent/oidc');

/** The server URL: the JWT's `iss`, which `--mytoken-server` may not contradict. */
export function serverUrlFor(token: string, given: string | undefined, env: NodeJS.ProcessEnv): string {
  const d = decodeToken(token);
  const iss = d.kind === 'jwt' && typeof d.payload['iss'] === 'string' ? d.payload['iss'] : undefined;
  const norm = (u: string) => u.replace(/\/+$/, '');
  if (iss !== undefined) {
    if (given !== undefined && norm(given) !== norm(iss)) {
      throw new CliError(`the mytoken was issued by ${iss}, not by --mytoken-server ${given}: it is only sent to its issuer`, ExitCode.usage);
    }
    return iss;
  }
  const fallback = given ?? env['MYTOKEN_URL'];
  if (fallback === undefined || fallback === '') throw new CliError('the mytoken is not a JWT (a short token?): name its server with --mytoken-server URL (or MYTOKEN_URL)', ExitCode.usage);
  return fallback;
}

function translateOidc(err: unknown): unknown {
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  if (e !== null && typeof e === 'object' && e.name === 'OidcError' && typeof e.code === 'string' && typeof e.message === 'string') {
    return new CliError(e.message, ExitCode.failure);
  }
  return err;
}

/** How long a command waits for another one using the same mytoken file. */
const FILE_LOCK_WAIT_MS = 120_000;

async function direct(o: MytokenOptions, io: Io, deps: Deps): Promise<void> {
  // Validate everything before the mytoken is even read (a prompt for nothing is rude).
  const request = o.mode === 'mt' ? subRequest(o, deps) : undefined;
  const found: MytokenSource = await resolveSource(o.source, io, deps.prompt);
  const file = found.file;
  if (file === undefined) return directWith(found, request, o, io);
  // A mytoken kept in a file may rotate at every use: two commands presenting the same one would
  // leave one with a dead token (and with auto_revoke the server revokes the whole tree). So one
  // command at a time per file (FILE.lock beside it), each with the token the previous one left.
  // Where no lock can be made, nothing can be written back either (the rotation goes to stderr).
  const target = realpathSync(file);
  try {
    accessSync(dirname(target), constants.W_OK);
  } catch {
    return directWith(found, request, o, io);
  }
  const lock = `${target}.lock`;
  return withFileLock(lock, () => directWith(reread({ ...found, file }), request, o, io), {
    waitMs: FILE_LOCK_WAIT_MS,
    // In a shared directory (/tmp) another user may have put something there first: not ours to
    // wait for or remove, and no reason to fail a command that worked without the lock.
    foreign: () => io.stderr.write(`${PROG}: warning: ${lock} is not a file of yours; going on without the lock (do not run two commands on ${file} at once)\n`),
    busy: (holder) => new CliError(`${file} is in use by another command (${holder}) for more than ${FILE_LOCK_WAIT_MS / 1000} s; try again`),
  });
}

async function directWith(source: MytokenSource, request: SubMytokenRequest | undefined, o: MytokenOptions, io: Io): Promise<void> {
  const url = serverUrlFor(source.token, o.server, io.env);
  const oidc: Oidc = await import('@token-agent/oidc');
  const loopbackOptIn = io.env[oidc.ALLOW_HTTP_LOOPBACK_ENV];
  const allowInsecureLoopback = loopbackOptIn === '1' || loopbackOptIn === 'true';
  try {
    const server = await oidc.discoverMytokenServer(url, { allowInsecureLoopback });
    switch (o.mode) {
      case 'mt': {
        const r = await oidc.subMytoken(server, source.token, { ...request });
        if (r.mytoken_update !== undefined) await keepRotated(source, r.mytoken_update, io);
        if (o.json) return printJson(io, r.raw, true);
        describeIssued(io, r);
        return print(io, issuedToken(r));
      }
      case 'at': {
        const req = buildAccessTokenRequest(o.clause.scope ?? [], o.clause.aud ?? [], o.comment);
        let r;
        try {
          r = await oidc.accessTokenFromMytoken(server, source.token, req);
        } catch (err) {
          const update = (err as { mytoken_update?: unknown }).mytoken_update;
          if (typeof update === 'string') await keepRotated(source, update, io);
          throw err;
        }
        if (r.mytoken_update !== undefined) await keepRotated(source, r.mytoken_update, io);
        const { mytoken_update: _u, ...shown } = r;
        if (o.json) return printJson(io, shown, true);
        return print(io, r.access_token);
      }
      case 'revoke': {
        await oidc.revokeMytoken(server, source.token, { recursive: o.recursive });
        io.stderr.write(`${PROG}: revoked the mytoken from ${source.label}${o.recursive ? ' and its sub-tokens' : ''}\n`);
        return;
      }
      case 'info': {
        const action = INFO_ACTIONS[o.info as InfoAction].api;
        const r = await oidc.mytokenTokeninfo(server, source.token, action);
        if (r.mytoken_update !== undefined) await keepRotated(source, r.mytoken_update, io);
        return printJson(io, r.info, o.json);
      }
    }
  } catch (err) {
    throw translateOidc(err);
  }
}

export async function run(o: MytokenOptions, io: Io, deps: Deps = defaultDeps): Promise<void> {
  checkCombination(o);
  if (o.account !== undefined) return viaAgent(o, io, deps);
  if (o.ssh !== undefined) return viaSsh(o, io, deps);
  return direct(o, io, deps);
}
