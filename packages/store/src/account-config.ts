import { StoreError, StoreErrorCode, invalidArgument } from './errors.js';

/**
 * The decrypted account JSON, in oidc-agent's keys. Keys we do not know (oidc-agent's
 * `daeSetByUser`, `mytoken_profile`, future ones) sit in `extra` and are written back unchanged.
 */
export type AccountConfig = {
  issuer_url: string;
  name?: string;
  client_name?: string;
  config_endpoint?: string;
  device_authorization_endpoint?: string;
  client_id?: string;
  client_secret?: string;
  /** The OP's refresh token, or the mytoken for mytoken accounts. */
  refresh_token?: string;
  mytoken_url?: string;
  auth_scope?: string;
  refresh_scope?: string;
  audience?: string;
  redirect_uris?: string[];
  cert_path?: string;
  username?: string;
  /** Read but never persisted: {@link serializeAccountConfig} writes it empty. */
  password?: string;
  registration_client_uri?: string;
  registration_access_token?: string;
  /** token-agent's own settings; ignored by oidc-agent, opaque to the store. */
  token_agent?: Record<string, unknown>;
  /** Unknown keys, preserved on round trip. */
  extra: Record<string, unknown>;
};

/** An {@link AccountConfig} that can get tokens. */
export type UsableAccountConfig = AccountConfig & { client_id: string; refresh_token: string };

const STRING_FIELDS = [
  'name',
  'client_name',
  'issuer_url',
  'config_endpoint',
  'device_authorization_endpoint',
  'client_id',
  'client_secret',
  'refresh_token',
  'mytoken_url',
  'auth_scope',
  'refresh_scope',
  'audience',
  'cert_path',
  'username',
  'password',
  'registration_client_uri',
  'registration_access_token',
] as const;

type StringField = (typeof STRING_FIELDS)[number];

// Keys consumed by the reader; everything else goes to `extra`.
const KNOWN_KEYS: ReadonlySet<string> = new Set<string>([
  ...STRING_FIELDS,
  'issuer',
  'scope',
  'redirect_uris',
  'token_agent',
]);

function invalid(message: string): StoreError {
  return new StoreError(StoreErrorCode.INVALID_CONFIG, `invalid account configuration: ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses and validates decrypted account JSON (a string, or an already-parsed value) field by
 * field; `STORE_INVALID_CONFIG` names the bad field. Accepts `issuer` for `issuer_url` and
 * legacy `scope` for both scope fields when neither is present; `null` means absent. Does not require a refresh token:
 * see {@link assertUsableAccount}.
 */
export function parseAccountConfig(json: unknown): AccountConfig {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch {
      // The SyntaxError quotes the input, which holds secrets: do not chain it.
      throw invalid('not valid JSON');
    }
  }
  if (!isPlainObject(value)) throw invalid('must be a JSON object');

  const str = (key: string): string | undefined => {
    const v = value[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw invalid(`"${key}" must be a string`);
    return v;
  };

  const strings: Partial<Record<StringField, string>> = {};
  for (const key of STRING_FIELDS) {
    const v = str(key);
    if (v !== undefined) strings[key] = v;
  }
  const issuer = str('issuer');
  const scope = str('scope');
  const issuer_url = strings.issuer_url || issuer;
  if (!issuer_url) throw invalid('"issuer_url" is missing');

  let redirect_uris: string[] | undefined;
  const rawUris = value.redirect_uris;
  if (rawUris !== undefined && rawUris !== null) {
    if (!Array.isArray(rawUris) || !rawUris.every((u) => typeof u === 'string')) {
      throw invalid('"redirect_uris" must be an array of strings');
    }
    redirect_uris = [...(rawUris as string[])];
  }

  let token_agent: Record<string, unknown> | undefined;
  const rawOwn = value.token_agent;
  if (rawOwn !== undefined && rawOwn !== null) {
    if (!isPlainObject(rawOwn)) throw invalid('"token_agent" must be an object');
    token_agent = rawOwn;
  }

  // Object.fromEntries defines own properties, so a "__proto__" key stays data.
  const extra = Object.fromEntries(Object.entries(value).filter(([k]) => !KNOWN_KEYS.has(k)));

  const cfg: AccountConfig = { ...strings, issuer_url, extra };
  // Legacy `scope` (4.x) only when neither 5.x key is there: we write `scope` = `auth_scope`
  // ourselves, and reading it back must not invent a `refresh_scope`.
  if (scope !== undefined && cfg.auth_scope === undefined && cfg.refresh_scope === undefined) {
    cfg.auth_scope = scope;
    cfg.refresh_scope = scope;
  }
  if (redirect_uris !== undefined) cfg.redirect_uris = redirect_uris;
  if (token_agent !== undefined) {
    // The issuer exactly as the OP spells it, when the file's issuer_url is its slash-terminated form
    // (see serializeAccountConfig).
    const { issuer: exact, ...rest } = token_agent;
    if (typeof exact === 'string' && issuer_url === `${exact}/`) cfg.issuer_url = exact;
    if (Object.keys(rest).length > 0) cfg.token_agent = rest;
  }
  return cfg;
}

/**
 * Throws `STORE_ACCOUNT_INCOMPLETE` unless the account has an issuer, a client id and a
 * refresh token (a config still being created lacks the last).
 */
export function assertUsableAccount(cfg: AccountConfig): asserts cfg is UsableAccountConfig {
  for (const key of ['issuer_url', 'client_id', 'refresh_token'] as const) {
    if (!cfg[key]) {
      throw new StoreError(StoreErrorCode.ACCOUNT_INCOMPLETE, `account has no ${key}`);
    }
  }
}

/**
 * Serialises an account to compact JSON for encryption: oidc-agent's keys first, then unknown
 * keys, then `token_agent`. Writes `scope` = `auth_scope` so oidc-agent 4.x (which reads only
 * `scope`) and 5.x both see the scopes, and never writes a `password` (an existing key is
 * written empty, as oidc-agent does).
 */
export function serializeAccountConfig(cfg: AccountConfig): string {
  if (!isPlainObject(cfg) || typeof cfg.issuer_url !== 'string') {
    throw invalidArgument('cfg must be an AccountConfig');
  }
  const entries: [string, unknown][] = [];
  const put = (key: string, v: unknown): void => {
    if (v !== undefined) entries.push([key, v]);
  };
  put('name', cfg.name);
  put('client_name', cfg.client_name);
  // oidc-agent (4.2.6 at least) fetches issuer_url + ".well-known/openid-configuration", so the file
  // holds the issuer with a trailing slash, as oidc-gen writes it; the exact spelling (for `iss`
  // checks and replies) goes into token_agent.issuer and comes back on parse.
  const fileIssuer = cfg.issuer_url.endsWith('/') ? cfg.issuer_url : `${cfg.issuer_url}/`;
  put('issuer_url', fileIssuer);
  put('config_endpoint', cfg.config_endpoint);
  put('device_authorization_endpoint', cfg.device_authorization_endpoint);
  put('client_id', cfg.client_id);
  put('client_secret', cfg.client_secret);
  put('refresh_token', cfg.refresh_token);
  put('mytoken_url', cfg.mytoken_url);
  put('cert_path', cfg.cert_path);
  put('auth_scope', cfg.auth_scope);
  put('refresh_scope', cfg.refresh_scope);
  put('scope', cfg.auth_scope);
  put('audience', cfg.audience);
  put('redirect_uris', cfg.redirect_uris);
  put('username', cfg.username);
  if (cfg.password !== undefined) put('password', '');
  put('registration_client_uri', cfg.registration_client_uri);
  put('registration_access_token', cfg.registration_access_token);
  for (const [k, v] of Object.entries(cfg.extra ?? {})) {
    if (!KNOWN_KEYS.has(k)) put(k, v);
  }
  const { issuer: _stale, ...own } = cfg.token_agent ?? {};
  if (fileIssuer !== cfg.issuer_url) own['issuer'] = cfg.issuer_url;
  if (Object.keys(own).length > 0 || cfg.token_agent !== undefined) put('token_agent', own);
  return JSON.stringify(Object.fromEntries(entries));
}
