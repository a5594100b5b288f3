import type { Logger } from '../../log.js';
import { BytesReply, jsonReply, StreamReply, type Reply, type ReplyBody, type StreamSink } from './reply.js';

/**
 * Server-sent events with bounded memory: events wait in a buffer only while the
 * answer is not yet on the socket, and a client that stops reading is dropped
 * once more than `maxBufferBytes` wait for it (logged with the reason), instead
 * of the gateway holding without bound what a child keeps sending.
 */

/** Headers of every SSE answer: no caching, no proxy buffering (nginx, ALB). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

/** Settings every SSE stream of the gateway shares. */
export interface SseSettings {
  /** Interval of `: keep-alive` comments, so idle-timeout proxies keep the stream. 0 disables. */
  readonly keepAliveMs: number;
  /** Bytes that may wait unsent for one client before its stream is dropped. */
  readonly maxBufferBytes: number;
  /** Where a dropped stream is reported. */
  readonly logger: Logger;
}

const EVENT_END = Buffer.from('\n\n');
const DATA = Buffer.from('data: ');
const KEEP_ALIVE = ': keep-alive\n\n';

/** One SSE stream. Writes never throw: after the stream ended they are dropped and `closed` is true. */
export class SseWriter {
  private sink: StreamSink | undefined;
  private pending: (string | Buffer)[] = [];
  private pendingBytes = 0;
  private ended = false;
  private endRequested = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly settings: SseSettings,
    /** What this stream is, for the log line when it is dropped. */
    private readonly label: Record<string, unknown> = {},
  ) {
    if (settings.keepAliveMs > 0) {
      this.timer = setInterval(() => this.writeRaw([KEEP_ALIVE]), settings.keepAliveMs);
      this.timer.unref();
    }
  }

  /** True once the stream ended (cleanly, dropped, or by the client). */
  get closed(): boolean {
    return this.ended;
  }

  /** Calls `listener` once when the stream ends, whoever ended it. */
  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.closeListeners.push(listener);
  }

  /** Sends one event whose data is one line of JSON (text or bytes in pieces). Returns false once the stream ended. */
  send(data: ReplyBody, event?: string): boolean {
    const head = event === undefined ? DATA : `event: ${event}\ndata: `;
    if (typeof data === 'string' || Buffer.isBuffer(data)) return this.writeRaw([head, data, EVENT_END]);
    return this.writeRaw([head, ...(data as readonly Buffer[]), EVENT_END]);
  }

  /** Ends the stream cleanly (after what is buffered). */
  close(): void {
    if (this.ended) return;
    if (!this.sink) {
      this.endRequested = true;
      return;
    }
    this.sink.end();
    this.finish();
  }

  /** The answer that carries this stream. */
  reply(status: number, headers: Readonly<Record<string, string>>): StreamReply {
    return new StreamReply(status, { ...SSE_HEADERS, ...headers }, (sink) => this.attach(sink));
  }

  private attach(sink: StreamSink): void {
    if (this.sink || (this.ended && !this.endRequested)) {
      sink.end();
      return;
    }
    this.sink = sink;
    sink.onClose(() => this.finish());
    if (this.pending.length > 0) sink.write(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.endRequested) {
      sink.end();
      this.finish();
    }
  }

  private writeRaw(chunks: readonly (string | Buffer)[]): boolean {
    if (this.ended || this.endRequested) return false;
    const sink = this.sink;
    const waiting = sink ? sink.backlog : this.pendingBytes;
    if (waiting > this.settings.maxBufferBytes) {
      this.settings.logger.warn('SSE stream dropped: the client does not read what it is sent', {
        ...this.label,
        bufferedBytes: waiting,
        maxStreamBufferBytes: this.settings.maxBufferBytes,
      });
      sink?.destroy();
      this.finish();
      return false;
    }
    if (sink) {
      sink.write(chunks);
    } else {
      for (const chunk of chunks) {
        this.pending.push(chunk);
        this.pendingBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      }
    }
    return true;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.pending = [];
    if (this.timer) clearInterval(this.timer);
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

/**
 * The answer to one POST that carries a request. Plain JSON when the final
 * message is the first thing to send (cheapest for clients); an SSE stream as
 * soon as a notification or request has to go out first, or when the answer takes
 * longer than a keep-alive interval (so idle-timeout proxies keep the connection).
 */
export class PendingReply {
  /** The answer, once decided. */
  readonly reply: Promise<Reply>;
  /** Called once when the client goes away before the final message. */
  onClientGone: (() => void) | undefined;
  private resolve!: (reply: Reply) => void;
  private sse: SseWriter | undefined;
  private decided = false;
  private done = false;
  private readonly doneListeners: (() => void)[] = [];
  /** When the answer began (ms since epoch), for the switch to SSE when it is slow. */
  readonly startedAt = Date.now();

  constructor(
    private readonly headers: Readonly<Record<string, string>>,
    private readonly settings: SseSettings,
    private readonly label: Record<string, unknown> = {},
  ) {
    this.reply = new Promise((resolve) => (this.resolve = resolve));
    if (settings.keepAliveMs > 0) watchSlow(this, settings.keepAliveMs);
  }

  /** True once the answer is an SSE stream. */
  get streaming(): boolean {
    return this.sse !== undefined;
  }

  /** True once the final message went out or the client left. */
  get finished(): boolean {
    return this.done;
  }

  /** Calls `listener` once when the answer is over: final message sent, ended, or the client gone. */
  onDone(listener: () => void): void {
    if (this.done) listener();
    else this.doneListeners.push(listener);
  }

  private markDone(): void {
    if (this.done) return;
    this.done = true;
    unwatchSlow(this, this.settings.keepAliveMs);
    for (const listener of this.doneListeners.splice(0)) listener();
  }

  /** Sends a message that is not the last one: the answer becomes an SSE stream. Returns false when it could not. */
  event(data: ReplyBody): boolean {
    if (this.done) return false;
    this.toSse();
    return this.sse?.send(data) ?? false;
  }

  /** Sends the last message (JSON with `status` if nothing went out yet) and ends. */
  final(data: ReplyBody, status = 200): void {
    if (this.done) return;
    this.markDone();
    if (this.sse) {
      this.sse.send(data);
      this.sse.close();
      return;
    }
    this.decided = true;
    this.resolve(jsonReply(data, status, this.headers));
  }

  /** Ends without a final message (an empty stream if nothing went out yet). */
  end(): void {
    if (this.done) return;
    this.toSse();
    this.markDone();
    this.sse?.close();
  }

  /** Switches to SSE now (for streams that stay open, like subscriptions/listen). */
  toSse(): void {
    if (this.decided || this.done) return;
    this.decided = true;
    unwatchSlow(this, this.settings.keepAliveMs);
    const sse = new SseWriter(this.settings, this.label);
    this.sse = sse;
    sse.onClose(() => {
      if (this.done) return;
      this.markDone();
      this.onClientGone?.();
    });
    this.resolve(sse.reply(200, this.headers));
  }

  /** The client went away before anything was sent (its request was aborted). */
  abandon(): void {
    if (this.done) return;
    this.markDone();
    if (!this.decided) {
      this.decided = true;
      this.resolve(new BytesReply(499, {}, null));
    }
    this.sse?.close();
    this.onClientGone?.();
  }
}

/**
 * Answers that may turn slow, by keep-alive interval: one sweep per interval
 * switches those older than it to SSE (instead of a timer per request).
 */
const slowWatches = new Map<number, { readonly replies: Set<PendingReply>; timer: NodeJS.Timeout | undefined }>();

function watchSlow(reply: PendingReply, keepAliveMs: number): void {
  let watch = slowWatches.get(keepAliveMs);
  if (!watch) {
    watch = { replies: new Set(), timer: undefined };
    slowWatches.set(keepAliveMs, watch);
  }
  watch.replies.add(reply);
  if (watch.timer === undefined) {
    const w = watch;
    // Checked four times per interval: an answer switches between 1 and 1.25 intervals after it began.
    w.timer = setInterval(() => {
      const cutoff = Date.now() - keepAliveMs;
      for (const r of [...w.replies]) if (r.startedAt <= cutoff) r.toSse();
      if (w.replies.size === 0 && w.timer !== undefined) {
        clearInterval(w.timer);
        w.timer = undefined;
      }
    }, Math.max(1, keepAliveMs / 4));
    w.timer.unref();
  }
}

function unwatchSlow(reply: PendingReply, keepAliveMs: number): void {
  slowWatches.get(keepAliveMs)?.replies.delete(reply);
}
