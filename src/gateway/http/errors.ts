import type { Logger } from '../../log.js';
import { ErrorCode } from '../../protocol.js';
import { BytesReply, jsonReply } from './reply.js';

/**
 * HTTP-level refusals, and the one central handler every error path of the
 * gateway goes through: a known error becomes its status and a JSON-RPC error
 * body; anything else is logged and answered with a generic 500, never a stack.
 */

/** A JSON-RPC id as it may appear in an error body. */
export type ErrorId = string | number | null;

/** An HTTP-level refusal: status, a JSON-RPC error body, and extra headers. Thrown anywhere in request handling. */
export class HttpError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** JSON-RPC error code of the body. */
  readonly rpcCode: number;
  /** Extra response headers (Retry-After, WWW-Authenticate, Allow...). */
  readonly headers: Readonly<Record<string, string>>;
  /** Id of the request being refused, when known. */
  readonly id: ErrorId;
  /** Send the message as plain text instead of a JSON-RPC body. */
  readonly plain: boolean;
  /** `error.data` of the JSON-RPC body. */
  readonly data: unknown;

  constructor(
    status: number,
    rpcCode: number,
    message: string,
    options: { headers?: Record<string, string>; id?: ErrorId; plain?: boolean; data?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.rpcCode = rpcCode;
    this.headers = options.headers ?? {};
    this.id = options.id ?? null;
    this.plain = options.plain ?? false;
    this.data = options.data;
  }

  /** The answer a client gets. */
  toReply(): BytesReply {
    if (this.plain) {
      return new BytesReply(this.status, { 'content-type': 'text/plain; charset=utf-8', ...this.headers }, this.message);
    }
    return jsonReply(errorText(this.id, this.rpcCode, this.message, this.data), this.status, this.headers);
  }

  /** The answer as a web-standard Response. */
  toResponse(): Response {
    return this.toReply().toResponse();
  }
}

/** A JSON-RPC error response as wire text. */
export function errorText(id: ErrorId, code: number, message: string, data?: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } });
}

/** 405 with the methods that are allowed. */
export function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, ErrorCode.InvalidRequest, `Method Not Allowed; use ${allow}`, { headers: { allow } });
}

/** 413 for a body over `gateway.maxBodyBytes`. */
export function payloadTooLarge(limit: number): HttpError {
  return new HttpError(413, ErrorCode.MessageTooLarge, `Payload Too Large: the body exceeds ${limit} bytes (gateway.maxBodyBytes)`, {
    headers: { connection: 'close' },
  });
}

/** 404 for a session id that is unknown, ended, or another principal's. */
export function sessionNotFound(id: ErrorId = null): HttpError {
  return new HttpError(404, ErrorCode.SessionNotFound, 'Session not found', { id });
}

/**
 * The `Mcp-Session-Id` of a request to a legacy session, or 400 when it has none
 * (the transport's SHOULD): a 404 would tell the client its session ended.
 */
export function requiredSessionId(id: string | null): string {
  if (id === null || id === '') throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: Mcp-Session-Id header is required (send initialize first)');
  return id;
}

/** 503 with Retry-After for load (queue, caps, draining). */
export function overloaded(message: string, retryAfterSeconds: number, extra: Record<string, string> = {}, id: ErrorId = null): HttpError {
  return new HttpError(503, ErrorCode.Overloaded, `Service Unavailable: ${message}`, { id, headers: { 'retry-after': String(retryAfterSeconds), ...extra } });
}

/** 503 while the gateway drains. */
export function draining(id: ErrorId = null): HttpError {
  return overloaded('the gateway is shutting down; retry on another replica', 1, { connection: 'close' }, id);
}

/**
 * The central error handler: known errors map to their status and body;
 * unknown ones are logged with their stack and answered with a generic 500.
 */
export function errorReply(error: unknown, logger: Logger, fields: Record<string, unknown> = {}): BytesReply {
  if (error instanceof HttpError) return error.toReply();
  logger.error('unexpected error while handling a request', {
    ...fields,
    error: error instanceof Error ? error.message : String(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
  return jsonReply(errorText(null, ErrorCode.InternalError, 'Internal error'), 500);
}
