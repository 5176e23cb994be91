/**
 * The user's side of the mytoken server's consent pages, without a browser: follows a
 * `consent_uri` to the dev OP, signs in and allows (or denies) with scripts/dev-op/drive.ts, and
 * delivers the OP's redirect to the mytoken server's callback. For an ssh-key consent page it
 * clicks Allow (or Deny).
 */
import { authorizeCode } from '../../scripts/dev-op/drive.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME } from '../../scripts/dev-op/index.ts';

export interface CompleteFlowOptions {
  username?: string;
  password?: string;
  /** Deny instead of allow: the poll then answers 401 access_denied. */
  deny?: boolean;
}

export class MytokenDriveError extends Error {
  readonly code = 'MYTOKEN_DRIVE_FAILED';
}

/**
 * Completes what the user does after opening `consent_uri` (from an `oidc_flow` or ssh-key add
 * response). Resolves once the mytoken server has the result; the client's next poll gets it.
 */
export async function completeOidcFlow(consentUri: string, options: CompleteFlowOptions = {}): Promise<void> {
  const start = await fetch(consentUri, { redirect: 'manual' });
  if (start.status >= 300 && start.status < 400) {
    await start.body?.cancel();
    const authorizationUrl = new URL(start.headers.get('location') ?? '', consentUri).href;
    const callback = await authorizeCode({
      authorizationUrl,
      username: options.username ?? DEFAULT_USERNAME,
      password: options.password ?? DEFAULT_PASSWORD,
      deny: options.deny ?? false,
    });
    const done = await fetch(callback, { redirect: 'manual' });
    const html = await done.text();
    const expected = options.deny ? 'mytoken-denied' : 'mytoken-success';
    if (!html.includes(`data-page="${expected}"`)) throw new MytokenDriveError(`the mytoken callback answered ${done.status}: ${html.replace(/<[^>]*>/g, ' ').trim()}`);
    return;
  }
  const html = await start.text();
  if (start.status !== 200 || !html.includes('data-page="mytoken-consent"')) {
    throw new MytokenDriveError(`unexpected consent page (${start.status}): ${html.replace(/<[^>]*>/g, ' ').trim()}`);
  }
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new MytokenDriveError('no form on the consent page');
  const r = await fetch(new URL(action, consentUri), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision: options.deny ? 'deny' : 'approve' }),
  });
  const body = await r.text();
  const expected = options.deny ? 'mytoken-denied' : 'mytoken-success';
  if (!body.includes(`data-page="${expected}"`)) throw new MytokenDriveError(`consent answered ${r.status}: ${body.replace(/<[^>]*>/g, ' ').trim()}`);
}
