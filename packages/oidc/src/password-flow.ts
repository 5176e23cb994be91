import { genericGrantRequest } from 'openid-client';
import { clientSecretOf, configurationFor, type OidcClient } from './client.js';
import { atBoundary } from './errors.js';
import type { CallOptions } from './http.js';
import { appendResources, scopeList, valueList } from './params.js';
import { toTokenSet, type TokenSet } from './tokens.js';

export interface PasswordGrantOptions extends CallOptions {
  username: string;
  password: string;
  /** Space-separated string or list; none sent when absent. */
  scope?: string | readonly string[];
  /** RFC 8707 resource indicators, one `resource` parameter each. */
  resource?: string | readonly string[];
}

/**
 * Resource Owner Password Credentials grant (RFC 6749 §4.3), for OPs that still allow it.
 * Wrong credentials come back as `OIDC_INVALID_GRANT`. The password never appears in an error.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.3
 */
export async function passwordGrant(client: OidcClient, options: PasswordGrantOptions): Promise<TokenSet> {
  const ctx = { what: 'token endpoint', secrets: [options.password, clientSecretOf(client)] };
  return atBoundary(ctx, async () => {
    const config = await configurationFor(client, options);
    const params = new URLSearchParams({ username: options.username, password: options.password });
    const scope = scopeList(options.scope);
    if (scope) params.set('scope', scope.join(' '));
    appendResources(params, valueList(options.resource));
    return toTokenSet(await genericGrantRequest(config, 'password', params));
  });
}
