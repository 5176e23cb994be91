/**
 * The dev OP's HTML: plain forms, no scripts, no external resources.
 *
 * Every page carries `data-page` on <body> so a driver (drive.ts, or a Playwright test) can tell
 * where it is the way a person reads a page title. Buttons are real submit buttons, so the same
 * pages work in a browser and for a form-parsing HTTP client.
 */

export type PageName =
  | 'login'
  | 'consent'
  | 'device-input'
  | 'device-confirm'
  | 'device-success'
  | 'device-aborted'
  | 'error';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.note{color:#666;font-size:.85rem}.error{color:#b00020}
label{display:block;margin:.6rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}
button{margin:.8rem .4rem 0 0;padding:.4rem 1rem}code{font-size:1.1rem}ul{padding-left:1.2rem}`;

/** Wraps `body` (already escaped HTML) in a complete page. */
export function page(name: PageName, title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · token-agent dev OP</title>
<style>${STYLE}</style>
</head>
<body data-page="${name}">
<h1>${escapeHtml(title)}</h1>
${body}
<p class="note">token-agent development OpenID Provider. Never use it in production.</p>
</body>
</html>
`;
}

export function loginPage(options: {
  uid: string;
  clientName: string;
  username?: string;
  error?: string;
}): string {
  const { uid, clientName, username = '', error } = options;
  const base = `/interaction/${encodeURIComponent(uid)}`;
  return page(
    'login',
    'Sign in',
    `<p><strong>${escapeHtml(clientName)}</strong> wants you to sign in.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form id="login" method="post" action="${base}/login">
<label for="username">Username</label>
<input id="username" type="text" name="username" value="${escapeHtml(username)}" autocomplete="username" autofocus required>
<label for="password">Password</label>
<input id="password" type="password" name="password" autocomplete="current-password" required>
<button type="submit" name="action" value="login">Sign in</button>
</form>
<form id="abort" method="post" action="${base}/abort">
<button type="submit" name="action" value="abort">Cancel</button>
</form>`,
  );
}

export function consentPage(options: {
  uid: string;
  clientName: string;
  username: string;
  scopes: string[];
  resources: string[];
}): string {
  const { uid, clientName, username, scopes, resources } = options;
  const list = (items: string[]) =>
    items.length ? `<ul>${items.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('')}</ul>` : '<p>(none)</p>';
  return page(
    'consent',
    'Authorize access',
    `<p>Signed in as <strong>${escapeHtml(username)}</strong>.</p>
<p><strong>${escapeHtml(clientName)}</strong> asks for these scopes:</p>
${list(scopes)}
<p>for these resources:</p>
${list(resources)}
<form id="consent" method="post" action="/interaction/${encodeURIComponent(uid)}/confirm">
<button type="submit" name="decision" value="allow" autofocus>Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

export function errorPage(fields: Record<string, unknown>): string {
  const rows = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: <span data-field="${escapeHtml(k)}">${escapeHtml(v)}</span></p>`)
    .join('\n');
  return page('error', 'Something went wrong', rows);
}
