import { classifyInboundRequest } from '@modelcontextprotocol/server';
import { ErrorCode, Header, isLegacyVersion, isModernVersion, Meta, MODERN_PROTOCOL_VERSIONS } from '../protocol.js';
import type { WireMessage } from '../upstream/channel.js';
import { HttpError, type ErrorId } from './http/errors.js';
import type { HeaderReader } from './http/request.js';

/**
 * The one place that decides which MCP era a POST belongs to, with the SDK's
 * body-primary classifier (`classifyInboundRequest`): a request whose `_meta`
 * claims a revision is of that revision's era, `initialize` and claim-less
 * traffic are legacy, and the `MCP-Protocol-Version` header is a cross-check.
 * A 2026-07-28 request then gets the transport's header checks (presence of
 * `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, the Base64 sentinel form).
 */

/** A POST classified as 2026-07-28 traffic. */
export interface ModernPost {
  readonly era: 'modern';
  /** The one message (a request or a notification). */
  readonly message: WireMessage;
  /** The revision it claims. */
  readonly revision: string;
}

/** A POST classified as legacy (2025-era session) traffic. */
export interface LegacyPost {
  readonly era: 'legacy';
  /** Its messages (one, or a batch). */
  readonly messages: readonly WireMessage[];
  /** Whether the body was a JSON-RPC batch. */
  readonly batch: boolean;
  /** Whether it opens a session (an `initialize` request). */
  readonly initialize: boolean;
}

/** Methods whose `Mcp-Name` header mirrors `params.name` or `params.uri`. */
const NAMED_METHODS: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** Decides the era of a parsed POST body, or throws the transport's 400. */
export function classifyPost(headers: HeaderReader, body: unknown): ModernPost | LegacyPost {
  const versionHeader = headers.get(Header.protocolVersion) ?? undefined;
  if (isClaimlessLegacyMessage(body, versionHeader)) {
    const message = body as WireMessage;
    return { era: 'legacy', messages: [message], batch: false, initialize: message.method === 'initialize' };
  }
  const methodHeader = headers.get(Header.method) ?? undefined;
  const nameHeader = headers.get(Header.name) ?? undefined;
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    ...(versionHeader !== undefined ? { protocolVersionHeader: versionHeader } : {}),
    ...(methodHeader !== undefined ? { mcpMethodHeader: methodHeader } : {}),
    ...(nameHeader !== undefined ? { mcpNameHeader: nameHeader } : {}),
    body,
  });
  if (outcome.kind === 'reject') {
    throw new HttpError(outcome.httpStatus, outcome.code, outcome.message, { id: idOf(body), ...(outcome.data !== undefined ? { data: outcome.data } : {}) });
  }
  if (outcome.kind === 'modern') {
    const message = outcome.message as WireMessage;
    const revision = outcome.classification.revision ?? versionHeader ?? '';
    if (outcome.messageKind === 'request') validateModernHeaders(headers, message, revision);
    return { era: 'modern', message, revision };
  }
  const batch = Array.isArray(body);
  const messages = (batch ? body : [body]) as WireMessage[];
  return { era: 'legacy', messages, batch, initialize: outcome.reason === 'initialize' };
}

const ENVELOPE_CLAIM = Meta.protocolVersion;
const RELATED_TASK = 'io.modelcontextprotocol/related-task';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The one case the SDK classifier answers "legacy" for without a rule to weigh:
 * a single well-formed JSON-RPC request or notification whose `_meta` makes no
 * revision claim, sent without a 2026-07-28 `MCP-Protocol-Version` header. That
 * is every message of a 2025-era session, so it is decided here without the
 * classifier's schema validation (a tenth of the gateway's CPU per call); the
 * shape checked is the SDK's strict `JSONRPCRequest`/`JSONRPCNotification`, and
 * anything else (a claim, a modern header, a batch, a response, an odd field)
 * goes to the classifier. test/gateway/era.test.ts holds the two to the same answer.
 */
export function isClaimlessLegacyMessage(body: unknown, versionHeader: string | undefined): boolean {
  if (!isPlainObject(body)) return false;
  for (const key in body) if (key !== 'jsonrpc' && key !== 'id' && key !== 'method' && key !== 'params') return false;
  if (body['jsonrpc'] !== '2.0' || typeof body['method'] !== 'string') return false;
  const id = body['id'];
  if (id === undefined ? 'id' in body : typeof id !== 'string' && !Number.isSafeInteger(id)) return false;
  const params = body['params'];
  if (params !== undefined) {
    if (!isPlainObject(params)) return false;
    const meta = params['_meta'];
    if (meta !== undefined) {
      if (!isPlainObject(meta) || ENVELOPE_CLAIM in meta || meta[RELATED_TASK] !== undefined) return false;
      const token = meta['progressToken'];
      if (token !== undefined && typeof token !== 'string' && !Number.isSafeInteger(token)) return false;
    }
  }
  // A header naming any revision but a known 2025-era one is the classifier's to weigh.
  return versionHeader === undefined || isLegacyVersion(versionHeader);
}

function idOf(body: unknown): ErrorId {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/** Decodes a header value that may use the `=?base64?...?=` sentinel form; undefined when malformed. */
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

function mismatch(id: ErrorId, message: string): HttpError {
  return new HttpError(400, ErrorCode.HeaderMismatch, `Header mismatch: ${message}`, { id });
}

/**
 * The 2026-07-28 transport's checks of a request's headers against its body:
 * `MCP-Protocol-Version` and `Mcp-Method` present, the revision served, the
 * client capabilities declared, `Mcp-Name` present and equal to the body's name
 * or uri (possibly Base64), and every `Mcp-Param-*` value well-formed.
 */
function validateModernHeaders(headers: HeaderReader, message: WireMessage, revision: string): void {
  const id = (message.id ?? null) as ErrorId;
  if (!headers.has(Header.protocolVersion)) throw mismatch(id, 'the MCP-Protocol-Version header is required');
  if (!isModernVersion(revision)) {
    throw new HttpError(400, ErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version ${revision}; supported: ${MODERN_PROTOCOL_VERSIONS.join(', ')}`, {
      id,
      data: { supported: [...MODERN_PROTOCOL_VERSIONS], requested: revision },
    });
  }
  const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  const capabilities = meta?.[Meta.clientCapabilities];
  if (capabilities === null || typeof capabilities !== 'object' || Array.isArray(capabilities)) {
    throw new HttpError(400, ErrorCode.InvalidParams, `Invalid params: params._meta["${Meta.clientCapabilities}"] is required (an object; {} declares none)`, { id });
  }
  const method = headers.get(Header.method);
  if (method === null) throw mismatch(id, 'the Mcp-Method header is required');
  if (method !== message.method) throw mismatch(id, `Mcp-Method header value '${method}' does not match body value '${String(message.method)}'`);
  const field = NAMED_METHODS[message.method as string];
  if (field !== undefined) {
    const raw = headers.get(Header.name);
    if (raw === null) throw mismatch(id, `the Mcp-Name header is required for ${String(message.method)}`);
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) throw mismatch(id, 'the Mcp-Name header has invalid characters or a malformed Base64 value');
    const value = (message.params as Record<string, unknown> | undefined)?.[field];
    if (decoded !== value) throw mismatch(id, `Mcp-Name header value '${decoded}' does not match body value '${String(value)}'`);
  }
  headers.forEach((value, name) => {
    if (name.startsWith(Header.paramPrefix) && decodeHeaderValue(value) === undefined) {
      throw mismatch(id, `the ${name} header has invalid characters or a malformed Base64 value`);
    }
  });
}
