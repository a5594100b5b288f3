import { DEFAULT_CHILD_POLICY, type ChildPolicy, type FleetConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ErrorCode } from '../protocol.js';
import type { Channel } from '../upstream/channel.js';
import { ChannelPool } from '../upstream/pool.js';
import type { UpstreamServer } from '../upstream/server.js';
import type { AuditLog } from './audit/audit-log.js';
import type { CallerCredentials } from './credentials/caller-credentials.js';
import { CallerChildren } from './credentials/caller-children.js';
import { HttpError, overloaded } from './http/errors.js';
import type { SignalSource } from './http/request.js';
import { createInFlightQueue, QueueAbortedError, QueueFullError, type InFlightQueue, type ReleaseSlot } from './limits.js';
import type { FleetMetrics } from './metrics.js';

/**
 * One configured server as the gateway serves it: its upstream (children, era,
 * readiness), the warm pool its shared calls run on, the bounded queue in front
 * of that pool, and how its legacy sessions are served under its policy.
 */

/** A pool child beyond `pool.min` is stopped after this long without a call or a session (ms). */
const POOL_CHILD_IDLE_MS = 60_000;

/** How a server's legacy client sessions are served. */
export type LegacyServing =
  /** A child of its own per session; the client's initialize goes to it. */
  | 'own-child'
  /** Sessions share the pool's children, multiplexed by the channels. */
  | 'shared-child'
  /** The server is modern-only (or shared and modern): sessions are bridged to 2026-07-28 requests. */
  | 'bridge';

/**
 * Slots of calls in flight in front of some children, with a bounded waiting
 * line. Entering is synchronous when a slot is free (no timer, no signal).
 */
export class CallGate {
  private readonly queue: InFlightQueue;

  constructor(
    private readonly server: string,
    limits: FleetConfig['gateway']['limits'],
    children: number,
    private readonly metrics: FleetMetrics | undefined,
  ) {
    this.queue = createInFlightQueue({ maxInFlightPerChild: limits.maxInFlightPerChild * children, maxQueuedPerChild: limits.maxQueuedPerChild });
    this.timeoutMs = limits.queueTimeoutSeconds * 1000;
  }

  private readonly timeoutMs: number;

  /** Calls in flight. */
  get active(): number {
    return this.queue.active;
  }

  /** A free slot now, without waiting (undefined when every slot is taken). */
  tryEnter(): ReleaseSlot | undefined {
    return this.queue.tryAcquire();
  }

  /** A slot for one call; 503 with Retry-After when the line is full or the wait too long. */
  async enter(source: SignalSource | undefined, id: string | number | null = null): Promise<ReleaseSlot> {
    const now = this.queue.tryAcquire();
    if (now !== undefined) return now;
    const signal = source?.signal;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      return await this.queue.acquire(signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (error) {
      if (!(error instanceof QueueFullError) && !(error instanceof QueueAbortedError)) throw error;
      this.metrics?.rateLimited.inc({ server: this.server, limit: 'queue' });
      throw overloaded(`too many requests are waiting for server "${this.server}"; retry shortly`, 1, {}, id);
    }
  }
}

/** Settings of a {@link ServedServer}. */
export interface ServedServerSettings {
  /** The gateway's limits. */
  readonly limits: FleetConfig['gateway']['limits'];
  /** Metrics, when on. */
  readonly metrics: FleetMetrics | undefined;
  /** Logger. */
  readonly logger: Logger;
  /** How long a caller's own child (`fromRequest`) may idle before it is stopped. @default 900 s */
  readonly callerIdleMs?: number;
  /** The audit log, when `gateway.audit.enabled`. @default none */
  readonly audit?: AuditLog | undefined;
}

/** A configured server as the gateway serves it. */
export class ServedServer {
  /** The server name. */
  readonly name: string;
  /** The queue in front of the pool. */
  readonly gate: CallGate;
  private poolPromise: Promise<ChannelPool> | undefined;
  private poolValue: ChannelPool | undefined;
  private readonly poolListeners: ((pool: ChannelPool) => void)[] = [];

  constructor(
    readonly upstream: UpstreamServer,
    private readonly settings: ServedServerSettings,
  ) {
    this.name = upstream.name;
    this.audit = settings.audit;
    const policy = this.policy;
    const children = policy === 'shared' ? 1 : upstream.config.pool.max;
    this.gate = new CallGate(this.name, settings.limits, children, settings.metrics);
    if (upstream.config.fromRequest !== undefined) {
      this.callerChildren = new CallerChildren(upstream, {
        maxCallers: upstream.config.maxSessions,
        idleMs: settings.callerIdleMs ?? 900_000,
        logger: settings.logger,
      });
    }
  }

  /** The audit log, when on: every era's calls of this server are recorded through it. */
  readonly audit: AuditLog | undefined;

  /** One child per caller, for a server whose callers bring their own variables (`fromRequest`). */
  readonly callerChildren: CallerChildren | undefined;

  /** The configured policy (`pool` when not set: a child per session only when asked for). */
  get policy(): ChildPolicy {
    return this.upstream.config.policy ?? DEFAULT_CHILD_POLICY;
  }

  /** Time a child has to answer one request. */
  get requestTimeoutMs(): number {
    return this.upstream.config.requestTimeoutSeconds * 1000;
  }

  /** Time a child has to answer its first request. */
  get startupTimeoutMs(): number {
    return this.upstream.config.startupTimeoutSeconds * 1000;
  }

  /** The pool, once made (diagnostics). */
  get currentPool(): ChannelPool | undefined {
    return this.poolValue;
  }

  /**
   * How legacy sessions of this server are served, once its era is known: a
   * legacy server's and a dual-era server's by a child in the legacy era (their
   * own, or shared from a pool), a modern-only server's through the bridge.
   */
  legacyServing(): LegacyServing {
    const verdict = this.upstream.verdict;
    if (verdict?.era === 'modern' && verdict.acceptsLegacy !== true) return 'bridge';
    return this.policy === 'per-session' ? 'own-child' : 'shared-child';
  }

  /**
   * Refuses at once, with the cause and Retry-After, a request for a server that
   * cannot start; waits for the first probe of one that is still starting.
   */
  async ready(id: string | number | null = null): Promise<void> {
    if (this.upstream.state === 'starting' || (this.upstream.verdict === undefined && this.upstream.state !== 'failing')) await this.upstream.probe();
    if (this.upstream.state === 'failing' || this.upstream.verdict === undefined) {
      throw new HttpError(503, ErrorCode.UpstreamUnavailable, `${this.upstream.reason ?? `MCP server "${this.name}" cannot start`}; the gateway retries it in ${this.upstream.retryAfterSeconds()}s`, {
        id,
        headers: { 'retry-after': String(this.upstream.retryAfterSeconds()) },
      });
    }
  }

  /** The warm pool of the server's era (made on first use, once the era is known). */
  async pool(id: string | number | null = null): Promise<ChannelPool> {
    if (this.poolValue) return this.poolValue;
    await this.ready(id);
    this.poolPromise ??= Promise.resolve().then(() => {
      const verdict = this.upstream.verdict!;
      const size = this.policy === 'shared' ? { min: 1, max: 1 } : this.upstream.config.pool;
      const pool = new ChannelPool(this.upstream, verdict.era, { ...size, logger: this.settings.logger, stopIdleAfterMs: POOL_CHILD_IDLE_MS });
      pool.warm();
      this.poolValue = pool;
      for (const listener of this.poolListeners.splice(0)) listener(pool);
      return pool;
    });
    return this.poolPromise;
  }

  /**
   * A place in the queue and the first child of the pool that is not busy, for one call
   * (503 when the queue is full or the server cannot start). Release the place
   * when the call is over.
   */
  async enterPool(
    signal: SignalSource | undefined,
    id: string | number | null,
    credentials?: CallerCredentials,
  ): Promise<{ readonly release: ReleaseSlot; readonly channel: Channel }> {
    const callerChildren = this.callerChildren;
    // Fail closed: a call of a fromRequest server never reaches a child started without its caller's values.
    if (callerChildren !== undefined && credentials === undefined) {
      throw new HttpError(500, ErrorCode.InternalError, `Internal error: a call to server "${this.name}" came without its caller's credentials`, { id });
    }
    const release = await this.gate.enter(signal, id);
    try {
      if (callerChildren !== undefined && credentials !== undefined) {
        await this.ready(id);
        return { release, channel: await callerChildren.acquire(credentials, id) };
      }
      return { release, channel: await (await this.pool(id)).acquire() };
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * The pool legacy sessions share: the server's pool for a legacy server; for a
   * dual-era server, a pool of its own whose children the gateway initializes in
   * the legacy era (so sessions keep sampling, elicitation, logging and
   * subscriptions, which the 2026-07-28 era does not have).
   */
  async sessionPool(id: string | number | null = null): Promise<ChannelPool> {
    const pool = await this.pool(id);
    if (pool.era === 'legacy') return pool;
    this.legacyPoolValue ??= (() => {
      const size = this.policy === 'shared' ? { min: 1, max: 1 } : this.upstream.config.pool;
      const legacy = new ChannelPool(this.upstream, 'legacy', { ...size, logger: this.settings.logger, stopIdleAfterMs: POOL_CHILD_IDLE_MS });
      legacy.warm();
      return legacy;
    })();
    return this.legacyPoolValue;
  }

  private legacyPoolValue: ChannelPool | undefined;

  /** Calls `listener` with the pool once it exists. */
  whenPool(listener: (pool: ChannelPool) => void): void {
    if (this.poolValue) listener(this.poolValue);
    else this.poolListeners.push(listener);
  }

  /** Stops the pools' children. */
  async close(): Promise<void> {
    await Promise.all([this.poolValue?.close(), this.legacyPoolValue?.close(), this.callerChildren?.close()]);
  }
}
