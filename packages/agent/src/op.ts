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

export interface OpApi {
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
  /** Token revocation (RFC 7009). */
  revoke(client: ClientRef, token: string, hint: 'refresh_token' | 'access_token'): Promise<void>;
}
