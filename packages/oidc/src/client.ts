import {
  ClientSecretBasic,
  ClientSecretPost,
  Configuration,
  None,
  allowInsecureRequests,
  customFetch,
  type ClientAuth,
} from 'openid-client';
import { discover, type DiscoveredIssuer } from './discovery.js';
import { createPolicyFetch, mergePolicy, type CallOptions, type HttpOptions } from './http.js';

/** How the client authenticates at the token, device and revocation endpoints. */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface ClientOptions extends HttpOptions {
  /** Issuer identifier, as in the account file (`issuer_url`). */
  issuer: string;
  clientId: string;
  /** Absent or empty for a public client. */
  clientSecret?: string;
  /** Default: `client_secret_basic` when a secret is known, else `none` (client_id in the body). */
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** Allow an `http://` issuer on a loopback host. */
  allowInsecureLoopback?: boolean;
}

interface Internals {
  secret: string | undefined;
  http: HttpOptions;
  allowInsecureLoopback: boolean;
  discovered: DiscoveredIssuer | undefined;
}

// Kept off the object so that printing or serialising a client never shows its secret.
const internals = new WeakMap<OidcClient, Internals>();

function int(client: OidcClient): Internals {
  const i = internals.get(client);
  if (!i) throw new TypeError('not an OidcClient created by createClient()');
  return i;
}

/**
 * One OAuth client at one OP: what the agent keeps per loaded account. Discovery happens on first
 * use and is then kept for the client's lifetime; a failed discovery is retried on the next use.
 */
export class OidcClient {
  readonly issuer: string;
  readonly clientId: string;
  readonly authMethod: TokenEndpointAuthMethod;

  /** Use {@link createClient}. */
  constructor(options: ClientOptions) {
    if (typeof options.issuer !== 'string' || options.issuer.length === 0) {
      throw Object.assign(new TypeError('"issuer" must be a non-empty string'), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    if (typeof options.clientId !== 'string' || options.clientId.length === 0) {
      throw Object.assign(new TypeError('"clientId" must be a non-empty string'), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    const secret = options.clientSecret ? options.clientSecret : undefined;
    const method = options.tokenEndpointAuthMethod ?? (secret ? 'client_secret_basic' : 'none');
    if (method !== 'none' && secret === undefined) {
      throw Object.assign(new TypeError(`"clientSecret" is required for ${method}`), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    this.issuer = options.issuer;
    this.clientId = options.clientId;
    this.authMethod = method;
    const { issuer: _i, clientId: _c, clientSecret: _s, tokenEndpointAuthMethod: _m, allowInsecureLoopback, ...http } =
      options;
    internals.set(this, {
      secret,
      http,
      allowInsecureLoopback: allowInsecureLoopback === true,
      discovered: undefined,
    });
  }

  /**
   * The OP's discovered metadata, discovered on first use. Concurrent first uses share one fetch
   * (through the per-issuer cache in discovery.ts); a failure is not remembered.
   */
  async server(call: CallOptions = {}): Promise<DiscoveredIssuer> {
    const i = int(this);
    if (i.discovered) return i.discovered;
    const discovered = await discover(this.issuer, {
      ...i.http,
      allowInsecureLoopback: i.allowInsecureLoopback,
      ...(call.signal ? { signal: call.signal } : {}),
    });
    i.discovered = discovered;
    return discovered;
  }

  /** Whether a client secret is known (confidential client). */
  get confidential(): boolean {
    return int(this).secret !== undefined;
  }

  toJSON(): { issuer: string; clientId: string; authMethod: TokenEndpointAuthMethod } {
    return { issuer: this.issuer, clientId: this.clientId, authMethod: this.authMethod };
  }
}

/** Creates the client handle for one account; nothing is fetched until the first call. */
export function createClient(options: ClientOptions): OidcClient {
  return new OidcClient(options);
}

/**
 * client_secret_basic as OPs in the field accept it. RFC 6749 §2.3.1 says to form-urlencode id and
 * secret before base64; openid-client does, and then turns `-`, `_`, `.` into `%2D`… which OPs
 * that do not decode (older Spring-based ones) reject, while oidc-agent (curl) sends them raw.
 * Raw and encoded mean the same to a decoding OP whenever the values hold no `%`, `+`, `:` or
 * non-ASCII, so raw is sent then, and the RFC encoding otherwise.
 */
function clientSecretBasicCompat(secret: string): ClientAuth {
  const encoded = ClientSecretBasic(secret);
  return (as, client, body, headers) => {
    const id = client.client_id;
    if (/^[\x21-\x7e]*$/.test(id + secret) && !/[%+:]/.test(id) && !/[%+]/.test(secret)) {
      headers.set('authorization', `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`);
      return;
    }
    encoded(as, client, body, headers);
  };
}

function clientAuth(method: TokenEndpointAuthMethod, secret: string | undefined): ClientAuth {
  switch (method) {
    case 'client_secret_basic':
      return clientSecretBasicCompat(secret as string);
    case 'client_secret_post':
      return ClientSecretPost(secret);
    case 'none':
      return None();
  }
}

/** The secret, for redaction of OP messages; never for anything else. @internal */
export function clientSecretOf(client: OidcClient): string | undefined {
  return int(client).secret;
}

/**
 * An openid-client Configuration for one call: the discovered metadata, this client's
 * authentication, and a fetch that applies the HTTP policy with the call's signal and deadline.
 * openid-client's own timeout is switched off because the policy fetch owns the deadlines.
 * @internal
 */
export async function configurationFor(client: OidcClient, call: CallOptions = {}): Promise<Configuration> {
  const i = int(client);
  const server = await client.server(call);
  const config = new Configuration(server.metadata, client.clientId, undefined, clientAuth(client.authMethod, i.secret));
  config[customFetch] = createPolicyFetch(mergePolicy(i.http, call, i.allowInsecureLoopback));
  config.timeout = 0;
  if (server.insecureLoopback) allowInsecureRequests(config);
  return config;
}
