import { SSE_HEADERS, SseStream } from './sse.js';

/**
 * The HTTP answer to one POST that carries a request. It answers with plain JSON
 * when the final message is the first thing to send (cheapest for clients), and
 * switches to an SSE stream as soon as a notification has to go out first, or when
 * the answer takes longer than a keep-alive interval (so idle-timeout proxies keep
 * the connection).
 */
export class LazyResponse {
  /** The HTTP response, once decided. */
  readonly response: Promise<Response>;
  private resolve!: (response: Response) => void;
  private sse: SseStream | undefined;
  private decided = false;
  private done = false;
  private readonly switchTimer: NodeJS.Timeout | undefined;

  /** Called once when the client goes away before the final message. */
  onClientGone: (() => void) | undefined;

  constructor(
    private readonly headers: Record<string, string>,
    private readonly keepAliveMs: number,
  ) {
    this.response = new Promise((resolve) => (this.resolve = resolve));
    if (keepAliveMs > 0) {
      this.switchTimer = setTimeout(() => this.toSse(), keepAliveMs);
      this.switchTimer.unref();
    }
  }

  /** True once the answer is an SSE stream. */
  get streaming(): boolean {
    return this.sse !== undefined;
  }

  /** True once the final message went out or the client left. */
  get finished(): boolean {
    return this.done;
  }

  /** Sends a message that is not the last one: the answer becomes an SSE stream. */
  event(line: string): boolean {
    if (this.done) return false;
    this.toSse();
    return this.sse?.send(line) ?? false;
  }

  /** Sends the last message (JSON with `status` if nothing went out yet) and ends. */
  final(body: string, status = 200): void {
    if (this.done) return;
    this.done = true;
    if (this.switchTimer) clearTimeout(this.switchTimer);
    if (this.sse) {
      this.sse.send(body);
      this.sse.close();
      return;
    }
    this.decided = true;
    this.resolve(new Response(body, { status, headers: { 'content-type': 'application/json', ...this.headers } }));
  }

  /** Ends without a final message (an empty stream if nothing went out yet). */
  end(): void {
    if (this.done) return;
    this.toSse();
    this.done = true;
    this.sse?.close();
  }

  /** Switches to SSE now (for streams that stay open, like subscriptions/listen). */
  toSse(): void {
    if (this.decided || this.done) return;
    this.decided = true;
    if (this.switchTimer) clearTimeout(this.switchTimer);
    this.sse = new SseStream({
      keepAliveMs: this.keepAliveMs,
      onClose: () => {
        if (this.done) return;
        this.done = true;
        this.onClientGone?.();
      },
    });
    this.resolve(new Response(this.sse.body, { status: 200, headers: { ...SSE_HEADERS, ...this.headers } }));
  }

  /** The client went away before anything was sent (its request was aborted). */
  abandon(): void {
    if (this.done) return;
    this.done = true;
    if (this.switchTimer) clearTimeout(this.switchTimer);
    if (!this.decided) {
      this.decided = true;
      this.resolve(new Response(null, { status: 499 }));
    }
    this.sse?.close();
    this.onClientGone?.();
  }
}
