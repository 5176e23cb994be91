/**
 * Loads oidc-provider and describes the small part of its (untyped) API the dev OP uses.
 *
 * oidc-provider 9 prints "Unsupported runtime. Use Node.js v22.x LTS…" from its module body on
 * Node 20. It works on Node 20.19+ (our engines floor), so the one line is filtered while the
 * module evaluates; every other warning still gets through. All code must import oidc-provider
 * through `loadOidcProvider()` for that: a static import would evaluate it unfiltered.
 */

export interface OidcErrorClass {
  new (description?: string, detail?: string): Error & { error: string };
}

export interface OidcClient {
  clientId: string;
  clientName?: string;
  scope?: string;
  applicationType: string;
  redirectUris: string[];
  clientAuthMethod: string;
  grantTypeAllowed(grantType: string): boolean;
}

export interface ResourceServerInfo {
  scope: string;
  audience?: string;
  accessTokenFormat?: 'jwt' | 'opaque';
  accessTokenTTL?: number;
  jwt?: { sign?: { alg: string } };
}

export interface OidcGrant {
  jti: string;
  accountId: string;
  clientId: string;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  getOIDCScopeFiltered(filter: Set<string>): string;
  getResourceScopeFiltered(resource: string, filter: Set<string>): string;
  save(): Promise<string>;
}

export interface OidcToken {
  jti: string;
  scope?: string;
  readonly scopes: Set<string>;
  resource?: string | string[];
  readonly resourceIndicators: Set<string | undefined>;
  readonly expiration: number;
  readonly tokenType: string;
  resourceServer?: unknown;
  save(): Promise<string>;
}

export interface OidcAccount {
  accountId: string;
  claims(use: string, scope: string): Promise<Record<string, unknown>> | Record<string, unknown>;
}

export interface OidcContextState {
  route?: string;
  params?: Record<string, string | string[] | undefined>;
  client?: OidcClient;
  entities: Record<string, unknown> & { RefreshToken?: OidcToken; Grant?: OidcGrant };
  requestParamScopes: Set<string>;
  entity(name: string, value: unknown): void;
}

/** The subset of a Koa context the dev OP touches. */
export interface KoaContext {
  method: string;
  path: string;
  url: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
  req: import('node:http').IncomingMessage;
  res: import('node:http').ServerResponse;
  oidc?: OidcContextState;
  redirect(url: string): void;
  set(field: string, value: string): void;
}

export type KoaNext = () => Promise<unknown>;
export type KoaMiddleware = (ctx: KoaContext, next: KoaNext) => Promise<unknown>;

export interface InteractionDetails {
  uid: string;
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  params: Record<string, string | undefined>;
  session?: { accountId: string };
  grantId?: string;
  returnTo: string;
}

type TokenClass<T> = new (fields: Record<string, unknown>) => T;

export interface OidcProvider {
  issuer: string;
  /** Koa's switch for its default error logging. */
  silent: boolean;
  use(middleware: KoaMiddleware): void;
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  registerGrantType(
    name: string,
    handler: (ctx: KoaContext & { oidc: OidcContextState }) => Promise<void>,
    params: string[],
    allowedDuplicates: string[],
  ): void;
  interactionDetails(req: KoaContext['req'], res: KoaContext['res']): Promise<InteractionDetails>;
  interactionResult(
    req: KoaContext['req'],
    res: KoaContext['res'],
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<string>;
  Grant: TokenClass<OidcGrant> & { find(id: string): Promise<OidcGrant | undefined> };
  AccessToken: TokenClass<OidcToken>;
  RefreshToken: TokenClass<OidcToken>;
  IdToken: new (
    claims: Record<string, unknown>,
    options: { ctx: unknown },
  ) => { scope?: string; mask?: unknown; rejected?: unknown; issue(options: { use: 'idtoken' }): Promise<string> };
  ResourceServer: new (identifier: string, info: ResourceServerInfo) => unknown;
  Client: { prototype: { redirectUriAllowed(this: OidcClient, uri: string): boolean } } & {
    find(id: string): Promise<OidcClient | undefined>;
  };
}

export interface OidcProviderModule {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  errors: Record<
    'InvalidGrant' | 'InvalidRequest' | 'InvalidScope' | 'InvalidTarget' | 'AccessDenied',
    OidcErrorClass
  >;
}

const RUNTIME_WARNING = 'oidc-provider WARNING: Unsupported runtime';

let loading: Promise<OidcProviderModule> | undefined;

/** Imports oidc-provider once, without its Node-20 runtime warning. */
export function loadOidcProvider(): Promise<OidcProviderModule> {
  loading ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      // attention.js may wrap the text in ANSI colour codes when stderr is a TTY.
      if (typeof args[0] === 'string' && args[0].includes(RUNTIME_WARNING)) return;
      warn.apply(console, args);
    };
    try {
      // A non-literal specifier keeps TypeScript from looking for typings oidc-provider lacks.
      const specifier = 'oidc-provider';
      return (await import(specifier)) as OidcProviderModule;
    } finally {
      console.warn = warn;
    }
  })();
  return loading;
}
