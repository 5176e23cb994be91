/**
 * Restrictions and capabilities of a sub-mytoken: parsed from a JSON template or from options,
 * validated field by field, times converted to unix seconds. Pure: nothing here reads files or
 * the network (the caller passes the template text, the clock and the host's addresses), so
 * everything that can be wrong is refused before a request is sent.
 * @see ../../../../../shared/reference/mytoken-wlcg.md §1.8 (restrictions), §1.9 (capabilities)
 */
import { isIP } from 'node:net';
import { parseTime } from './time.js';

/** One restriction clause as the mytoken server reads it. */
export interface RestrictionClause {
  nbf?: number;
  exp?: number;
  /** Space-separated. */
  scope?: string;
  audience?: string[];
  hosts?: string[];
  geoip_allow?: string[];
  geoip_disallow?: string[];
  usages_AT?: number;
  usages_other?: number;
  /** Server-side restriction template name(s). */
  include?: string | string[];
}

/** A restriction, capability or template that cannot be sent; the message names the value. */
export class RestrictionError extends Error {
  override readonly name = 'RestrictionError';
  readonly code = 'ERR_MYTOKEN_RESTRICTION';
}

/** The clause keys of mytoken's API (§1.8), plus `include` (server templates). */
export const RESTRICTION_KEYS = ['nbf', 'exp', 'scope', 'audience', 'hosts', 'geoip_allow', 'geoip_disallow', 'usages_AT', 'usages_other', 'include'] as const;
const KEYS: ReadonlySet<string> = new Set(RESTRICTION_KEYS);

/** mytoken's capabilities (api `capability.go`), including the read-only variants. */
export const CAPABILITIES = [
  'AT',
  'create_mytoken',
  'tokeninfo',
  'tokeninfo:introspect',
  'tokeninfo:history',
  'tokeninfo:subtokens',
  'tokeninfo:notify',
  'tokeninfo:tags',
  'manage_mytokens',
  'manage_mytokens:list',
  'manage_mytokens:revoke',
  'manage_mytokens:history',
  'manage_mytokens:notify',
  'manage_mytokens:tags',
  'settings',
  'settings:grants',
  'settings:grants:ssh',
  'settings:email',
  'settings:tags',
  'read@settings',
  'read@settings:grants',
  'read@settings:grants:ssh',
  'read@settings:email',
  'read@settings:tags',
  'read@manage_mytokens:notify',
] as const;
const CAPS: ReadonlySet<string> = new Set(CAPABILITIES);

/** Limits on a template: far above any real use, low enough that a hostile file cannot hurt. */
export const LIMITS = { templateBytes: 64 * 1024, clauses: 64, listEntries: 256, stringLength: 2048 } as const;

function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

function str(where: string, v: unknown): string {
  if (typeof v !== 'string') throw new RestrictionError(`${where} must be a string, not ${shown(v)}`);
  if (v.length > LIMITS.stringLength) throw new RestrictionError(`${where} is too long (${v.length} characters)`);
  return v;
}

/** A list given as an array of strings, or as one string of space/comma-separated entries. */
function list(where: string, v: unknown, split: RegExp): string[] {
  const items = typeof v === 'string' ? v.split(split) : Array.isArray(v) ? v.map((x, i) => str(`${where}[${i}]`, x)) : undefined;
  if (items === undefined) throw new RestrictionError(`${where} must be a list of strings, not ${shown(v)}`);
  const out = items.map((s) => s.trim()).filter((s) => s !== '');
  if (out.length > LIMITS.listEntries) throw new RestrictionError(`${where} has too many entries (${out.length})`);
  return out;
}

function count(where: string, v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,15}$/.test(v.trim()) ? Number(v.trim()) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new RestrictionError(`${where} must be a whole number ≥ 0, not ${shown(v)}`);
  return n;
}

const HOSTNAME = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** An IP address, a subnet (`ADDR/PREFIX`) or a host name. */
export function checkHost(where: string, h: string): string {
  const slash = h.indexOf('/');
  if (slash >= 0) {
    const addr = h.slice(0, slash);
    const prefix = h.slice(slash + 1);
    const family = isIP(addr);
    const max = family === 4 ? 32 : family === 6 ? 128 : 0;
    if (max === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > max) throw new RestrictionError(`${where}: ${shown(h)} is not a subnet (ADDRESS/PREFIX)`);
    return h;
  }
  if (isIP(h) !== 0 || HOSTNAME.test(h)) return h;
  throw new RestrictionError(`${where}: ${shown(h)} is not an IP address, subnet or host name`);
}

function hosts(where: string, v: unknown, thisHost: () => string[]): string[] {
  const out: string[] = [];
  for (const h of list(where, v, /[\s,]+/)) {
    if (h === 'this') out.push(...thisHost());
    else out.push(checkHost(where, h));
  }
  return [...new Set(out)];
}

function countries(where: string, v: unknown): string[] {
  const out = list(where, v, /[\s,]+/);
  for (const c of out) if (!/^[A-Za-z]{2}$/.test(c)) throw new RestrictionError(`${where}: ${shown(c)} is not a two-letter country code`);
  return out;
}

/** What parsing a clause needs from the outside world. */
export interface ClauseContext {
  /** Unix seconds, for `+DURATION`. */
  now: number;
  /** The addresses and name that `this` in `hosts` stands for. */
  thisHost: () => string[];
}

/**
 * Validates one clause (an object from a template, or built from options) and returns a fresh
 * object with only known keys and converted times. Unknown keys (`__proto__` included) are
 * refused, not dropped: a typo must not silently widen a token.
 */
export function parseClause(raw: unknown, where: string, ctx: ClauseContext, label: (key: string) => string = (key) => `${where} "${key}"`): RestrictionClause {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RestrictionError(`${where} must be a JSON object, not ${shown(raw)}`);
  const out: RestrictionClause = {};
  for (const key of Object.keys(raw)) {
    if (!KEYS.has(key)) throw new RestrictionError(`${where}: unknown restriction ${shown(key)} (known: ${RESTRICTION_KEYS.join(', ')})`);
    const v = (raw as Record<string, unknown>)[key];
    const at = label(key);
    if (v === undefined || v === null) continue;
    switch (key) {
      case 'nbf':
      case 'exp':
        try {
          out[key] = parseTime(v, ctx.now, at);
        } catch (err) {
          throw new RestrictionError((err as Error).message);
        }
        break;
      case 'scope':
        out.scope = list(at, v, /\s+/).join(' ');
        break;
      case 'audience':
        out.audience = list(at, v, /\s+/);
        break;
      case 'hosts':
        out.hosts = hosts(at, v, ctx.thisHost);
        break;
      case 'geoip_allow':
      case 'geoip_disallow':
        out[key] = countries(at, v);
        break;
      case 'usages_AT':
      case 'usages_other':
        out[key] = count(at, v);
        break;
      case 'include':
        out.include = typeof v === 'string' ? str(at, v) : list(at, v, /\s+/);
        break;
    }
  }
  if (out.nbf !== undefined && out.exp !== undefined && out.exp !== 0 && out.exp < out.nbf) {
    throw new RestrictionError(`${label('exp')} (${out.exp}) is before ${label('nbf')} (${out.nbf})`);
  }
  return out;
}

/**
 * A `--restriction` template: JSON text of one clause object or a list of clauses. Limits its
 * size, its number of clauses and list lengths.
 */
export function parseTemplate(text: string, source: string, ctx: ClauseContext): RestrictionClause[] {
  if (Buffer.byteLength(text) > LIMITS.templateBytes) throw new RestrictionError(`${source}: the restriction template is larger than ${LIMITS.templateBytes} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RestrictionError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const clauses = Array.isArray(raw) ? raw : [raw];
  if (clauses.length === 0) throw new RestrictionError(`${source}: the list of restriction clauses is empty`);
  if (clauses.length > LIMITS.clauses) throw new RestrictionError(`${source}: too many restriction clauses (${clauses.length}, at most ${LIMITS.clauses})`);
  return clauses.map((c, i) => parseClause(c, Array.isArray(raw) ? `${source}: clause ${i + 1}` : source, ctx));
}

/** Checks capability names; `@name` (a server-side template) passes as it is. */
export function parseCapabilities(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values.flatMap((s) => s.split(/[\s,]+/)).filter((s) => s !== '')) {
    if (CAPS.has(v) || /^@[\w./-]{1,128}$/.test(v)) out.push(v);
    else throw new RestrictionError(`unknown capability ${shown(v)} (known: ${CAPABILITIES.join(', ')}, or @TEMPLATE)`);
  }
  return [...new Set(out)];
}

/**
 * The restrictions to send: the template's clauses with the option clause's fields laid over each
 * of them (options win), or the option clause alone; undefined when there are none.
 */
export function combineRestrictions(template: RestrictionClause[] | undefined, fromOptions: RestrictionClause): RestrictionClause[] | undefined {
  const hasOptions = Object.keys(fromOptions).length > 0;
  if (template === undefined) return hasOptions ? [fromOptions] : undefined;
  return template.map((c) => {
    const merged = { ...c, ...fromOptions };
    if (merged.nbf !== undefined && merged.exp !== undefined && merged.exp !== 0 && merged.exp < merged.nbf) {
      throw new RestrictionError(`"exp" (${merged.exp}) is before "nbf" (${merged.nbf}) once the options are applied to the template`);
    }
    return merged;
  });
}

/** The single-clause options of `token-mytoken` (repeatable ones as arrays). */
export interface ClauseOptions {
  nbf?: string;
  exp?: string;
  scope?: string[];
  aud?: string[];
  host?: string[];
  geoIpAllow?: string[];
  geoIpDisallow?: string[];
  usagesAt?: string;
  usagesOther?: string;
}

const OPTION_OF: Readonly<Record<string, string>> = {
  nbf: '--nbf',
  exp: '--exp',
  scope: '--scope',
  audience: '--aud',
  hosts: '--host',
  geoip_allow: '--geo-ip-allow',
  geoip_disallow: '--geo-ip-disallow',
  usages_AT: '--usages-at',
  usages_other: '--usages-other',
};

/** The clause the options describe (empty when no option was given); errors name the option. */
export function clauseFromOptions(o: ClauseOptions, ctx: ClauseContext): RestrictionClause {
  const joined = (v: string[] | undefined) => (v === undefined || v.length === 0 ? undefined : v.join(' '));
  const raw: Record<string, unknown> = {
    nbf: o.nbf,
    exp: o.exp,
    scope: joined(o.scope),
    audience: joined(o.aud),
    hosts: joined(o.host),
    geoip_allow: joined(o.geoIpAllow),
    geoip_disallow: joined(o.geoIpDisallow),
    usages_AT: o.usagesAt,
    usages_other: o.usagesOther,
  };
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  return parseClause(raw, 'options', ctx, (key) => OPTION_OF[key] ?? key);
}
