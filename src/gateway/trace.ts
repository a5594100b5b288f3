import { randomBytes } from 'node:crypto';

/**
 * W3C Trace Context (`traceparent`, https://www.w3.org/TR/trace-context/) for the
 * gateway: parse the header a client sent, and carry it to the child inside the
 * JSON-RPC message as `params._meta.traceparent`, where MCP servers look for it.
 */

/** A parsed, valid `traceparent`. */
export interface TraceContext {
  /** Version as sent (two lower-case hex digits, never `ff`). */
  readonly version: string;
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero: the caller's span. */
  readonly parentId: string;
  /** Two lower-case hex digits of trace flags. */
  readonly flags: string;
  /** Whether the caller sampled (flag bit 0). */
  readonly sampled: boolean;
}

const TRACEPARENT_PREFIX = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_PARENT = '0'.repeat(16);

/**
 * Parses a `traceparent` value; undefined for anything invalid (which the spec
 * says to ignore). Versions above 00 are read by their first four fields, as the
 * spec asks, so future versions still propagate.
 */
export function parseTraceparent(value: string | null | undefined): TraceContext | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  const match = TRACEPARENT_PREFIX.exec(text);
  if (match === null) return undefined;
  const [, version = '', traceId = '', parentId = '', flags = ''] = match;
  if (version === 'ff') return undefined;
  // Version 00 is exactly 55 characters; later versions may append fields after a dash.
  if (version === '00' ? text.length !== 55 : text.length > 55 && text[55] !== '-') return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_PARENT) return undefined;
  return { version, traceId, parentId, flags, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** Formats a context as a version-00 `traceparent` (the only version this gateway emits). */
export function formatTraceparent(context: Pick<TraceContext, 'traceId' | 'parentId'> & { readonly flags?: string; readonly sampled?: boolean }): string {
  const flags = context.flags ?? (context.sampled ? '01' : '00');
  return `00-${context.traceId}-${context.parentId}-${flags}`;
}

/** A new root `traceparent` (random trace and span ids), for requests that came without one. */
export function newTraceparent(sampled = false, random: (size: number) => Buffer = randomBytes): string {
  const id = (size: number, zero: string): string => {
    let hex = random(size).toString('hex');
    while (hex === zero) hex = random(size).toString('hex');
    return hex;
  };
  return formatTraceparent({ traceId: id(16, ZERO_TRACE), parentId: id(8, ZERO_PARENT), sampled });
}

/** Options of {@link withTraceparent}. */
export interface WithTraceparentOptions {
  /** A `tracestate` to carry along as `_meta.tracestate` (only when traceparent is set). @default none */
  readonly tracestate?: string | null;
  /** Replace a valid `_meta.traceparent` the message already carries. @default false (the message's own context is more specific) */
  readonly overwrite?: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withTraceparentOne<T>(message: T, traceparent: string, options: WithTraceparentOptions): T {
  // Only requests and notifications have params; responses pass through.
  if (!isRecord(message) || typeof message['method'] !== 'string') return message;
  const params = message['params'];
  if (params !== undefined && !isRecord(params)) return message; // positional params have no _meta
  const meta = params?.['_meta'];
  if (meta !== undefined && !isRecord(meta)) return message;
  if (!options.overwrite && parseTraceparent(typeof meta?.['traceparent'] === 'string' ? meta['traceparent'] : undefined) !== undefined) {
    return message;
  }
  const tracestate = options.tracestate;
  const validState = typeof tracestate === 'string' && tracestate.length <= 512 && /^[\x20-\x7E]*$/.test(tracestate) && tracestate.trim() !== '';
  const nextMeta: Record<string, unknown> = { ...meta, traceparent };
  if (validState) nextMeta['tracestate'] = tracestate.trim();
  else delete nextMeta['tracestate'];
  return { ...message, params: { ...params, _meta: nextMeta } } as T;
}

/**
 * Returns a copy of a JSON-RPC request or notification (or a batch of them)
 * whose `params._meta.traceparent` is `traceparent`, normalised to version 00.
 * The input is never mutated. Returned unchanged: an invalid or missing
 * traceparent, responses, positional (array) params, and messages that already
 * carry a valid traceparent unless `overwrite` is set.
 */
export function withTraceparent<T>(message: T, traceparent: string | null | undefined, options: WithTraceparentOptions = {}): T {
  const context = parseTraceparent(traceparent);
  if (context === undefined) return message;
  const normalised = formatTraceparent(context);
  if (Array.isArray(message)) return message.map((m: unknown) => withTraceparentOne(m, normalised, options)) as T;
  return withTraceparentOne(message, normalised, options);
}

/**
 * The messages of a request with its `traceparent` (and `tracestate`) header in
 * their `_meta`: the very same array when the header is absent or invalid, so the
 * caller knows it may relay the request's bytes as they are.
 */
export function traceMessages<T>(headers: { get(name: string): string | null }, messages: readonly T[]): readonly T[] {
  const header = headers.get('traceparent');
  if (header === null) return messages;
  const traced = withTraceparent([...messages], header, { tracestate: headers.get('tracestate') });
  return traced.every((m, i) => m === messages[i]) ? messages : traced;
}
