/**
 * What `token-get` does with the token: print it in one of oidc-token's forms, or have the agent
 * keep it in a bearer-token file. Shared by the fast parser and the commander program, so both
 * decide the same way.
 */

/** How the token is printed; `issuer-expires-at` is oidc-token's `-i -e`: both as sh exports. */
export type OutputMode = 'token' | 'env' | 'json' | 'all' | 'bearer' | 'auth-header' | 'issuer' | 'expires-at' | 'issuer-expires-at';

/** `--watch`, `--unwatch`, `--bt` (write once; also `--bt-file` alone). */
export type BtMode = 'watch' | 'unwatch' | 'once';

export interface OutputFlags {
  env?: boolean | undefined;
  json?: boolean | undefined;
  bearer?: boolean | undefined;
  authHeader?: boolean | undefined;
  /** oidc-token's `-a/--all`: token, issuer and expiry on three lines (commander only). */
  all?: boolean | undefined;
  issuer?: boolean | undefined;
  expiresAt?: boolean | undefined;
}

/** The first of --json, --env, --bearer, --auth-header, --issuer/--expires-at wins, as documented. */
export function outputMode(f: OutputFlags): OutputMode {
  if (f.json) return 'json';
  if (f.env) return 'env';
  if (f.all) return 'all';
  if (f.bearer) return 'bearer';
  if (f.authHeader) return 'auth-header';
  if (f.issuer && f.expiresAt) return 'issuer-expires-at';
  if (f.issuer) return 'issuer';
  if (f.expiresAt) return 'expires-at';
  return 'token';
}

export interface BtFlags {
  watch?: boolean | undefined;
  unwatch?: boolean | undefined;
  bt?: boolean | undefined;
  btFile?: string | undefined;
}

/** The file mode asked for, or a usage error text when the flags contradict each other. */
export function btMode(f: BtFlags): { mode: BtMode | undefined } | { error: string } {
  const modes = [f.watch && 'watch', f.unwatch && 'unwatch', f.bt && 'once'].filter((m): m is BtMode => typeof m === 'string');
  if (modes.length > 1) return { error: 'choose one of --watch, --unwatch and --bt' };
  return { mode: modes[0] ?? (f.btFile !== undefined ? 'once' : undefined) };
}

/** Usage errors of a complete command line that involve a file mode. */
export function btConflict(o: { target: string; bt: BtMode | undefined; output: OutputMode; forceNew: boolean }): string | undefined {
  if (o.bt === undefined) return undefined;
  if (/^https?:\/\//i.test(o.target)) return '--watch, --unwatch and --bt need an account name, not an issuer URL';
  if (o.output !== 'token' && o.output !== 'json') return '--watch, --unwatch and --bt write a file: of the output options only --json goes with them';
  if (o.forceNew) return '--force-new does not go with --watch, --unwatch or --bt';
  return undefined;
}
