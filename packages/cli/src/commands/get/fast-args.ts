/**
 * The hot path of `token-get`: a strict parser for the common command lines, so that fetching a
 * cached token does not pay for loading commander. It accepts only what it is sure of (the
 * options below, in their plain forms); anything else — help, errors, unusual spellings — returns
 * undefined and commander parses the command line instead. A table test checks that both agree.
 */
import { btConflict, btMode, exportNames, isShellVarName, outputMode, type BtFlags, type OutputFlags } from './modes.js';
import type { GetOptions } from './run.js';

const VALUE_OPTIONS: Record<string, 'scope' | 'aud' | 'time' | 'name' | 'btFile'> = {
  '-s': 'scope',
  '--scope': 'scope',
  '--aud': 'aud',
  '--audience': 'aud',
  '-t': 'time',
  '--min-valid': 'time',
  '--time': 'time',
  '--name': 'name',
  '--bt-file': 'btFile',
};
type Flag = 'forceNew' | Exclude<keyof OutputFlags, VarFlag> | Exclude<keyof BtFlags, 'btFile'>;
type VarFlag = 'tokenVar' | 'issuerVar' | 'expiresAtVar';
const FLAGS: Record<string, Flag> = {
  '-f': 'forceNew',
  '--force-new': 'forceNew',
  '-c': 'env',
  '--env': 'env',
  '--json': 'json',
  '--bearer': 'bearer',
  '--auth-header': 'authHeader',
  '-o': 'token',
  '--token': 'token',
  '-i': 'issuer',
  '--issuer': 'issuer',
  '-e': 'expiresAt',
  '--expires-at': 'expiresAt',
  '--watch': 'watch',
  '--unwatch': 'unwatch',
  '--bt': 'bt',
};
/** oidc-token's options with an optional variable name: `--token=VAR`, `-oVAR`. */
const VAR_FLAGS: Record<string, VarFlag> = {
  '-o': 'tokenVar',
  '--token': 'tokenVar',
  '-i': 'issuerVar',
  '--issuer': 'issuerVar',
  '-e': 'expiresAtVar',
  '--expires-at': 'expiresAtVar',
};

/** Parses `args` (argv without node and script) or returns undefined to defer to commander. */
export function parseFast(args: readonly string[]): GetOptions | undefined {
  let target: string | undefined;
  const o: GetOptions = { target: '', scopes: [], audiences: [], minValid: undefined, forceNew: false, appName: 'token-get', output: 'token', bt: undefined, btFile: undefined };
  const flags: Partial<Record<Flag, boolean>> & Partial<Record<VarFlag, string>> = {};
  for (let i = 0; i < args.length; i++) {
    let arg = args[i]!;
    let value: string | undefined;
    if (arg.startsWith('--') && arg.includes('=')) {
      value = arg.slice(arg.indexOf('=') + 1);
      arg = arg.slice(0, arg.indexOf('='));
    } else if (/^-[oie]./.test(arg)) {
      // -oVAR: the rest of the argument names the variable (argp's optional value).
      value = arg.slice(2);
      arg = arg.slice(0, 2);
    }
    const varFlag = VAR_FLAGS[arg];
    if (varFlag !== undefined && value !== undefined) {
      // An unusable name is commander's to report.
      if (!isShellVarName(value)) return undefined;
      flags[varFlag] = value;
      continue;
    }
    const kind = VALUE_OPTIONS[arg];
    if (kind !== undefined) {
      if (value === undefined) {
        value = args[++i];
        if (value === undefined || value.startsWith('-')) return undefined;
      }
      if (kind === 'scope') o.scopes.push(value);
      else if (kind === 'aud') o.audiences.push(value);
      else if (kind === 'name') o.appName = value;
      else if (kind === 'btFile') o.btFile = value;
      else {
        if (!/^\d{1,9}$/.test(value)) return undefined;
        o.minValid = Number(value);
      }
      continue;
    }
    const flag = FLAGS[arg];
    if (flag !== undefined && value === undefined) {
      flags[flag] = true;
      continue;
    }
    if (arg.startsWith('-') || target !== undefined || value !== undefined) return undefined;
    target = arg;
  }
  if (target === undefined) return undefined;
  o.target = target;
  o.forceNew = flags.forceNew === true;
  o.output = outputMode(flags);
  if (o.output === 'env') o.exports = exportNames(flags);
  const bt = btMode({ ...flags, btFile: o.btFile });
  // Contradictions are commander's to report.
  if ('error' in bt) return undefined;
  o.bt = bt.mode;
  return btConflict(o) === undefined ? o : undefined;
}
