import type { Logger } from '../log.js';
import { ErrorCode } from '../protocol.js';
import { upstreamCallTracer } from './call-tracing.js';
import { describeExit, StdioProcess, type ChildExit, type StdioProcessOptions } from './process.js';
import { findRequestId, peekResponse, startsWithAt, withIdAt, type PeekedResponse } from './wire.js';

/**
 * One JSON-RPC channel per child process: the only code that writes to a child's
 * stdin or reads its stdout. Every request from every caller goes out under an id
 * of the channel's own, and every answer comes back to the caller that asked,
 * under the caller's id; per-session, pool and shared policies are this one
 * mechanism with more or fewer callers attached.
 *
 * What the child sends on its own initiative is routed by the request that caused
 * it: progress by its (rewritten) token, a listen notification by its
 * subscription id, a server-to-client request or a log message by the one caller
 * that has calls in flight (or the one caller attached). When several callers are
 * in flight and nothing tells them apart, a server-to-client request is refused
 * with {@link ErrorCode.OriginUnknown} and a log message is dropped: never handed
 * to a guess. An answer under an id no call waits for is logged and dropped.
 */

/** A JSON-RPC id. */
export type JsonRpcId = string | number;

/** Methods during which a child may ask its caller for input (sampling, elicitation, roots). */
export const INPUT_CAPABLE_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read', 'completion/complete']);

/** Log levels of MCP, least severe first. */
const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

/** A parsed JSON-RPC message (loosely typed: a relay reads only what it routes by). */
export interface WireMessage {
  jsonrpc?: unknown;
  id?: JsonRpcId | null;
  method?: unknown;
  params?: unknown;
  result?: unknown;
  error?: unknown;
}

/** Text to send to a client: a string, or pieces of bytes in order. */
export type WireText = string | readonly Buffer[];

/** The child's final answer to one call. */
export class ChildAnswer {
  private parsedValue: WireMessage | undefined;

  constructor(
    /** The line as the child wrote it (empty for an answer the channel made itself). */
    readonly line: Buffer,
    private readonly peek: PeekedResponse | undefined,
    parsed?: WireMessage,
  ) {
    this.parsedValue = parsed;
  }

  /** An answer the channel gives itself (without asking the child). */
  static local(result: Record<string, unknown>): ChildAnswer {
    return new ChildAnswer(Buffer.alloc(0), undefined, { jsonrpc: '2.0', result });
  }

  /** The answer parsed (parsed once, on first use). */
  get message(): WireMessage {
    this.parsedValue ??= JSON.parse(this.line.toString('utf8')) as WireMessage;
    return this.parsedValue;
  }

  /** True for an `error` answer. */
  get isError(): boolean {
    return this.peek ? this.peek.isError : this.message.error !== undefined;
  }

  /** Whether the bytes can be relayed without parsing (the id's place is known). */
  get relayable(): boolean {
    return this.peek !== undefined;
  }

  /** The answer as the client must get it: its own id in place of the channel's. */
  withId(idJson: string): WireText {
    if (this.peek) return withIdAt(this.line, this.peek, idJson);
    return JSON.stringify({ ...this.message, jsonrpc: '2.0', id: JSON.parse(idJson) as JsonRpcId });
  }

  /**
   * The answer with members put first in its `result` object (the 2026-07-28
   * `resultType` and caching hints on a legacy child's result), from its bytes
   * when it can be done without parsing. Members already in the result are kept.
   */
  withIdAndResultMembers(idJson: string, members: ResultMembers): WireText {
    const peek = this.peek;
    const line = this.line;
    // Only into an object result (`{` at its start), and only members the line does not name anywhere.
    if (peek && !peek.isError && line[peek.valueStart] === 0x7b && members.absentFrom(line)) {
      const open = peek.valueStart + 1;
      const inserted = line[open] === 0x7d ? members.bytes : members.bytesWithComma;
      const id = Buffer.from(idJson);
      // Pieces in byte order, the child's bytes as views (no copy): the id sits after the result in the TypeScript shape, before it in the other.
      return peek.start > peek.valueStart
        ? [line.subarray(0, open), inserted, line.subarray(open, peek.start), id, line.subarray(peek.end)]
        : [line.subarray(0, peek.start), id, line.subarray(peek.end, open), inserted, line.subarray(open)];
    }
    const message = this.message;
    if (message.error !== undefined || typeof message.result !== 'object' || message.result === null) return this.withId(idJson);
    return JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(idJson) as JsonRpcId, result: { ...members.values, ...(message.result as object) } });
  }
}

/**
 * Members to put first in a result ({@link ChildAnswer.withIdAndResultMembers}),
 * encoded once: a bridged answer only looks for their names and splices bytes.
 */
export class ResultMembers {
  /** The members' text, as it goes into an empty result object. */
  readonly bytes: Buffer;
  /** The same followed by a comma, for a result with members of its own. */
  readonly bytesWithComma: Buffer;
  private readonly quotedNames: readonly Buffer[];

  constructor(readonly values: Readonly<Record<string, unknown>>) {
    const names = Object.keys(values);
    if (names.length === 0) throw new Error('ResultMembers needs at least one member');
    const text = names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(values[n])}`).join(',');
    this.bytes = Buffer.from(text);
    this.bytesWithComma = Buffer.from(`${text},`);
    this.quotedNames = names.map((n) => Buffer.from(JSON.stringify(n)));
  }

  /** True when `line` names none of the members anywhere (a name it has would be written twice). */
  absentFrom(line: Buffer): boolean {
    if (line.length > SHORT_LINE_BYTES) {
      for (const name of this.quotedNames) if (line.indexOf(name) !== -1) return false;
      return true;
    }
    // A short line: one pass in JavaScript, each quote checked against every name, costs less than the calls into Buffer.indexOf.
    const names = this.quotedNames;
    for (let i = 0; i < line.length; i++) {
      if (line[i] !== 0x22) continue;
      for (const name of names) if (startsWithAt(line, name, i)) return false;
    }
    return true;
  }
}

/** Up to this many bytes, {@link ResultMembers.absentFrom} scans in JavaScript. */
const SHORT_LINE_BYTES = 4096;

/** What a caller learns about one of its calls. */
export interface CallSink {
  /** The final answer. */
  response(answer: ChildAnswer): void;
  /** A notification about the call (progress, or a listen stream's notifications), ids already the client's. */
  event(text: string, message: WireMessage): void;
  /** The call failed without an answer: the child is gone, it timed out, or it wrote too much. */
  failed(code: number, message: string): void;
}

/** A server-to-client request the channel attributed to a caller. */
export interface ServerRequest {
  /** The id the caller's client sees (unique per channel; the child's own id stays inside the channel). */
  readonly id: string;
  /** Its method (`sampling/createMessage`, `elicitation/create`, `roots/list`, ...). */
  readonly method: string;
  /** Its params. */
  readonly params: Record<string, unknown> | undefined;
  /** The call during which the child asked, when one is known. */
  readonly call: Call | undefined;
  /** The request as the client must get it (id rewritten). */
  readonly text: string;
  /** Answers the child (once). */
  answer(outcome: { readonly result: unknown } | { readonly error: { readonly code: number; readonly message: string; readonly data?: unknown } }): void;
}

/** Who calls through a channel: a legacy session, or one 2026-07-28 request. */
export interface ChannelCaller {
  /** Identity: callers with the same key are the same caller. */
  readonly key: string;
  /** A server-to-client request attributed to this caller. It must answer it (or refuse it) through `answer`. */
  serverRequest(request: ServerRequest): void;
  /** A notification for this caller that belongs to no call (logs, resource updates, list changes, cancellations). */
  notification(text: string, message: WireMessage): void;
}

/** What a request to the channel carries. */
export interface OutboundRequest {
  /** The method. */
  readonly method: string;
  /** The caller's id. */
  readonly id: JsonRpcId;
  /** The parsed request. */
  readonly message: WireMessage;
  /** The request's bytes as the client sent them, when they may go to the child as they are but for the id. */
  readonly raw?: Buffer | undefined;
}

/** Options of one call. */
export interface CallOptions {
  /** Time the child has to answer, reset by each sign of life of the call (progress, a request to the client). */
  readonly timeoutMs: number;
  /** A long-lived call (a listen stream): no timeout, not counted as load. */
  readonly stream?: boolean;
}

/** One request in flight on a channel. */
export class Call {
  /** The id the child sees. */
  readonly upstreamId: number;
  /** When it was sent (ms since epoch). */
  readonly startedAt = Date.now();
  /** The gateway's event-loop idle time when it was sent (ms; `performance.nodeTiming.idleTime`). */
  readonly loopIdleAtStart = performance.nodeTiming.idleTime;
  /** When the call times out (ms since epoch); pushed back by each sign of life. */
  deadline = 0;
  /** The progress token the child sees, when the request asked for progress. */
  gatewayToken: string | undefined;
  /** The client's progress token. */
  clientToken: string | number | undefined;

  constructor(
    private readonly channel: Channel,
    readonly caller: ChannelCaller,
    readonly method: string,
    readonly clientId: JsonRpcId,
    readonly sink: CallSink,
    readonly options: CallOptions,
    upstreamId: number,
  ) {
    this.upstreamId = upstreamId;
  }

  /** Tells the child to stop working on it (the client cancelled, or went away); no answer will come. */
  cancel(reason: string): void {
    this.channel.cancel(this, reason);
  }

  /** Restarts the timeout: the call shows signs of life. */
  touch(): void {
    this.channel.touch(this);
  }
}

/** Options of a {@link Channel}. */
export interface ChannelOptions {
  /** The server name, for logs and errors. */
  readonly server: string;
  /** The command, for errors (never its arguments or environment). */
  readonly command: string;
  /** Logger (records carry the server and pid). */
  readonly logger: Logger;
}

interface Attachment {
  readonly caller: ChannelCaller;
  logLevel: string | undefined;
  readonly subscriptions: Set<string>;
}

/** A caller the gateway uses for its own requests (initialize, tools/list, subscriptions of listen streams). */
const GATEWAY_CALLER: ChannelCaller = {
  key: '#gateway',
  serverRequest: (request) => request.answer({ error: { code: ErrorCode.MethodNotFound, message: `${request.method} is not available to mcp-fleet's own requests` } }),
  notification: () => {},
};

let channelSequence = 0;

/** The JSON-RPC channel of one child process. */
export class Channel {
  /** The child process. */
  readonly process: StdioProcess;
  /** Receives list-change notifications (for every caller of the server, not only this channel's). */
  onListChanged: ((text: string, message: WireMessage) => void) | undefined;
  private readonly goneListeners: ((exit: ChildExit, description: string) => void)[] = [];
  private readonly serial = ++channelSequence;
  private readonly calls = new Map<number, Call>();
  private readonly byToken = new Map<string, Call>();
  private readonly serverRequests = new Map<string, { readonly request: ServerRequest; readonly caller: ChannelCaller }>();
  private readonly attached = new Map<string, Attachment>();
  private readonly childSubscriptions = new Set<string>();
  private readonly childIds = new WeakMap<ServerRequest, JsonRpcId>();
  private childLogLevel: string | undefined;
  private nextId = 1;
  private nextServerRequest = 1;
  private streams = 0;
  private gone: string | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly options: ChannelOptions,
    spawnProcess: (events: ConstructorParameters<typeof StdioProcess>[1]) => StdioProcess,
  ) {
    this.logger = options.logger;
    this.process = spawnProcess({
      line: (bytes) => this.fromChild(bytes),
      overflow: (seen) => this.process.kill(`it wrote a message of more than ${seen} bytes, larger than servers.${options.server}.maxMessageBytes`),
      exit: (exit) => this.exited(exit),
    });
  }

  /** True while the child runs. */
  get alive(): boolean {
    return this.gone === undefined && this.process.running;
  }

  /** Calls `listener` once when the child is gone, after every call has been failed. */
  onGone(listener: (exit: ChildExit, description: string) => void): void {
    if (this.gone !== undefined) listener({ code: null, signal: null, requested: true }, this.gone);
    else this.goneListeners.push(listener);
  }

  /** Process id of the child. */
  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Calls in flight, listen streams included. */
  get inFlight(): number {
    return this.calls.size;
  }

  /** Calls in flight, listen streams excluded. */
  get load(): number {
    return this.calls.size - this.streams;
  }

  /**
   * How long the gateway has waited on the oldest call in flight (listen streams
   * aside) with nothing else to do, in ms: its event loop's idle time since the
   * call went out; 0 when none is in flight. Time the gateway spent busy does not
   * count: an answer that came meanwhile sits unread in the pipe, and the child
   * did not keep the call waiting.
   */
  oldestIdleWaitMs(): number {
    // A Map iterates in insertion order: the first call that is not a stream is the oldest.
    for (const call of this.calls.values()) if (!call.options.stream) return performance.nodeTiming.idleTime - call.loopIdleAtStart;
    return 0;
  }

  /** Callers attached. */
  get callerCount(): number {
    return this.attached.size;
  }

  /**
   * Attaches a caller: it may be sent what the child says outside its calls.
   * `state` replays what the caller had asked of a previous child (log level,
   * resource subscriptions), so moving a session to a new child keeps them.
   */
  attach(caller: ChannelCaller, state?: { readonly logLevel?: string | undefined; readonly subscriptions?: Iterable<string> }): void {
    if (this.attached.has(caller.key)) return;
    const attachment: Attachment = { caller, logLevel: state?.logLevel, subscriptions: new Set(state?.subscriptions ?? []) };
    this.attached.set(caller.key, attachment);
    for (const uri of attachment.subscriptions) {
      if (!this.childSubscriptions.has(uri)) {
        this.childSubscriptions.add(uri);
        void this.ask('resources/subscribe', { uri }, 30_000).catch(() => undefined);
      }
    }
    if (attachment.logLevel !== undefined) this.applyLogLevel();
  }

  /** Detaches a caller: its calls are cancelled, its subscriptions dropped where nobody else holds them. */
  detach(caller: ChannelCaller, reason = 'the client session ended'): void {
    const attachment = this.attached.get(caller.key);
    if (!attachment) return;
    this.attached.delete(caller.key);
    for (const call of [...this.calls.values()]) if (call.caller.key === caller.key) this.cancel(call, reason);
    for (const [id, entry] of [...this.serverRequests]) {
      if (entry.caller.key === caller.key) {
        this.serverRequests.delete(id);
        entry.request.answer({ error: { code: ErrorCode.UpstreamUnavailable, message: 'The client session ended' } });
      }
    }
    for (const uri of attachment.subscriptions) {
      if (![...this.attached.values()].some((a) => a.subscriptions.has(uri)) && this.childSubscriptions.delete(uri)) {
        void this.ask('resources/unsubscribe', { uri }, 30_000).catch(() => undefined);
      }
    }
  }

  /**
   * Sends a caller's request. `logging/setLevel` and `resources/(un)subscribe` are
   * shared among callers: the child hears the most verbose level any caller wants
   * and one subscription per resource, and each caller gets only what it asked for.
   */
  request(caller: ChannelCaller, request: OutboundRequest, sink: CallSink, options: CallOptions): Call {
    const attachment = this.attached.get(caller.key);
    if (attachment && request.method === 'logging/setLevel') {
      const level = (request.message.params as { level?: unknown } | undefined)?.level;
      if (typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level)) {
        attachment.logLevel = level;
        if (this.mostVerboseLevel() === this.childLogLevel) return this.answerLocally(caller, request, sink, options);
        this.childLogLevel = this.mostVerboseLevel();
        return this.send(caller, request, sink, options);
      }
    }
    if (attachment && (request.method === 'resources/subscribe' || request.method === 'resources/unsubscribe')) {
      const uri = (request.message.params as { uri?: unknown } | undefined)?.uri;
      if (typeof uri === 'string') {
        if (request.method === 'resources/subscribe') {
          attachment.subscriptions.add(uri);
          if (this.childSubscriptions.has(uri)) return this.answerLocally(caller, request, sink, options);
          this.childSubscriptions.add(uri);
        } else {
          attachment.subscriptions.delete(uri);
          if ([...this.attached.values()].some((a) => a.subscriptions.has(uri)) || !this.childSubscriptions.has(uri)) {
            return this.answerLocally(caller, request, sink, options);
          }
          this.childSubscriptions.delete(uri);
        }
      }
    }
    return this.send(caller, request, sink, options);
  }

  /**
   * Sends a notification of a caller to the child: only for a channel with that
   * one caller (a per-session child), since on a shared child it would speak for
   * every caller. Returns false when it was not sent.
   */
  notifyFrom(caller: ChannelCaller, message: WireMessage, raw: Buffer | undefined): boolean {
    if (this.attached.size !== 1 || !this.attached.has(caller.key)) return false;
    return this.process.write([raw && raw.indexOf(0x0a) === -1 ? raw : JSON.stringify(message)]);
  }

  /** Sends a notification of the gateway's own (`notifications/initialized`). */
  notify(method: string, params?: Record<string, unknown>): boolean {
    return this.process.write([JSON.stringify(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params })]);
  }

  /** The gateway's own request; resolves with the answer's message (result or error). */
  ask(method: string, params: Record<string, unknown> | undefined, timeoutMs: number): Promise<WireMessage> {
    return new Promise((resolve, reject) => {
      const message: WireMessage = params === undefined ? { jsonrpc: '2.0', id: 0, method } : { jsonrpc: '2.0', id: 0, method, params };
      this.send(
        GATEWAY_CALLER,
        { method, id: 0, message },
        {
          response: (answer) => resolve(answer.message),
          event: () => {},
          failed: (_code, text) => reject(new Error(text)),
        },
        { timeoutMs },
      );
    });
  }

  /** Stops the child (stdin end, SIGTERM, SIGKILL). */
  async close(reason = 'the gateway is stopping it'): Promise<void> {
    await this.process.stop(2000, reason);
  }

  /** @internal See {@link Call.cancel}. */
  cancel(call: Call, reason: string): void {
    if (!this.forget(call)) return;
    this.process.write([
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: call.upstreamId, reason } }),
    ]);
  }

  /** @internal See {@link Call.touch}. */
  touch(call: Call): void {
    if (call.deadline === 0 || !this.calls.has(call.upstreamId)) return;
    call.deadline = Date.now() + call.options.timeoutMs;
  }

  private answerLocally(caller: ChannelCaller, request: OutboundRequest, sink: CallSink, options: CallOptions): Call {
    const call = new Call(this, caller, request.method, request.id, sink, options, 0);
    queueMicrotask(() => sink.response(ChildAnswer.local({})));
    return call;
  }

  private mostVerboseLevel(): string | undefined {
    let best: number | undefined;
    for (const a of this.attached.values()) {
      if (a.logLevel === undefined) continue;
      const rank = (LOG_LEVELS as readonly string[]).indexOf(a.logLevel);
      if (best === undefined || rank < best) best = rank;
    }
    return best === undefined ? undefined : LOG_LEVELS[best];
  }

  private applyLogLevel(): void {
    const level = this.mostVerboseLevel();
    if (level === undefined || level === this.childLogLevel) return;
    this.childLogLevel = level;
    void this.ask('logging/setLevel', { level }, 30_000).catch(() => undefined);
  }

  private send(caller: ChannelCaller, request: OutboundRequest, sink: CallSink, options: CallOptions): Call {
    const tracer = upstreamCallTracer();
    if (tracer !== undefined && options.stream !== true) ({ request, sink } = tracer.trace(this.options.server, request, sink));
    const upstreamId = this.nextId++;
    const call = new Call(this, caller, request.method, request.id, sink, options, upstreamId);
    if (this.gone !== undefined || !this.process.running) {
      const why = this.gone ?? `MCP server "${this.options.server}" is not running`;
      queueMicrotask(() => sink.failed(ErrorCode.UpstreamUnavailable, why));
      return call;
    }
    let pieces: readonly (Buffer | string)[];
    try {
      pieces = this.encode(call, request);
    } catch (error) {
      queueMicrotask(() =>
        sink.failed(ErrorCode.InvalidRequest, `The request cannot be relayed: ${error instanceof RangeError ? 'it is nested too deeply' : (error as Error).message}`),
      );
      return call;
    }
    this.calls.set(upstreamId, call);
    if (call.gatewayToken !== undefined) this.byToken.set(call.gatewayToken, call);
    if (options.stream) this.streams++;
    else {
      call.deadline = Date.now() + options.timeoutMs;
      this.sweepSoon(options.timeoutMs);
    }
    if (!this.process.write(pieces)) {
      this.forget(call);
      queueMicrotask(() => sink.failed(ErrorCode.UpstreamUnavailable, `MCP server "${this.options.server}" is not running`));
    }
    return call;
  }

  /** The request's bytes under the channel's id: the client's own bytes where only the id changes. */
  private encode(call: Call, request: OutboundRequest): readonly (Buffer | string)[] {
    const params = request.message.params as Record<string, unknown> | undefined;
    const meta = params?.['_meta'] as Record<string, unknown> | undefined;
    const token = meta !== null && typeof meta === 'object' ? meta['progressToken'] : undefined;
    const upstream = String(call.upstreamId);
    if (typeof token === 'string' || typeof token === 'number') {
      call.clientToken = token;
      call.gatewayToken = `mcpf-${this.serial}-${call.upstreamId}`;
      return [JSON.stringify({ ...request.message, jsonrpc: '2.0', id: call.upstreamId, params: { ...params, _meta: { ...meta, progressToken: call.gatewayToken } } })];
    }
    if (request.raw) {
      const span = findRequestId(request.raw, JSON.stringify(request.id));
      if (span) return withIdAt(request.raw, span, upstream);
    }
    return [JSON.stringify({ ...request.message, jsonrpc: '2.0', id: call.upstreamId })];
  }

  private forget(call: Call): boolean {
    if (this.calls.get(call.upstreamId) !== call) return false;
    this.calls.delete(call.upstreamId);
    if (call.options.stream) this.streams--;
    if (call.gatewayToken !== undefined) this.byToken.delete(call.gatewayToken);
    return true;
  }

  /**
   * Timeouts are checked by one sweep per channel rather than a timer per call
   * (two timers less per request on the hot path): the sweep runs at the earliest
   * deadline, and again while calls are in flight.
   */
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Infinity;

  private sweepSoon(inMs: number): void {
    const at = Date.now() + inMs;
    if (this.sweepTimer !== undefined && this.sweepAt <= at) return;
    if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    this.sweepTimer = setTimeout(() => this.sweep(), inMs);
    this.sweepTimer.unref();
  }

  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const call of [...this.calls.values()]) {
      if (call.deadline === 0) continue;
      if (call.deadline <= now) this.timedOut(call);
      else next = Math.min(next, call.deadline);
    }
    if (next !== Infinity) this.sweepSoon(next - now);
  }

  private timedOut(call: Call): void {
    if (!this.calls.has(call.upstreamId)) return;
    const seconds = Math.round(call.options.timeoutMs / 100) / 10;
    this.logger.warn('request timed out', { method: call.method, timeoutMs: call.options.timeoutMs, pid: this.pid });
    this.cancel(call, `timed out after ${seconds}s at the gateway`);
    call.sink.failed(
      ErrorCode.RequestTimeout,
      `Request timed out after ${seconds}s: MCP server "${this.options.server}" did not answer ${call.method} (servers.${this.options.server}.requestTimeoutSeconds)`,
    );
  }

  private fromChild(line: Buffer): void {
    const peek = peekResponse(line);
    if (peek) {
      this.deliver(peek.id, new ChildAnswer(line, peek));
      return;
    }
    let message: WireMessage;
    try {
      message = JSON.parse(line.toString('utf8')) as WireMessage;
    } catch {
      this.logger.warn('child wrote a line that is not JSON; dropped', { pid: this.pid, bytes: line.length, start: line.toString('utf8', 0, 80) });
      return;
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      this.logger.warn('child wrote JSON that is not a JSON-RPC message; dropped', { pid: this.pid });
      return;
    }
    if (typeof message.method === 'string') {
      if (message.id !== undefined && message.id !== null) this.fromChildRequest(message);
      else this.fromChildNotification(message);
      return;
    }
    if (message.result !== undefined || message.error !== undefined) {
      // Only the channel's own ids, as it sent them (numbers): "7", [7] or "0x7" are other ids.
      if (typeof message.id !== 'number') {
        this.dropUnknownAnswer(message.id);
        return;
      }
      this.deliver(message.id, new ChildAnswer(line, undefined, message));
      return;
    }
    this.logger.warn('child wrote a JSON-RPC message of no known kind; dropped', { pid: this.pid });
  }

  private deliver(id: number, answer: ChildAnswer): void {
    const call = this.calls.get(id);
    if (!call) {
      this.dropUnknownAnswer(id);
      return;
    }
    this.forget(call);
    call.sink.response(answer);
  }

  private dropUnknownAnswer(id: unknown): void {
    this.logger.warn('child answered an id no call waits for; dropped', { pid: this.pid, id: typeof id === 'object' ? JSON.stringify(id) : id });
  }

  /** The one caller a message of the child is for, when it can be told; undefined otherwise. */
  private originOf(inputOnly: boolean): { caller: ChannelCaller; call: Call | undefined } | undefined {
    let found: Call | undefined;
    for (const call of this.calls.values()) {
      if (call.caller === GATEWAY_CALLER || call.options.stream) continue;
      if (inputOnly && !INPUT_CAPABLE_METHODS.has(call.method)) continue;
      if (found === undefined) found = call;
      else if (found.caller.key !== call.caller.key) return undefined;
    }
    if (found) return { caller: found.caller, call: found };
    if (this.attached.size === 1) {
      const only = this.attached.values().next().value as Attachment;
      return { caller: only.caller, call: undefined };
    }
    return undefined;
  }

  private fromChildRequest(message: WireMessage): void {
    const childId = message.id as JsonRpcId;
    const reply = (outcome: object): void => void this.process.write([JSON.stringify({ jsonrpc: '2.0', id: childId, ...outcome })]);
    if (message.method === 'ping') {
      reply({ result: {} });
      return;
    }
    const method = message.method as string;
    const origin = this.originOf(true);
    if (!origin) {
      const callers = new Set([...this.calls.values()].filter((c) => c.caller !== GATEWAY_CALLER).map((c) => c.caller.key)).size;
      this.logger.info('refused a request of the child: its caller cannot be told', { method, pid: this.pid, callers });
      reply({
        error: {
          code: ErrorCode.OriginUnknown,
          message: `mcp-fleet cannot tell which of the callers sharing this server process the ${method} request is for, so it is refused; give the server policy per-session to let it ask clients`,
        },
      });
      return;
    }
    const id = `mcpf-${this.serial}-${this.nextServerRequest++}`;
    let answered = false;
    const params = message.params as Record<string, unknown> | undefined;
    const request: ServerRequest = {
      id,
      method,
      params,
      call: origin.call,
      text: JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }),
      answer: (outcome) => {
        if (answered) return;
        answered = true;
        this.serverRequests.delete(id);
        origin.call?.touch();
        reply(outcome);
      },
    };
    this.childIds.set(request, childId);
    this.serverRequests.set(id, { request, caller: origin.caller });
    origin.call?.touch();
    origin.caller.serverRequest(request);
  }

  private fromChildNotification(message: WireMessage): void {
    const method = message.method as string;
    const params = (message.params ?? undefined) as Record<string, unknown> | undefined;
    if (method === 'notifications/progress') {
      const token = params?.['progressToken'];
      const call = typeof token === 'string' ? this.byToken.get(token) : undefined;
      if (!call) return;
      call.touch();
      const rewritten = { ...message, params: { ...params, progressToken: call.clientToken } };
      call.sink.event(JSON.stringify(rewritten), rewritten);
      return;
    }
    const meta = params?.['_meta'] as Record<string, unknown> | undefined;
    const subscription = meta?.['io.modelcontextprotocol/subscriptionId'];
    if (subscription !== undefined && subscription !== null) {
      // A listen stream's notification: the subscription id is the listen request's id, which is the channel's.
      const call = this.calls.get(Number(subscription));
      if (call?.options.stream && String(call.upstreamId) === String(subscription)) {
        const rewritten = { ...message, params: { ...params, _meta: { ...meta, 'io.modelcontextprotocol/subscriptionId': call.clientId } } };
        call.sink.event(JSON.stringify(rewritten), rewritten);
      }
      return;
    }
    if (method === 'notifications/cancelled') {
      const requestId = params?.['requestId'];
      for (const [id, entry] of this.serverRequests) {
        if (this.childIds.get(entry.request) === requestId) {
          this.serverRequests.delete(id);
          const rewritten = { ...message, params: { ...params, requestId: id } };
          entry.caller.notification(JSON.stringify(rewritten), rewritten);
          return;
        }
      }
      return;
    }
    if (method.endsWith('/list_changed')) {
      const text = JSON.stringify(message);
      for (const a of this.attached.values()) a.caller.notification(text, message);
      this.onListChanged?.(text, message);
      return;
    }
    if (method === 'notifications/resources/updated') {
      const uri = params?.['uri'];
      const text = JSON.stringify(message);
      for (const a of this.attached.values()) if (typeof uri === 'string' && a.subscriptions.has(uri)) a.caller.notification(text, message);
      return;
    }
    const origin = this.originOf(false);
    if (!origin) {
      this.logger.debug('dropped a notification of the child: its caller cannot be told', { method, pid: this.pid });
      return;
    }
    if (method === 'notifications/message') {
      const level = this.attached.get(origin.caller.key)?.logLevel;
      const rank = (LOG_LEVELS as readonly string[]).indexOf(String(params?.['level']));
      if (level !== undefined && rank !== -1 && rank < (LOG_LEVELS as readonly string[]).indexOf(level)) return;
    }
    origin.call?.touch();
    const text = JSON.stringify(message);
    if (origin.call) origin.call.sink.event(text, message);
    else origin.caller.notification(text, message);
  }

  private exited(exit: ChildExit): void {
    const description = describeExit(this.options.server, this.options.command, exit);
    this.gone = description;
    const calls = [...this.calls.values()];
    this.calls.clear();
    if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.byToken.clear();
    this.streams = 0;
    const code = exit.reason?.includes('maxMessageBytes') ? ErrorCode.MessageTooLarge : ErrorCode.UpstreamUnavailable;
    for (const call of calls) {
      call.sink.failed(code, description);
    }
    this.serverRequests.clear();
    for (const listener of this.goneListeners.splice(0)) listener(exit, description);
  }
}
