/**
 * Restrictions (a list of clauses, OR; every field of a clause must hold, AND) and capabilities of
 * mytokens, as the real server checks them.
 * @see /work/shared/reference/mytoken-wlcg.md §1.8, §1.9
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { createHash } from 'node:crypto';

export interface Clause {
  nbf?: number;
  exp?: number;
  /** Space-separated scopes; empty or absent means no limit. */
  scope?: string;
  audience?: string[];
  hosts?: string[];
  geoip_allow?: string[];
  geoip_disallow?: string[];
  usages_AT?: number;
  usages_other?: number;
}

export const RESTRICTION_KEYS = [
  'nbf',
  'exp',
  'scope',
  'audience',
  'hosts',
  'geoip_allow',
  'geoip_disallow',
  'usages_AT',
  'usages_other',
] as const;

export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    description: string,
  ) {
    super(description);
  }
}

const bad = (description: string) => new RequestError(400, 'invalid_request', description);

function stringList(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw bad(`"${name}" must be an array of strings`);
  return value.filter(Boolean);
}

function count(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw bad(`"${name}" must be a non-negative integer`);
  return value;
}

/**
 * Parses the `restrictions` of a request: an array of clause objects (a single object is taken as
 * one clause). `"this"` in `hosts` becomes the caller's IP. Relative times ("+1d") and `include`
 * templates are not supported here: the mytoken CLI resolves times before sending.
 */
export function parseRestrictions(value: unknown, callerIp: string): Clause[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = Array.isArray(value) ? value : [value];
  return list.map((raw, i) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(`"restrictions[${i}]" must be an object`);
    const r = raw as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (key === 'include') throw new RequestError(400, 'invalid_request', 'restriction templates ("include") are not supported by this test server');
      if (!(RESTRICTION_KEYS as readonly string[]).includes(key)) throw bad(`unknown restriction "${key}"`);
    }
    const clause: Clause = {};
    const nbf = count(r['nbf'], 'nbf');
    const exp = count(r['exp'], 'exp');
    if (nbf) clause.nbf = nbf;
    if (exp) clause.exp = exp;
    const scope = stringList(r['scope'], 'scope');
    if (scope?.length) clause.scope = scope.join(' ');
    const audience = stringList(r['audience'], 'audience');
    if (audience?.length) clause.audience = audience;
    const hosts = stringList(r['hosts'], 'hosts');
    if (hosts?.length) clause.hosts = hosts.map((h) => (h === 'this' ? callerIp : h));
    const allow = stringList(r['geoip_allow'], 'geoip_allow');
    if (allow?.length) clause.geoip_allow = allow.map((c) => c.toLowerCase());
    const disallow = stringList(r['geoip_disallow'], 'geoip_disallow');
    if (disallow?.length) clause.geoip_disallow = disallow.map((c) => c.toLowerCase());
    const usagesAT = count(r['usages_AT'], 'usages_AT');
    if (usagesAT !== undefined) clause.usages_AT = usagesAT;
    const usagesOther = count(r['usages_other'], 'usages_other');
    if (usagesOther !== undefined) clause.usages_other = usagesOther;
    return clause;
  });
}

/** The stable key under which a clause's usage counters are stored (the real server hashes it too). */
export function clauseHash(clause: Clause): string {
  const sorted = Object.fromEntries(Object.entries(clause).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('base64url');
}

/** The token's own `exp`: the latest clause `exp`, or none if a clause has no `exp`. */
export function tokenExp(clauses: Clause[] | undefined): number | undefined {
  if (!clauses?.length) return undefined;
  if (clauses.some((c) => !c.exp)) return undefined;
  return Math.max(...clauses.map((c) => c.exp!));
}

export function tokenNbf(clauses: Clause[] | undefined): number | undefined {
  if (!clauses?.length) return undefined;
  if (clauses.some((c) => !c.nbf)) return undefined;
  return Math.min(...clauses.map((c) => c.nbf!));
}

const words = (s: string | undefined) => (s ? s.split(/\s+/).filter(Boolean) : []);
const subset = (a: readonly string[], b: readonly string[]) => a.every((x) => b.includes(x));

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Does `ip` match a `hosts` entry: an IP, a CIDR subnet, or a host name (resolved). */
export async function hostMatches(entry: string, ipRaw: string): Promise<boolean> {
  const ip = normalizeIp(ipRaw);
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (entry.includes('/')) {
    const [net, bits] = entry.split('/');
    const kind = isIP(net!);
    if (!kind || !/^\d+$/.test(bits!)) return false;
    const list = new BlockList();
    list.addSubnet(net!, Number(bits), kind === 6 ? 'ipv6' : 'ipv4');
    return list.check(ip, family);
  }
  if (isIP(entry)) return normalizeIp(entry) === ip;
  try {
    const addresses = await lookup(entry, { all: true });
    return addresses.some((a) => normalizeIp(a.address) === ip);
  } catch {
    return false;
  }
}

export interface UseContext {
  kind: 'AT' | 'other';
  now: number; // seconds
  ip: string;
  /** Country code of `ip` (lower case), if known. */
  country: string | undefined;
  /** AT requests: the requested scopes and audiences (empty: none requested). */
  scopes?: string[];
  audiences?: string[];
  /** Usage counters per clause hash. */
  usage: Map<string, { AT: number; other: number }>;
}

/** Whether one clause allows this use. */
export async function clauseAllows(clause: Clause, use: UseContext): Promise<boolean> {
  if (clause.nbf && use.now < clause.nbf) return false;
  if (clause.exp && use.now > clause.exp) return false;
  if (use.kind === 'AT') {
    if (clause.scope && use.scopes?.length && !subset(use.scopes, words(clause.scope))) return false;
    if (clause.audience?.length && use.audiences?.length && !subset(use.audiences, clause.audience)) return false;
  }
  if (clause.hosts?.length) {
    let ok = false;
    for (const h of clause.hosts) if ((ok = await hostMatches(h, use.ip))) break;
    if (!ok) return false;
  }
  // Without a GeoIP database every address has an unknown country: an allow list then never
  // matches and a disallow list never excludes (see README).
  if (clause.geoip_allow?.length && !(use.country && clause.geoip_allow.includes(use.country))) return false;
  if (clause.geoip_disallow?.length && use.country && clause.geoip_disallow.includes(use.country)) return false;
  const used = use.usage.get(clauseHash(clause)) ?? { AT: 0, other: 0 };
  if (use.kind === 'AT' && clause.usages_AT !== undefined && used.AT >= clause.usages_AT) return false;
  if (use.kind === 'other' && clause.usages_other !== undefined && used.other >= clause.usages_other) return false;
  return true;
}

/**
 * The first clause that allows the use (the one to charge), `null` for an unrestricted token, or
 * `undefined` when no clause fits.
 */
export async function findClause(clauses: Clause[] | undefined, use: UseContext): Promise<Clause | null | undefined> {
  if (!clauses?.length) return null;
  for (const clause of clauses) if (await clauseAllows(clause, use)) return clause;
  return undefined;
}

function listSubset(child: string[] | undefined, parent: string[] | undefined): boolean {
  if (!parent?.length) return true;
  return !!child?.length && subset(child, parent);
}

/** `child` is at least as tight as `parent`. */
export function clauseIsSubset(child: Clause, parent: Clause): boolean {
  if (parent.nbf && (child.nbf ?? 0) < parent.nbf) return false;
  if (parent.exp && (!child.exp || child.exp > parent.exp)) return false;
  if (!listSubset(words(child.scope), words(parent.scope).length ? words(parent.scope) : undefined)) return false;
  if (!listSubset(child.audience, parent.audience)) return false;
  if (!listSubset(child.hosts, parent.hosts)) return false;
  if (!listSubset(child.geoip_allow, parent.geoip_allow)) return false;
  if (parent.geoip_disallow?.length && !subset(parent.geoip_disallow, child.geoip_disallow ?? [])) return false;
  if (parent.usages_AT !== undefined && (child.usages_AT === undefined || child.usages_AT > parent.usages_AT)) return false;
  if (parent.usages_other !== undefined && (child.usages_other === undefined || child.usages_other > parent.usages_other)) return false;
  return true;
}

/**
 * The restrictions of a sub-token: the requested clauses that are each within some parent clause.
 * Returns `ok: false` when a requested clause is not (the caller refuses with
 * `error_on_restrictions`, else uses the kept clauses, or the parent's if none is kept).
 */
export function tighten(parent: Clause[] | undefined, requested: Clause[] | undefined): { clauses: Clause[] | undefined; ok: boolean } {
  if (!parent?.length) return { clauses: requested, ok: true };
  // Nothing requested: the sub-token simply inherits the parent's restrictions.
  if (!requested?.length) return { clauses: parent.map((c) => ({ ...c })), ok: true };
  const kept = requested.filter((c) => parent.some((p) => clauseIsSubset(c, p)));
  if (kept.length === requested.length) return { clauses: kept, ok: true };
  return { clauses: kept.length ? kept : parent.map((c) => ({ ...c })), ok: false };
}

// ---------------------------------------------------------------------------------------------
// Capabilities

// Its own list, not the CLI's (packages/cli/src/commands/mytoken/restrictions.ts): the stand-in
// server must not share a mistake of the client it tests.
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

export const DEFAULT_CAPABILITIES = ['AT', 'tokeninfo'];

/** The top-level capabilities that `@all` stands for (prefix matching covers the rest). */
const ALL = ['AT', 'create_mytoken', 'tokeninfo', 'manage_mytokens', 'settings'];

export function parseCapabilities(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? value.split(/[\s,]+/).filter(Boolean) : value;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) throw bad('"capabilities" must be an array of strings');
  const out = new Set<string>();
  for (const c of list as string[]) {
    if (c === '@all') ALL.forEach((a) => out.add(a));
    else if (c === '@default') DEFAULT_CAPABILITIES.forEach((a) => out.add(a));
    else if ((CAPABILITIES as readonly string[]).includes(c)) out.add(c);
    else throw bad(`unknown capability "${c}"`);
  }
  return [...out];
}

/** Holding `tokeninfo` grants every `tokeninfo:*`; `read@X` grants only reads of X and below. */
export function hasCapability(held: readonly string[], wanted: string, read = false): boolean {
  const covers = (c: string, w: string) => w === c || w.startsWith(`${c}:`);
  return held.some((c) => covers(c, wanted) || (read && c.startsWith('read@') && covers(c.slice(5), wanted)));
}

/** The capabilities of a sub-token: those requested that the parent holds (prefix-aware). */
export function intersectCapabilities(parent: readonly string[], requested: readonly string[]): string[] {
  const out = new Set<string>();
  for (const c of requested) {
    if (hasCapability(parent, c)) out.add(c);
    else {
      // A broader request (e.g. "tokeninfo") keeps the narrower ones the parent holds.
      for (const p of parent) if (p.startsWith(`${c}:`)) out.add(p);
    }
  }
  return [...out];
}
