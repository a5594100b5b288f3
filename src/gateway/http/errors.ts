import { errorText, type JsonRpcId } from './jsonrpc.js';

/**
 * An HTTP-level refusal: status, a JSON-RPC error body, and extra headers. Thrown
 * anywhere in request handling and turned into a response by the one central
 * handler in `app.ts`.
 */
export class HttpError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** JSON-RPC error code of the body. */
  readonly rpcCode: number;
  /** Extra response headers (Retry-After, WWW-Authenticate, Allow...). */
  readonly headers: Readonly<Record<string, string>>;
  /** Id of the request being refused, when known. */
  readonly id: JsonRpcId | null;
  /** Send the message as plain text instead of a JSON-RPC body. */
  readonly plain: boolean;
  /** `error.data` of the JSON-RPC body. */
  readonly data: unknown;

  constructor(
    status: number,
    rpcCode: number,
    message: string,
    options: { headers?: Record<string, string>; id?: JsonRpcId | null; plain?: boolean; data?: unknown; cause?: unknown } = {},
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

  /** The response a client gets. */
  toResponse(): Response {
    if (this.plain) {
      return new Response(this.message, {
        status: this.status,
        headers: { 'content-type': 'text/plain; charset=utf-8', ...this.headers },
      });
    }
    return new Response(errorText(this.id, this.rpcCode, this.message, this.data), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
    });
  }
}
