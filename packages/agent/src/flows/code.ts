/**
 * The authorization-code flow, driven by the agent (as oidc-agent does): a loopback redirect
 * listener for the duration of the flow, PKCE S256 + state + nonce (oidc package), the code
 * exchanged when the browser comes back, the result handed to token-gen through `state_lookup`.
 *
 * The listener is one-shot: it closes after the first callback that belongs to this request
 * (code or OP error), on timeout, and on cancel (`term_http_server`, agent shutdown). A callback
 * with the wrong `state` or without `code` is answered 400 and the flow keeps waiting.
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */
import type { FailureReply } from '@token-agent/protocol';
import type { AgentContext } from '../context.js';
import { AgentError, toFailure } from '../errors.js';
import type { ClientRef, CodeRequest, TokenResult } from '../op.js';
import { DEFAULT_REDIRECT_PORTS, listenLoopback, type LoopbackListener } from './loopback.js';
import { BAD_REQUEST, errorPage, successPage } from './pages.js';

/** How long the listener waits for the browser, unless the request says otherwise. */
export const DEFAULT_CODE_TIMEOUT_S = 300;
const MAX_CODE_TIMEOUT_S = 3600;

export interface CodeFlowOptions {
  name: string;
  scope: string;
  /** The account's registered redirect URIs (an existing client, `--reauthenticate`). */
  configuredRedirectUris: string[];
  /** Ports asked for in the request (`token-gen --port`); 0 = any free port. */
  ports: string[] | undefined;
  timeoutSeconds: number | undefined;
  /** Returns the client, registering one with these redirect URIs when the account has none. */
  ensureClient: (redirectUris: string[]) => Promise<ClientRef>;
  /** Loads the account; returns the reply for token-gen (`{ config }`, or the access token with `only_at`) or throws. */
  finish: (tokens: TokenResult) => Record<string, unknown>;
  /** `only_at`: the success page says that nothing was stored. */
  onlyAt?: boolean;
}

function parsePorts(ports: string[]): number[] {
  return ports.map((p) => {
    const n = Number(p);
    if (!/^\d{1,5}$/.test(p.trim()) || n > 65535) throw new AgentError(`Bad Request: "ports" must hold port numbers (0-65535), not ${JSON.stringify(p)}`);
    return n;
  });
}

/**
 * Loopback ports and host of the account's registered redirect URIs (oidc-agent's are
 * `http://localhost:PORT`), and each port's URI as registered: it is sent exactly so (an OP
 * compares strings, RFC 6749 §3.1.2.3).
 */
function registeredLoopback(uris: string[]): { ports: number[]; host: '127.0.0.1' | 'localhost' | undefined; byPort: Map<number, string> } {
  const ports: number[] = [];
  const byPort = new Map<number, string>();
  let host: '127.0.0.1' | 'localhost' | undefined;
  for (const uri of uris) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' || (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') || url.port === '') continue;
    host ??= url.hostname as '127.0.0.1' | 'localhost';
    ports.push(Number(url.port));
    // Only a URI the listener answers as it is: the same host, path `/` or none, no query.
    if (url.hostname === host && (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '') byPort.set(Number(url.port), uri);
  }
  return { ports, host, byPort };
}

export async function startCodeFlow(ctx: AgentContext, o: CodeFlowOptions): Promise<{ state: string; uri: string }> {
  const timeout = Math.min(Math.max(o.timeoutSeconds ?? DEFAULT_CODE_TIMEOUT_S, 1), MAX_CODE_TIMEOUT_S);
  const registered = registeredLoopback(o.configuredRedirectUris);
  const asked = o.ports === undefined ? undefined : parsePorts(o.ports);
  const ports = asked ?? (registered.ports.length > 0 ? registered.ports : [...DEFAULT_REDIRECT_PORTS]);

  // Filled in once the listener is up; a request arriving before that is not ours.
  let request: CodeRequest | undefined;
  let state: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const abort = new AbortController();

  const end = (outcome: { reply: Record<string, unknown> } | { failure: FailureReply }) => {
    if (timer) clearTimeout(timer);
    if (state === undefined) return;
    if ('reply' in outcome) ctx.flows.succeed(state, outcome.reply);
    else ctx.flows.fail(state, outcome.failure);
  };

  let listener: LoopbackListener;
  try {
    listener = await listenLoopback({
      ports,
      // RFC 8252 §7.3: an OP must accept any port for a loopback IP redirect URI.
      randomFallback: asked === undefined,
      host: registered.host ?? '127.0.0.1',
      badRequest: BAD_REQUEST,
      handler: async (url) => {
        if (request === undefined || state === undefined) return BAD_REQUEST;
        const verdict = request.judge(url);
        if (verdict.kind === 'foreign') {
          ctx.log.info('code-flow-foreign-callback', { account: o.name, reason: verdict.reason });
          return BAD_REQUEST;
        }
        if (verdict.kind === 'error') {
          const { reply } = toFailure(verdict.error);
          ctx.log.info('code-flow-refused', { account: o.name, error: reply.error });
          end({ failure: reply });
          return { ...errorPage(o.name, reply.error), done: true };
        }
        try {
          const tokens = await request.exchange(url, abort.signal);
          end({ reply: o.finish(tokens) });
          return { ...successPage(o.name, o.onlyAt === true), done: true };
        } catch (err) {
          const { reply, expected } = toFailure(err);
          if (!expected) ctx.log.error('code-exchange-failed', { account: o.name, error: err instanceof Error ? err.stack : String(err) });
          else ctx.log.info('code-exchange-refused', { account: o.name, error: reply.error });
          end({ failure: reply });
          return { ...errorPage(o.name, reply.error), done: true };
        }
      },
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'AGENT_NO_REDIRECT_PORT') {
      throw new AgentError((err as Error).message, 'Free one of these ports, or choose others with token-gen --port N (0 = any free port).');
    }
    throw err;
  }

  try {
    // Register every port we may listen on in later flows (--reauthenticate), plus this one.
    const uris = [...new Set([...ports.filter((p) => p !== 0), listener.port])].map((p) => `http://127.0.0.1:${p}/`);
    const ref = await o.ensureClient(uris);
    // OpenID Connect Core §11: offline_access is ignored without prompt=consent.
    const prompt = o.scope.split(' ').includes('offline_access') ? 'consent' : undefined;
    const redirectUri = registered.byPort.get(listener.port) ?? listener.redirectUri;
    request = await ctx.op.authorizationRequest(ref, { redirectUri, scope: o.scope, ...(prompt ? { prompt } : {}) });
  } catch (err) {
    await listener.close();
    throw err;
  }

  const started = ctx.flows.start(timeout);
  state = started.state;
  started.signal.addEventListener(
    'abort',
    () => {
      if (timer) clearTimeout(timer);
      abort.abort();
      void listener.close();
      ctx.log.info('code-flow-cancelled', { account: o.name });
    },
    { once: true },
  );
  timer = setTimeout(() => {
    ctx.log.info('code-flow-timeout', { account: o.name, timeout });
    end({
      failure: {
        status: 'failure',
        error: 'the login was not completed in time',
        info: `the browser did not come back within ${timeout} s: run token-gen again`,
      },
    });
    void listener.close();
  }, timeout * 1000);
  timer.unref();
  ctx.log.info('code-flow-started', { account: o.name, port: listener.port });
  return { state, uri: request.url };
}
