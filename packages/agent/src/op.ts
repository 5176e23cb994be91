/**
 * What the agent needs from an OpenID Provider, as one narrow interface. The real implementation
 * (over the oidc package) lives in op-client.ts; handlers depend only on this shape.
 */

/** Identifies the client an account uses at its OP. */
export interface ClientRef {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  /** Legacy audience parameter (`audience`) instead of RFC 8707 `resource`. */
  audienceMode?: 'resource' | 'audience' | undefined;
}

export interface TokenResult {
  access_token: string;
  /** Unix seconds. */
  expires_at: number;
  refresh_token?: string | undefined;
  id_token?: string | undefined;
  scope?: string | undefined;
}

export interface DeviceStart {
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string | undefined;
  expires_in: number;
  interval: number;
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string | undefined;
  registration_client_uri?: string | undefined;
  registration_access_token?: string | undefined;
}

/** An authorization request of the code flow in progress; holds the PKCE verifier, never shown. */
export interface CodeRequest {
  /** The URL for the user's browser. */
  readonly url: string;
  /** Sorts a request to the redirect URI: not ours (keep waiting), the OP's error, or a code. */
  judge(callback: URL): { kind: 'foreign'; reason: string } | { kind: 'error'; error: Error } | { kind: 'code' };
  /** Exchanges the callback's code (PKCE verifier, state, iss and nonce checked). */
  exchange(callback: URL, signal: AbortSignal): Promise<TokenResult>;
}

/** A mytoken the server issued (a new account's, a sub-mytoken, a redeemed transfer code). */
export interface MytokenIssued {
  mytoken: string;
  mytoken_type: string;
  /** Unix seconds; absent = no expiry. */
  expires_at?: number | undefined;
  /** The *used* mytoken's successor when it rotated: store it, the old one is dead. */
  mytoken_update?: string | undefined;
  /** The server's answer without `token_update`. */
  raw: Record<string, unknown>;
}

/** What the agent needs from a mytoken server (accounts with `mytoken_url`). */
export interface MytokenApi {
  /** The server's issuer URL and the OPs it fronts (discovered, cached). */
  server(url: string): Promise<{ issuer: string; providers: string[] }>;
  /** An OP access token for the mytoken; `refresh_token` = the rotated mytoken, if it rotated. */
  accessToken(url: string, mytoken: string, opts: { scope?: string[]; audience?: string[]; comment?: string }): Promise<TokenResult>;
  /** Starts the server's OIDC login for a new mytoken; `poll` resolves once the user logged in. */
  startLogin(url: string, request: Record<string, unknown>): Promise<{ authorization_url: string; expires_in: number; interval: number; poll: (signal: AbortSignal) => Promise<MytokenIssued> }>;
  /** Redeems a transfer code. */
  exchangeTransferCode(url: string, code: string): Promise<MytokenIssued>;
  /** A sub-mytoken of `mytoken`, with `request` as its profile. */
  sub(url: string, mytoken: string, request: Record<string, unknown>): Promise<MytokenIssued>;
  /** Revokes a mytoken (not its sub-tokens). */
  revoke(url: string, mytoken: string): Promise<void>;
}

export interface OpApi {
  /** The mytoken server side of mytoken accounts. */
  readonly mytoken: MytokenApi;
  /** Scopes the OP advertises (for `--scope max`). */
  supportedScopes(issuer: string): Promise<string[]>;
  /** Dynamic client registration (RFC 7591). */
  register(issuer: string, opts: { clientName: string; scope: string; grantTypes: string[]; redirectUris?: string[] }): Promise<RegisteredClient>;
  /** Refresh-token grant, optionally narrowed to scopes and audiences. */
  refresh(client: ClientRef, refreshToken: string, opts: { scope?: string[]; audience?: string[] }): Promise<TokenResult>;
  /** Starts a device authorization (RFC 8628); `poll` resolves when the user approved. */
  startDevice(client: ClientRef, scope: string, signal: AbortSignal): Promise<{ display: DeviceStart; poll: () => Promise<TokenResult> }>;
  /** Resource-owner password grant. */
  password(client: ClientRef, username: string, password: string, scope: string): Promise<TokenResult>;
  /** Starts a code flow: PKCE S256, `state`, `nonce`; `prompt` e.g. `consent`. */
  authorizationRequest(client: ClientRef, opts: { redirectUri: string; scope: string; prompt?: string; signal?: AbortSignal }): Promise<CodeRequest>;
  /** Deletes a dynamically registered client (RFC 7592). */
  deleteClient(issuer: string, registrationClientUri: string, registrationAccessToken: string): Promise<void>;
  /** Token revocation (RFC 7009). */
  revoke(client: ClientRef, token: string, hint: 'refresh_token' | 'access_token'): Promise<void>;
}
