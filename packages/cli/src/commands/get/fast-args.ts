/**
 * The hot path of `token-get`: a strict parser for the common command lines, so that fetching a
 * cached token does not pay for loading commander. It accepts only what it is sure of (the
 * options below, in their plain forms); anything else — help, errors, unusual spellings — returns
 * undefined and commander parses the command line instead. A table test checks that both agree.
 */
import type { GetOptions } from './run.js';

const VALUE_OPTIONS: Record<string, 'scope' | 'aud' | 'time' | 'name'> = {
  '-s': 'scope',
  '--scope': 'scope',
  '--aud': 'aud',
  '--audience': 'aud',
  '-t': 'time',
  '--min-valid': 'time',
  '--time': 'time',
  '--name': 'name',
};
const FLAGS: Record<string, 'force' | 'env' | 'json'> = { '-f': 'force', '--force-new': 'force', '-c': 'env', '--env': 'env', '--json': 'json' };

/** Parses `args` (argv without node and script) or returns undefined to defer to commander. */
export function parseFast(args: readonly string[]): GetOptions | undefined {
  let target: string | undefined;
  const o: GetOptions = { target: '', scopes: [], audiences: [], minValid: undefined, forceNew: false, appName: 'token-get', output: 'token' };
  let env = false;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    let arg = args[i]!;
    let value: string | undefined;
    if (arg.startsWith('--') && arg.includes('=')) {
      value = arg.slice(arg.indexOf('=') + 1);
      arg = arg.slice(0, arg.indexOf('='));
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
      else {
        if (!/^\d{1,9}$/.test(value)) return undefined;
        o.minValid = Number(value);
      }
      continue;
    }
    const flag = FLAGS[arg];
    if (flag !== undefined && value === undefined) {
      if (flag === 'force') o.forceNew = true;
      else if (flag === 'env') env = true;
      else json = true;
      continue;
    }
    if (arg.startsWith('-') || target !== undefined || value !== undefined) return undefined;
    target = arg;
  }
  if (target === undefined) return undefined;
  o.target = target;
  o.output = json ? 'json' : env ? 'env' : 'token';
  return o;
}
