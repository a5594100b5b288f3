import { performance } from 'node:perf_hooks';
import type { BenchSession, LoadClient, Target } from './clients.js';
import { processTree, treeCpuSeconds, treeMemory } from './proc.js';
import type { Workload } from './systems.js';

/**
 * The measurements of one system: throughput and latency under N concurrent
 * sessions, time to a new client's first tool result, and memory with N idle
 * sessions. Every loop is bounded by a deadline and a call count.
 */

/** Figures of one throughput run. */
export interface ThroughputSample {
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU of the system under test (gateway plus children) per call, in ms. */
  readonly cpuMsPerCall: number;
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
}

/** Figures of one memory point. */
export interface MemorySample {
  readonly sessions: number;
  readonly rssMiB: number;
  /** The gateway process alone. */
  readonly rootRssMiB: number;
  readonly processes: number;
}

/** Errors of a phase, with the first message to show. */
export interface ErrorTally {
  count: number;
  first?: string;
}

function note(tally: ErrorTally, err: unknown): void {
  tally.count++;
  tally.first ??= err instanceof Error ? err.message : String(err);
}

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Median of values (NaN when empty). */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** Opens `count` sessions, at most `parallel` handshakes at a time. */
export async function openSessions(
  client: LoadClient,
  target: Target,
  workload: Workload,
  count: number,
  timeoutMs: number,
  errors: ErrorTally,
  parallel = 8,
): Promise<BenchSession[]> {
  const sessions: BenchSession[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      try {
        sessions.push(await client.open(target, workload.tool, timeoutMs));
      } catch (err) {
        note(errors, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return sessions;
}

/** Closes sessions, a few at a time. */
export async function closeSessions(sessions: readonly BenchSession[], parallel = 16): Promise<void> {
  for (let i = 0; i < sessions.length; i += parallel) {
    await Promise.all(sessions.slice(i, i + parallel).map((s) => s.close()));
  }
}

/** A message of exactly `bytes` ASCII characters. */
export function payload(bytes: number): string {
  return 'x'.repeat(bytes);
}

/**
 * Runs every session in a closed loop (call, await, call again) for a warm-up,
 * then for `durationMs` while recording latencies and the system's CPU.
 */
export async function measureThroughput(options: {
  readonly sessions: readonly BenchSession[];
  readonly workload: Workload;
  readonly message: string;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly maxCallsPerSession: number;
  readonly rootPids: () => number[];
}): Promise<ThroughputSample> {
  const { sessions, workload, message } = options;
  const errors: ErrorTally = { count: 0 };
  const loop = async (session: BenchSession, until: number, latencies: number[] | undefined): Promise<number> => {
    let calls = 0;
    let consecutiveErrors = 0;
    while (performance.now() < until && calls < options.maxCallsPerSession && consecutiveErrors < 3) {
      const start = performance.now();
      try {
        const text = await session.call(message);
        if (!workload.expect(message, text)) throw new Error(`wrong echo: ${text.length} chars back for ${message.length}`);
        latencies?.push(performance.now() - start);
        calls++;
        consecutiveErrors = 0;
      } catch (err) {
        if (latencies) note(errors, err);
        consecutiveErrors++;
      }
    }
    return calls;
  };

  await Promise.all(sessions.map((s) => loop(s, performance.now() + options.warmupMs, undefined)));

  const latencies: number[] = [];
  const cpuBefore = treeCpuSeconds(options.rootPids());
  const started = performance.now();
  const until = started + options.durationMs;
  const counts = await Promise.all(sessions.map((s) => loop(s, until, latencies)));
  const elapsedMs = performance.now() - started;
  const cpuAfter = treeCpuSeconds(options.rootPids());

  const calls = counts.reduce((a, b) => a + b, 0);
  latencies.sort((a, b) => a - b);
  return {
    callsPerSecond: calls / (elapsedMs / 1000),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    cpuMsPerCall: calls > 0 ? ((cpuAfter - cpuBefore) * 1000) / calls : Number.NaN,
    calls,
    errors: errors.count,
    ...(errors.first === undefined ? {} : { firstError: errors.first }),
  };
}

/**
 * Time for a brand-new client to get its first tool result (connect, handshake,
 * first call), one client after another; the session is closed after each.
 */
export async function measureFirstResult(
  client: LoadClient,
  target: Target,
  workload: Workload,
  samples: number,
  timeoutMs: number,
  errors: ErrorTally,
): Promise<number[]> {
  const times: number[] = [];
  const message = payload(100);
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    let session: BenchSession | undefined;
    try {
      session = await client.open(target, workload.tool, timeoutMs);
      const text = await session.call(message);
      if (!workload.expect(message, text)) throw new Error('wrong echo on first call');
      times.push(performance.now() - start);
    } catch (err) {
      note(errors, err);
    }
    await session?.close();
  }
  return times;
}

/**
 * Waits (bounded) until the process count of the system's tree has been the
 * same for `stableMs`, so children being spawned or stopped are not half counted.
 */
export async function settle(rootPids: () => number[], stableMs = 300, maxMs = 5000): Promise<void> {
  const deadline = performance.now() + maxMs;
  let last = processTree(rootPids()).length;
  let stableSince = performance.now();
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = processTree(rootPids()).length;
    if (now !== last) {
      last = now;
      stableSince = performance.now();
    } else if (performance.now() - stableSince >= stableMs) {
      return;
    }
  }
}

/**
 * Resident memory and process count of the system with 0 and then each of
 * `counts` open sessions; each session has made one call so that its child (if
 * any) exists. The sessions are left open in `sessions` for the caller to use
 * and close.
 */
export async function measureMemory(
  client: LoadClient,
  target: Target,
  workload: Workload,
  counts: readonly number[],
  rootPids: () => number[],
  timeoutMs: number,
  errors: ErrorTally,
  settleMs: number,
  sessions: BenchSession[],
): Promise<MemorySample[]> {
  const samples: MemorySample[] = [];
  const message = payload(100);
  await settle(rootPids, settleMs);
  samples.push({ sessions: 0, ...treeMemory(rootPids()) });
  for (const count of [...counts].sort((a, b) => a - b)) {
    const opened = await openSessions(client, target, workload, count - sessions.length, timeoutMs, errors);
    sessions.push(...opened);
    await Promise.all(
      opened.map(async (s) => {
        try {
          await s.call(message);
        } catch (err) {
          note(errors, err);
        }
      }),
    );
    await settle(rootPids, settleMs);
    samples.push({ sessions: count, ...treeMemory(rootPids()) });
  }
  return samples;
}
