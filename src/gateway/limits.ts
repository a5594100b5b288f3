import type { LimitsConfig } from '../config/auth-schema.js';
import { FleetError } from '../errors.js';

/**
 * Limits and back-pressure of the gateway: a rate limit per principal, a cap on
 * open sessions per principal and per server, and a bounded queue in front of
 * each child. Pure data structures: no timers, time comes from an injectable clock.
 */

/** A clock in milliseconds. */
export type Clock = () => number;

/** The verdict of a rate limiter. */
export type RateDecision =
  | { readonly allowed: true; readonly remaining: number }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

/** Options of a {@link TokenBucketLimiter}. */
export interface TokenBucketOptions {
  /** Tokens added per second (the sustained request rate). */
  readonly ratePerSecond: number;
  /** Bucket size: the most requests allowed at once after a quiet spell. */
  readonly burst: number;
  /** Clock. @default Date.now */
  readonly now?: Clock;
  /** Buckets kept; past it the least recently used is dropped (which resets it to full). @default 10000 */
  readonly maxTrackedKeys?: number;
}

/** One token bucket per key (principal id): `take` spends a token or says how long to wait. */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; updated: number }>();
  private readonly now: Clock;
  private readonly maxTrackedKeys: number;

  constructor(private readonly options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    if (!(options.burst >= 1)) throw new RangeError('burst must be at least 1');
    this.now = options.now ?? Date.now;
    this.maxTrackedKeys = options.maxTrackedKeys ?? 10_000;
  }

  /** Spends `cost` tokens of `key` if it has them; otherwise the whole seconds until it will (for Retry-After). */
  take(key: string, cost = 1): RateDecision {
    const { ratePerSecond, burst } = this.options;
    if (cost > burst) throw new RangeError(`cost ${cost} exceeds the burst of ${burst}; it could never be allowed`);
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, updated: now };
    const elapsedSeconds = Math.max(0, now - bucket.updated) / 1000;
    bucket.tokens = Math.min(burst, bucket.tokens + elapsedSeconds * ratePerSecond);
    bucket.updated = now;
    // Re-inserting keeps the map in least-recently-used order for eviction.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxTrackedKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true, remaining: Math.floor(bucket.tokens) };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((cost - bucket.tokens) / ratePerSecond)) };
  }

  /** Number of keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }
}

/** The rate limiter `gateway.limits.rate` asks for, or undefined when rate limiting is off. */
export function createRateLimiter(config: LimitsConfig['rate'], now?: Clock): TokenBucketLimiter | undefined {
  if (config === undefined) return undefined;
  const burst = config.burst ?? Math.max(1, Math.ceil(config.requestsPerSecond * 2));
  return new TokenBucketLimiter({ ratePerSecond: config.requestsPerSecond, burst, ...(now === undefined ? {} : { now }) });
}

/** The verdict on opening a session. */
export type SessionAdmission =
  | { readonly ok: true; /** Ends the session's claim; calling it twice is harmless. */ readonly release: () => void }
  | { readonly ok: false; readonly limit: 'key' | 'server'; readonly max: number };

/** Options of a {@link SessionCounter}. */
export interface SessionCounterOptions {
  /** Most open sessions per key across servers. @default no limit */
  readonly maxPerKey?: number;
  /** Most open sessions of a server across keys (e.g. the server's `maxSessions`). @default no limit */
  readonly maxPerServer?: (server: string) => number | undefined;
}

/** Counts open sessions per key and per server, and refuses one past either cap. */
export class SessionCounter {
  private readonly perKey = new Map<string, number>();
  private readonly perServer = new Map<string, number>();

  constructor(private readonly options: SessionCounterOptions = {}) {}

  /** Claims a session of `key` on `server`, or says which cap is full. */
  tryOpen(key: string, server: string): SessionAdmission {
    const keyCount = this.perKey.get(key) ?? 0;
    const serverCount = this.perServer.get(server) ?? 0;
    const maxKey = this.options.maxPerKey;
    if (maxKey !== undefined && keyCount >= maxKey) return { ok: false, limit: 'key', max: maxKey };
    const maxServer = this.options.maxPerServer?.(server);
    if (maxServer !== undefined && serverCount >= maxServer) return { ok: false, limit: 'server', max: maxServer };
    this.perKey.set(key, keyCount + 1);
    this.perServer.set(server, serverCount + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.decrement(this.perKey, key);
        this.decrement(this.perServer, server);
      },
    };
  }

  /** Sessions open for `key`. */
  countForKey(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  /** Sessions open on `server`. */
  countForServer(server: string): number {
    return this.perServer.get(server) ?? 0;
  }

  private decrement(map: Map<string, number>, name: string): void {
    const n = (map.get(name) ?? 0) - 1;
    if (n <= 0) map.delete(name);
    else map.set(name, n);
  }
}

/** Thrown when a request finds the queue in front of a child full. Answer 503 with Retry-After. */
export class QueueFullError extends FleetError {
  /** Suggested Retry-After. */
  readonly retryAfterSeconds = 1;

  constructor(maxWaiting: number) {
    super('QUEUE_FULL', `too many requests are waiting for this server (${maxWaiting}); try again shortly`, { fault: 'program' });
    this.name = 'QueueFullError';
  }
}

/** Thrown when a request stops waiting in the queue: its signal aborted (client gone, or wait timeout). */
export class QueueAbortedError extends FleetError {
  constructor(cause: unknown) {
    super('QUEUE_ABORTED', 'the request stopped waiting for a free slot of the server', { cause, fault: 'program' });
    this.name = 'QueueAbortedError';
  }
}

/** Returns a slot to the queue; calling it twice is harmless. */
export type ReleaseSlot = () => void;

/** Options of an {@link InFlightQueue}. */
export interface InFlightQueueOptions {
  /** Requests in progress at once. */
  readonly concurrency: number;
  /** Requests that may wait; one more is refused at once with {@link QueueFullError}. */
  readonly maxWaiting: number;
}

interface Waiter {
  readonly grant: (release: ReleaseSlot) => void;
}

/**
 * A semaphore with a bounded, first-come-first-served waiting line, one per child
 * process. Waits end by the caller's AbortSignal, so a timeout is
 * `AbortSignal.timeout(ms)` combined with the request's own signal.
 */
export class InFlightQueue {
  private inFlight = 0;
  private readonly line: Waiter[] = [];

  constructor(private readonly options: InFlightQueueOptions) {
    if (!(options.concurrency >= 1)) throw new RangeError('concurrency must be at least 1');
    if (!(options.maxWaiting >= 0)) throw new RangeError('maxWaiting must not be negative');
  }

  /** Requests in progress. */
  get active(): number {
    return this.inFlight;
  }

  /** Requests waiting. */
  get waiting(): number {
    return this.line.length;
  }

  /** A slot if one is free now, without waiting. */
  tryAcquire(): ReleaseSlot | undefined {
    if (this.inFlight >= this.options.concurrency || this.line.length > 0) return undefined;
    this.inFlight += 1;
    return this.releaser();
  }

  /** Waits for a slot. Rejects with {@link QueueFullError} when the line is full, {@link QueueAbortedError} when `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<ReleaseSlot> {
    if (signal?.aborted) return Promise.reject(new QueueAbortedError(signal.reason));
    const now = this.tryAcquire();
    if (now !== undefined) return Promise.resolve(now);
    if (this.line.length >= this.options.maxWaiting) return Promise.reject(new QueueFullError(this.options.maxWaiting));
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.line.indexOf(waiter);
        if (i >= 0) this.line.splice(i, 1);
        reject(new QueueAbortedError(signal?.reason));
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.line.push(waiter);
    });
  }

  private releaser(): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.line.shift();
      // The slot passes straight to the next waiter, so a newcomer cannot jump the line.
      if (next !== undefined) next.grant(this.releaser());
      else this.inFlight -= 1;
    };
  }
}

/** The queue `gateway.limits` asks for in front of one child. */
export function createInFlightQueue(config: Pick<LimitsConfig, 'maxInFlightPerChild' | 'maxQueuedPerChild'>): InFlightQueue {
  return new InFlightQueue({ concurrency: config.maxInFlightPerChild, maxWaiting: config.maxQueuedPerChild });
}
