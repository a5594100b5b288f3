import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { describeExit, type ChildExit, type StdioChild } from '../upstream/child.js';
import type { UpstreamServer } from '../upstream/server.js';
import { HttpError } from './http-error.js';
import {
  ErrorCode,
  errorText,
  idKey,
  isRequest,
  isResponse,
  progressTokenOf,
  type JsonRpcId,
  type JsonRpcMessage,
} from './jsonrpc.js';
import { LazyResponse } from './lazy-response.js';
import { SSE_HEADERS, SseStream } from './sse.js';

/**
 * A legacy (2024-11-05 .. 2025-11-25) client session: one client, one child
 * process, JSON-RPC relayed as raw text. Two flavours: Streamable HTTP
 * (`streamable`, a POST per message, answers as JSON or SSE) and HTTP+SSE (`sse`,
 * one long GET stream carries everything the child says).
 */

/** Settings a session needs from the gateway. */
export interface SessionSettings {
  /** Interval of SSE keep-alive comments. */
  readonly keepAliveMs: number;
  /** Logger. */
  readonly logger: Logger;
  /** Mints the session id (a cluster signs its owner into it). @default {@link mintSessionId} */
  readonly mintId?: () => string;
}

/** How much a child may say with nowhere to deliver it before the oldest is dropped. */
const BACKLOG_LIMIT = 200;

/** Mints an unguessable session id (122 random bits, visible ASCII). */
export function mintSessionId(): string {
  return randomUUID();
}

/**
 * One POST that carried requests: which of its ids still wait for the child, and
 * their answer through a {@link LazyResponse} (plain JSON when nothing else comes
 * first, an SSE stream once the child speaks meanwhile or the answer is slow). A
 * batch's responses are held back while the answer may still be one JSON array.
 */
class PostExchange {
  /** Ids of the requests still waiting, by {@link idKey}. */
  readonly pending = new Map<string, JsonRpcId>();
  /** Progress tokens of its requests. */
  readonly tokens: (string | number)[] = [];
  private readonly reply: LazyResponse;
  /** Responses held back while the answer may still be one JSON body (a batch's). */
  private readonly buffered: string[] = [];
  private finished = false;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly session: LegacySession,
    private readonly batch: boolean,
    headers: Record<string, string>,
  ) {
    this.reply = new LazyResponse(headers, session.settings.keepAliveMs);
    // The client went away: per spec not a cancellation; its responses are dropped.
    this.reply.onClientGone = () => this.finish();
  }

  /** The HTTP response, once decided. */
  get response(): Promise<Response> {
    return this.reply.response;
  }

  /** Fails every pending request after `ms` with a timeout error. */
  armTimeout(ms: number, onTimeout: (ids: JsonRpcId[]) => void): void {
    this.timeoutTimer = setTimeout(() => onTimeout([...this.pending.values()]), ms);
    this.timeoutTimer.unref();
  }

  /** True while it waits for something. */
  get open(): boolean {
    return !this.finished;
  }

  /** Delivers the response for one of its requests. */
  deliverResponse(key: string, line: string): void {
    if (!this.pending.delete(key)) return;
    this.buffered.push(line);
    if (this.reply.streaming) this.flush();
    if (this.pending.size === 0) this.finish();
  }

  /** Delivers a notification or request of the child related to this exchange. Returns false if it could not. */
  deliverOther(line: string): boolean {
    if (this.finished) return false;
    this.reply.toSse();
    this.flush();
    return this.reply.event(line);
  }

  /** Forgets a request the client cancelled: no response will come for it. */
  forget(key: string): void {
    if (this.pending.delete(key) && this.pending.size === 0) this.finish();
  }

  /** Answers every pending request with a JSON-RPC error. */
  fail(code: number, message: string): void {
    for (const [key, id] of [...this.pending]) this.deliverResponse(key, errorText(id, code, message));
  }

  private flush(): void {
    for (const line of this.buffered.splice(0)) this.reply.event(line);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.session.exchangeDone(this);
    if (this.reply.streaming || this.buffered.length === 0) {
      // Already a stream, or every request was cancelled (an empty stream ends the POST cleanly).
      this.flush();
      this.reply.end();
      return;
    }
    this.reply.final(this.batch ? `[${this.buffered.join(',')}]` : (this.buffered[0] as string));
  }
}

/** A legacy client session bound to one child process. */
export class LegacySession {
  /** The session id (`Mcp-Session-Id`, or `sessionId` for HTTP+SSE). */
  readonly id: string;
  /** Which legacy transport the client uses. */
  readonly kind: 'streamable' | 'sse';
  /** The server it belongs to. */
  readonly server: UpstreamServer;
  /** Gateway settings. */
  readonly settings: SessionSettings;
  /** Protocol revision agreed in initialize. */
  protocolVersion: string | undefined;
  /** Last time the client did something (ms since epoch). */
  lastActivity = Date.now();
  /** Called once when the session ends. */
  onClosed: ((session: LegacySession) => void) | undefined;
  private readonly child: StdioChild;
  private readonly logger: Logger;
  private readonly exchanges = new Set<PostExchange>();
  private readonly byId = new Map<string, PostExchange>();
  private readonly byToken = new Map<string | number, PostExchange>();
  private getStream: SseStream | undefined;
  private sseStream: SseStream | undefined;
  private readonly backlog: string[] = [];
  /** Requests of an HTTP+SSE client still waiting for the child, so a crash or a timeout can answer them. */
  private readonly ssePending = new Map<string, { readonly id: JsonRpcId; readonly timer: NodeJS.Timeout }>();
  private initializeKey: string | undefined;
  private ended = false;

  constructor(kind: 'streamable' | 'sse', server: UpstreamServer, settings: SessionSettings) {
    this.id = settings.mintId?.() ?? mintSessionId();
    this.kind = kind;
    this.server = server;
    this.settings = settings;
    this.logger = settings.logger.child({ server: server.name, session: this.id });
    this.child = server.spawn({
      onMessage: (line, message) => this.fromChild(line, message as JsonRpcMessage),
      onExit: (exit) => this.childExited(exit),
    });
  }

  /** True once the session ended. */
  get closed(): boolean {
    return this.ended;
  }

  /** True while a request or stream is open: not idle. */
  get busy(): boolean {
    return this.exchanges.size > 0 || this.getStream !== undefined || this.sseStream !== undefined;
  }

  /** Number of POSTs waiting for the child's answers. */
  get inFlight(): number {
    return this.exchanges.size;
  }

  /** Process id of the child, for diagnostics. */
  get childPid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Relays one POST's messages to the child. Requests get a response (JSON or
   * SSE); a POST of notifications and responses only gets 202.
   */
  post(messages: readonly JsonRpcMessage[], rawSingle: string | undefined, batch: boolean): Promise<Response> {
    this.touch();
    const headers: Record<string, string> = this.kind === 'streamable' ? { 'mcp-session-id': this.id } : {};
    // Refuse before registering anything: a refused POST must leave no id behind.
    const keys = new Set<string>();
    for (const message of messages) {
      if (!isRequest(message)) continue;
      const key = idKey(message.id as JsonRpcId);
      if (this.byId.has(key) || keys.has(key)) {
        throw new HttpError(400, ErrorCode.InvalidRequest, `Request id ${JSON.stringify(message.id)} is already in flight in this session`, {
          id: message.id as JsonRpcId,
        });
      }
      keys.add(key);
    }
    let exchange: PostExchange | undefined;
    for (const message of messages) {
      if (isRequest(message)) {
        exchange ??= new PostExchange(this, batch, headers);
        const key = idKey(message.id as JsonRpcId);
        exchange.pending.set(key, message.id as JsonRpcId);
        this.byId.set(key, exchange);
        const token = progressTokenOf(message);
        if (token !== undefined) {
          exchange.tokens.push(token);
          this.byToken.set(token, exchange);
        }
        if (message.method === 'initialize') this.initializeKey = key;
      } else if (message.method === 'notifications/cancelled') {
        const requestId = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
        if (requestId !== undefined) this.forget(idKey(requestId));
      }
    }
    if (exchange) {
      this.exchanges.add(exchange);
      const timeoutMs =
        (this.initializeKey !== undefined && exchange.pending.has(this.initializeKey)
          ? this.server.config.startupTimeoutSeconds
          : this.server.config.requestTimeoutSeconds) * 1000;
      exchange.armTimeout(timeoutMs, (ids) => this.timedOut(exchange, ids, timeoutMs));
    }
    const sent =
      rawSingle !== undefined ? this.child.send(rawSingle) : messages.every((m) => this.child.send(JSON.stringify(m)));
    if (!sent && exchange) {
      exchange.fail(ErrorCode.ServerError, `MCP server "${this.server.name}" is not running; start a new session`);
    }
    if (!exchange) return Promise.resolve(new Response(null, { status: 202, headers }));
    return exchange.response;
  }

  /** Opens the standalone GET stream for messages the child sends unprompted. */
  openGetStream(): Response {
    this.touch();
    if (this.getStream && !this.getStream.closed) {
      throw new HttpError(409, ErrorCode.InvalidRequest, 'Conflict: this session already has an open GET stream');
    }
    const stream = new SseStream({
      keepAliveMs: this.settings.keepAliveMs,
      onClose: () => {
        if (this.getStream === stream) this.getStream = undefined;
        this.touch();
      },
    });
    this.getStream = stream;
    for (const line of this.backlog.splice(0)) stream.send(line);
    return new Response(stream.body, { status: 200, headers: { ...SSE_HEADERS, 'mcp-session-id': this.id } });
  }

  /**
   * Opens the HTTP+SSE (2024-11-05) stream: the `endpoint` event first, then every
   * message of the child. The session ends when the client closes it.
   */
  openLegacySseStream(endpoint: string): Response {
    const stream = new SseStream({
      keepAliveMs: this.settings.keepAliveMs,
      onClose: () => void this.close('client closed the SSE stream'),
    });
    this.sseStream = stream;
    stream.send(endpoint, 'endpoint');
    for (const line of this.backlog.splice(0)) stream.send(line, 'message');
    return new Response(stream.body, { status: 200, headers: { ...SSE_HEADERS } });
  }

  /** Writes messages from a `POST /messages` of an HTTP+SSE session: answers arrive on the stream. */
  deliverToChild(messages: readonly JsonRpcMessage[], rawSingle: string | undefined): boolean {
    this.touch();
    for (const message of messages) {
      if (message.method === 'notifications/cancelled') {
        const requestId = (message.params as { requestId?: JsonRpcId } | undefined)?.requestId;
        if (requestId !== undefined) this.settleSse(idKey(requestId));
      }
      if (!isRequest(message)) continue;
      const key = idKey(message.id as JsonRpcId);
      if (message.method === 'initialize') this.initializeKey = key;
      const timeoutMs =
        (message.method === 'initialize' ? this.server.config.startupTimeoutSeconds : this.server.config.requestTimeoutSeconds) * 1000;
      const timer = setTimeout(() => this.sseTimedOut(key, timeoutMs), timeoutMs);
      timer.unref();
      this.settleSse(key);
      this.ssePending.set(key, { id: message.id as JsonRpcId, timer });
    }
    return rawSingle !== undefined ? this.child.send(rawSingle) : messages.every((m) => this.child.send(JSON.stringify(m)));
  }

  /** Ends the session: pending requests get an error, streams close, the child is stopped. */
  async close(reason: string, rpcMessage?: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const message = rpcMessage ?? `Session ended: ${reason}`;
    for (const exchange of [...this.exchanges]) exchange.fail(ErrorCode.ServerError, message);
    // An HTTP+SSE client only hears answers on its stream: answer what it still waits for.
    for (const [key, { id }] of [...this.ssePending]) {
      this.settleSse(key);
      this.sseStream?.send(errorText(id, ErrorCode.ServerError, message), 'message');
    }
    this.getStream?.close();
    this.sseStream?.close();
    this.onClosed?.(this);
    this.logger.info('session closed', { reason });
    await this.child.stop();
  }

  /** Bookkeeping when an exchange is done. */
  exchangeDone(exchange: PostExchange): void {
    this.exchanges.delete(exchange);
    for (const [key, owner] of this.byId) if (owner === exchange) this.byId.delete(key);
    for (const token of exchange.tokens) if (this.byToken.get(token) === exchange) this.byToken.delete(token);
    this.touch();
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  private forget(key: string): void {
    const exchange = this.byId.get(key);
    if (!exchange) return;
    this.byId.delete(key);
    exchange.forget(key);
  }

  /** Forgets a request of an HTTP+SSE client: answered, cancelled or given up on. */
  private settleSse(key: string): void {
    const pending = this.ssePending.get(key);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.ssePending.delete(key);
  }

  /** An HTTP+SSE request went unanswered for too long: the client gets an error, the child a cancellation. */
  private sseTimedOut(key: string, timeoutMs: number): void {
    const pending = this.ssePending.get(key);
    if (!pending || this.ended) return;
    if (key === this.initializeKey) {
      void this.close('initialize timed out', `MCP server "${this.server.name}" did not answer initialize within ${timeoutMs / 1000}s`);
      return;
    }
    this.settleSse(key);
    this.child.send(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: pending.id, reason: `timed out after ${timeoutMs / 1000}s at the gateway` },
      }),
    );
    this.logger.warn('request timed out', { timeoutMs, count: 1 });
    this.sseStream?.send(errorText(pending.id, ErrorCode.RequestTimeout, `Request timed out after ${timeoutMs / 1000}s`), 'message');
  }

  private timedOut(exchange: PostExchange, ids: JsonRpcId[], timeoutMs: number): void {
    const initializing = this.initializeKey !== undefined && ids.some((id) => idKey(id) === this.initializeKey);
    if (initializing) {
      void this.close(
        'initialize timed out',
        `MCP server "${this.server.name}" did not answer initialize within ${timeoutMs / 1000}s`,
      );
      return;
    }
    for (const id of ids) {
      this.child.send(
        JSON.stringify({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: `timed out after ${timeoutMs / 1000}s at the gateway` },
        }),
      );
      this.byId.delete(idKey(id));
    }
    this.logger.warn('request timed out', { timeoutMs, count: ids.length });
    exchange.fail(ErrorCode.RequestTimeout, `Request timed out after ${timeoutMs / 1000}s`);
  }

  private fromChild(line: string, message: JsonRpcMessage): void {
    if (this.sseStream) {
      if (isResponse(message) && message.id != null) {
        this.settleSse(idKey(message.id));
        if (this.initializeKey !== undefined) this.noteInitialize(message);
      }
      this.sseStream.send(line, 'message');
      return;
    }
    if (isResponse(message)) {
      if (message.id === undefined || message.id === null) {
        this.logger.warn('child sent a response without id; dropped');
        return;
      }
      const key = idKey(message.id);
      if (key === this.initializeKey) this.noteInitialize(message);
      const exchange = this.byId.get(key);
      if (!exchange) {
        this.logger.debug('response for no pending request; dropped', { id: message.id });
        return;
      }
      this.byId.delete(key);
      exchange.deliverResponse(key, line);
      return;
    }
    if (this.kind === 'sse') {
      this.queue(line);
      return;
    }
    // Server-to-client notification or request: stdio does not say which client
    // request it belongs to. Progress carries its token; anything else goes to the
    // oldest open POST stream (most likely the call that caused it), else the GET stream.
    if (message.method === 'notifications/progress') {
      const token = (message.params as { progressToken?: string | number } | undefined)?.progressToken;
      const owner = token === undefined ? undefined : this.byToken.get(token);
      if (owner?.deliverOther(line)) return;
    }
    for (const exchange of this.exchanges) if (exchange.deliverOther(line)) return;
    if (this.getStream?.send(line)) return;
    this.queue(line);
  }

  private noteInitialize(message: JsonRpcMessage): void {
    this.initializeKey = undefined;
    const version = (message.result as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    if (typeof version === 'string') this.protocolVersion = version;
  }

  private queue(line: string): void {
    this.backlog.push(line);
    if (this.backlog.length > BACKLOG_LIMIT) {
      this.backlog.shift();
      this.logger.warn('no stream open for server messages; oldest dropped', { limit: BACKLOG_LIMIT });
    }
  }

  private childExited(exit: ChildExit): void {
    if (this.ended) return;
    const description = describeExit(this.server.name, exit);
    this.logger.warn('child ended; closing its session', {
      code: exit.code,
      signal: exit.signal,
      stderrTail: exit.stderrTail.slice(-5),
    });
    void this.close('child ended', `${description}. The session has ended; start a new one.`);
  }
}
