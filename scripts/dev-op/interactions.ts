/**
 * Login and consent pages (oidc-provider "interactions") plus the device-flow pages.
 *
 * oidc-provider redirects the user agent to `/interaction/:uid` whenever it needs a login or a
 * consent; these routes render plain forms and hand the outcome back with `interactionResult`.
 * Deny and Cancel finish the interaction with `access_denied`, which oidc-provider turns into an
 * error redirect (code flow) or a device code that polls as `access_denied` (RFC 8628 §3.5).
 */
import { timingSafeEqual } from 'node:crypto';

import { consentPage, errorPage, escapeHtml, loginPage, page } from './html.ts';
import type { InteractionDetails, KoaContext, KoaMiddleware, OidcClient, OidcProvider } from './oidc.ts';

export interface DevUser {
  username: string;
  password: string;
  sub: string;
}

const FORM_LIMIT = 16 * 1024;

async function readForm(ctx: KoaContext): Promise<URLSearchParams> {
  const type = ctx.req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    throw Object.assign(new Error('expected an application/x-www-form-urlencoded body'), { status: 400, expose: true });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > FORM_LIMIT) throw Object.assign(new Error('form body too large'), { status: 413, expose: true });
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Constant-time comparison of two UTF-8 strings (lengths may differ). */
export function sameSecret(actual: string, expected: string): boolean {
  const a = Buffer.from(actual, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function findUser(users: readonly DevUser[], username: string, password: string): DevUser | undefined {
  const user = users.find((u) => u.username === username);
  // Compare against something even for unknown users, so timing does not reveal usernames.
  const ok = sameSecret(password, user?.password ?? '\0unknown-user');
  return ok ? user : undefined;
}

function clientLabel(client: OidcClient | undefined, clientId: string | undefined): string {
  return client?.clientName ?? clientId ?? 'An application';
}

const DENIED = {
  error: 'access_denied',
  error_description: 'End-User denied the authorization request',
};

/**
 * Koa middleware serving `/interaction/:uid` (GET), `/interaction/:uid/login`,
 * `/interaction/:uid/confirm` and `/interaction/:uid/abort` (POST). Other paths pass through.
 */
export function interactionRoutes(provider: OidcProvider, users: readonly DevUser[]): KoaMiddleware {
  const route = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/;

  async function finish(ctx: KoaContext, result: Record<string, unknown>, merge: boolean) {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: merge,
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  async function render(ctx: KoaContext, details: InteractionDetails, error?: string, username?: string) {
    const { uid, prompt, params, session } = details;
    const client = params.client_id ? await provider.Client.find(params.client_id) : undefined;
    const clientName = clientLabel(client, params.client_id);
    ctx.type = 'html';
    if (prompt.name === 'login') {
      ctx.body = loginPage({ uid, clientName, error, username });
      return;
    }
    if (prompt.name === 'consent') {
      const scopes = (params.scope ?? '').split(' ').filter(Boolean);
      const resourceDetails = prompt.details.missingResourceScopes as Record<string, string[]> | undefined;
      const resources = [
        ...new Set([
          ...(typeof params.resource === 'string' ? [params.resource] : (params.resource ?? [])),
          ...Object.keys(resourceDetails ?? {}),
        ]),
      ];
      const username = users.find((u) => u.sub === session?.accountId)?.username ?? session?.accountId ?? '';
      ctx.body = consentPage({ uid, clientName, username, scopes, resources });
      return;
    }
    ctx.status = 501;
    ctx.body = errorPage({ error: 'server_error', error_description: `unsupported prompt ${prompt.name}` });
  }

  async function consent(details: InteractionDetails): Promise<Record<string, unknown>> {
    const { prompt, params, session, grantId } = details;
    if (!session || !params.client_id) throw new Error('consent without a signed-in session');
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (!grant) throw new Error('grant of the interaction not found');
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const savedId = await grant.save();
    return { consent: grantId ? {} : { grantId: savedId } };
  }

  return async function interactions(ctx, next) {
    const match = route.exec(ctx.path);
    if (!match) return next();
    ctx.set('cache-control', 'no-store');

    const [, uid, action] = match;
    const expectedMethod = action ? 'POST' : 'GET';
    if (ctx.method !== expectedMethod) {
      ctx.status = 405;
      ctx.set('allow', expectedMethod);
      ctx.type = 'html';
      ctx.body = errorPage({ error: 'invalid_request', error_description: `use ${expectedMethod}` });
      return undefined;
    }

    let details: InteractionDetails;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) throw new Error('interaction id mismatch');
    } catch {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = errorPage({
        error: 'invalid_request',
        error_description: 'This sign-in request has expired or is unknown. Start again from the application.',
      });
      return undefined;
    }

    if (!action) {
      await render(ctx, details);
      return undefined;
    }

    const form = await readForm(ctx);
    switch (action) {
      case 'login': {
        if (details.prompt.name !== 'login') break;
        const username = form.get('username') ?? '';
        const user = findUser(users, username, form.get('password') ?? '');
        if (!user) {
          ctx.status = 200;
          await render(ctx, details, 'Invalid username or password.', username);
          return undefined;
        }
        await finish(ctx, { login: { accountId: user.sub } }, false);
        return undefined;
      }
      case 'confirm': {
        if (details.prompt.name !== 'consent') break;
        if (form.get('decision') === 'allow') {
          await finish(ctx, await consent(details), true);
        } else {
          await finish(ctx, DENIED, false);
        }
        return undefined;
      }
      case 'abort':
        await finish(ctx, { ...DENIED, error_description: 'End-User cancelled the sign-in' }, false);
        return undefined;
    }

    // A form for a step that is already behind us (e.g. the back button): show the current step.
    await render(ctx, details);
    return undefined;
  };
}

/** `features.deviceFlow` page renderers (RFC 8628 §3.3 user interaction). */
export const devicePages = {
  async userCodeInputSource(ctx: KoaContext, form: string, _out: unknown, err?: { name?: string; userCode?: string }) {
    if (err?.name === 'AbortedError') {
      ctx.body = page(
        'device-aborted',
        'Device sign-in cancelled',
        '<p>The request was denied or cancelled. The device will be told so.</p>',
      );
      return;
    }
    let message = '<p>Enter the code shown on your device.</p>';
    if (err && (err.userCode !== undefined || err.name === 'NoCodeError')) {
      message = '<p class="error" role="alert">That code is unknown, expired or already used. Try again.</p>';
    } else if (err) {
      message = '<p class="error" role="alert">There was an error processing your request.</p>';
    }
    // `form` is oidc-provider's own markup (hidden xsrf field + user_code input); the submit button
    // sits outside it and points at it with the HTML `form` attribute.
    ctx.body = page(
      'device-input',
      'Device sign-in',
      `${message}\n${form}\n<button type="submit" form="op.deviceInputForm">Continue</button>`,
    );
  },

  async userCodeConfirmSource(
    ctx: KoaContext,
    form: string,
    client: OidcClient,
    _deviceInfo: unknown,
    userCode: string,
  ) {
    ctx.body = page(
      'device-confirm',
      'Confirm device',
      `<p><strong>${escapeHtml(clientLabel(client, client.clientId))}</strong> on another device wants to sign you in.</p>
<p>Check that the device shows this code: <code>${escapeHtml(userCode)}</code></p>
${form}
<button type="submit" form="op.deviceConfirmForm" autofocus>Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Cancel</button>`,
    );
  },

  async successSource(ctx: KoaContext) {
    ctx.body = page(
      'device-success',
      'Device signed in',
      '<p>Sign-in complete. You can close this page and return to your device.</p>',
    );
  },
};
