import { isModernVersion, MODERN_PROTOCOL_VERSIONS } from '../../protocol.js';
import { HttpError } from '../http-error.js';
import { ErrorCode, type JsonRpcId, type JsonRpcMessage } from '../jsonrpc.js';

/**
 * Request validation of the 2026-07-28 Streamable HTTP transport: the
 * `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers must be present and
 * match the body, with `Mcp-Name` possibly in the Base64 sentinel form.
 */


/** `_meta` key of the per-request protocol version. */
export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
/** `_meta` key of the per-request client capabilities. */
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
/** `_meta` key of the per-request client identity. */
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
/** `_meta` key of the per-request log level. */
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
/** `_meta` key naming the listen stream a notification belongs to. */
export const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';
/** `_meta` key of the server identity in a discover result. */
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';

/** Methods whose `Mcp-Name` header mirrors `params.name` or `params.uri`. */
const NAMED_METHODS: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** The `_meta` object of a request, if any. */
export function metaOf(message: JsonRpcMessage): Record<string, unknown> | undefined {
  const params = message.params as { _meta?: unknown } | undefined;
  const meta = params?._meta;
  return meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : undefined;
}

/**
 * Tells a modern (2026-07-28) request from a legacy one, per the spec's
 * backward-compatibility rules: a modern request carries its protocol version in
 * `_meta` (and the header); `initialize` and session-bound traffic are legacy.
 */
export function isModernRequest(headers: Headers, message: JsonRpcMessage | undefined): boolean {
  const header = headers.get('mcp-protocol-version');
  // A 2026-era header marks a modern request, even an `initialize` (a removed method then: 404).
  if (header !== null && header >= '2026') return true;
  if (message?.method === 'initialize') return false;
  const version = message ? metaOf(message)?.[META_PROTOCOL_VERSION] : undefined;
  return typeof version === 'string';
}

/** Decodes a header value that may use the `=?base64?...?=` sentinel form. */
export function decodeHeaderValue(value: string): string | undefined {
  if (value.startsWith('=?base64?') && value.endsWith('?=') && value.length >= 11) {
    const encoded = value.slice(9, -2);
    // Strict Base64: the standard alphabet and full padding.
    if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return undefined;
    return Buffer.from(encoded, 'base64').toString('utf8');
  }
  // Plain values must be visible ASCII, space or tab, with no leading or trailing blank.
  if (!/^[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?$/.test(value)) return undefined;
  return value;
}

function invalidParams(id: JsonRpcId | null, message: string): HttpError {
  return new HttpError(400, ErrorCode.InvalidParams, `Invalid params: ${message}`, { id });
}

function mismatch(id: JsonRpcId | null, message: string): HttpError {
  return new HttpError(400, ErrorCode.HeaderMismatch, `Header mismatch: ${message}`, { id });
}

/**
 * Validates a modern request's headers against its body. Throws an
 * {@link HttpError} 400 with `-32020 HeaderMismatch` or `-32022
 * UnsupportedProtocolVersion` (listing the supported versions).
 */
export function validateModernRequest(headers: Headers, message: JsonRpcMessage): string {
  const id = (message.id ?? null) as JsonRpcId | null;
  const header = headers.get('mcp-protocol-version');
  const body = metaOf(message)?.[META_PROTOCOL_VERSION];
  if (header === null) throw mismatch(id, 'the MCP-Protocol-Version header is required');
  const meta = metaOf(message);
  if (meta === undefined) throw invalidParams(id, 'params._meta is required in 2026-07-28 (protocol version and client capabilities)');
  if (typeof body !== 'string') throw invalidParams(id, `params._meta["${META_PROTOCOL_VERSION}"] is required`);
  const capabilities = meta[META_CLIENT_CAPABILITIES];
  if (capabilities === null || typeof capabilities !== 'object' || Array.isArray(capabilities)) {
    throw invalidParams(id, `params._meta["${META_CLIENT_CAPABILITIES}"] is required (an object; {} declares none)`);
  }
  if (header !== body) {
    throw mismatch(id, `MCP-Protocol-Version header value '${header}' does not match body value '${body}'`);
  }
  if (!isModernVersion(body)) {
    throw new HttpError(
      400,
      ErrorCode.UnsupportedProtocolVersion,
      `Unsupported protocol version ${body}; supported: ${MODERN_PROTOCOL_VERSIONS.join(', ')}`,
      { id, data: { supported: [...MODERN_PROTOCOL_VERSIONS], requested: body } },
    );
  }
  const method = headers.get('mcp-method');
  if (method === null) throw mismatch(id, 'the Mcp-Method header is required');
  if (method !== message.method) {
    throw mismatch(id, `Mcp-Method header value '${method}' does not match body value '${String(message.method)}'`);
  }
  const field = NAMED_METHODS[message.method as string];
  if (field !== undefined) {
    const raw = headers.get('mcp-name');
    if (raw === null) throw mismatch(id, `the Mcp-Name header is required for ${message.method}`);
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) throw mismatch(id, 'the Mcp-Name header has invalid characters or a malformed Base64 value');
    const value = (message.params as Record<string, unknown> | undefined)?.[field];
    if (decoded !== value) {
      throw mismatch(id, `Mcp-Name header value '${decoded}' does not match body value '${String(value)}'`);
    }
  }
  for (const [name, value] of headers) {
    if (name.startsWith('mcp-param-') && decodeHeaderValue(value) === undefined) {
      throw mismatch(id, `the ${name} header has invalid characters or a malformed Base64 value`);
    }
  }
  return body;
}
