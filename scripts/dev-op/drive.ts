/**
 * A browser-less "user" for the dev OP: plain HTTP with a cookie jar, redirects followed by
 * hand, HTML forms parsed and submitted the way a browser would (hidden fields, the clicked
 * button's name/value, the HTML `form` attribute). It never reaches into provider state.
 *
 * It understands the dev OP's pages only (their `data-page` markers); it is a test tool, not a
 * general HTML engine.
 */

export class DriveError extends Error {
  readonly code = 'DEV_OP_DRIVE_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DriveError';
  }
}

// ---------------------------------------------------------------------------------------------
// Cookies (RFC 6265, host-only subset: the dev OP sets no Domain attribute)

interface Cookie {
  name: string;
  value: string;
  path: string;
  expiresAt: number; // ms; Infinity for session cookies
}

export class CookieJar {
  #cookies = new Map<string, Cookie>(); // key: origin + path + name

  #origin(url: URL): string {
    return url.origin;
  }

  /** Stores the Set-Cookie headers of a response to `url`. */
  store(url: URL, setCookies: string[]): void {
    for (const header of setCookies) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: Cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        path: defaultPath(url),
        expiresAt: Infinity,
      };
      let maxAge: number | undefined;
      for (const attribute of attributes) {
        const i = attribute.indexOf('=');
        const name = (i === -1 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
        const value = i === -1 ? '' : attribute.slice(i + 1).trim();
        if (name === 'path' && value.startsWith('/')) cookie.path = value;
        else if (name === 'max-age' && /^-?\d+$/.test(value)) maxAge = Number(value);
        else if (name === 'expires') {
          const t = Date.parse(value);
          if (!Number.isNaN(t)) cookie.expiresAt = t;
        }
      }
      if (maxAge !== undefined) cookie.expiresAt = maxAge <= 0 ? 0 : Date.now() + maxAge * 1000;
      const key = `${this.#origin(url)} ${cookie.path} ${cookie.name}`;
      if (cookie.expiresAt <= Date.now()) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  /** The Cookie header for a request to `url`, or undefined. */
  header(url: URL): string | undefined {
    const now = Date.now();
    const origin = this.#origin(url);
    const matching = [...this.#cookies.entries()]
      .filter(([key, c]) => key.startsWith(`${origin} `) && c.expiresAt > now && pathMatches(url.pathname, c.path))
      .map(([, c]) => c)
      // RFC 6265 §5.4: longer paths first.
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }
}

function defaultPath(url: URL): string {
  const p = url.pathname;
  if (!p.startsWith('/') || p.lastIndexOf('/') === 0) return '/';
  return p.slice(0, p.lastIndexOf('/'));
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

// ---------------------------------------------------------------------------------------------
// HTML forms

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return Number.isFinite(n) ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const m of source.matchAll(re)) {
    const name = m[1]!.toLowerCase();
    if (!attributes.has(name)) attributes.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attributes;
}

export interface FormField {
  name: string;
  type: string;
  value: string;
}

export interface FormButton {
  name?: string;
  value: string;
  label: string;
}

export interface ParsedForm {
  id?: string;
  method: 'GET' | 'POST';
  action: URL;
  fields: FormField[];
  buttons: FormButton[];
}

export interface ParsedPage {
  url: URL;
  status: number;
  html: string;
  /** The `data-page` marker of the dev OP's pages, if any. */
  name?: string;
  forms: ParsedForm[];
  /** Text of `.error` / `data-field` elements, for error messages. */
  messages: string[];
}

function stripTags(html: string): string {
  return decodeEntities(html.replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim();
}

/** Parses the forms of a page; buttons join their form by containment or the `form` attribute. */
export function parsePage(url: URL, status: number, html: string): ParsedPage {
  const forms: (ParsedForm & { start: number; end: number })[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const attributes = parseAttributes(m[1]!);
    const method = (attributes.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET';
    const fields: FormField[] = [];
    for (const input of m[2]!.matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttributes(input[1]!);
      const name = a.get('name');
      if (!name || a.has('disabled')) continue;
      const type = (a.get('type') ?? 'text').toLowerCase();
      if (type === 'submit' || type === 'button' || type === 'image' || type === 'reset') continue;
      if ((type === 'checkbox' || type === 'radio') && !a.has('checked')) continue;
      fields.push({ name, type, value: a.get('value') ?? (type === 'checkbox' ? 'on' : '') });
    }
    forms.push({
      id: attributes.get('id'),
      method,
      action: new URL(attributes.get('action') || url.href, url),
      fields,
      buttons: [],
      start: m.index!,
      end: m.index! + m[0].length,
    });
  }
  for (const m of html.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button\s*>/gi)) {
    const a = parseAttributes(m[1]!);
    if ((a.get('type') ?? 'submit').toLowerCase() !== 'submit' || a.has('disabled')) continue;
    const owner = a.has('form')
      ? forms.find((f) => f.id === a.get('form'))
      : forms.find((f) => f.start < m.index! && m.index! < f.end);
    owner?.buttons.push({ name: a.get('name'), value: a.get('value') ?? '', label: stripTags(m[2]!) });
  }
  const name = /<body\b[^>]*\bdata-page="([^"]*)"/i.exec(html)?.[1];
  const messages = [...html.matchAll(/<(p|span)\b[^>]*(?:class="error"|data-field="[^"]*")[^>]*>([\s\S]*?)<\/\1>/gi)].map(
    (m) => stripTags(m[2]!),
  );
  return { url, status, html, name, forms: forms.map(({ start: _s, end: _e, ...f }) => f), messages };
}

// ---------------------------------------------------------------------------------------------
// The browser

const MAX_STEPS = 30;

export interface Navigation {
  /** A page of the OP (2xx/4xx/5xx HTML). */
  page?: ParsedPage;
  /** A redirect leaving the OP's origin: not followed. */
  external?: URL;
}

export class Browser {
  readonly jar = new CookieJar();
  readonly #origin: string;

  /** @param origin Only URLs of this origin are requested; redirects elsewhere stop navigation. */
  constructor(origin: string) {
    this.#origin = new URL(origin).origin;
  }

  /** Requests `url` and follows redirects within the OP's origin, like a browser would. */
  async navigate(url: URL, init: { method?: 'GET' | 'POST'; body?: URLSearchParams } = {}): Promise<Navigation> {
    let method = init.method ?? 'GET';
    let body = init.body;
    let current = url;
    for (let hop = 0; hop < MAX_STEPS; hop++) {
      if (current.origin !== this.#origin) return { external: current };
      const headers: Record<string, string> = { accept: 'text/html' };
      const cookie = this.jar.header(current);
      if (cookie) headers.cookie = cookie;
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
      let res: Response;
      try {
        res = await fetch(current, { method, headers, body: body?.toString(), redirect: 'manual' });
      } catch (cause) {
        throw new DriveError(`request to ${current.href} failed`, { cause });
      }
      this.jar.store(current, res.headers.getSetCookie());
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        const next = new URL(location, current);
        // 307/308 keep the method and body; 301/302/303 become GET, as browsers do.
        if (res.status !== 307 && res.status !== 308) {
          method = 'GET';
          body = undefined;
        }
        current = next;
        continue;
      }
      return { page: parsePage(current, res.status, await res.text()) };
    }
    throw new DriveError(`more than ${MAX_STEPS} redirects from ${url.href}`);
  }

  /**
   * Submits `form` as if `button` was clicked, with `values` typed into its fields by name.
   * Unknown field names are an error, as a person could not type into a field that is not there.
   */
  async submit(form: ParsedForm, button: FormButton | undefined, values: Record<string, string> = {}): Promise<Navigation> {
    const data = new URLSearchParams();
    const typed = new Set<string>();
    for (const field of form.fields) {
      if (Object.hasOwn(values, field.name) && field.type !== 'hidden') {
        data.append(field.name, values[field.name]!);
        typed.add(field.name);
      } else {
        data.append(field.name, field.value);
      }
    }
    const missing = Object.keys(values).filter((k) => !typed.has(k));
    if (missing.length) throw new DriveError(`form ${form.id ?? form.action.href} has no field ${missing.join(', ')}`);
    if (button?.name) data.append(button.name, button.value);
    if (form.method === 'GET') {
      const target = new URL(form.action);
      target.search = data.toString();
      return this.navigate(target);
    }
    return this.navigate(form.action, { method: 'POST', body: data });
  }
}

function describe(page: ParsedPage): string {
  const detail = page.messages.length ? `: ${page.messages.join('; ')}` : '';
  return `unexpected page "${page.name ?? 'unknown'}" (HTTP ${page.status}) at ${page.url.pathname}${detail}`;
}

function findButton(page: ParsedPage, label: string | RegExp): { form: ParsedForm; button: FormButton } {
  for (const form of page.forms) {
    for (const button of form.buttons) {
      if (typeof label === 'string' ? button.label === label : label.test(button.label)) return { form, button };
    }
  }
  throw new DriveError(`no "${String(label)}" button on ${describe(page)}`);
}

async function clickButton(browser: Browser, page: ParsedPage, label: string | RegExp, values?: Record<string, string>) {
  const { form, button } = findButton(page, label);
  return browser.submit(form, button, values);
}

/** oidc-provider's form_post helper page: one form its script submits on load, no data-page. */
function isAutoSubmit(page: ParsedPage): boolean {
  return !page.name && page.forms.length === 1 && /document\.forms\[0\]\.submit\(\)/.test(page.html);
}

interface Credentials {
  username: string;
  password: string;
  deny?: boolean;
}

/**
 * Walks the login and consent pages until something other than them appears: signs in, then
 * clicks Allow (or Deny). Returns the navigation that left the interaction pages.
 */
async function signInAndConsent(browser: Browser, start: Navigation, who: Credentials): Promise<Navigation> {
  let nav = start;
  let loggedIn = false;
  for (let step = 0; step < MAX_STEPS; step++) {
    const page = nav.page;
    if (!page) return nav;
    if (page.name === 'login') {
      // A second login page right after signing in means the credentials were refused.
      if (loggedIn) throw new DriveError(`sign-in refused for ${who.username}: ${page.messages.join('; ') || 'login page shown again'}`);
      loggedIn = true;
      nav = await clickButton(browser, page, 'Sign in', { username: who.username, password: who.password });
    } else if (page.name === 'consent') {
      nav = await clickButton(browser, page, who.deny ? 'Deny' : 'Allow');
    } else if (isAutoSubmit(page)) {
      const form = page.forms[0]!;
      if (form.action.origin !== page.url.origin) {
        throw new DriveError('response_mode=form_post is not supported: the response would be POSTed to the client');
      }
      nav = await browser.submit(form, undefined);
    } else {
      return nav;
    }
  }
  throw new DriveError('too many interaction steps');
}

export interface ApproveDeviceOptions extends Credentials {
  /** `verification_uri` (or `verification_uri_complete`) from the device authorization response. */
  verificationUri: string;
  userCode: string;
}

/**
 * Completes an RFC 8628 user interaction: open the verification page, enter the user code,
 * confirm the device, sign in, then Allow (or Deny, after which the device's poll gets
 * `access_denied`). Resolves when the OP shows its success (or cancelled) page.
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.3
 */
export async function approveDevice(options: ApproveDeviceOptions): Promise<void> {
  const { verificationUri, userCode } = options;
  const start = new URL(verificationUri);
  const browser = new Browser(start.origin);

  let nav = await browser.navigate(start);
  let page = nav.page;
  // verification_uri_complete answers with an auto-submitting form instead of the input page.
  if (page && isAutoSubmit(page)) nav = await browser.submit(page.forms[0]!, undefined);
  page = nav.page;
  if (page?.name === 'device-input') {
    nav = await clickButton(browser, page, 'Continue', { user_code: userCode });
    page = nav.page;
  }
  if (page?.name !== 'device-confirm') {
    throw new DriveError(nav.page ? describe(nav.page) : `redirected away to ${nav.external?.href}`);
  }
  nav = await signInAndConsent(browser, await clickButton(browser, page, 'Continue'), options);

  const expected = options.deny ? 'device-aborted' : 'device-success';
  if (nav.page?.name !== expected) {
    throw new DriveError(nav.page ? describe(nav.page) : `redirected away to ${nav.external?.href}`);
  }
}

export interface AuthorizeCodeOptions extends Credentials {
  /** The full authorization request URL (with client_id, redirect_uri, PKCE challenge, state…). */
  authorizationUrl: string;
}

/**
 * Runs an authorization request through login and consent and returns the final redirect to the
 * client (with `code` and `state`, or `error=access_denied` after Deny) WITHOUT requesting it:
 * the client's loopback listener may not exist.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1
 */
export async function authorizeCode(options: AuthorizeCodeOptions): Promise<string> {
  const start = new URL(options.authorizationUrl);
  const browser = new Browser(start.origin);
  const nav = await signInAndConsent(browser, await browser.navigate(start), options);
  if (nav.external) return nav.external.href;
  throw new DriveError(nav.page ? describe(nav.page) : 'no redirect to the client');
}
