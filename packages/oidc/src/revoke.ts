import { tokenRevocation } from 'openid-client';
import { clientSecretOf, configurationFor, type OidcClient } from './client.js';
import { OIDC_ERROR_CODES, OidcError, atBoundary } from './errors.js';
import type { CallOptions } from './http.js';

export type TokenTypeHint = 'refresh_token' | 'access_token';

/**
 * Revokes a token (RFC 7009 §2.1). The OP answers success for a token it does not know (§2.2), so
 * success does not prove the token was live. `OIDC_UNSUPPORTED` when the OP has no revocation endpoint.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export async function revokeToken(
  client: OidcClient,
  token: string,
  hint?: TokenTypeHint,
  options: CallOptions = {},
): Promise<void> {
  if (typeof token !== 'string' || token.length === 0) {
    throw Object.assign(new TypeError('"token" must be a non-empty string'), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  await atBoundary({ what: 'revocation endpoint', secrets: [token, clientSecretOf(client)] }, async () => {
    const server = await client.server(options);
    if (typeof server.metadata.revocation_endpoint !== 'string') {
      throw new OidcError(
        OIDC_ERROR_CODES.UNSUPPORTED,
        `the OP ${server.issuer} does not offer token revocation (no revocation_endpoint)`,
      );
    }
    const config = await configurationFor(client, options);
    await tokenRevocation(config, token, hint ? { token_type_hint: hint } : undefined);
  });
}
