import type { AuthInfo, JSONRPCMessage, Transport } from '@modelcontextprotocol/server';
import type { SseWriter } from '../http/sse.js';

/**
 * The server side of one HTTP+SSE (2024-11-05) session of a virtual server, as
 * an SDK {@link Transport}: what the SDK server sends goes out as `message`
 * events on the session's one stream (through the gateway's {@link SseWriter},
 * with its buffer limit and keep-alives), and what the client POSTs to
 * `/messages?sessionId=...` comes in through {@link receive}. The SDK v2 ships
 * no server transport of this era, and the gateway's own one relays to a child,
 * so this is the small piece in between.
 */
export class SseSessionTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: ((message: JSONRPCMessage, extra?: { authInfo?: AuthInfo }) => void) | undefined;
  private ended = false;

  constructor(
    /** The session's stream (its first event, `endpoint`, is sent by whoever opened it). */
    private readonly stream: SseWriter,
    /** The session id the client names in its POSTs. */
    readonly sessionId: string,
    /** Who the session belongs to, handed to the SDK with every message. */
    private readonly authInfo: AuthInfo,
  ) {
    stream.onClose(() => this.finish());
  }

  /** Nothing to start: the stream was opened by the client's GET. */
  async start(): Promise<void> {}

  /** One message to the client, as a `message` event. */
  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.stream.send(JSON.stringify(message), 'message')) throw new Error(`HTTP+SSE session ${this.sessionId}: the stream is closed`);
  }

  /** Ends the stream and the session. */
  async close(): Promise<void> {
    this.stream.close();
    this.finish();
  }

  /** One message the client POSTed. */
  receive(message: JSONRPCMessage): void {
    if (this.ended) throw new Error(`HTTP+SSE session ${this.sessionId} has ended`);
    this.onmessage?.(message, { authInfo: this.authInfo });
  }

  /** True once the stream ended, whoever ended it. */
  get closed(): boolean {
    return this.ended;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.onclose?.();
  }
}
