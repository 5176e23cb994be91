import { refreshTokenGrant } from 'openid-client';
import { clientSecretOf, configurationFor, type OidcClient } from './client.js';
import { OIDC_ERROR_CODES, OidcError, atBoundary } from './errors.js';
import type { CallOptions } from './http.js';
import { appendResources, scopeList, valueList } from './params.js';
import { toTokenSet, type TokenSet } from './tokens.js';

/**
 * How an audience is sent: `resource` = one RFC 8707 `resource` parameter per value (standard OPs);
 * `audience` = a single space-separated `audience` parameter (INDIGO IAM, Keycloak, mytoken;
 * oidc-agent's `legacy_aud_mode`).
 */
export type AudienceMode = 'resource' | 'audience';

export interface RefreshOptions extends CallOptions {
  /**
   * Scope to ask for (a subset of the granted one). When absent, no `scope` parameter is sent and
   * the OP issues the originally granted scope (RFC 6749 §6). oidc-agent instead sends the
   * account's refresh scope minus `offline_access`; an agent that wants that passes it here.
   */
  scope?: string | readonly string[];
  /** Audiences for the access token; sent according to `audienceMode`. */
  audience?: string | readonly string[];
  /** Default `resource`. */
  audienceMode?: AudienceMode;
}

/**
 * Refresh token grant (RFC 6749 §6). An expired or revoked refresh token gives
 * `OIDC_INVALID_GRANT` at once (never retried). When the OP rotates refresh tokens, the new one is
 * in `refresh_token` of the result and the old one is dead: persist it. Without a new one, the old
 * refresh token stays valid.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2.2
 */
export async function refreshAccessToken(
  client: OidcClient,
  refreshToken: string,
  options: RefreshOptions = {},
): Promise<TokenSet> {
  if (typeof refreshToken !== 'string' || refreshToken.length === 0) {
    throw Object.assign(new TypeError('"refreshToken" must be a non-empty string'), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const mode: AudienceMode = options.audienceMode ?? 'resource';
  const ctx = { what: 'token endpoint', secrets: [refreshToken, clientSecretOf(client)] };
  const audience = valueList(options.audience);
  try {
    return await atBoundary(ctx, async () => {
      const config = await configurationFor(client, options);
      const params = new URLSearchParams();
      const scope = scopeList(options.scope);
      if (scope) params.set('scope', scope.join(' '));
      if (audience && mode === 'audience') params.set('audience', audience.join(' '));
      else appendResources(params, audience);
      return toTokenSet(await refreshTokenGrant(config, refreshToken, params));
    });
  } catch (err) {
    if (audience && err instanceof OidcError && err.code === OIDC_ERROR_CODES.OP_ERROR && err.error === 'invalid_target') {
      // Say which parameter carried the audience: IAM refuses a token-time audience not asked for
      // at login, and some OPs only read the other parameter.
      const sent =
        mode === 'audience' ? 'one "audience" parameter (legacy mode)' : 'RFC 8707 "resource" parameters';
      throw new OidcError(err.code, `${err.message} (audience sent as ${sent})`, {
        cause: err,
        error: err.error,
        ...(err.error_description === undefined ? {} : { error_description: err.error_description }),
        ...(err.status === undefined ? {} : { status: err.status }),
      });
    }
    throw err;
  }
}
