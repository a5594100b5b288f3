/**
 * What the gateway answers with. Web-standard `Response` objects cost several
 * allocations and a stream each, so the hot paths answer with a
 * {@link BytesReply} (status, headers and the body's bytes: written in one go by
 * the Node adapter) or a {@link StreamReply} (server-sent events written straight
 * to the socket); `Gateway.fetch` turns either into a `Response` for in-process
 * callers. A `Response` is still accepted where one is at hand.
 */

/** The body of a reply: text, bytes, or pieces of bytes in order. */
export type ReplyBody = string | Buffer | readonly Buffer[];

/** Byte length of a reply body. */
export function bodyLength(body: ReplyBody): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (Buffer.isBuffer(body)) return body.length;
  let n = 0;
  for (const piece of body as readonly Buffer[]) n += piece.length;
  return n;
}

/** A complete answer: status, headers (lower-case names) and the whole body. */
export class BytesReply {
  constructor(
    readonly status: number,
    readonly headers: Readonly<Record<string, string>>,
    readonly body: ReplyBody | null,
  ) {}

  /** The same answer as a web-standard Response. */
  toResponse(): Response {
    const body = this.body === null ? null : typeof this.body === 'string' ? this.body : Buffer.isBuffer(this.body) ? this.body : Buffer.concat(this.body as Buffer[]);
    return new Response(body, { status: this.status, headers: this.headers });
  }
}

/** Where a streamed answer goes: the client's socket (Node) or a ReadableStream (`fetch`). */
export interface StreamSink {
  /** Writes chunks in order, as one write where the transport allows. */
  write(chunks: readonly (string | Buffer)[]): void;
  /** Bytes written but not yet taken by the client (the Node sink adds what each unsent event costs besides). */
  readonly backlog: number;
  /** Ends the answer cleanly. */
  end(): void;
  /** Cuts the answer (the client is too slow, or the gateway gives up). */
  destroy(): void;
  /** Called once when the answer is over, whoever ended it. */
  onClose(listener: () => void): void;
}

/** A streamed answer (server-sent events): status and headers now, the body as it comes. */
export class StreamReply {
  constructor(
    readonly status: number,
    readonly headers: Readonly<Record<string, string>>,
    private readonly begin: (sink: StreamSink) => void,
  ) {}

  /** Starts writing the body to `sink`. Called once. */
  start(sink: StreamSink): void {
    this.begin(sink);
  }

  /** The same stream with `extra` headers added (an existing header wins). */
  withHeaders(extra: Readonly<Record<string, string>>): StreamReply {
    return new StreamReply(this.status, { ...extra, ...this.headers }, this.begin);
  }

  /** The same answer as a web-standard Response with a streamed body. */
  toResponse(): Response {
    let sink: WebStreamSink | undefined;
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          sink = new WebStreamSink(controller);
          // Through start(), so what observes a stream's end (metrics, a telemetry span) sees it on this path too.
          this.start(sink);
        },
        cancel: () => sink?.cancelled(),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 0 }),
    );
    return new Response(body, { status: this.status, headers: this.headers });
  }
}

/** A {@link StreamSink} over a ReadableStream's controller; its backlog is what the reader has not taken. */
class WebStreamSink implements StreamSink {
  private closed = false;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly controller: ReadableStreamDefaultController<Uint8Array>) {}

  get backlog(): number {
    return Math.max(0, -(this.controller.desiredSize ?? 0));
  }

  write(chunks: readonly (string | Buffer)[]): void {
    if (this.closed) return;
    try {
      for (const chunk of chunks) this.controller.enqueue(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    } catch {
      this.finish();
    }
  }

  end(): void {
    if (this.closed) return;
    try {
      this.controller.close();
    } catch {
      // already cancelled by the reader
    }
    this.finish();
  }

  destroy(): void {
    if (this.closed) return;
    try {
      this.controller.error(new Error('stream dropped by the gateway'));
    } catch {
      // already gone
    }
    this.finish();
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.listeners.push(listener);
  }

  cancelled(): void {
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.listeners.splice(0)) listener();
  }
}

/** Any answer of the gateway. */
export type Reply = BytesReply | StreamReply | Response;

/** Turns any reply into a web-standard Response. */
export function toResponse(reply: Reply): Response {
  return reply instanceof Response ? reply : reply.toResponse();
}

/** Headers of every JSON answer. */
const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

/** The headers of JSON answers that add `headers`, made once per such object (a session's, say). */
const jsonHeadersWith = new WeakMap<Readonly<Record<string, string>>, Readonly<Record<string, string>>>();

/** A JSON answer. */
export function jsonReply(body: ReplyBody, status = 200, headers?: Readonly<Record<string, string>>): BytesReply {
  if (headers === undefined) return new BytesReply(status, JSON_HEADERS, body);
  let merged = jsonHeadersWith.get(headers);
  if (merged === undefined) {
    merged = { ...JSON_HEADERS, ...headers };
    jsonHeadersWith.set(headers, merged);
  }
  return new BytesReply(status, merged, body);
}

/** An answer with no body (202 Accepted, 200 to DELETE). */
export function emptyReply(status: number, headers: Readonly<Record<string, string>> = {}): BytesReply {
  return new BytesReply(status, headers, null);
}

/** The same reply with `extra` headers added (an existing header of the reply wins). */
export function withHeaders(reply: Reply, extra: Readonly<Record<string, string>>): Reply {
  if (reply instanceof BytesReply) return new BytesReply(reply.status, { ...extra, ...reply.headers }, reply.body);
  if (reply instanceof StreamReply) return reply.withHeaders(extra);
  const headers = new Headers(reply.headers);
  for (const [name, value] of Object.entries(extra)) if (!headers.has(name)) headers.set(name, value);
  return new Response(reply.body, { status: reply.status, statusText: reply.statusText, headers });
}

/** The status of any reply. */
export function statusOf(reply: Reply): number {
  return reply.status;
}
