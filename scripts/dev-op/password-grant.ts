/**
 * Resource Owner Password Credentials grant (RFC 6749 §4.3) for the test users.
 *
 * oidc-provider does not ship it (OAuth 2.1 drops it); oidc-agent still offers it, so the dev OP
 * adds it with `registerGrantType`. Client authentication and the client's `grant_types` have
 * been checked by the token endpoint before the handler runs. Tokens are shaped like the other
 * grants': a JWT access token for one resource, a refresh token when `offline_access` was asked
 * for (and the client may use refresh_token), an ID token when `openid` was.
 */
import { findUser, type DevUser } from './interactions.ts';
import type { KoaContext, OidcContextState, OidcProvider, OidcProviderModule } from './oidc.ts';
import { DEFAULT_RESOURCE, resourceIndicators, SUPPORTED_SCOPES } from './resources.ts';

export const PASSWORD_GRANT = 'password';
export const PASSWORD_GRANT_PARAMS = ['username', 'password', 'scope', 'resource'];

const SUPPORTED = new Set<string>(SUPPORTED_SCOPES);

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function passwordGrant(options: {
  provider: OidcProvider;
  errors: OidcProviderModule['errors'];
  users: readonly DevUser[];
  resources: ReturnType<typeof resourceIndicators>;
  findAccount: (ctx: unknown, sub: string) => Promise<{ accountId: string; claims(use: string, scope: string): Promise<Record<string, unknown>> } | undefined>;
}) {
  const { provider, errors, users, resources, findAccount } = options;

  return async function passwordGrantHandler(ctx: KoaContext & { oidc: OidcContextState }): Promise<void> {
    const { params = {}, client } = ctx.oidc;
    if (!client) throw new errors.InvalidRequest('client authentication required');

    const username = single(params.username);
    const password = single(params.password);
    if (!username) throw new errors.InvalidRequest('missing required parameter(s) (username)');
    if (!password) throw new errors.InvalidRequest('missing required parameter(s) (password)');

    const user = findUser(users, username, password);
    if (!user) throw new errors.InvalidGrant('invalid resource owner credentials');

    const requested = new Set((single(params.scope) ?? 'openid').split(' ').filter(Boolean));
    const unknown = [...requested].filter((s) => !SUPPORTED.has(s));
    if (unknown.length) throw new errors.InvalidScope('requested scope is not supported', unknown.join(' '));
    if (client.scope) {
      const allowed = new Set(client.scope.split(' '));
      const denied = [...requested].filter((s) => !allowed.has(s));
      if (denied.length) throw new errors.InvalidScope('requested scope is not allowed', denied.join(' '));
    }
    // As at the authorization endpoint: no refresh token for a client that may not use it.
    if (!client.grantTypeAllowed('refresh_token')) requested.delete('offline_access');

    const resourceParam = params.resource;
    if (Array.isArray(resourceParam) && resourceParam.length > 1) {
      throw new errors.InvalidTarget('only a single resource indicator value must be requested/resolved during Access Token Request');
    }
    const resource = single(resourceParam) ?? DEFAULT_RESOURCE;
    const resourceServer = new provider.ResourceServer(resource, await resources.getResourceServerInfo(ctx, resource));

    const account = await findAccount(ctx, user.sub);
    if (!account) throw new errors.InvalidGrant('account not found');
    ctx.oidc.entity('Account', account);

    const scope = [...requested].join(' ');
    const grant = new provider.Grant({ accountId: account.accountId, clientId: client.clientId });
    grant.addOIDCScope(scope);
    grant.addResourceScope(resource, scope);
    const grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);

    const accessToken = new provider.AccessToken({
      accountId: account.accountId,
      client,
      grantId,
      gty: PASSWORD_GRANT,
      expiresWithSession: false,
    });
    accessToken.resourceServer = resourceServer;
    accessToken.scope = grant.getResourceScopeFiltered(resource, requested);
    ctx.oidc.entity('AccessToken', accessToken);
    const accessTokenValue = await accessToken.save();

    let refreshTokenValue: string | undefined;
    if (requested.has('offline_access')) {
      const refreshToken = new provider.RefreshToken({
        accountId: account.accountId,
        authTime: Math.floor(Date.now() / 1000),
        client,
        expiresWithSession: false,
        grantId,
        gty: PASSWORD_GRANT,
        resource,
        rotations: 0,
        scope,
      });
      ctx.oidc.entity('RefreshToken', refreshToken);
      refreshTokenValue = await refreshToken.save();
    }

    let idTokenValue: string | undefined;
    if (requested.has('openid')) {
      const claims = await account.claims('id_token', scope);
      const idToken = new provider.IdToken({ ...claims, sub: account.accountId }, { ctx });
      idToken.scope = grant.getOIDCScopeFiltered(requested);
      idToken.mask = {};
      idToken.rejected = [];
      idTokenValue = await idToken.issue({ use: 'idtoken' });
    }

    ctx.body = {
      access_token: accessTokenValue,
      expires_in: accessToken.expiration,
      token_type: accessToken.tokenType,
      scope: accessToken.scope,
      ...(refreshTokenValue ? { refresh_token: refreshTokenValue } : {}),
      ...(idTokenValue ? { id_token: idTokenValue } : {}),
    };
  };
}
