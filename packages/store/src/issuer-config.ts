/**
 * The provider list: token-agent's bundled well-known issuers, then oidc-agent's `issuer.config`
 * files, system-wide and the user's, each a file plus a `.d` directory of files.
 *
 * Format (oidc-agent 5): JSON, one issuer object or an array of them, with `issuer` (or
 * `issuer_url`), optional `pubclient {client_id, client_secret, scope, flow}`, `register`,
 * `contact`, `legacy_aud_mode`, `configuration_endpoint`, `device_authorization_endpoint`, and in
 * the user's file `default_account` and `accounts`. oidc-agent 4's line format
 * (`ISSUER [REGISTER_URL [CONTACT]]` per line, as Debian's oidc-agent 4.x still ships in
 * /etc/oidc-agent) is read too. Whole-line `#` comments are allowed.
 * @see ../../../../shared/reference/oidc-agent.md §2.9
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError, StoreErrorCode } from './errors.js';

/** A public client an issuer provides for oidc-agent-like tools (`--pub`). */
export interface PublicClient {
  client_id: string;
  client_secret?: string;
  /** Space-separated scopes the client may ask for (what `--scope max` means with `--pub`). */
  scope?: string;
  /** Flows in order of preference. */
  flows?: string[];
}

export interface IssuerEntry {
  issuer: string;
  /** A human name (bundled list only). */
  name?: string;
  configuration_endpoint?: string;
  device_authorization_endpoint?: string;
  /** Where to register a client by hand, when dynamic registration is not offered. */
  register?: string;
  contact?: string;
  /** The OP takes the audience as `audience`, not RFC 8707 `resource` (oidc-agent's legacy_aud_mode). */
  legacy_aud_mode?: boolean;
  /** An OAuth 2 issuer (no OpenID Connect). */
  oauth?: boolean;
  pubclient?: PublicClient;
  default_account?: string;
  accounts?: string[];
  /** Where the entry's last definition came from: a file path, or `bundled`. */
  source: string;
}

/**
 * Issuers we know without any file. No public clients here: those belong to the issuers and to
 * the oidc-agent packages that ship them (in /etc/oidc-agent/issuer.config.d), which we read.
 */
export const BUNDLED_ISSUERS: readonly Omit<IssuerEntry, 'source'>[] = [
  { name: 'WLCG IAM', issuer: 'https://wlcg.cloud.cnaf.infn.it/', legacy_aud_mode: true },
  { name: 'CILogon', issuer: 'https://cilogon.org/' },
  { name: 'EGI Check-in', issuer: 'https://aai.egi.eu/auth/realms/egi' },
  { name: 'Helmholtz AAI', issuer: 'https://login.helmholtz.de/oauth2/' },
  { name: 'KIT', issuer: 'https://oidc.scc.kit.edu/auth/realms/kit/' },
  { name: 'Google', issuer: 'https://accounts.google.com' },
  { name: 'INDIGO IAM test', issuer: 'https://iam-test.indigo-datacloud.eu/', legacy_aud_mode: true },
];

/** Where oidc-agent keeps its system-wide configuration. */
export const SYSTEM_CONFIG_DIR = '/etc/oidc-agent';

/** Issuer identity for matching: trailing slashes do not count (account files have both forms). */
export function issuerKey(issuer: string): string {
  return issuer.trim().replace(/\/+$/, '');
}

function invalid(file: string, field: string, message: string): StoreError {
  return new StoreError(StoreErrorCode.INVALID_ISSUER_CONFIG, `${file}: "${field}" ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, file: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalid(file, `${path}.${key}`, 'must be a string');
  return v;
}

function optBool(o: Record<string, unknown>, key: string, file: string, path: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw invalid(file, `${path}.${key}`, 'must be true or false');
}

function optStringList(o: Record<string, unknown>, key: string, file: string, path: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  if (!Array.isArray(v)) throw invalid(file, `${path}.${key}`, 'must be an array of strings');
  v.forEach((x, i) => {
    if (typeof x !== 'string') throw invalid(file, `${path}.${key}[${i}]`, 'must be a string');
  });
  return v as string[];
}

function parseEntry(raw: unknown, file: string, path: string): IssuerEntry {
  if (!isObject(raw)) throw invalid(file, path, 'must be an object');
  const issuer = optString(raw, 'issuer', file, path) ?? optString(raw, 'issuer_url', file, path);
  if (issuer === undefined) throw invalid(file, `${path}.issuer`, 'is missing');
  if (!URL.canParse(issuer)) throw invalid(file, `${path}.issuer`, 'must be a URL');
  const entry: IssuerEntry = { issuer, source: file };
  for (const key of ['configuration_endpoint', 'device_authorization_endpoint', 'contact', 'default_account'] as const) {
    const v = optString(raw, key, file, path);
    if (v !== undefined) entry[key] = v;
  }
  const register = optString(raw, 'register', file, path) ?? optString(raw, 'manual_register', file, path);
  if (register !== undefined) entry.register = register;
  for (const key of ['legacy_aud_mode', 'oauth'] as const) {
    const v = optBool(raw, key, file, path);
    if (v !== undefined) entry[key] = v;
  }
  const accounts = optStringList(raw, 'accounts', file, path);
  if (accounts !== undefined) entry.accounts = accounts;
  const pub = raw['pubclient'];
  if (pub !== undefined && pub !== null) {
    const p = `${path}.pubclient`;
    if (!isObject(pub)) throw invalid(file, p, 'must be an object');
    const clientId = optString(pub, 'client_id', file, p);
    if (clientId === undefined) throw invalid(file, `${p}.client_id`, 'is missing');
    const client: PublicClient = { client_id: clientId };
    const secret = optString(pub, 'client_secret', file, p);
    if (secret !== undefined) client.client_secret = secret;
    const scope = optString(pub, 'scope', file, p);
    if (scope !== undefined) client.scope = scope;
    // The code reads `flow`, the docs say `flows` (reference §2.9): take either.
    const flows = optStringList(pub, 'flow', file, p) ?? optStringList(pub, 'flows', file, p);
    if (flows !== undefined) client.flows = flows;
    entry.pubclient = client;
  }
  return entry;
}

/** Parses one issuer.config file's text; errors name the file and the field (`[2].pubclient.client_id`). */
export function parseIssuerConfig(text: string, file: string): IssuerEntry[] {
  const body = text
    .split(/\r?\n/)
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  const trimmed = body.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new StoreError(StoreErrorCode.INVALID_ISSUER_CONFIG, `${file}: not valid JSON (${(err as Error).message})`);
    }
    if (Array.isArray(value)) return value.map((e, i) => parseEntry(e, file, `[${i}]`));
    return [parseEntry(value, file, '$')];
  }
  // oidc-agent 4: "ISSUER [REGISTER_URL [CONTACT]]" per line.
  return trimmed
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, i) => {
      const [issuer, register, contact] = line.split(/\s+/);
      if (!issuer || !URL.canParse(issuer)) throw invalid(file, `line ${i + 1}`, 'must start with an issuer URL');
      const e: IssuerEntry = { issuer, source: file };
      if (register) e.register = register;
      if (contact) e.contact = contact;
      return e;
    });
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw new StoreError(StoreErrorCode.IO, `cannot read ${path}: ${code ?? 'error'}`, { cause: err });
  }
}

async function dirFiles(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names.filter((n) => !n.startsWith('.')).sort().map((n) => join(dir, n));
  } catch {
    return [];
  }
}

export interface IssuerConfigOptions {
  /** The user's config directory (`configDir()`). */
  configDir: string;
  /** Default {@link SYSTEM_CONFIG_DIR}. */
  systemDir?: string;
  /** Include {@link BUNDLED_ISSUERS} (default true). */
  bundled?: boolean;
}

/**
 * The merged provider list. Sources in rising priority, as oidc-agent reads them: bundled,
 * `<system>/issuer.config.d/*`, `<system>/issuer.config`, `<user>/issuer.config.d/*`,
 * `<user>/issuer.config`. A later source's fields override an earlier one's for the same issuer
 * (trailing slash ignored). A malformed file is an error (`STORE_INVALID_ISSUER_CONFIG`).
 */
export async function loadIssuerConfig(options: IssuerConfigOptions): Promise<IssuerEntry[]> {
  const systemDir = options.systemDir ?? SYSTEM_CONFIG_DIR;
  const files = [
    ...(await dirFiles(join(systemDir, 'issuer.config.d'))),
    join(systemDir, 'issuer.config'),
    ...(await dirFiles(join(options.configDir, 'issuer.config.d'))),
    join(options.configDir, 'issuer.config'),
  ];
  const merged = new Map<string, IssuerEntry>();
  const add = (e: IssuerEntry) => {
    const key = issuerKey(e.issuer);
    const old = merged.get(key);
    merged.set(key, old === undefined ? e : { ...old, ...e, ...(old.name && !e.name ? { name: old.name } : {}) });
  };
  if (options.bundled !== false) for (const e of BUNDLED_ISSUERS) add({ ...e, source: 'bundled' });
  for (const file of files) {
    const text = await readIfExists(file);
    if (text !== undefined) for (const e of parseIssuerConfig(text, file)) add(e);
  }
  return [...merged.values()];
}

/** The entry for an issuer, trailing slash ignored. */
export function findIssuer(entries: readonly IssuerEntry[], issuer: string): IssuerEntry | undefined {
  const key = issuerKey(issuer);
  return entries.find((e) => issuerKey(e.issuer) === key);
}
