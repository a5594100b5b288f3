import type { Logger } from '../log.js';
import { describeExit, type ChildExit, type StdioChild } from './child.js';
import { GATEWAY_INFO, NEWEST_LEGACY_VERSION } from '../protocol.js';
import type { Era, UpstreamServer } from './server.js';

/**
 * Warm pools of stdio children shared by many stateless (2026-07-28) requests.
 * Every request gets a fresh upstream JSON-RPC id, so concurrent requests from
 * many clients on one child never collide; progress tokens are rewritten the same way.
 */

/** What a child said about one upstream call. */
export interface CallSink {
  /** The final response (`result` or `error`), with the client's id not yet restored; `line` is its wire text. */
  onResponse(message: UpstreamMessage, line: string): void;
  /** A progress notification for the call, token already restored to the client's. */
  onProgress(message: UpstreamMessage): void;
  /** A server-to-client request (sampling, elicitation, roots) attributed to the call. */
  onServerRequest(message: UpstreamMessage, child: PooledChild): void;
  /** The child died before answering. */
  onChildGone(reason: string): void;
}

/** A parsed message from a child. */
export interface UpstreamMessage {
  readonly jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

/** Methods during which a child may ask the client for input (the MRTR-capable ones). */
const INPUT_CAPABLE = new Set(['tools/call', 'prompts/get', 'resources/read']);

interface InFlight {
  readonly sink: CallSink;
  readonly method: string;
  readonly clientToken: string | number | undefined;
  readonly gatewayToken: string | undefined;
}

/** Receives what a child says outside any call (change notifications). */
export type NotificationListener = (message: UpstreamMessage, child: PooledChild) => void;

/** One child of a pool, initialized (legacy) or ready (modern). */
export class PooledChild {
  /** Resolves once the child answered initialize (legacy) or at once (modern). */
  readonly ready: Promise<void>;
  /** The initialize result of a legacy child. */
  initializeResult: Record<string, unknown> | undefined;
  /** False once the child is gone. */
  alive = true;
  private readonly child: StdioChild;
  private readonly calls = new Map<number, InFlight>();
  private readonly byToken = new Map<string, number>();
  private nextId = 1;
  private readonly logger: Logger;

  constructor(
    private readonly server: UpstreamServer,
    readonly era: Era,
    private readonly onNotification: NotificationListener,
    private readonly onGone: (child: PooledChild, exit: ChildExit) => void,
    logger: Logger,
  ) {
    this.logger = logger;
    this.child = server.spawn({
      onMessage: (line, message) => this.fromChild(message as UpstreamMessage, line),
      onExit: (exit) => this.exited(exit),
    });
    this.ready = era === 'legacy' ? this.initialize() : Promise.resolve();
  }

  /** Calls in flight on this child. */
  get load(): number {
    return this.calls.size;
  }

  /** Process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Sends a request under a fresh upstream id. `params` are sent as given, except
   * that a progress token is replaced by a gateway-unique one. Returns the upstream id.
   */
  call(method: string, params: Record<string, unknown> | undefined, sink: CallSink): number {
    const id = this.nextId++;
    let clientToken: string | number | undefined;
    let gatewayToken: string | undefined;
    let outParams = params;
    const meta = params?.['_meta'] as Record<string, unknown> | undefined;
    const token = meta?.['progressToken'];
    if (typeof token === 'string' || typeof token === 'number') {
      clientToken = token;
      gatewayToken = `mcp-fleet-${id}`;
      this.byToken.set(gatewayToken, id);
      outParams = { ...params, _meta: { ...meta, progressToken: gatewayToken } };
    }
    this.calls.set(id, { sink, method, clientToken, gatewayToken });
    const sent = this.child.send(
      JSON.stringify(outParams === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params: outParams }),
    );
    if (!sent) {
      this.forget(id);
      queueMicrotask(() => sink.onChildGone(`MCP server "${this.server.name}" is not running`));
    }
    return id;
  }

  /** Tells the child to stop working on a call (the client cancelled or timed out). */
  cancel(id: number, reason: string): void {
    if (!this.forget(id)) return;
    this.child.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } }));
  }

  /** Answers a request the child sent (the client's input for sampling, elicitation, roots). */
  answer(id: string | number, outcome: { result: unknown } | { error: { code: number; message: string } }): void {
    this.child.send(JSON.stringify({ jsonrpc: '2.0', id, ...outcome }));
  }

  /** Sends a notification to the child. */
  notify(method: string, params?: Record<string, unknown>): void {
    this.child.send(JSON.stringify(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params }));
  }

  /** Stops the child. */
  async stop(): Promise<void> {
    this.alive = false;
    await this.child.stop();
  }

  private forget(id: number): boolean {
    const call = this.calls.get(id);
    if (!call) return false;
    this.calls.delete(id);
    if (call.gatewayToken !== undefined) this.byToken.delete(call.gatewayToken);
    return true;
  }

  private initialize(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`MCP server "${this.server.name}" did not answer initialize within ${this.server.config.startupTimeoutSeconds}s`)),
        this.server.config.startupTimeoutSeconds * 1000,
      );
      timer.unref();
      this.call(
        'initialize',
        {
          protocolVersion: NEWEST_LEGACY_VERSION,
          // The gateway relays sampling and elicitation to modern clients as input requests.
          capabilities: { sampling: {}, elicitation: {} },
          clientInfo: GATEWAY_INFO,
        },
        {
          onResponse: (message) => {
            clearTimeout(timer);
            if (message.result) {
              this.initializeResult = message.result;
              this.notify('notifications/initialized');
              resolve();
            } else {
              reject(new Error(`MCP server "${this.server.name}" refused initialize: ${message.error?.message ?? 'unknown error'}`));
            }
          },
          onProgress: () => {},
          onServerRequest: (request, child) =>
            child.answer(request.id as string | number, { error: { code: -32601, message: 'Not available during initialize' } }),
          onChildGone: (reason) => {
            clearTimeout(timer);
            reject(new Error(reason));
          },
        },
      );
    });
  }

  private fromChild(message: UpstreamMessage, line: string): void {
    const hasMethod = typeof message.method === 'string';
    if (!hasMethod && message.id !== undefined && message.id !== null) {
      const id = typeof message.id === 'number' ? message.id : Number(message.id);
      const call = this.calls.get(id);
      if (!call) return;
      this.forget(id);
      call.sink.onResponse(message, line);
      return;
    }
    if (!hasMethod) return;
    if (message.id !== undefined && message.id !== null) {
      if (message.method === 'ping') {
        this.answer(message.id, { result: {} });
        return;
      }
      // Stdio does not say which call a server-to-client request belongs to: the
      // oldest in-flight call that may ask for input gets it.
      for (const call of this.calls.values()) {
        if (INPUT_CAPABLE.has(call.method)) {
          call.sink.onServerRequest(message, this);
          return;
        }
      }
      this.answer(message.id, {
        error: { code: -32601, message: `${message.method} is not available outside a tools/call, prompts/get or resources/read through mcp-fleet` },
      });
      return;
    }
    if (message.method === 'notifications/progress') {
      const token = message.params?.['progressToken'];
      const id = typeof token === 'string' ? this.byToken.get(token) : undefined;
      const call = id === undefined ? undefined : this.calls.get(id);
      if (call) call.sink.onProgress({ ...message, params: { ...message.params, progressToken: call.clientToken } });
      return;
    }
    this.onNotification(message, this);
  }

  private exited(exit: ChildExit): void {
    this.alive = false;
    const reason = describeExit(this.server.name, exit);
    const calls = [...this.calls.values()];
    this.calls.clear();
    this.byToken.clear();
    for (const call of calls) call.sink.onChildGone(reason);
    this.onGone(this, exit);
  }
}

/** Options of {@link ChildPool}. */
export interface ChildPoolOptions {
  /** Children kept warm. */
  readonly min: number;
  /** Most children. */
  readonly max: number;
  /** In-flight calls per child before another child is started (while under `max`). */
  readonly spawnAtLoad?: number;
  /** Logger. */
  readonly logger: Logger;
}

/**
 * A pool of children of one server. Requests go to the least-loaded ready child;
 * a child is added while all are busy, up to `max`; a dead child is replaced, with
 * backoff when children keep dying.
 */
export class ChildPool {
  private readonly members: PooledChild[] = [];
  private readonly listeners = new Set<NotificationListener>();
  private closed = false;
  private restartDelayMs = 500;
  private refillTimer: NodeJS.Timeout | undefined;
  /** Children started over the pool's life (restarts included). */
  started = 0;

  constructor(
    private readonly server: UpstreamServer,
    private readonly era: Era,
    private readonly options: ChildPoolOptions,
  ) {}

  /** Starts the warm minimum. */
  warm(): void {
    while (!this.closed && this.members.length < this.options.min) this.add();
  }

  /** Live children. */
  get size(): number {
    return this.members.length;
  }

  /** The initialize result of any ready legacy child. */
  get initializeResult(): Record<string, unknown> | undefined {
    return this.members.find((m) => m.initializeResult)?.initializeResult;
  }

  /** Subscribes to change notifications of every child. */
  onNotification(listener: NotificationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every live child (for fan-out such as resources/subscribe). */
  all(): readonly PooledChild[] {
    return this.members;
  }

  /** A ready child for one request: the least loaded, adding one when all are busy. */
  async acquire(): Promise<PooledChild> {
    if (this.closed) throw new Error(`the pool of "${this.server.name}" is closed`);
    let best = this.leastLoaded();
    const spawnAt = this.options.spawnAtLoad ?? 4;
    if (!best || (best.load >= spawnAt && this.members.length < this.options.max)) best = this.add();
    await best.ready;
    return best;
  }

  /** Stops every child. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    await Promise.all(this.members.splice(0).map((m) => m.stop()));
  }

  private leastLoaded(): PooledChild | undefined {
    let best: PooledChild | undefined;
    for (const m of this.members) if (m.alive && (!best || m.load < best.load)) best = m;
    return best;
  }

  private add(): PooledChild {
    this.started++;
    const child = new PooledChild(
      this.server,
      this.era,
      (message, from) => {
        for (const listener of this.listeners) listener(message, from);
      },
      (gone, exit) => this.removed(gone, exit),
      this.options.logger,
    );
    child.ready.then(
      () => (this.restartDelayMs = 500),
      (error: Error) => {
        this.options.logger.warn('pool child failed to start', { server: this.server.name, error: error.message });
        void child.stop();
      },
    );
    this.members.push(child);
    return child;
  }

  private removed(child: PooledChild, exit: ChildExit): void {
    const index = this.members.indexOf(child);
    if (index !== -1) this.members.splice(index, 1);
    if (this.closed || exit.requested) return;
    this.options.logger.warn('pool child ended; replacing it', {
      server: this.server.name,
      code: exit.code,
      signal: exit.signal,
      retryInMs: this.restartDelayMs,
    });
    if (this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.warm();
    }, this.restartDelayMs);
    this.refillTimer.unref();
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
  }
}
