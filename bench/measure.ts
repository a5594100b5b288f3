import { performance } from 'node:perf_hooks';
import type { BenchSession, LoadClient, Target } from './clients.js';
import { availableMemoryMiB, processTree, treeCpuSplit, treeMemory, treeSnapshot } from './proc.js';
import type { RunningSystem, Workload } from './systems.js';

/**
 * The measurements of one system: throughput, latency and CPU per call under N
 * concurrent sessions, time to a new client's first tool result, and memory with
 * N idle sessions. Every loop is bounded by a deadline and a call count.
 */

/** Figures of one throughput run. */
export interface ThroughputSample {
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /**
   * CPU of the system's own process per call (the gateway, or the floor server),
   * all its threads, children excluded; absent for the direct baseline, which has none.
   */
  readonly serverCpuMsPerCall?: number;
  /** CPU of the stdio children per call (absent for the floor, which has none). */
  readonly childCpuMsPerCall?: number;
  /** CPU of the load client per call (the bench process, all its threads). */
  readonly clientCpuMsPerCall: number;
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
}

/** Figures of one memory point. */
export interface MemorySample {
  readonly sessions: number;
  readonly rssMiB: number;
  /** The gateway process(es) alone. */
  readonly rootRssMiB: number;
  readonly processes: number;
  /**
   * Not measured: opening these sessions would have needed more memory than the
   * machine had available, so the figures are the slope of the measured points
   * carried on (the count a user would hit first).
   */
  readonly projected?: boolean;
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

/** Median of the finite values (NaN when there are none). */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** Opens `count` sessions on `workload`, at most `parallel` handshakes at a time. */
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

/** How long a throughput cell runs. */
export interface Window {
  /** Warm-up before the measured window, with at least one call per session; 0 for none. */
  readonly warmupMs: number;
  /** Least time measured. */
  readonly durationMs: number;
  /** Least calls measured (large payloads: a few calls take longer than `durationMs`). */
  readonly minCalls: number;
  /** Most time measured, whatever the count. */
  readonly maxDurationMs: number;
  readonly maxCallsPerSession: number;
}

/**
 * Runs every session in a closed loop (call, await, call again) for a warm-up of
 * at least one call each (unless `warmupMs` is 0), then for the measured window while recording latencies,
 * the system's CPU (its own process apart from its children) and the load
 * client's CPU.
 */
export async function measureThroughput(options: {
  readonly sessions: readonly BenchSession[];
  readonly workload: Workload;
  readonly message: string;
  readonly window: Window;
  readonly system: Pick<RunningSystem, 'rootPids' | 'rootsAreChildren'>;
}): Promise<ThroughputSample> {
  const { sessions, workload, message, window, system } = options;
  const errors: ErrorTally = { count: 0 };
  let measuredCalls = 0;
  const loop = async (session: BenchSession, until: () => boolean, latencies: number[] | undefined): Promise<number> => {
    let calls = 0;
    let consecutiveErrors = 0;
    while ((calls === 0 || !until()) && calls < window.maxCallsPerSession && consecutiveErrors < 3) {
      const start = performance.now();
      try {
        const text = await session.call(message);
        if (!workload.expect(message, text)) throw new Error(`wrong echo: ${text.length} chars back for ${message.length}`);
        if (latencies) {
          latencies.push(performance.now() - start);
          measuredCalls++;
        }
        calls++;
        consecutiveErrors = 0;
      } catch (err) {
        if (latencies) note(errors, err);
        consecutiveErrors++;
      }
    }
    return calls;
  };

  // Warm up again while the load makes the system start processes (a pool growing): the window measures the steady state.
  for (let round = 0; window.warmupMs > 0 && round < 10; round++) {
    const before = processTree(system.rootPids()).length;
    const warmupUntil = performance.now() + window.warmupMs;
    await Promise.all(sessions.map((s) => loop(s, () => performance.now() >= warmupUntil, undefined)));
    if (processTree(system.rootPids()).length === before) break;
  }

  const latencies: number[] = [];
  const cpuBefore = treeCpuSplit(system.rootPids());
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const done = (): boolean => {
    const elapsed = performance.now() - started;
    return elapsed >= window.maxDurationMs || (elapsed >= window.durationMs && measuredCalls >= window.minCalls);
  };
  const counts = await Promise.all(sessions.map((s) => loop(s, done, latencies)));
  const elapsedMs = performance.now() - started;
  const clientCpu = process.cpuUsage(clientBefore);
  const cpuAfter = treeCpuSplit(system.rootPids());

  const calls = counts.reduce((a, b) => a + b, 0);
  const perCall = (seconds: number): number => (calls > 0 ? (seconds * 1000) / calls : Number.NaN);
  const root = perCall(cpuAfter.rootSeconds - cpuBefore.rootSeconds);
  const children = perCall(cpuAfter.childSeconds - cpuBefore.childSeconds);
  latencies.sort((a, b) => a - b);
  return {
    callsPerSecond: calls / (elapsedMs / 1000),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    // The direct baseline's roots are its children; the floor's root has none.
    ...(system.rootsAreChildren ? { childCpuMsPerCall: root + children } : { serverCpuMsPerCall: root, childCpuMsPerCall: children }),
    clientCpuMsPerCall: perCall((clientCpu.user + clientCpu.system) / 1e6),
    calls,
    errors: errors.count,
    ...(errors.first === undefined ? {} : { firstError: errors.first }),
  };
}

/**
 * Time for a brand-new client to get its first tool result (connect, handshake,
 * first call), one client after another; each session is closed before the next,
 * and `beforeEach` (the system settling) runs before each client. With
 * `untimed` > 0, that many clients go first and are not timed: the bench's own
 * client code is cold until then, and would be timed instead of the system.
 */
export async function measureFirstResult(
  client: LoadClient,
  target: Target,
  workload: Workload,
  sampling: { readonly samples: number; readonly untimed?: number; readonly beforeEach?: () => Promise<void> },
  timeoutMs: number,
  errors: ErrorTally,
): Promise<number[]> {
  const times: number[] = [];
  const message = payload(100);
  const untimed = sampling.untimed ?? 0;
  for (let i = -untimed; i < sampling.samples; i++) {
    await sampling.beforeEach?.();
    const start = performance.now();
    let session: BenchSession | undefined;
    try {
      session = await client.open(target, workload.tool, timeoutMs);
      const text = await session.call(message);
      if (!workload.expect(message, text)) throw new Error('wrong echo on first call');
      if (i >= 0) times.push(performance.now() - start);
    } catch (err) {
      note(errors, err);
    }
    await session?.close();
  }
  return times;
}

/** Share of one core a settled system may still use (timers, a child's idle loop). */
const SETTLED_CPU_SHARE = 0.05;

/**
 * Waits (bounded) until the system's tree has kept the same process count, had
 * no process running or waiting for a CPU at each look (every 50 ms), and used
 * under 5% of a core, for `stableMs`: children being spawned, stopped or still
 * loading their modules are not half counted or half warm.
 */
export async function settle(rootPids: () => number[], stableMs = 300, maxMs = 10_000): Promise<void> {
  const deadline = performance.now() + maxMs;
  const cpu = (snap: { rootSeconds: number; childSeconds: number }): number => snap.rootSeconds + snap.childSeconds;
  let start = treeSnapshot(rootPids());
  let stableSince = performance.now();
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    // One scan of /proc per look: on a machine with many processes the scan itself costs CPU.
    const now = treeSnapshot(rootPids());
    const elapsed = performance.now() - stableSince;
    if (now.processes !== start.processes || now.busy) {
      start = now;
      stableSince = performance.now();
    } else if (elapsed >= stableMs) {
      if ((cpu(now) - cpu(start)) * 1000 <= SETTLED_CPU_SHARE * elapsed) return;
      // Used CPU all the same: start a new window.
      start = now;
      stableSince = performance.now();
    }
  }
}

/** How much of the available memory the memory phase may use before it projects instead of measuring. */
const MEMORY_BUDGET_SHARE = 0.6;

/**
 * Resident memory and process count of a system serving several workloads with
 * 0 and then each of `counts` idle sessions, spread round-robin over the
 * workloads; each session has made one call so that its child (if any) exists.
 * A count whose projected memory would not fit in the machine's available
 * memory is projected from the slope of the last measured points instead.
 */
export async function measureMemory(options: {
  readonly client: LoadClient;
  readonly system: RunningSystem;
  readonly workloads: readonly Workload[];
  readonly counts: readonly number[];
  readonly timeoutMs: number;
  readonly errors: ErrorTally;
  readonly settleMs: number;
  readonly settleMaxMs: number;
  /** Extra wait before each reading, for a gateway that stops idle children after a delay. */
  readonly idleWaitMs: number;
  readonly onPoint?: (sample: MemorySample) => void;
}): Promise<MemorySample[]> {
  const { client, system, workloads, errors } = options;
  const samples: MemorySample[] = [];
  const message = payload(100);
  const sessions: BenchSession[] = [];
  const read = async (count: number): Promise<MemorySample> => {
    await settle(system.rootPids, options.settleMs, options.settleMaxMs);
    if (options.idleWaitMs > 0) {
      await new Promise((r) => setTimeout(r, options.idleWaitMs));
      await settle(system.rootPids, options.settleMs, options.settleMaxMs);
    }
    return { sessions: count, ...treeMemory(system.rootPids()) };
  };
  try {
    const zero = await read(0);
    samples.push(zero);
    options.onPoint?.(zero);
    for (const count of [...options.counts].sort((a, b) => a - b)) {
      const last = samples[samples.length - 1]!;
      const previous = samples.length > 1 ? samples[samples.length - 2]! : last;
      const slope = (field: 'rssMiB' | 'processes' | 'rootRssMiB'): number =>
        last.sessions === previous.sessions ? 0 : (last[field] - previous[field]) / (last.sessions - previous.sessions);
      const projectedMiB = last.rssMiB + slope('rssMiB') * (count - last.sessions);
      if (last.projected === true || projectedMiB - last.rssMiB > MEMORY_BUDGET_SHARE * availableMemoryMiB()) {
        const sample: MemorySample = {
          sessions: count,
          rssMiB: projectedMiB,
          rootRssMiB: last.rootRssMiB + slope('rootRssMiB') * (count - last.sessions),
          processes: Math.round(last.processes + slope('processes') * (count - last.sessions)),
          projected: true,
        };
        samples.push(sample);
        options.onPoint?.(sample);
        continue;
      }
      const opened: BenchSession[] = [];
      // Round-robin over the fleet's servers: the i-th session goes to workload i mod n.
      const wanted = workloads.map(() => 0);
      for (let i = last.sessions; i < count; i++) wanted[i % workloads.length]!++;
      for (const [w, workload] of workloads.entries()) {
        const batch = await openSessions(client, system.target(workload.id), workload, wanted[w]!, options.timeoutMs, errors);
        await Promise.all(
          batch.map(async (s) => {
            try {
              const text = await s.call(message);
              if (!workload.expect(message, text)) throw new Error(`unexpected ${workload.tool.name} result: ${text.slice(0, 100)}`);
            } catch (err) {
              note(errors, err);
            }
          }),
        );
        opened.push(...batch);
      }
      sessions.push(...opened);
      const sample = await read(count);
      samples.push(sample);
      options.onPoint?.(sample);
    }
  } finally {
    await closeSessions(sessions);
  }
  return samples;
}
