/**
 * `token-decode [TOKEN|FILE]`: shows a token's header and payload, its times in local time, and
 * with `--verify` whether it is valid (signature against the issuer's keys, exp, nbf, audience).
 */
import { readFileSync } from 'node:fs';
import { CliError, ExitCode, terminalJson, type Io } from '../../output.js';
import { decodeToken, timeClaims, type TimeClaim } from './jwt.js';
import { discover, fromArgument, type Found } from './source.js';

export interface DecodeOptions {
  /** A token, a file holding one, `-` for stdin; undefined: WLCG discovery. */
  input: string | undefined;
  verify: boolean;
  audience: string | undefined;
  json: boolean;
}

function find(o: DecodeOptions, io: Io): Found {
  if (o.input !== undefined) return fromArgument(o.input, () => readFileSync(0, 'utf8'));
  const notes: string[] = [];
  try {
    return discover(io.env, notes);
  } finally {
    for (const n of notes) io.stderr.write(`token-decode: ${n}\n`);
  }
}

function pretty(v: unknown): string {
  return terminalJson(v, 2);
}

export async function run(o: DecodeOptions, io: Io): Promise<void> {
  if (o.audience !== undefined && !o.verify) throw new CliError('--aud is checked by --verify: add --verify', ExitCode.usage);
  const found = find(o, io);
  const decoded = decodeToken(found.token);
  if (decoded.kind !== 'jwt') {
    const what =
      decoded.kind === 'encrypted'
        ? 'an encrypted JWT (JWE): only its recipient can read it'
        : `not a JWT but an opaque token (${found.token.length} characters): only its issuer can tell what it holds (token introspection)`;
    if (o.json) io.stdout.write(`${pretty({ source: found.source, jwt: false, kind: decoded.kind })}\n`);
    throw new CliError(`the token from ${found.source} is ${what}`, ExitCode.failure);
  }
  const times = timeClaims(decoded.payload, Date.now() / 1000);
  let problem: string | undefined;
  if (o.verify) {
    const { verifyToken, VerifyError } = await import('./verify.js');
    try {
      await verifyToken(found.token, decoded.header, decoded.payload, { audience: o.audience, env: io.env });
    } catch (err) {
      if (!(err instanceof VerifyError)) throw err;
      problem = err.message;
    }
  }
  if (o.json) {
    const out: Record<string, unknown> = { source: found.source, jwt: true, header: decoded.header, payload: decoded.payload, times };
    if (o.verify) out['valid'] = problem === undefined;
    if (problem !== undefined) out['invalid_reason'] = problem;
    io.stdout.write(`${pretty(out)}\n`);
  } else {
    io.stderr.write(`token-decode: token from ${found.source}\n`);
    const lines = ['Header:', pretty(decoded.header), 'Payload:', pretty(decoded.payload)];
    for (const [claim, t] of Object.entries(times) as [string, TimeClaim][]) lines.push(`${claim.padEnd(5)}${t.local}  (${t.note})`);
    if (o.verify && problem === undefined) lines.push(`valid: signature verified with the issuer's keys${o.audience !== undefined ? `, audience ${o.audience}` : ''}; not expired`);
    io.stdout.write(`${lines.join('\n')}\n`);
  }
  if (problem !== undefined) throw new CliError(`invalid token: ${problem}`, ExitCode.failure);
}
