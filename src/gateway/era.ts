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
  // The body's shape, checked once for both shortcuts below.
  const meta = strictMessageMeta(body);
  if (isClaimlessLegacyMeta(meta, versionHeader)) {
    const message = body as WireMessage;
    return { era: 'legacy', messages: [message], batch: false, initialize: message.method === 'initialize' };
  }
  const methodHeader = headers.get(Header.method) ?? undefined;
  const key = modernVerdictKey(body as { method: string; id?: unknown }, meta, versionHeader, methodHeader);
  const known = key === undefined ? undefined : modernVerdicts.get(key);
  if (known !== undefined) {
    const message = body as WireMessage;
    validateModernHeaders(headers, message, known);
    return { era: 'modern', message, revision: known };
  }
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
    if (outcome.messageKind === 'request') {
      validateModernHeaders(headers, message, revision);
      if (key !== undefined && message === body) rememberModern(key, revision);
    }
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
 * The `params._meta` of a single message of the SDK's strict `JSONRPCRequest` or
 * `JSONRPCNotification` shape, apart from what `_meta` holds: `null` when it has
 * none, undefined when the body is not of that shape (a batch, a response, an
 * odd field or id).
 */
function strictMessageMeta(body: unknown): Record<string, unknown> | null | undefined {
  if (!isPlainObject(body)) return undefined;
  for (const key in body) if (key !== 'jsonrpc' && key !== 'id' && key !== 'method' && key !== 'params') return undefined;
  if (body['jsonrpc'] !== '2.0' || typeof body['method'] !== 'string') return undefined;
  const id = body['id'];
  if (id === undefined ? 'id' in body : typeof id !== 'string' && !Number.isSafeInteger(id)) return undefined;
  const params = body['params'];
  if (params === undefined) return null;
  if (!isPlainObject(params)) return undefined;
  const meta = params['_meta'];
  if (meta === undefined) return null;
  return isPlainObject(meta) ? meta : undefined;
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
  return isClaimlessLegacyMeta(strictMessageMeta(body), versionHeader);
}

/** {@link isClaimlessLegacyMessage} on the result of {@link strictMessageMeta}. */
function isClaimlessLegacyMeta(meta: Record<string, unknown> | null | undefined, versionHeader: string | undefined): boolean {
  if (meta === undefined) return false;
  if (meta !== null) {
    if (ENVELOPE_CLAIM in meta || meta[RELATED_TASK] !== undefined) return false;
    const token = meta['progressToken'];
    if (token !== undefined && typeof token !== 'string' && !Number.isSafeInteger(token)) return false;
  }
  // A header naming any revision but a known 2025-era one is the classifier's to weigh.
  return versionHeader === undefined || isLegacyVersion(versionHeader);
}

/**
 * The SDK classifier's "modern request" verdicts, by what they rest on. For a
 * request of the strict shape, the classifier reads nothing but its method, its
 * `_meta`, and the `MCP-Protocol-Version` and `Mcp-Method` headers; a client sends
 * the same `_meta` envelope with every request, so its verdict is taken once and
 * then looked up (the classifier's schema validation was the largest cost of a
 * 2026-07-28 request, and most of what it left for the garbage collector).
 * Bounded: when full it starts over.
 */
const modernVerdicts = new Map<string, string>();
const MAX_MODERN_VERDICTS = 256;
/** A `_meta` longer than this (as JSON) is classified each time, not remembered. */
const MAX_REMEMBERED_META_CHARS = 2048;
/** A `_meta` nested deeper than this is classified each time, not remembered. */
const MAX_REMEMBERED_META_DEPTH = 32;

/**
 * The key of a request's verdict: undefined unless the body is a request of the
 * strict shape (`meta` from {@link strictMessageMeta}) whose `_meta` claims a revision and reads back from JSON as the
 * same value (no non-finite number or -0, which JSON cannot tell apart from
 * `null` and 0).
 */
function modernVerdictKey(
  body: { readonly method: string; readonly id?: unknown },
  meta: Record<string, unknown> | null | undefined,
  versionHeader: string | undefined,
  methodHeader: string | undefined,
): string | undefined {
  if (!meta || !(ENVELOPE_CLAIM in meta) || body.id === undefined) return undefined;
  if (!readsBackExactly(meta, 0)) return undefined;
  // Without a replacer: JSON.stringify's fast path, several times quicker on the envelope every request carries.
  const json = JSON.stringify(meta);
  if (json.length > MAX_REMEMBERED_META_CHARS) return undefined;
  // Header values cannot hold NUL; \u0001 stands for an absent header.
  return `${body.method}\u0000${versionHeader ?? '\u0001'}\u0000${methodHeader ?? '\u0001'}\u0000${json}`;
}

/**
 * Whether JSON gives `value` back as it is: no non-finite number or -0 anywhere
 * in it (a parsed body holds nothing else JSON cannot say), and no deeper than
 * a `_meta` worth remembering.
 */
function readsBackExactly(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (value === null || typeof value !== 'object') return true;
  if (depth > MAX_REMEMBERED_META_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!readsBackExactly(item, depth + 1)) return false;
    return true;
  }
  for (const key in value) if (!readsBackExactly((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

function rememberModern(key: string, revision: string): void {
  if (modernVerdicts.size >= MAX_MODERN_VERDICTS) modernVerdicts.clear();
  modernVerdicts.set(key, revision);
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
