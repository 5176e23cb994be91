export { AgentErrorText, ProtocolError, ProtocolErrorCode } from './errors.js';
export { MAX_MESSAGE_BYTES, MAX_JSON_DEPTH, MessageReader, type Message, type ReaderPhase } from './frame.js';
export { SecureChannel, loadSodium } from './secure-channel.js';
export {
  FORCE_NEW_TOKEN,
  Status,
  buildRequest,
  isRequestName,
  parseRequest,
  requestSchemas,
  type AnyRequest,
  type DeviceAuthorization,
  type FailureReply,
  type LoadedAccountStatus,
  type WatchStatus,
  type ParsedRequest,
  type Reply,
  type RequestName,
  type RequestParams,
  type Results,
} from './requests.js';
export { exchange, request, type ExchangeOptions } from './client.js';
export { TESTED_NODE_MAJORS, pipeBindings, type PipeBindings, type ServerHandle, type StreamHandle, type WriteReq } from './pipe-transport.js';
export { MAX_SOCKET_PATH_BYTES, SOCKET_ENV, assertSocketPathFits, checkPrivateSocketDir, defaultSocketPath, resolveSocketPath, socketPathFromEnv } from './socket-path.js';
