import type { Logger } from '../../log.js';
import { ErrorCode, forbidsBatches, isLegacyVersion } from '../../protocol.js';
import type { JsonRpcId, WireMessage, WireText } from '../../upstream/channel.js';
import { errorText, HttpError } from '../http/errors.js';
import { emptyReply, type Reply } from '../http/reply.js';
import { PendingReply, SseWriter, type SseSettings } from '../http/sse.js';
import type { CallerCredentials } from '../credentials/caller-credentials.js';
import type { SignalSource } from '../http/request.js';
import type { LegacyTransport, RegisteredSession } from './registry.js';

/**
 * A legacy (2024-11-05 .. 2025-11-25) client session, on either legacy
 * transport: Streamable HTTP (a POST per message, each answered as JSON or as an
 * SSE stream, plus an optional GET stream) or HTTP+SSE (one long GET stream
 * carries everything; messages arrive by POST /messages). What serves the
 * session is a {@link SessionBackend}: a child channel (its own or a shared one)
 * or the bridge to a modern server; this class only does the transport.
 */

/** How long the client has before a server-to-client request it never answered is forgotten. */
const SERVER_REQUEST_TTL_MS = 10 * 60 * 1000;
/** How many messages a server may say with no stream open before the oldest are dropped (and no more bytes than a stream may hold). */
const BACKLOG_LIMIT = 200;

/**
 * What a server says while the client has no stream open, kept for the next
 * stream: at most {@link BACKLOG_LIMIT} messages and the bytes one stream may
 * hold (`gateway.limits.maxStreamBufferBytes`), the oldest dropped first. A
 * run of drops is logged once.
 */
class Backlog {
  private texts: WireText[] = [];
  private bytes = 0;
  private dropping = false;

  constructor(
    private readonly maxBytes: number,
    private readonly logger: Logger,
  ) {}

  push(text: WireText): void {
    this.texts.push(text);
    this.bytes += sizeOf(text);
    let dropped = 0;
    // The newest message stays whatever its size: the stream it goes to applies its own limit.
    while (this.texts.length > 1 && (this.texts.length > BACKLOG_LIMIT || this.bytes > this.maxBytes)) {
      this.bytes -= sizeOf(this.texts.shift() as WireText);
      dropped++;
    }
    if (dropped > 0 && !this.dropping) {
      this.dropping = true;
      this.logger.warn('no stream open for server messages; the oldest were dropped', { limit: BACKLOG_LIMIT, maxStreamBufferBytes: this.maxBytes });
    }
  }

  /** Everything kept, for a stream that opens; empty after. */
  take(): WireText[] {
    const texts = this.texts;
    this.texts = [];
    this.bytes = 0;
    this.dropping = false;
    return texts;
  }
}

/** Size of a message in memory, near enough for a bound: characters of a string, bytes of pieces. */
function sizeOf(text: WireText): number {
  if (typeof text === 'string') return text.length;
  let bytes = 0;
  for (const piece of text) bytes += piece.length;
  return bytes;
}

/** Which client capability a server-to-client request needs. */
export const CAPABILITY_FOR_METHOD: Readonly<Record<string, string>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** Where what comes back for one client request goes. */
export interface Delivery {
  /** The client's id of the request. */
  readonly clientId: JsonRpcId;
  /** The final answer (its id already the client's). */
  response(text: WireText): void;
  /** A message about the request before its answer: progress, a log line, a server-to-client request. */
  event(text: WireText): void;
  /** Fails the request with a JSON-RPC error. */
  failed(code: number, message: string): void;
  /** Set by the backend: stops the request at the server (the client cancelled it). */
  cancel?: (reason: string) => void;
  /**
   * Set by the backend: the client stopped waiting (it closed its POST). Not a
   * cancellation: the server finishes the request and its answer is dropped, but
   * the request no longer holds a place in the queue in front of the child.
   */
  clientGone?: () => void;
}

/** A server-to-client request waiting for the client's answer. */
export interface PendingServerRequest {
  /** Answers the server. */
  answer(message: WireMessage): void;
}

/** What the transport needs of whatever serves a session. */
export interface SessionBackend {
  /** How it is served. */
  readonly servedBy: 'own-child' | 'shared-child' | 'bridge';
  /** Sends a client request; what comes back goes to `delivery`. May throw an HttpError before sending (queue full). */
  request(message: WireMessage, raw: Buffer | undefined, delivery: Delivery, signal: SignalSource | undefined): Promise<void>;
  /** Sends a client notification. */
  clientNotification(message: WireMessage, raw: Buffer | undefined): void;
  /** Ends what the backend holds (its own child stops). */
  close(reason: string): Promise<void>;
}

/** What a backend tells its session. */
export interface SessionEvents {
  /** A message of the server that belongs to no request of the client (to the GET or HTTP+SSE stream). */
  unsolicited(text: WireText): void;
  /** A server-to-client request: the session sends it and routes the client's answer back through `pending`. */
  serverRequest(id: string, method: string, text: string, delivery: Delivery | undefined, pending: PendingServerRequest): void;
  /** The server is gone for good: the session ends with this message to the client. */
  ended(message: string): void;
}

/** Settings a session needs from the gateway. */
export interface LegacySessionSettings {
  /** The session id. */
  readonly id: string;
  /** Server name. */
  readonly server: string;
  /** Transport. */
  readonly transport: LegacyTransport;
  /** Principal that opened it. */
  readonly owner: string;
  /** SSE keep-alive and buffer limit. */
  readonly sse: SseSettings;
  /** Logger. */
  readonly logger: Logger;
  /** Called once when the session ends (the registry forgets it). */
  readonly onClosed: (session: LegacySession) => void;
  /** The caller's own variables for the session's child (`fromRequest`), when the server declares some. */
  readonly credentials?: CallerCredentials | undefined;
}

/** A key for an id that keeps `1` and `"1"` apart. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

/** True for a message with a method and an id. */
export function isRequest(m: WireMessage): boolean {
  return typeof m.method === 'string' && m.id !== undefined && m.id !== null;
}

/**
 * One Streamable HTTP POST that carried requests: its answer (JSON when nothing
 * comes first, an SSE stream once something must go out before the answer), and
 * which of its requests still wait. A batch's answers are held back while the
 * answer may still be one JSON array.
 */
class PostExchange {
  readonly pending = new Map<string, JsonRpcId>();
  private readonly buffered: WireText[] = [];
  private finished = false;

  constructor(
    private readonly session: LegacySession,
    readonly reply: PendingReply,
    private readonly batch: boolean,
  ) {
    // The client went away: per spec not a cancellation; its answers are dropped.
    reply.onClientGone = () => {
      this.session.exchangeAbandoned(this);
      this.finish();
    };
  }

  answer(clientId: JsonRpcId, text: WireText): void {
    if (!this.pending.delete(idKey(clientId))) return;
    this.buffered.push(text);
    if (this.reply.streaming) this.flush();
    if (this.pending.size === 0) this.finish();
  }

  event(text: WireText): boolean {
    if (this.finished) return false;
    this.reply.toSse();
    this.flush();
    return this.reply.event(text);
  }

  forget(clientId: JsonRpcId): void {
    if (this.pending.delete(idKey(clientId)) && this.pending.size === 0) this.finish();
  }

  fail(code: number, message: string): void {
    for (const id of [...this.pending.values()]) this.answer(id, errorText(id, code, message));
  }

  private flush(): void {
    for (const text of this.buffered.splice(0)) this.reply.event(text);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.session.exchangeDone();
    if (this.reply.streaming || this.buffered.length === 0) {
      this.flush();
      this.reply.end();
      return;
    }
    if (!this.batch) {
      this.reply.final(this.buffered[0] as WireText);
      return;
    }
    const parts: Buffer[] = [Buffer.from('[')];
    this.buffered.forEach((text, i) => {
      if (i > 0) parts.push(Buffer.from(','));
      if (typeof text === 'string') parts.push(Buffer.from(text));
      else parts.push(...text);
    });
    parts.push(Buffer.from(']'));
    this.reply.final(parts);
  }
}

/** A legacy client session. */
export class LegacySession implements RegisteredSession, SessionEvents {
  readonly id: string;
  readonly server: string;
  readonly transport: LegacyTransport;
  readonly owner: string;
  /** The caller's own variables its child runs with (`fromRequest`); every later request must bring the same. */
  readonly credentials: CallerCredentials | undefined;
  readonly openedAt = Date.now();
  lastActivity = Date.now();
  /** Protocol revision agreed in initialize. */
  protocolVersion: string | undefined;
  /** Client capabilities declared in initialize. */
  capabilities: Record<string, unknown> = {};
  /** Client identity declared in initialize. */
  clientInfo: unknown;
  private backend!: SessionBackend;
  private readonly settings: LegacySessionSettings;
  private readonly logger: Logger;
  private readonly deliveries = new Map<string, Delivery & { exchange?: PostExchange }>();
  private readonly serverRequests = new Map<string, { pending: PendingServerRequest; timer: NodeJS.Timeout }>();
  private getStream: SseWriter | undefined;
  private sseStream: SseWriter | undefined;
  private readonly backlog: Backlog;
  private isClosed = false;
  /** Headers of every answer to a POST, and what labels its stream in logs: the same for the session's life. */
  private readonly postHeaders: Readonly<Record<string, string>>;
  private readonly postLabel: Readonly<Record<string, unknown>>;

  constructor(settings: LegacySessionSettings) {
    this.settings = settings;
    this.id = settings.id;
    this.server = settings.server;
    this.transport = settings.transport;
    this.owner = settings.owner;
    this.credentials = settings.credentials;
    this.logger = settings.logger.child({ session: settings.id });
    this.backlog = new Backlog(settings.sse.maxBufferBytes, this.logger);
    this.postHeaders = { 'mcp-session-id': settings.id };
    this.postLabel = { server: settings.server, session: settings.id };
  }

  /** Connects the backend (made with this session as its events sink). */
  use(backend: SessionBackend): void {
    this.backend = backend;
  }

  get servedBy(): 'own-child' | 'shared-child' | 'bridge' {
    return this.backend.servedBy;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get busy(): boolean {
    return this.deliveries.size > 0 || this.getStream !== undefined || this.sseStream !== undefined;
  }

  get inFlight(): number {
    return this.deliveries.size;
  }

  /**
   * Takes one Streamable HTTP POST: requests are answered (JSON or SSE), the
   * client's answers to server requests and its notifications get 202.
   */
  async post(messages: readonly WireMessage[], raw: Buffer | undefined, batch: boolean, signal: SignalSource | undefined): Promise<Reply> {
    this.touch();
    if (batch && this.protocolVersion !== undefined && forbidsBatches(this.protocolVersion)) {
      throw new HttpError(400, ErrorCode.InvalidRequest, `Invalid Request: JSON-RPC batches are not allowed in protocol revision ${this.protocolVersion}`);
    }
    const headers = this.postHeaders;
    const requests = this.checkIds(messages);
    const exchange = requests.length > 0 ? new PostExchange(this, new PendingReply(headers, this.settings.sse, this.postLabel), batch) : undefined;
    for (const message of messages) {
      if (isRequest(message)) continue;
      this.fromClient(message, batch ? undefined : raw);
    }
    if (exchange) {
      for (const message of requests) {
        const clientId = message.id as JsonRpcId;
        exchange.pending.set(idKey(clientId), clientId);
      }
      await this.sendRequests(requests, batch ? undefined : raw, signal, (message) => this.exchangeDelivery(exchange, message.id as JsonRpcId));
      return exchange.reply.reply;
    }
    return emptyReply(202, headers);
  }

  /** Opens the Streamable HTTP GET stream for messages the server sends unprompted. */
  openGetStream(): Reply {
    this.touch();
    if (this.getStream && !this.getStream.closed) {
      throw new HttpError(409, ErrorCode.InvalidRequest, 'Conflict: this session already has an open GET stream');
    }
    const stream = new SseWriter(this.settings.sse, { server: this.server, session: this.id, stream: 'GET' });
    this.getStream = stream;
    stream.onClose(() => {
      if (this.getStream === stream) this.getStream = undefined;
      this.touch();
    });
    for (const text of this.backlog.take()) stream.send(text);
    return stream.reply(200, { 'mcp-session-id': this.id });
  }

  /**
   * Opens the HTTP+SSE (2024-11-05) stream: the `endpoint` event first, then
   * every message for the client. The session ends when the client closes it.
   */
  openSseStream(endpoint: string): Reply {
    const stream = new SseWriter(this.settings.sse, { server: this.server, session: this.id, stream: 'HTTP+SSE' });
    this.sseStream = stream;
    stream.onClose(() => void this.close('the client closed the SSE stream'));
    stream.send(endpoint, 'endpoint');
    for (const text of this.backlog.take()) stream.send(text, 'message');
    return stream.reply(200, {});
  }

  /** Takes one `POST /messages` of an HTTP+SSE session: everything comes back on the stream. */
  async postMessages(messages: readonly WireMessage[], raw: Buffer | undefined): Promise<Reply> {
    this.touch();
    const requests = this.checkIds(messages);
    for (const message of messages) if (!isRequest(message)) this.fromClient(message, messages.length === 1 ? raw : undefined);
    // The POST ends with its 202; what it asked lives as long as the session's stream.
    await this.sendRequests(requests, messages.length === 1 ? raw : undefined, undefined, (message) => this.streamDelivery(message.id as JsonRpcId));
    return emptyReply(202, { 'content-type': 'text/plain; charset=utf-8' });
  }

  /** Ends the session: pending requests get an error, streams close, the backend stops. */
  async close(reason: string, clientMessage?: string): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    const message = clientMessage ?? `Session ended: ${reason}`;
    for (const delivery of [...this.deliveries.values()]) delivery.failed(ErrorCode.UpstreamUnavailable, message);
    for (const { timer } of this.serverRequests.values()) clearTimeout(timer);
    this.serverRequests.clear();
    this.getStream?.close();
    this.sseStream?.close();
    this.settings.onClosed(this);
    this.logger.info('session closed', { reason });
    await this.backend.close(reason);
  }

  /** @internal The client of a POST went away: its requests stop holding queue places. */
  exchangeAbandoned(exchange: PostExchange): void {
    for (const id of exchange.pending.values()) this.deliveries.get(idKey(id))?.clientGone?.();
  }

  /** @internal Bookkeeping when a POST's exchange is done. */
  exchangeDone(): void {
    this.touch();
  }

  // SessionEvents

  unsolicited(text: WireText): void {
    if (this.sseStream) {
      this.sseStream.send(text, 'message');
      return;
    }
    if (this.getStream?.send(text)) return;
    this.backlog.push(text);
  }

  serverRequest(id: string, method: string, text: string, delivery: Delivery | undefined, pending: PendingServerRequest): void {
    const capability = CAPABILITY_FOR_METHOD[method];
    if (capability !== undefined && this.capabilities[capability] === undefined) {
      pending.answer({ jsonrpc: '2.0', id, error: { code: ErrorCode.MethodNotFound, message: `The client did not declare the ${capability} capability` } });
      return;
    }
    const timer = setTimeout(() => {
      this.serverRequests.delete(id);
      pending.answer({ jsonrpc: '2.0', id, error: { code: ErrorCode.RequestTimeout, message: 'The client did not answer in time' } });
    }, SERVER_REQUEST_TTL_MS);
    timer.unref();
    this.serverRequests.set(id, { pending, timer });
    if (delivery) delivery.event(text);
    else this.unsolicited(text);
  }

  ended(message: string): void {
    void this.close('the server process ended', message);
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  /** The requests of a POST, refusing (before anything is sent) an id already in flight or repeated. */
  private checkIds(messages: readonly WireMessage[]): WireMessage[] {
    const requests: WireMessage[] = [];
    const keys = new Set<string>();
    for (const message of messages) {
      if (!isRequest(message)) continue;
      const key = idKey(message.id as JsonRpcId);
      if (this.deliveries.has(key) || keys.has(key)) {
        throw new HttpError(400, ErrorCode.InvalidRequest, `Request id ${JSON.stringify(message.id)} is already in flight in this session`, {
          id: message.id as JsonRpcId,
        });
      }
      keys.add(key);
      requests.push(message);
    }
    return requests;
  }

  private async sendRequests(
    requests: readonly WireMessage[],
    raw: Buffer | undefined,
    signal: SignalSource | undefined,
    deliveryOf: (message: WireMessage) => Delivery & { exchange?: PostExchange },
  ): Promise<void> {
    for (const message of requests) {
      const delivery = deliveryOf(message);
      const key = idKey(message.id as JsonRpcId);
      this.deliveries.set(key, delivery);
      if (message.method === 'initialize') this.noteInitialize(message);
      try {
        await this.backend.request(message, requests.length === 1 ? raw : undefined, delivery, signal);
      } catch (error) {
        this.deliveries.delete(key);
        delivery.exchange?.forget(message.id as JsonRpcId);
        // A refusal before the first request was sent refuses the whole POST (a 503 the client retries).
        if (requests[0] === message && error instanceof HttpError) throw error;
        delivery.failed(error instanceof HttpError ? error.rpcCode : ErrorCode.InternalError, error instanceof Error ? error.message : String(error));
      }
    }
  }

  private exchangeDelivery(exchange: PostExchange, clientId: JsonRpcId): Delivery & { exchange: PostExchange } {
    const key = idKey(clientId);
    const done = (): boolean => this.deliveries.get(key) === delivery && this.deliveries.delete(key);
    const delivery: Delivery & { exchange: PostExchange } = {
      clientId,
      exchange,
      response: (text) => {
        if (done()) exchange.answer(clientId, text);
      },
      event: (text) => {
        if (!exchange.event(text)) this.unsolicited(text);
      },
      failed: (code, message) => {
        if (done()) exchange.answer(clientId, errorText(clientId, code, message));
      },
    };
    return delivery;
  }

  private streamDelivery(clientId: JsonRpcId): Delivery {
    const key = idKey(clientId);
    const done = (): boolean => this.deliveries.get(key) === delivery && this.deliveries.delete(key);
    const delivery: Delivery = {
      clientId,
      response: (text) => {
        if (done()) this.sseStream?.send(text, 'message');
      },
      event: (text) => void this.sseStream?.send(text, 'message'),
      failed: (code, message) => {
        if (done()) this.sseStream?.send(errorText(clientId, code, message), 'message');
      },
    };
    return delivery;
  }

  /** A client notification or a client's answer to a server request. */
  private fromClient(message: WireMessage, raw: Buffer | undefined): void {
    if (typeof message.method !== 'string') {
      // An answer to a server-to-client request, under the id the session gave it.
      const id = message.id;
      const entry = typeof id === 'string' ? this.serverRequests.get(id) : undefined;
      if (!entry) {
        this.logger.debug('answer to no pending server request; dropped', { id });
        return;
      }
      clearTimeout(entry.timer);
      this.serverRequests.delete(id as string);
      entry.pending.answer(message);
      return;
    }
    if (message.method === 'notifications/cancelled') {
      const requestId = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
      if (requestId === undefined) return;
      const key = idKey(requestId);
      const delivery = this.deliveries.get(key);
      if (!delivery) return;
      this.deliveries.delete(key);
      delivery.exchange?.forget(requestId);
      const reason = (message.params as { reason?: unknown } | undefined)?.reason;
      delivery.cancel?.(typeof reason === 'string' ? reason : 'the client cancelled the request');
      return;
    }
    this.backend.clientNotification(message, raw);
  }

  private noteInitialize(message: WireMessage): void {
    const params = (message.params ?? {}) as { protocolVersion?: unknown; capabilities?: unknown; clientInfo?: unknown };
    if (typeof params.protocolVersion === 'string' && isLegacyVersion(params.protocolVersion)) this.protocolVersion = params.protocolVersion;
    if (params.capabilities !== null && typeof params.capabilities === 'object') this.capabilities = params.capabilities as Record<string, unknown>;
    this.clientInfo = params.clientInfo;
  }

  /** Records the revision the server agreed to (from its initialize answer). */
  agreedVersion(version: unknown): void {
    if (typeof version === 'string' && isLegacyVersion(version)) this.protocolVersion = version;
  }
}
