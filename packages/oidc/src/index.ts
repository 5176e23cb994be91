export { OIDC_ERROR_CODES, OidcError, isOidcError } from './errors.js';
export type { OidcErrorCode, OidcErrorOptions } from './errors.js';
export { HTTP_DEFAULTS, USER_AGENT } from './http.js';
export type { CallOptions, HttpOptions } from './http.js';
export { ALLOW_HTTP_LOOPBACK_ENV, isLoopbackHost } from './issuer-url.js';
export { DISCOVERY_TTL_MS, clearDiscoveryCache, discover } from './discovery.js';
export type { DiscoverOptions, DiscoveredIssuer } from './discovery.js';
export { OidcClient, createClient } from './client.js';
export type { ClientOptions, TokenEndpointAuthMethod } from './client.js';
export { DEFAULT_EXPIRES_IN_S, jwtExpiry, toTokenSet } from './tokens.js';
export type { TokenSet } from './tokens.js';
export { MANUAL_CLIENT_HINT, deleteClient, registerClient } from './registration.js';
export type { DeleteClientOptions, RegisteredClient, RegistrationOptions } from './registration.js';
export {
  DEFAULT_DEVICE_INTERVAL_S,
  MAX_TRANSIENT_POLL_FAILURES,
  SLOW_DOWN_INCREMENT_S,
  pollDeviceAuthorization,
  pollDeviceOnce,
  startDeviceAuthorization,
} from './device-flow.js';
export type { DeviceAuthorization, DevicePollOptions, DevicePollResult, DeviceStartOptions } from './device-flow.js';
export { passwordGrant } from './password-flow.js';
export type { PasswordGrantOptions } from './password-flow.js';
export { refreshAccessToken } from './refresh.js';
export type { AudienceMode, RefreshOptions } from './refresh.js';
export { revokeToken } from './revoke.js';
export type { TokenTypeHint } from './revoke.js';
export { exchangeAuthorizationCode, judgeCallback, registerCodeFlowClient, startAuthorizationRequest } from './code-flow.js';
export type { AuthorizationRequest, AuthorizationRequestOptions, CallbackVerdict } from './code-flow.js';
export {
  DEFAULT_MYTOKEN_POLL_INTERVAL_S,
  DEFAULT_MYTOKEN_SERVER,
  accessTokenFromMytoken,
  createTransferCode,
  discoverMytokenServer,
  exchangeTransferCode,
  mayRotate,
  mytokenProviders,
  mytokenTokeninfo,
  pollMytokenOidcFlow,
  revokeMytoken,
  startMytokenOidcFlow,
  subMytoken,
} from './mytoken.js';
export type {
  MytokenAccessToken,
  MytokenHttpOptions,
  MytokenOidcFlow,
  MytokenOidcFlowRequest,
  MytokenResult,
  MytokenServer,
  TokeninfoAction,
} from './mytoken.js';
