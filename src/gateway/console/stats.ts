/**
 * Recent request statistics per server for the console: a ring of one-second
 * buckets over the last minutes (count, errors, a log-scale latency histogram),
 * so rates and percentiles cost a few array adds per request and nothing grows.
 */

/** How far back the console looks. */
export const STATS_WINDOW_SECONDS = 300;
/** Latency histogram bins: bin i ≥ 1 holds latencies in [2^((i-1)/2), 2^(i/2)) ms, bin 0 those under 1 ms; the last is open-ended. */
const BINS = 48;
/** Recent errors kept per server. */
const RECENT_ERRORS = 20;

/** One failed request, as the console lists it (no body, no credential). */
export interface RecentError {
  /** When it finished (ms since epoch). */
  readonly at: number;
  /** HTTP status answered. */
  readonly status: number;
  /** JSON-RPC method, when known. */
  readonly method: string | undefined;
}

/** A summary over a time range, and per-second series for charts. */
export interface StatsSummary {
  /** Requests per second over the range. */
  readonly callsPerSecond: number;
  /** Share of requests answered with HTTP 4xx/5xx (0..1); 0 without requests. */
  readonly errorRate: number;
  /** Median latency in ms (upper bound of its histogram bin); null without requests. */
  readonly p50Ms: number | null;
  /** 99th percentile latency in ms (upper bound of its bin); null without requests. */
  readonly p99Ms: number | null;
  /** Requests counted in the range. */
  readonly requests: number;
  /** Per-second series over the range, oldest first: unix seconds, calls, errors, p50, p99 (null where no call). */
  readonly series: { readonly t: number[]; readonly calls: number[]; readonly errors: number[]; readonly p50: (number | null)[]; readonly p99: (number | null)[] };
}

class ServerRing {
  readonly second = new Float64Array(STATS_WINDOW_SECONDS);
  readonly count = new Uint32Array(STATS_WINDOW_SECONDS);
  readonly errors = new Uint32Array(STATS_WINDOW_SECONDS);
  readonly bins = new Uint32Array(STATS_WINDOW_SECONDS * BINS);
  readonly recentErrors: RecentError[] = [];
}

function binOf(ms: number): number {
  if (ms < 1) return 0;
  return Math.min(BINS - 1, 1 + Math.floor(Math.log2(ms) * 2));
}

function binUpperMs(bin: number): number {
  return bin === 0 ? 1 : Math.round(2 ** (bin / 2) * 10) / 10;
}

function percentile(bins: Uint32Array | number[], offset: number, total: number, q: number): number | null {
  if (total === 0) return null;
  const want = Math.max(1, Math.ceil(total * q));
  let seen = 0;
  for (let b = 0; b < BINS; b++) {
    seen += bins[offset + b] ?? 0;
    if (seen >= want) return binUpperMs(b);
  }
  return binUpperMs(BINS - 1);
}

/** Request statistics of every server, fed once per finished request. */
export class RequestStats {
  private readonly rings = new Map<string, ServerRing>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts one finished request of `server`. */
  record(server: string, status: number, latencyMs: number, method: string | undefined): void {
    let ring = this.rings.get(server);
    if (!ring) {
      ring = new ServerRing();
      this.rings.set(server, ring);
    }
    const nowMs = this.now();
    const second = Math.floor(nowMs / 1000);
    const slot = second % STATS_WINDOW_SECONDS;
    if (ring.second[slot] !== second) {
      // The slot holds a second that fell out of the window: reuse it.
      ring.second[slot] = second;
      ring.count[slot] = 0;
      ring.errors[slot] = 0;
      ring.bins.fill(0, slot * BINS, (slot + 1) * BINS);
    }
    ring.count[slot] = (ring.count[slot] ?? 0) + 1;
    const bin = slot * BINS + binOf(latencyMs);
    ring.bins[bin] = (ring.bins[bin] ?? 0) + 1;
    if (status >= 400) {
      ring.errors[slot] = (ring.errors[slot] ?? 0) + 1;
      ring.recentErrors.push({ at: nowMs, status, method });
      if (ring.recentErrors.length > RECENT_ERRORS) ring.recentErrors.shift();
    }
  }

  /** The last failed requests of `server`, newest last. */
  recentErrors(server: string): readonly RecentError[] {
    return [...(this.rings.get(server)?.recentErrors ?? [])];
  }

  /** A summary of `server` over the last `seconds` (at most {@link STATS_WINDOW_SECONDS}), the current second included. */
  summary(server: string, seconds = 60): StatsSummary {
    const span = Math.max(1, Math.min(STATS_WINDOW_SECONDS, Math.floor(seconds)));
    const ring = this.rings.get(server);
    const last = Math.floor(this.now() / 1000);
    const total = new Array<number>(BINS).fill(0);
    const series = { t: [] as number[], calls: [] as number[], errors: [] as number[], p50: [] as (number | null)[], p99: [] as (number | null)[] };
    let requests = 0;
    let errors = 0;
    for (let second = last - span + 1; second <= last; second++) {
      const slot = second % STATS_WINDOW_SECONDS;
      const live = ring !== undefined && ring.second[slot] === second;
      const count = live ? (ring.count[slot] ?? 0) : 0;
      const failed = live ? (ring.errors[slot] ?? 0) : 0;
      series.t.push(second);
      series.calls.push(count);
      series.errors.push(failed);
      series.p50.push(live ? percentile(ring.bins, slot * BINS, count, 0.5) : null);
      series.p99.push(live ? percentile(ring.bins, slot * BINS, count, 0.99) : null);
      if (live) for (let b = 0; b < BINS; b++) total[b] = (total[b] ?? 0) + (ring.bins[slot * BINS + b] ?? 0);
      requests += count;
      errors += failed;
    }
    return {
      callsPerSecond: Math.round((requests / span) * 100) / 100,
      errorRate: requests === 0 ? 0 : Math.round((errors / requests) * 1000) / 1000,
      p50Ms: percentile(total, 0, requests, 0.5),
      p99Ms: percentile(total, 0, requests, 0.99),
      requests,
      series,
    };
  }
}
