import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LimitsSchema } from '../src/config/auth-schema.js';
import {
  createInFlightQueue,
  createRateLimiter,
  InFlightQueue,
  QueueAbortedError,
  QueueFullError,
  SessionCounter,
  TokenBucketLimiter,
} from '../src/gateway/limits.js';

describe('TokenBucketLimiter', () => {
  it('GIVEN a burst of 3 WHEN 4 requests arrive at once THEN the 4th waits for the next token', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0.5, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.take('ci').allowed)).toEqual([true, true, true]);
    expect(limiter.take('ci')).toEqual({ allowed: false, retryAfterSeconds: 2 });
    now += 1999;
    expect(limiter.take('ci').allowed).toBe(false);
    now += 1;
    expect(limiter.take('ci').allowed).toBe(true);
  });

  it('keeps keys apart: one key spending its bucket does not slow another', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, now: () => 0 });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
  });

  it('never refills past the burst after a long quiet spell', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ ratePerSecond: 10, burst: 2, now: () => now });
    now += 3_600_000;
    expect(limiter.take('a')).toEqual({ allowed: true, remaining: 1 });
    expect(limiter.take('a')).toEqual({ allowed: true, remaining: 0 });
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('never allows more than burst + rate × elapsed requests (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 200 }),
        (rate, burst, gaps) => {
          let now = 0;
          const limiter = new TokenBucketLimiter({ ratePerSecond: rate, burst, now: () => now });
          let allowed = 0;
          for (const gap of gaps) {
            now += gap;
            const d = limiter.take('k');
            if (d.allowed) allowed += 1;
            else expect(d.retryAfterSeconds).toBeGreaterThanOrEqual(1);
          }
          expect(allowed).toBeLessThanOrEqual(burst + (rate * now) / 1000 + 1e-9);
        },
      ),
    );
  });

  it('forgets the least recently used key past maxTrackedKeys', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, now: () => 0, maxTrackedKeys: 2 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('c');
    expect(limiter.size).toBe(2);
  });

  it('is built from gateway.limits.rate with a default burst of twice the rate, or not at all', () => {
    expect(createRateLimiter(undefined)).toBeUndefined();
    const limiter = createRateLimiter(LimitsSchema.parse({ rate: { requestsPerSecond: 2 } }).rate, () => 0);
    const results = Array.from({ length: 5 }, () => limiter?.take('k').allowed);
    expect(results).toEqual([true, true, true, true, false]);
  });
});

describe('SessionCounter', () => {
  it('GIVEN 2 sessions per key WHEN a third opens THEN it is refused until one is released', () => {
    const counter = new SessionCounter({ maxPerKey: 2 });
    const a = counter.tryOpen('key:ci', 'fetch');
    const b = counter.tryOpen('key:ci', 'memory');
    expect(counter.tryOpen('key:ci', 'fetch')).toEqual({ ok: false, limit: 'key', max: 2 });
    expect(counter.tryOpen('key:ops', 'fetch').ok).toBe(true);
    if (!a.ok || !b.ok) throw new Error('expected admissions');
    a.release();
    a.release(); // twice is harmless
    expect(counter.countForKey('key:ci')).toBe(1);
    expect(counter.tryOpen('key:ci', 'fetch').ok).toBe(true);
  });

  it('GIVEN a per-server cap WHEN it is full THEN any key is refused on that server only', () => {
    const counter = new SessionCounter({ maxPerServer: (s) => (s === 'fetch' ? 1 : undefined) });
    expect(counter.tryOpen('a', 'fetch').ok).toBe(true);
    expect(counter.tryOpen('b', 'fetch')).toEqual({ ok: false, limit: 'server', max: 1 });
    expect(counter.tryOpen('b', 'memory').ok).toBe(true);
    expect(counter.countForServer('fetch')).toBe(1);
  });
});

describe('InFlightQueue', () => {
  it('GIVEN concurrency 1 WHEN slots are released THEN waiters get them in arrival order', async () => {
    const queue = new InFlightQueue({ concurrency: 1, maxWaiting: 5 });
    const first = await queue.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => queue.acquire().then((release) => (order.push(n), release)));
    expect(queue.waiting).toBe(3);
    first();
    const second = await waits[0];
    expect(queue.tryAcquire()).toBeUndefined(); // no jumping the line while it is not empty
    second?.();
    (await waits[1])?.();
    (await waits[2])?.();
    expect(order).toEqual([1, 2, 3]);
    expect(queue.active).toBe(0);
    expect(queue.waiting).toBe(0);
  });

  it('GIVEN a full line WHEN one more request comes THEN it is refused at once with QueueFullError', async () => {
    const queue = new InFlightQueue({ concurrency: 1, maxWaiting: 1 });
    const release = await queue.acquire();
    const waiting = queue.acquire();
    await expect(queue.acquire()).rejects.toBeInstanceOf(QueueFullError);
    release();
    await expect(waiting).resolves.toBeTypeOf('function');
  });

  it('GIVEN a waiter WHEN its signal aborts THEN it leaves the line with QueueAbortedError', async () => {
    const queue = new InFlightQueue({ concurrency: 1, maxWaiting: 2 });
    const release = await queue.acquire();
    const controller = new AbortController();
    const waiting = queue.acquire(controller.signal);
    controller.abort(new Error('client went away'));
    await expect(waiting).rejects.toBeInstanceOf(QueueAbortedError);
    expect(queue.waiting).toBe(0);
    release();
    expect(queue.active).toBe(0);
    await expect(queue.acquire(AbortSignal.abort())).rejects.toBeInstanceOf(QueueAbortedError);
  });

  it('a released slot released again does not free a second slot', async () => {
    const queue = createInFlightQueue(LimitsSchema.parse({ maxInFlightPerChild: 2 }));
    const a = await queue.acquire();
    await queue.acquire();
    a();
    a();
    expect(queue.active).toBe(1);
  });
});
