/**
 * Scopes and resource indicators (RFC 8707) of the dev OP.
 *
 * Every access token is a JWT for exactly one resource: the `resource` the client asked for, or
 * the one named at login, or DEFAULT_RESOURCE when the login named none. oidc-provider only
 * issues JWT access tokens for a resolved resource (opaque ones are for its userinfo endpoint), so
 * the default resource is what makes "no resource parameter" still yield a JWT.
 */
import type { KoaContext, OidcContextState, OidcErrorClass, ResourceServerInfo } from './oidc.ts';

/** Scopes the OP knows. WLCG-style names with `:` and `/` are valid RFC 6749 scope tokens. */
export const SUPPORTED_SCOPES = [
  'openid',
  'profile',
  'email',
  'offline_access',
  'storage.read:/',
  'storage.modify:/',
  'compute.read',
] as const;

/** Audience of access tokens when neither the token request nor the login named a resource. */
export const DEFAULT_RESOURCE = 'urn:token-agent:dev-op:default';

/** Signing algorithm of access tokens and ID tokens (the OP has a single RSA key). */
export const SIGNING_ALG = 'RS256';

const SUPPORTED = new Set<string>(SUPPORTED_SCOPES);

/** Any https URL without a fragment, or any `urn:` (RFC 8707 §2: an absolute URI). */
export function isAcceptedResource(value: string): boolean {
  if (value.includes('#')) return false;
  const url = URL.parse(value);
  if (!url) return false;
  if (url.protocol === 'urn:') return url.pathname.length > 0;
  return url.protocol === 'https:' && url.hostname.length > 0;
}

export function resourceIndicators(options: {
  errors: { InvalidTarget: OidcErrorClass };
  accessTokenTtl: () => number;
}) {
  const { errors } = options;
  return {
    enabled: true,

    /**
     * Called at the authorization/device endpoints without `oneOf` (the login named no resource),
     * and at the token endpoint with `oneOf` when the login named several and the request none.
     */
    async defaultResource(_ctx: unknown, _client: unknown, oneOf?: string[]) {
      if (oneOf) return oneOf.includes(DEFAULT_RESOURCE) ? DEFAULT_RESOURCE : oneOf[0];
      return DEFAULT_RESOURCE;
    },

    /** Without a `resource` parameter, the token endpoint reuses what the login granted. */
    async useGrantedResource() {
      return true;
    },

    async getResourceServerInfo(_ctx: unknown, indicator: string): Promise<ResourceServerInfo> {
      if (!isAcceptedResource(indicator)) {
        throw new errors.InvalidTarget('resource must be an https URL or a urn');
      }
      return {
        // All scopes, so that a token's `scope` claim is exactly the granted/requested subset.
        scope: SUPPORTED_SCOPES.join(' '),
        audience: indicator,
        accessTokenFormat: 'jwt',
        accessTokenTTL: options.accessTokenTtl(),
        jwt: { sign: { alg: SIGNING_ALG } },
      };
    },
  };
}

/**
 * Lets a refresh_token grant name a resource the login did not name, as real OPs (INDIGO IAM)
 * allow: the refresh token's resource list and the grant's scopes for that resource are widened,
 * in memory for this one request, to the scopes the request asks for (already checked by
 * oidc-provider to be a subset of the refresh token's scopes, i.e. of what the user consented to).
 *
 * oidc-provider 9 has no hook for this: resolve_resource.js answers `invalid_target` when the
 * `resource` is not among the refresh token's, and Grant#getResourceScopeFiltered returns nothing
 * for a resource the grant lacks. The `rotateRefreshToken` hook is the one configuration function
 * the refresh_token grant calls after the refresh token, grant and account have been validated
 * and before the resource is resolved, with both entities on `ctx.oidc.entities`; it is used for
 * that and this function's result never influences whether the token rotates.
 */
export function widenGrantToRequestedResource(ctx: KoaContext): void {
  const oidc = ctx.oidc as OidcContextState | undefined;
  const refreshToken = oidc?.entities.RefreshToken;
  const grant = oidc?.entities.Grant;
  const requested = oidc?.params?.resource;
  if (!oidc || !refreshToken || !grant || requested === undefined) return;

  const scopes = [...(oidc.params?.scope ? oidc.requestParamScopes : refreshToken.scopes)].filter((s) =>
    SUPPORTED.has(s),
  );
  const indicators = new Set([...refreshToken.resourceIndicators].filter((r): r is string => typeof r === 'string'));
  for (const resource of Array.isArray(requested) ? requested : [requested]) {
    // Unacceptable values fall through to oidc-provider, which answers invalid_target.
    if (!isAcceptedResource(resource)) continue;
    indicators.add(resource);
    if (scopes.length) grant.addResourceScope(resource, scopes.join(' '));
  }
  const list = [...indicators];
  refreshToken.resource = list.length === 1 ? list[0] : list;
}
