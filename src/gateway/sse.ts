const encoder = new TextEncoder();

/** Headers of every SSE response: no caching, no proxy buffering (nginx, ALB). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

/** Options of {@link SseStream}. */
export interface SseStreamOptions {
  /** Interval of `: keep-alive` comments, so idle-timeout proxies keep the stream. 0 disables. */
  readonly keepAliveMs: number;
  /** Called once when the stream ends, whoever ended it. */
  readonly onClose?: () => void;
}

/**
 * A server-sent-events response body. Writes never throw: after the client went
 * away they are dropped and `closed` is true.
 */
export class SseStream {
  /** The response body. */
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private readonly onClose: (() => void) | undefined;

  constructor(options: SseStreamOptions) {
    this.onClose = options.onClose;
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
      cancel: () => this.finish(false),
    });
    if (options.keepAliveMs > 0) {
      this.timer = setInterval(() => this.write(': keep-alive\n\n'), options.keepAliveMs);
      this.timer.unref();
    }
  }

  /** True once the stream ended. */
  get closed(): boolean {
    return this.ended;
  }

  /** Sends one event whose data is `data` (one line of JSON). */
  send(data: string, event?: string): boolean {
    return this.write(event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`);
  }

  /** Ends the stream cleanly. */
  close(): void {
    this.finish(true);
  }

  private write(text: string): boolean {
    if (this.ended) return false;
    try {
      this.controller.enqueue(encoder.encode(text));
      return true;
    } catch {
      this.finish(false);
      return false;
    }
  }

  private finish(closeController: boolean): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    if (closeController) {
      try {
        this.controller.close();
      } catch {
        // already cancelled by the reader
      }
    }
    this.onClose?.();
  }
}
