/** `token-get`: ask the agent for an access token and print it. Loads nothing heavy. */
import { FORCE_NEW_TOKEN, request, type Reply } from '@token-agent/protocol';
import { CliError, ExitCode, shellQuote, type Io } from '../../output.js';
import { requireSocket } from '../../socket.js';

export interface GetOptions {
  /** Account short name, or an issuer URL. */
  target: string;
  scopes: string[];
  audiences: string[];
  minValid: number | undefined;
  forceNew: boolean;
  appName: string;
  output: 'token' | 'env' | 'json';
}

/** True when the positional argument names an issuer rather than an account (as oidc-token decides). */
export function isIssuerUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

export function formatToken(reply: Reply<'access_token'>, output: GetOptions['output']): string {
  switch (output) {
    case 'token':
      return `${reply.access_token}\n`;
    case 'json':
      return `${JSON.stringify({ access_token: reply.access_token, issuer: reply.issuer, expires_at: reply.expires_at })}\n`;
    case 'env':
      return [
        `OIDC_AT=${shellQuote(reply.access_token)}; export OIDC_AT;`,
        `OIDC_ISS=${shellQuote(reply.issuer)}; export OIDC_ISS;`,
        `OIDC_EXP=${reply.expires_at}; export OIDC_EXP;`,
        '',
      ].join('\n');
  }
}

export async function run(options: GetOptions, io: Io): Promise<void> {
  const socketPath = requireSocket(io.env);
  const scope = options.scopes.flatMap((s) => s.split(/\s+/)).filter(Boolean);
  const audience = options.audiences.flatMap((s) => s.split(/\s+/)).filter(Boolean);
  const issuer = isIssuerUrl(options.target);
  const reply = await request(
    'access_token',
    {
      ...(issuer ? { issuer: options.target } : { account: options.target }),
      min_valid_period: options.forceNew ? FORCE_NEW_TOKEN : (options.minValid ?? 0),
      scope: scope.length > 0 ? scope.join(' ') : undefined,
      audience: audience.length > 0 ? audience.join(' ') : undefined,
      application_hint: options.appName,
    },
    { socketPath, timeoutMs: 60_000 },
  );
  if (reply.status !== 'success') throw new CliError(`unexpected reply status ${reply.status}`, ExitCode.failure);
  io.stdout.write(formatToken(reply as Reply<'access_token'>, options.output));
}
