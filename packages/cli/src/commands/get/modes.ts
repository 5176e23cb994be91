/**
 * What `token-get` does with the token: print it in one of oidc-token's forms, or have the agent
 * keep it in a bearer-token file. Shared by the fast parser and the commander program, so both
 * decide the same way.
 */

/**
 * How the token is printed. `env` is sh export lines (oidc-token's `-c`, or several of `-o/-i/-e`,
 * or any of them with `=VAR`); which values and under which names is `ExportNames`.
 */
export type OutputMode = 'token' | 'env' | 'json' | 'all' | 'bearer' | 'auth-header' | 'issuer' | 'expires-at';

/** `--watch`, `--unwatch`, `--bt` (write once; also `--bt-file` alone). */
export type BtMode = 'watch' | 'unwatch' | 'once';

/** The variable names of the values an `env` output exports, in oidc-token's order (token, issuer, expiry). */
export interface ExportNames {
  token?: string;
  issuer?: string;
  expiresAt?: string;
}

/** oidc-token's default variable names. */
export const DEFAULT_EXPORT_NAMES = { token: 'OIDC_AT', issuer: 'OIDC_ISS', expiresAt: 'OIDC_EXP' } as const satisfies Required<ExportNames>;

export interface OutputFlags {
  env?: boolean | undefined;
  json?: boolean | undefined;
  bearer?: boolean | undefined;
  authHeader?: boolean | undefined;
  /** oidc-token's `-a/--all`: token, issuer and expiry on three lines; beats -c/-o/-i/-e as in oidc-token. */
  all?: boolean | undefined;
  /** `-o/--token`, `-i/--issuer`, `-e/--expires-at`; the `*Var` fields are their `=VAR` forms. */
  token?: boolean | undefined;
  issuer?: boolean | undefined;
  expiresAt?: boolean | undefined;
  tokenVar?: string | undefined;
  issuerVar?: string | undefined;
  expiresAtVar?: string | undefined;
}

/** A name `VAR=…; export VAR;` can carry safely (oidc-token prints any string, even one with spaces). */
export function isShellVarName(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(s);
}

/**
 * oidc-token's rules: `--json` (ours) first, then `-a`, `-c`, `--bearer`, `--auth-header`; then of
 * `-o/-i/-e`: none → the token; one without a name → its value alone; several, or one with a
 * name → export lines.
 */
export function outputMode(f: OutputFlags): OutputMode {
  if (f.json) return 'json';
  if (f.all) return 'all';
  if (f.env) return 'env';
  if (f.bearer) return 'bearer';
  if (f.authHeader) return 'auth-header';
  const token = f.token || f.tokenVar !== undefined;
  const issuer = f.issuer || f.issuerVar !== undefined;
  const expiresAt = f.expiresAt || f.expiresAtVar !== undefined;
  const count = Number(token) + Number(issuer) + Number(expiresAt);
  if (count > 1 || f.tokenVar !== undefined || f.issuerVar !== undefined || f.expiresAtVar !== undefined) return 'env';
  if (issuer) return 'issuer';
  if (expiresAt) return 'expires-at';
  return 'token';
}

/** For an `env` output: which values are exported under which names (`-c` = all three). */
export function exportNames(f: OutputFlags): ExportNames {
  const all = f.env === true;
  const names: ExportNames = {};
  if (all || f.token || f.tokenVar !== undefined) names.token = f.tokenVar ?? DEFAULT_EXPORT_NAMES.token;
  if (all || f.issuer || f.issuerVar !== undefined) names.issuer = f.issuerVar ?? DEFAULT_EXPORT_NAMES.issuer;
  if (all || f.expiresAt || f.expiresAtVar !== undefined) names.expiresAt = f.expiresAtVar ?? DEFAULT_EXPORT_NAMES.expiresAt;
  return names;
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
