/**
 * JSON-RPC 2.0 wire helpers. Messages are relayed as raw text where possible; these
 * helpers only classify a parsed message and build error bodies.
 */

/** A JSON-RPC id. */
export type JsonRpcId = string | number;

/** Any JSON-RPC message as parsed from the wire (loosely typed on purpose: we relay, not interpret). */
export interface JsonRpcMessage {
  jsonrpc?: unknown;
  id?: JsonRpcId | null;
  method?: unknown;
  params?: unknown;
  result?: unknown;
  error?: unknown;
}

/** Standard and MCP JSON-RPC error codes used by the gateway. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Server-side failure: the upstream child is gone, the gateway refuses, and the like. */
  ServerError: -32000,
  /** Session not found / request timed out (as the SDK uses it). */
  SessionNotFound: -32001,
  RequestTimeout: -32001,
  /** 2026-07-28: header and body disagree. */
  HeaderMismatch: -32020,
  /** 2026-07-28: a request needs a client capability the request did not declare. */
  MissingRequiredClientCapability: -32021,
  /** 2026-07-28: protocol version not supported. */
  UnsupportedProtocolVersion: -32022,
} as const;

/** True for a message with a method and an id: a request. */
export function isRequest(m: JsonRpcMessage): boolean {
  return typeof m.method === 'string' && m.id !== undefined && m.id !== null;
}

/** True for a message with a method and no id: a notification. */
export function isNotification(m: JsonRpcMessage): boolean {
  return typeof m.method === 'string' && (m.id === undefined || m.id === null);
}

/** True for a result or error message: a response. */
export function isResponse(m: JsonRpcMessage): boolean {
  return m.method === undefined && (m.result !== undefined || m.error !== undefined);
}

/** True when a parsed value has the shape of one JSON-RPC 2.0 message. */
export function isJsonRpcMessage(value: unknown): value is JsonRpcMessage {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const m = value as JsonRpcMessage;
  if (m.jsonrpc !== '2.0') return false;
  if (m.id !== undefined && m.id !== null && typeof m.id !== 'string' && typeof m.id !== 'number') return false;
  if (typeof m.method === 'string') return true;
  return m.id !== undefined && (m.result !== undefined || m.error !== undefined);
}

/** A key for an id that keeps `1` and `"1"` apart. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

/** Builds a JSON-RPC error response object. */
export function errorMessage(id: JsonRpcId | null, code: number, message: string, data?: unknown) {
  return { jsonrpc: '2.0' as const, id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** Builds a JSON-RPC error response as wire text. */
export function errorText(id: JsonRpcId | null, code: number, message: string, data?: unknown): string {
  return JSON.stringify(errorMessage(id, code, message, data));
}

/** The progress token a request asked for in `params._meta.progressToken`, if any. */
export function progressTokenOf(m: JsonRpcMessage): string | number | undefined {
  const params = m.params as { _meta?: { progressToken?: unknown } } | undefined;
  const token = params?._meta?.progressToken;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
}
