/**
 * The request catalogue: every request the agent serves, declared once with its parameter schema
 * and its success reply. The agent validates with it; the clients build requests and read replies
 * with it. Names and fields are oidc-agent's (IPC v1); our extensions are new requests or new
 * optional fields, never changed meanings.
 * @see ../../../../shared/reference/oidc-agent.md §1.6, §1.7
 */
import { AgentErrorText } from './errors.js';
import { FieldError, opt, parseFields, req, type Infer, type Schema } from './schema.js';

/** Status values of replies. */
export const Status = {
  success: 'success',
  failure: 'failure',
  accepted: 'accepted',
  notFound: 'NotFound',
  foundButReceived: 'FoundButReceived',
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/** `min_valid_period` value that forces a new token (oidc-token -f). */
export const FORCE_NEW_TOKEN = -1;

export const requestSchemas = {
  access_token: {
    account: opt('string'),
    issuer: opt('string'),
    min_valid_period: opt('integer'),
    scope: opt('string'),
    audience: opt('string'),
    application_hint: opt('string'),
  },
  /** oidc-agent's: an id token from a refresh (never cached); confirmed unless always allowed. */
  id_token: {
    account: opt('string'),
    issuer: opt('string'),
    scope: opt('string'),
    application_hint: opt('string'),
  },
  /** oidc-agent 5's: the configured accounts by issuer, with whether each is loaded. */
  account_info: {},
  loaded_accounts: {},
  status: {},
  status_json: {},
  check: {},
  add: {
    config: req('object'),
    lifetime: opt('integer'),
    confirm: opt('boolean'),
    always_allow_id_token: opt('boolean'),
    plain_add: opt('boolean'),
    /**
     * Extension: the account file's key (store's `serializeFileKey`: derived key + salt, never the
     * password), so the agent can write a rotated refresh token back to the file.
     */
    token_agent_file_key: opt('object'),
  },
  remove: { account: req('string') },
  remove_all: {},
  delete: { config: req('object') },
  /** Starts an account-creation flow; `config` holds issuer, client and scopes (no refresh token yet). */
  gen: {
    config: req('object'),
    flow: opt('stringList'),
    /** oidc-gen's --only-at: the flow's access token is the result; nothing is loaded and no refresh token returned. Needs `config.client_id`. */
    only_at: opt('boolean'),
    /** Extension, code flow: redirect-listener ports to try in order (0 = any free port). */
    ports: opt('stringList'),
    /** Extension, code flow: seconds to wait for the browser's callback (default 300). */
    timeout: opt('integer'),
    /** Extension, flow `mytoken`: redeem this transfer code for the account's mytoken instead of a login. */
    transfer_code: opt('string'),
  },
  /** Polls a flow started by `gen` (device and code flows). */
  state_lookup: { state: req('string') },
  /**
   * oidc-agent's, what oidc-gen sends after a device-flow `gen`: waits for that flow (found by the
   * `user_code` of `oidc_device`, as `gen` returned it) and answers as `state_lookup` does once it
   * is done. `config`/`only_at` are accepted as oidc-gen sends them; the flow already has both.
   */
  device: { oidc_device: req('object'), config: opt('object'), only_at: opt('boolean') },
  /** oidc-agent's: cancels the flow of `state` (closes a code flow's redirect listener). */
  term_http_server: { state: req('string') },
  /** oidc-agent's lock (`oidc-add -x`): only `check` and `unlock` are served until `unlock`. */
  lock: { password: req('string') },
  unlock: { password: req('string') },
  /**
   * Extension: keep a token for `account` (with `scope`/`audience`) in the file `path`, for WLCG
   * Bearer Token Discovery, refreshed before it has `min_valid_period` seconds left (default 60).
   * The client resolves `path` from its own environment. `once`: write it once, no watch.
   */
  watch: {
    account: req('string'),
    path: req('string'),
    scope: opt('string'),
    audience: opt('string'),
    min_valid_period: opt('integer'),
    once: opt('boolean'),
  },
  /** Extension: ends the watch of `account` on `path` (all its watches without `path`) and removes the file. */
  unwatch: { account: req('string'), path: opt('string') },
  /**
   * oidc-agent 5's: a new mytoken derived from the mytoken of `account` (a mytoken account).
   * `mytoken_profile`: a JSON object (or JSON text of one) with the new token's properties
   * (`capabilities`, `restrictions`, `rotation`, `name`, `mytoken_type`, …), or the name of a
   * server profile. The agent validates it before anything is sent.
   */
  mytoken: { account: req('string'), mytoken_profile: opt('json'), application_hint: opt('string') },
} as const satisfies Record<string, Schema>;

export type RequestName = keyof typeof requestSchemas;
export type RequestParams<N extends RequestName> = Infer<(typeof requestSchemas)[N]>;
export type AnyRequest = { [N in RequestName]: { request: N; params: RequestParams<N> } }[RequestName];

/** A `gen` with `only_at` (oidc-gen --only-at): the access token of the flow; the account is neither loaded nor returned. */
export interface OnlyAtResult {
  access_token: string;
  issuer: string;
  expires_at: number;
}

/** The device authorization a `gen` with flow `device` returns (RFC 8628 §3.2, without `device_code`). */
export interface DeviceAuthorization {
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  interval: number;
}

export interface LoadedAccountStatus {
  name: string;
  issuer: string;
  loaded_at: number;
  /** Unix time when the account is unloaded; absent when it stays loaded. */
  expires_at?: number;
  /** Seconds until the account is unloaded; absent when it stays loaded. */
  time_left?: number;
  cached_tokens: number;
  /** Every token request needs a yes from the confirmation prompt. */
  confirm?: boolean;
  /** Unix time of the last successful refresh at the OP. */
  last_refresh?: number;
  /** The last failure of a refresh or of a refresh-token write-back, with its Unix time. */
  last_error?: { at: number; error: string };
  /** Whether a rotated refresh token can be written back (`true`: the agent holds the file key). */
  write_back?: boolean;
}

/** One watched discovery file (`watch`), as `status_json` reports it. */
export interface WatchStatus {
  account: string;
  path: string;
  scope: string[];
  audience: string[];
  min_valid_period: number;
  /**
   * `ok`: the file holds a valid token; `failing`: refreshes fail (the file keeps its token until
   * it expires, then is removed); `waiting`: the account is not loaded, there is no file.
   */
  state: 'ok' | 'failing' | 'waiting';
  /** Expiry (Unix s) of the token in the file; absent when there is no file. */
  expires_at?: number;
  /** When the next refresh (or retry) is due, Unix s. */
  next_refresh_at?: number;
  /** Unix s of the last token written. */
  last_refresh_at?: number;
  /** Failed refreshes since the last success. */
  failures: number;
  last_error?: { at: number; error: string };
}

/** Success replies, by request. `status` is always present. */
export interface Results {
  access_token: { access_token: string; issuer: string; expires_at: number };
  id_token: { id_token: string; issuer: string };
  account_info: { info: Record<string, { pubclient: boolean; accounts: Record<string, boolean> }> };
  loaded_accounts: { info: string[] };
  status: { info: string };
  status_json: {
    info: { version: string; pid?: number; command_line_options: Record<string, unknown>; loaded_accounts: string[]; accounts?: LoadedAccountStatus[]; watches?: WatchStatus[]; confirm?: boolean;
      /** Extension: false when token-get must not load accounts itself (`token-agent --no-autoload`, config `autoload: false`). */
      autoload?: boolean;
      /** Extension: oidc-agent `config` settings the agent read but does not apply. */
      config_unsupported?: string[] };
  };
  check: Record<string, never>;
  add: { info?: string };
  remove: Record<string, never>;
  remove_all: Record<string, never>;
  /** `info`: why the dynamically registered client could not be deleted (the account is gone all the same). */
  delete: { info?: string };
  /** `uri`: the code flow's authorization URL (as oidc-agent names it). */
  /** `expires_in`: flow `mytoken`, seconds the login at the mytoken server stays open. */
  gen: { state: string; oidc_device?: DeviceAuthorization; uri?: string; config?: Record<string, unknown>; expires_in?: number } & Partial<OnlyAtResult>;
  /** The finished flow: the account configuration, or with `only_at` an access token (nothing loaded). */
  state_lookup: { config?: Record<string, unknown> } & Partial<OnlyAtResult>;
  device: { config?: Record<string, unknown> } & Partial<OnlyAtResult>;
  term_http_server: Record<string, never>;
  lock: { info: string };
  unlock: { info: string };
  /** `path` written, `expires_at` of the token in it. */
  watch: { info: string; path: string; expires_at: number };
  /** The files of the watches that ended. */
  unwatch: { info: string; removed: string[] };
  /**
   * The mytoken server's answer (`capabilities`, `restrictions`, `rotation`, `mom_id`, …) with
   * `expires_at` (Unix s) in place of `expires_in`, plus the OP and the server. For
   * `mytoken_type` `transfer_code`, `mytoken` and `transfer_code` both hold the code.
   */
  mytoken: {
    mytoken: string;
    mytoken_type: string;
    expires_at?: number;
    transfer_code?: string;
    oidc_issuer: string;
    mytoken_issuer: string;
    [k: string]: unknown;
  };
}

export type Reply<N extends RequestName> = { status: 'success' | 'accepted' } & Results[N];
export interface FailureReply {
  status: 'failure';
  error: string;
  info?: string;
}

export function isRequestName(name: string): name is RequestName {
  return Object.hasOwn(requestSchemas, name);
}

/** Outcome of parsing one request object. */
export type ParsedRequest = { ok: true; request: AnyRequest } | { ok: false; error: string; info?: string };

/** Validates a decoded message as a request of the catalogue. Never throws. */
export function parseRequest(message: unknown): ParsedRequest {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return { ok: false, error: 'Bad Request: message is not a JSON object' };
  }
  const raw = message as Record<string, unknown>;
  const name = raw['request'];
  if (name === undefined || name === null || name === '') return { ok: false, error: AgentErrorText.noRequestType };
  if (typeof name !== 'string' || !isRequestName(name)) return { ok: false, error: AgentErrorText.unknownRequest };
  try {
    const params = parseFields(requestSchemas[name], raw);
    return { ok: true, request: { request: name, params } as AnyRequest };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, error: `Bad Request: ${err.message}` };
    throw err;
  }
}

/** Builds the JSON object a client sends: `{"request": name, ...params}` without absent fields. */
export function buildRequest<N extends RequestName>(name: N, params: RequestParams<N>): Record<string, unknown> {
  const out: Record<string, unknown> = { request: name };
  for (const [k, v] of Object.entries(params as Record<string, unknown>)) if (v !== undefined) out[k] = v;
  return out;
}
