/**
 * Error texts and codes of the socket protocol.
 *
 * The strings in {@link AgentErrorText} are oidc-agent's own: clients (liboidc-agent, the Python and Go
 * libraries, scripts) match on them, so they must not change.
 * @see ../../../../shared/reference/oidc-agent.md §1.8
 */
export const AgentErrorText = {
  accountNotLoaded: 'account not loaded',
  noAccount: 'No account configured with that short name',
  locked: 'Agent locked',
  notLocked: 'Agent not locked',
  wrongPassword: 'wrong password',
  forbidden: 'operation forbidden',
  noRequestType: 'Bad Request: No request type.',
  unknownRequest: 'Bad Request: Unknown request type.',
  couldNotConnect: 'Could not connect to oidc-agent',
} as const;

/** Stable codes for failures on the client side of the socket. */
export const ProtocolErrorCode = {
  /** No socket path in the environment. */
  noSocket: 'PROTOCOL_NO_SOCKET',
  /** The socket path exists but nobody accepts (agent gone), or it does not exist. */
  connect: 'PROTOCOL_CONNECT',
  /** The agent did not answer in time. */
  timeout: 'PROTOCOL_TIMEOUT',
  /** The agent's reply could not be parsed. */
  badReply: 'PROTOCOL_BAD_REPLY',
  /** A message over the size cap. */
  tooLarge: 'PROTOCOL_TOO_LARGE',
  /** The socket path does not fit into `sun_path`. */
  pathTooLong: 'PROTOCOL_PATH_TOO_LONG',
  /** The agent answered `status: failure`. */
  agent: 'PROTOCOL_AGENT_ERROR',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/** An operational failure talking to the agent. Branch on `code`, never on `message`. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  /** For `PROTOCOL_AGENT_ERROR`: the agent's `error` text and optional `info` help. */
  readonly agentError?: string;
  readonly info?: string;

  constructor(code: ProtocolErrorCode, message: string, extra: { agentError?: string; info?: string; cause?: unknown } = {}) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    if (extra.agentError !== undefined) this.agentError = extra.agentError;
    if (extra.info !== undefined) this.info = extra.info;
    if (extra.cause !== undefined) Object.defineProperty(this, 'cause', { value: extra.cause, enumerable: false });
  }
}
