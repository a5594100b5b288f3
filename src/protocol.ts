/**
 * The names mcp-fleet shares between its parts and its tests: the MCP protocol
 * revisions it speaks, the `_meta` keys and HTTP headers of those revisions, the
 * JSON-RPC error codes it answers with (one code per meaning), and the identity
 * it gives when it talks to a server itself. One place, so the probe, the
 * channels, the bridges, the HTTP validation and the tests agree.
 */

/** Revisions of the legacy era (initialize handshake, sessions). */
export const LEGACY_PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;

/** The newest legacy revision: what the gateway asks for when it initializes a child itself. */
export const NEWEST_LEGACY_VERSION = '2025-11-25';

/** The first legacy revision that forbids JSON-RPC batches. */
export const FIRST_VERSION_WITHOUT_BATCHES = '2025-06-18';

/** Revisions of the modern era (per-request `_meta`, no sessions). */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'] as const;

/** The modern revision the gateway speaks to children and clients. */
export const MODERN_VERSION = '2026-07-28';

/** How mcp-fleet introduces itself to a server (probes, pool children). */
export const GATEWAY_INFO = { name: 'mcp-fleet', version: '0.1.0' } as const;

/** True for a revision of the legacy era. */
export function isLegacyVersion(version: string): boolean {
  return (LEGACY_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/** True for a modern revision the gateway serves. */
export function isModernVersion(version: string): boolean {
  return (MODERN_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/** True when a legacy revision forbids JSON-RPC batches (2025-06-18 and later). Revisions are compared by their known order, never as text. */
export function forbidsBatches(version: string): boolean {
  const order = LEGACY_PROTOCOL_VERSIONS as readonly string[];
  const index = order.indexOf(version);
  return index === -1 || index >= order.indexOf(FIRST_VERSION_WITHOUT_BATCHES);
}

/** `_meta` keys of the 2026-07-28 revision. */
export const Meta = {
  /** The per-request protocol version. */
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  /** The per-request client capabilities. */
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  /** The per-request client identity. */
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  /** The per-request log level. */
  logLevel: 'io.modelcontextprotocol/logLevel',
  /** The listen stream a notification belongs to. */
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
  /** The server identity in a discover result. */
  serverInfo: 'io.modelcontextprotocol/serverInfo',
} as const;

/** HTTP header names (lower case, as Node and the Fetch API give them). */
export const Header = {
  sessionId: 'mcp-session-id',
  protocolVersion: 'mcp-protocol-version',
  method: 'mcp-method',
  name: 'mcp-name',
  /** Prefix of the `Mcp-Param-{Name}` headers. */
  paramPrefix: 'mcp-param-',
  lastEventId: 'last-event-id',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** Marks a request one replica forwarded to another (no second hop). */
  forwarded: 'x-mcp-fleet-forwarded',
} as const;

/**
 * JSON-RPC error codes the gateway answers with: the standard ones, the MCP
 * ones, and the gateway's own in the server-error range. Each code has one
 * meaning; docs/ARCHITECTURE.md lists them with their HTTP statuses.
 */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The server's child is not running: it cannot start, it died, or it was replaced. */
  UpstreamUnavailable: -32000,
  /** The session id is unknown, ended, or belongs to another principal (HTTP 404; the code the SDK transports use). */
  SessionNotFound: -32001,
  /** 2026-07-28: header and body disagree. */
  HeaderMismatch: -32020,
  /** 2026-07-28: a request needs a client capability the request did not declare. */
  MissingRequiredClientCapability: -32021,
  /** 2026-07-28: protocol version not supported. */
  UnsupportedProtocolVersion: -32022,
  /** The child did not answer within `servers.<name>.requestTimeoutSeconds`. */
  RequestTimeout: -32050,
  /** The gateway refuses for load: rate limit, queue full, session caps, draining (429/503 with Retry-After). */
  Overloaded: -32051,
  /** Credentials missing or refused, or a browser Origin not allowed (401/403). */
  Unauthorized: -32052,
  /** A server-to-client request whose origin cannot be told among several callers of a shared child: refused, never guessed. */
  OriginUnknown: -32053,
  /** A message larger than `servers.<name>.maxMessageBytes` (from a child) or `gateway.maxBodyBytes` (from a client). */
  MessageTooLarge: -32054,
} as const;

/** Default of `servers.<name>.maxMessageBytes`: the longest line a child may write. */
export const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Default of `gateway.limits.maxStreamBufferBytes`: what one SSE stream may hold unsent before it is dropped. */
export const DEFAULT_MAX_STREAM_BUFFER_BYTES = 8 * 1024 * 1024;
