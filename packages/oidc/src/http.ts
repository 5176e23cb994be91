import { setTimeout as sleep } from 'node:timers/promises';
import type { CustomFetch, FetchBody } from 'openid-client';
import { OIDC_ERROR_CODES, OidcError } from './errors.js';
import { assertSecureUrl } from './issuer-url.js';

/** Sent on every request; oidc-agent sends `oidc-agent <version>` the same way. */
export const USER_AGENT = 'token-agent/0.1.0';

/**
 * The policy every OP call follows unless the client or the call says otherwise.
 *
 * Worst case for one call with the defaults: 3 × 15 s + 0.5 s + 1 s ≈ 46.5 s. A caller that
 * needs a tighter bound for the whole operation passes an `AbortSignal` (e.g. `AbortSignal.timeout`).
 */
export const HTTP_DEFAULTS = {
  /** Deadline for one HTTP exchange: connect, request, headers and the whole body. */
  timeoutMs: 15_000,
  /** Tries per call, the first included. */
  maxAttempts: 3,
  /** Wait before the 2nd and 3rd try. */
  backoffMs: [500, 1_000] as readonly number[],
  /** An OP answer larger than this is refused (all OP answers we read are small JSON). */
  maxResponseBytes: 1024 * 1024,
  /** A `Retry-After` longer than this is not waited for: we give up and report the OP unavailable. */
  maxRetryAfterMs: 5_000,
} as const;

/** Statuses worth another try: the OP (or a proxy before it) is overloaded or restarting. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);

/** Per-client HTTP settings (the agent keeps one client per account). */
export interface HttpOptions {
  /** Deadline per HTTP exchange in ms. Default {@link HTTP_DEFAULTS.timeoutMs}. */
  timeoutMs?: number;
  /** Tries per call (1 = no retry). Default {@link HTTP_DEFAULTS.maxAttempts}. */
  maxAttempts?: number;
  /** Waits between tries in ms; the last value repeats. Default {@link HTTP_DEFAULTS.backoffMs}. */
  backoffMs?: readonly number[];
  /** Default {@link USER_AGENT}. */
  userAgent?: string;
  /** Default {@link HTTP_DEFAULTS.maxResponseBytes}. */
  maxResponseBytes?: number;
}

/** Per-call settings that override the client's. */
export interface CallOptions {
  /** Cancels the call, including waits between tries; rejects with `OIDC_ABORTED`. */
  signal?: AbortSignal;
  /** Deadline per HTTP exchange in ms for this call. */
  timeoutMs?: number;
}

/** Everything one call's fetch needs to know. */
export interface FetchPolicy extends HttpOptions {
  signal?: AbortSignal;
  /** Allow plain http to loopback hosts (127.0.0.0/8, ::1, localhost). */
  allowInsecureLoopback?: boolean;
}

/** The request shape openid-client hands to a custom fetch; our own requests use it too. */
export interface PolicyRequest {
  method: string;
  headers?: Record<string, string>;
  body?: FetchBody;
  redirect?: 'manual';
  signal?: AbortSignal;
  duplex?: 'half';
}

export type PolicyFetch = (url: string, init: PolicyRequest) => Promise<Response>;

/** Merges client and call settings into one policy. */
export function mergePolicy(
  client: HttpOptions | undefined,
  call: CallOptions | undefined,
  allowInsecureLoopback: boolean,
): FetchPolicy {
  const policy: FetchPolicy = { ...client, allowInsecureLoopback };
  if (call?.timeoutMs !== undefined) policy.timeoutMs = call.timeoutMs;
  if (call?.signal !== undefined) policy.signal = call.signal;
  return policy;
}

function describe(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Walks an error's cause chain for a system / undici error code (ECONNREFUSED, UND_ERR_SOCKET, …). */
function systemCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 6 && cur !== null && typeof cur === 'object'; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const NETWORK_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed by the server',
  EPIPE: 'connection closed by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

function isTlsFailure(code: string | undefined): boolean {
  return code !== undefined && /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
}

interface Attempt {
  response?: Response;
  error?: OidcError;
  retryable: boolean;
}

/** Reads the whole body under the attempt's deadline, refusing anything over `max` bytes. */
async function readBody(res: Response, max: number, where: string): Promise<Uint8Array | null> {
  if (!res.body) return null;
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body.cancel().catch(() => {});
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `answer from ${where} is larger than ${max} bytes`);
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `answer from ${where} is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 204, 205, 304]);

async function attemptOnce(
  url: URL,
  init: PolicyRequest,
  headers: Record<string, string>,
  timeoutMs: number,
  maxBytes: number,
  cancel: AbortSignal | undefined,
): Promise<Attempt> {
  const where = describe(url);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException('deadline exceeded', 'TimeoutError'));
  }, timeoutMs);
  const upstream = [cancel, init.signal].filter((s): s is AbortSignal => s !== undefined);
  const onAbort = (): void => controller.abort(new DOMException('cancelled', 'AbortError'));
  for (const s of upstream) {
    if (s.aborted) onAbort();
    else s.addEventListener('abort', onAbort, { once: true });
  }
  try {
    const requestInit: RequestInit & { duplex?: 'half' } = {
      method: init.method,
      headers,
      body: init.body as RequestInit['body'],
      redirect: 'manual',
      signal: controller.signal,
    };
    if (init.duplex) requestInit.duplex = init.duplex;
    const res = await fetch(url.href, requestInit);
    const body = await readBody(res, maxBytes, where);
    const response = new Response(NULL_BODY_STATUSES.has(res.status) ? null : body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
    return { response, retryable: RETRY_STATUSES.has(res.status) };
  } catch (err) {
    if (err instanceof OidcError) return { error: err, retryable: false };
    if (upstream.some((s) => s.aborted)) {
      return {
        error: new OidcError(OIDC_ERROR_CODES.ABORTED, `request to ${where} cancelled`, { cause: err }),
        retryable: false,
      };
    }
    const code = systemCode(err);
    if (timedOut || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
      return {
        error: new OidcError(OIDC_ERROR_CODES.TIMEOUT, `no answer from ${where} within ${timeoutMs / 1000} s`, {
          cause: err,
        }),
        retryable: true,
      };
    }
    if (isTlsFailure(code)) {
      return {
        error: new OidcError(OIDC_ERROR_CODES.NETWORK, `TLS failure talking to ${url.host}: ${code}`, { cause: err }),
        retryable: false,
      };
    }
    const words = code === undefined ? undefined : NETWORK_WORDS[code];
    const detail = words ? `${words} (${code})` : (code ?? (err instanceof Error ? err.message : 'unknown error'));
    return {
      error: new OidcError(OIDC_ERROR_CODES.NETWORK, `cannot talk to ${where}: ${detail}`, { cause: err }),
      retryable: true,
    };
  } finally {
    clearTimeout(timer);
    for (const s of upstream) s.removeEventListener('abort', onAbort);
  }
}

/** `Retry-After` in ms (delta-seconds or HTTP-date), or undefined. */
function retryAfterMs(res: Response): number | undefined {
  const value = res.headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * A fetch that applies the policy: deadline per exchange (connect through last body byte),
 * retries with backoff only on timeouts, connection failures and 408/429/502/503/504, body size cap,
 * our User-Agent, and no plain http except to loopback with the opt-in. Node's fetch keeps
 * connections alive, so calls to one OP reuse them.
 *
 * It never retries an OAuth error (4xx): a refused grant stays refused. Like oidc-agent it does retry
 * a POST that timed out, which for a rotating refresh token can cost that token if the OP did
 * process the first try; the alternative (never retrying) hangs users on every network blip.
 *
 * Errors it throws are {@link OidcError}s (`OIDC_TIMEOUT`, `OIDC_NETWORK`, `OIDC_ABORTED`,
 * `OIDC_INSECURE_ISSUER`, `OIDC_BAD_RESPONSE`); after the last try of a retryable status it returns
 * that response, and the caller reports it.
 */
export function createPolicyFetch(policy: FetchPolicy): PolicyFetch & CustomFetch {
  const timeoutMs = policy.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts ?? HTTP_DEFAULTS.maxAttempts));
  const backoff = policy.backoffMs?.length ? policy.backoffMs : HTTP_DEFAULTS.backoffMs;
  const maxBytes = policy.maxResponseBytes ?? HTTP_DEFAULTS.maxResponseBytes;
  const userAgent = policy.userAgent ?? USER_AGENT;

  return async (href: string, init: PolicyRequest): Promise<Response> => {
    const url = new URL(href);
    assertSecureUrl(url, policy.allowInsecureLoopback === true, 'OP endpoint');
    const headers: Record<string, string> = { ...init.headers, 'user-agent': userAgent };
    // A stream body cannot be sent twice.
    const tries = init.body instanceof ReadableStream ? 1 : maxAttempts;

    for (let attempt = 1; ; attempt++) {
      if (policy.signal?.aborted) {
        throw new OidcError(OIDC_ERROR_CODES.ABORTED, `request to ${describe(url)} cancelled`, { attempts: attempt - 1 });
      }
      const result = await attemptOnce(url, init, headers, timeoutMs, maxBytes, policy.signal);
      const last = attempt >= tries || !result.retryable;
      if (last) {
        if (result.error) {
          throw new OidcError(result.error.code, result.error.message, {
            cause: (result.error as { cause?: unknown }).cause,
            attempts: attempt,
          });
        }
        return result.response as Response;
      }
      let delay = backoff[Math.min(attempt - 1, backoff.length - 1)] ?? 0;
      if (result.response) {
        const after = retryAfterMs(result.response);
        if (after !== undefined) {
          if (after > HTTP_DEFAULTS.maxRetryAfterMs) return result.response;
          delay = Math.max(delay, after);
        }
      }
      try {
        await sleep(delay, undefined, policy.signal ? { signal: policy.signal } : {});
      } catch (err) {
        throw new OidcError(OIDC_ERROR_CODES.ABORTED, `request to ${describe(url)} cancelled`, {
          cause: err,
          attempts: attempt,
        });
      }
    }
  };
}
