/**
 * The pages the redirect listener shows in the user's browser. Small, self-contained (no scripts,
 * no external resources), and never holding the code, a token or anything from the request
 * except the OP's error text, which is escaped.
 */
import type { Page } from './loopback.js';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
  :root { color-scheme: light dark; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f4f5f7; color: #1d2330;
         font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
  main { max-width: 30rem; margin: 1.5rem; padding: 2rem 2.25rem; background: #fff; border-radius: 12px;
         box-shadow: 0 1px 3px rgba(0,0,0,.08), 0 8px 24px rgba(0,0,0,.06); }
  .mark { width: 3rem; height: 3rem; border-radius: 50%; display: grid; place-items: center; font-size: 1.6rem;
          font-weight: 700; color: #fff; margin-bottom: 1rem; }
  .ok .mark { background: #1f8a4c; } .fail .mark { background: #c0392b; }
  h1 { font-size: 1.35rem; margin: 0 0 .5rem; }
  p { margin: .5rem 0; color: #3b4352; }
  code { font: .95em ui-monospace, SFMono-Regular, Menlo, monospace; background: #f0f1f4; padding: .1em .35em; border-radius: 4px; }
  .detail { margin-top: 1rem; padding: .75rem 1rem; background: #fdf0ef; border-radius: 8px; color: #7a2418; overflow-wrap: anywhere; }
  .nw { white-space: nowrap; }
  footer { margin-top: 1.5rem; font-size: .8rem; color: #8a91a0; }
  @media (prefers-color-scheme: dark) {
    body { background: #15181e; color: #e6e8ec; } main { background: #1e222a; box-shadow: none; }
    p { color: #b9bfca; } code { background: #2a2f39; } .detail { background: #3a2222; color: #f3c1ba; }
  }`;

function page(status: number, kind: 'ok' | 'fail', title: string, body: string): Page {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">
<title>${escapeHtml(title)} · token-agent</title><style>${STYLE}</style></head>
<body data-page="${kind === 'ok' ? 'login-success' : 'login-error'}"><main class="${kind}">
<div class="mark" aria-hidden="true">${kind === 'ok' ? '&#10003;' : '!'}</div>
<h1>${escapeHtml(title)}</h1>
${body}
<footer>token-agent</footer>
</main></body></html>
`;
  return { status, html };
}

/** After a successful code exchange. */
export function successPage(account: string, onlyAt = false): Page {
  return page(
    200,
    'ok',
    'You are logged in',
    `<p>${onlyAt ? 'token-gen has its access token; nothing was stored.' : `The account <code>${escapeHtml(account)}</code> is set up and loaded into <span class="nw">token-agent</span>.`}</p>
<p>You can close this tab and return to the terminal.</p>`,
  );
}

/** The OP refused (its `error: description`), or the exchange failed. */
export function errorPage(account: string, message: string): Page {
  return page(
    200,
    'fail',
    'Login failed',
    `<p>The login for the account <code>${escapeHtml(account)}</code> did not complete.</p>
<p class="detail">${escapeHtml(message)}</p>
<p>You can close this tab; token-gen in the terminal shows the same error.</p>`,
  );
}

/** Anything that is not the answer to the login in progress. */
export const BAD_REQUEST: Page = page(
  400,
  'fail',
  'Not expected here',
  '<p>This address only takes the answer to a login started with token-gen.</p>',
);
