import { setTimeout as sleep } from 'node:timers/promises';
import { ResponseBodyError, genericGrantRequest, initiateDeviceAuthorization } from 'openid-client';
import { clientSecretOf, configurationFor, type OidcClient } from './client.js';
import { OIDC_ERROR_CODES, OidcError, atBoundary, displayUrl, sanitizeOpText, translateError } from './errors.js';
import type { CallOptions } from './http.js';
import { appendResources, scopeList, valueList } from './params.js';
import { toTokenSet, type TokenSet } from './tokens.js';

/** RFC 8628 §3.2: the interval to use when the OP gives none (INDIGO IAM and oidc-provider omit it). */
export const DEFAULT_DEVICE_INTERVAL_S = 5;
/** RFC 8628 §3.5: `slow_down` adds this to the interval of this and every later poll. */
export const SLOW_DOWN_INCREMENT_S = 5;

/**
 * Consecutive polls that may fail for transient reasons (timeout, network, 5xx, each after the
 * HTTP layer's own retries) before the flow gives up: the user may be approving right now.
 */
export const MAX_TRANSIENT_POLL_FAILURES = 3;

const TRANSIENT: ReadonlySet<string> = new Set([
  OIDC_ERROR_CODES.TIMEOUT,
  OIDC_ERROR_CODES.NETWORK,
  OIDC_ERROR_CODES.UNAVAILABLE,
]);

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What the user needs to see, and what the poller needs to keep. `device_code` is a secret. */
export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  /** Seconds the codes are valid, as the OP said. */
  expires_in: number;
  /** Unix seconds at which the codes expire (receipt + `expires_in`). */
  expires_at: number;
  /** Seconds between polls, as the OP said, else {@link DEFAULT_DEVICE_INTERVAL_S}. */
  interval: number;
}

export interface DeviceStartOptions extends CallOptions {
  /** Space-separated string or list. */
  scope?: string | readonly string[];
  /** RFC 8707 resource indicators, one `resource` parameter each. */
  resource?: string | readonly string[];
}

export interface DevicePollOptions extends CallOptions {
  /** RFC 8707 resource indicators for the token request. */
  resource?: string | readonly string[];
}

export type DevicePollResult =
  | { status: 'pending' }
  | { status: 'slow_down' }
  | { status: 'done'; tokens: TokenSet };

/**
 * Starts a device authorization (RFC 8628 §3.1–3.2). Does not poll: show the user the code, then
 * call {@link pollDeviceAuthorization} (or drive {@link pollDeviceOnce} yourself).
 * `OIDC_UNSUPPORTED` when the OP advertises no device authorization endpoint.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2
 */
export async function startDeviceAuthorization(
  client: OidcClient,
  options: DeviceStartOptions = {},
): Promise<DeviceAuthorization> {
  const what = 'device authorization endpoint';
  return atBoundary({ what, secrets: [clientSecretOf(client)] }, async () => {
    const server = await client.server(options);
    if (typeof server.metadata.device_authorization_endpoint !== 'string') {
      throw new OidcError(
        OIDC_ERROR_CODES.UNSUPPORTED,
        `the OP ${server.issuer} does not offer the device flow (no device_authorization_endpoint)`,
      );
    }
    const config = await configurationFor(client, options);
    const params = new URLSearchParams();
    const scope = scopeList(options.scope);
    if (scope) params.set('scope', scope.join(' '));
    appendResources(params, valueList(options.resource));
    const res = await initiateDeviceAuthorization(config, params);
    const receivedAt = Math.floor(Date.now() / 1000);
    // oauth4webapi has checked the strings and that expires_in is a number; we add the rest.
    if (!(res.expires_in > 0)) {
      throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"expires_in" in the answer from ${what} must be positive`);
    }
    const interval =
      typeof res.interval === 'number' && Number.isFinite(res.interval) && res.interval > 0
        ? Math.ceil(res.interval)
        : DEFAULT_DEVICE_INTERVAL_S;
    // What the user is shown comes from the OP: URLs in parsed form, the code without control characters.
    const userCode = sanitizeOpText(res.user_code, 100);
    if (userCode === undefined) throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `the answer from ${what} has no usable "user_code"`);
    const out: DeviceAuthorization = {
      device_code: res.device_code,
      user_code: userCode,
      verification_uri: displayUrl(res.verification_uri, 'verification_uri', what),
      expires_in: res.expires_in,
      expires_at: receivedAt + Math.floor(res.expires_in),
      interval,
    };
    if (res.verification_uri_complete) out.verification_uri_complete = displayUrl(res.verification_uri_complete, 'verification_uri_complete', what);
    return out;
  });
}

/**
 * One poll of the token endpoint (RFC 8628 §3.4–3.5), for a caller that runs its own loop.
 * On `slow_down` the caller must add {@link SLOW_DOWN_INCREMENT_S} to its interval for this and
 * every later poll. Throws `OIDC_ACCESS_DENIED` (user said no), `OIDC_EXPIRED_TOKEN` (code expired)
 * and the other OidcErrors.
 */
export async function pollDeviceOnce(
  client: OidcClient,
  device: DeviceAuthorization,
  options: DevicePollOptions = {},
): Promise<DevicePollResult> {
  const ctx = { what: 'token endpoint', secrets: [device.device_code, clientSecretOf(client)] };
  const config = await atBoundary(ctx, () => configurationFor(client, options));
  const params = new URLSearchParams({ device_code: device.device_code });
  appendResources(params, valueList(options.resource));
  let res;
  try {
    res = await genericGrantRequest(config, DEVICE_CODE_GRANT, params);
  } catch (err) {
    if (err instanceof ResponseBodyError) {
      if (err.error === 'authorization_pending') return { status: 'pending' };
      if (err.error === 'slow_down') return { status: 'slow_down' };
    }
    throw translateError(err, ctx);
  }
  return { status: 'done', tokens: toTokenSet(res) };
}

/**
 * Polls until the user approves, denies, or the code expires (RFC 8628 §3.4–3.5). Waits the OP's
 * `interval` before each poll and never less; `slow_down` adds 5 s for good. A poll that fails for
 * a transient reason doubles the interval (§3.5: back off on connection timeouts, capped at 60 s)
 * and polling goes on, up to {@link MAX_TRANSIENT_POLL_FAILURES} in a row. Stops with
 * `OIDC_EXPIRED_TOKEN` when the next poll would fall after `expires_at`, and with `OIDC_ABORTED`
 * as soon as `signal` fires (a cancelled token-gen).
 */
export async function pollDeviceAuthorization(
  client: OidcClient,
  device: DeviceAuthorization,
  options: DevicePollOptions = {},
): Promise<TokenSet> {
  let interval = device.interval;
  let failures = 0;
  for (;;) {
    const nextPollAt = Date.now() + interval * 1000;
    if (nextPollAt > device.expires_at * 1000) {
      throw new OidcError(
        OIDC_ERROR_CODES.EXPIRED_TOKEN,
        'expired_token: the device code expired before the user approved the request',
        { error: 'expired_token' },
      );
    }
    try {
      await sleep(interval * 1000, undefined, options.signal ? { signal: options.signal } : {});
    } catch (cause) {
      throw new OidcError(OIDC_ERROR_CODES.ABORTED, 'device flow cancelled', { cause });
    }
    let result: DevicePollResult;
    try {
      result = await pollDeviceOnce(client, device, options);
      failures = 0;
    } catch (err) {
      if (err instanceof OidcError && TRANSIENT.has(err.code) && ++failures < MAX_TRANSIENT_POLL_FAILURES) {
        interval = Math.max(interval, Math.min(interval * 2, 60));
        continue;
      }
      throw err;
    }
    if (result.status === 'done') return result.tokens;
    if (result.status === 'slow_down') interval += SLOW_DOWN_INCREMENT_S;
  }
}
