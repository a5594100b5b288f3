import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { LOAD_CLIENTS, rawClient, type BenchSession, type LoadClient, type LoadClientId } from './clients.js';
import {
  closeSessions,
  measureFirstResult,
  measureMemory,
  measureThroughput,
  openSessions,
  payload,
  settle,
  type ErrorTally,
  type MemorySample,
  type ThroughputSample,
} from './measure.js';
import { gitCommit, SYSTEMS, WORKLOADS, type BenchPhase, type RunningSystem, type SystemSpec, type Workload } from './systems.js';

/**
 * Runs the bench: every workload, every available system (alternating their
 * order from one run to the next), every load client and concurrency.
 */

/** What to measure and how long. */
export interface BenchOptions {
  readonly runs: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly maxCallsPerSession: number;
  readonly concurrency: readonly number[];
  readonly payloadBytes: readonly number[];
  readonly memorySessions: readonly number[];
  readonly firstResultSamples: number;
  readonly callTimeoutMs: number;
  /** How long a system's process count must hold still before memory is read or the next phase starts. */
  readonly settleMs: number;
  /** Ids of systems to run; all when empty. */
  readonly systems: readonly string[];
  /** Ids of workloads to run; all when empty. */
  readonly workloads: readonly string[];
  readonly clients: readonly LoadClientId[];
  /** Write CPU profiles of mcp-fleet here (`node --cpu-prof`); none when undefined. */
  readonly cpuProfileDir?: string;
  /** Progress lines (the CLI prints them, a test may collect them). */
  readonly onProgress?: (line: string) => void;
}

/** Full bench: 3 runs, sized to finish within about 15 minutes on 2 cores. */
export const FULL_OPTIONS: BenchOptions = {
  runs: 3,
  warmupMs: 150,
  durationMs: 800,
  maxCallsPerSession: 100_000,
  concurrency: [1, 8, 32],
  payloadBytes: [100, 64 * 1024],
  memorySessions: [1, 16, 64],
  firstResultSamples: 3,
  callTimeoutMs: 15_000,
  settleMs: 300,
  systems: [],
  workloads: [],
  clients: ['raw', 'sdk'],
};

/** Smoke run: one pass, tiny counts, seconds. */
export const QUICK_OPTIONS: BenchOptions = {
  runs: 1,
  warmupMs: 20,
  durationMs: 150,
  maxCallsPerSession: 200,
  concurrency: [1],
  payloadBytes: [100, 64 * 1024],
  memorySessions: [1],
  // The cold start already times one new client; repeating it would only cost spawns.
  firstResultSamples: 0,
  callTimeoutMs: 10_000,
  settleMs: 50,
  systems: [],
  workloads: ['echo'],
  clients: ['raw', 'sdk'],
};

/** One throughput cell. */
export interface ThroughputRecord extends ThroughputSample {
  readonly run: number;
  readonly workload: string;
  readonly system: string;
  readonly client: LoadClientId;
  readonly payloadBytes: number;
  readonly concurrency: number;
}

/** Time to first result of a new client in one run: median of its samples. */
export interface FirstResultRecord {
  readonly run: number;
  readonly workload: string;
  readonly system: string;
  readonly client: LoadClientId | 'cold start';
  readonly ms: number;
}

/** Memory of one system in one run. */
export interface MemoryRecord extends MemorySample {
  readonly run: number;
  readonly workload: string;
  readonly system: string;
}

/** Errors of one phase. */
export interface ErrorRecord {
  readonly run: number;
  readonly workload: string;
  readonly system: string;
  readonly phase: string;
  readonly count: number;
  readonly first: string;
}

/** Everything a bench run found. */
export interface BenchResult {
  readonly options: Omit<BenchOptions, 'onProgress'>;
  readonly startedAt: string;
  readonly wallSeconds: number;
  /** 1, 5 and 15 minute load averages before and after the run (the machine may be shared). */
  readonly loadAverage?: { readonly start: number[]; readonly end: number[] };
  /** Commit checked out when the run started (the working tree may hold more). */
  readonly commit?: string;
  readonly systems: ReadonlyArray<{ id: string; label: string; family: string; sharing: string; version: string; unavailable?: string }>;
  readonly workloads: ReadonlyArray<{ id: string; label: string }>;
  readonly throughput: ThroughputRecord[];
  readonly firstResult: FirstResultRecord[];
  readonly memory: MemoryRecord[];
  readonly errors: ErrorRecord[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function measureSystem(
  spec: SystemSpec,
  workload: Workload,
  run: number,
  options: BenchOptions,
  result: BenchResult,
  progress: (line: string) => void,
): Promise<void> {
  const base = { run, workload: workload.id, system: spec.id };
  const recordErrors = (phase: string, tally: ErrorTally): void => {
    if (tally.count > 0) result.errors.push({ ...base, phase, count: tally.count, first: tally.first ?? '' });
  };
  const clients = LOAD_CLIENTS.filter((c) => options.clients.includes(c.id) && workload.clients.includes(c.id));
  const runs = (phase: BenchPhase): boolean => spec.phases === undefined || spec.phases.includes(phase);
  const timeoutMs = options.callTimeoutMs;

  const spawnedAt = performance.now();
  let system: RunningSystem;
  try {
    system = await spec.start(workload, options.cpuProfileDir === undefined ? {} : { cpuProfileDir: options.cpuProfileDir });
  } catch (err) {
    recordErrors('start', { count: 1, first: err instanceof Error ? err.message : String(err) });
    progress(`  ${spec.id}: failed to start: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const { target, rootPids } = system;

  const throughputPass = async (client: LoadClient, sessions: readonly BenchSession[]): Promise<void> => {
    for (const concurrency of options.concurrency) {
      const active = sessions.slice(0, concurrency);
      if (active.length < concurrency) {
        progress(`  ${spec.id}: only ${active.length}/${concurrency} ${client.id} sessions open`);
        if (active.length === 0) continue;
      }
      for (const payloadBytes of options.payloadBytes) {
        const sample = await measureThroughput({
          sessions: active,
          workload,
          message: payload(payloadBytes),
          warmupMs: options.warmupMs,
          durationMs: options.durationMs,
          maxCallsPerSession: options.maxCallsPerSession,
          rootPids,
        });
        result.throughput.push({ ...base, client: client.id, payloadBytes, concurrency, ...sample });
        if (sample.errors > 0) {
          result.errors.push({
            ...base,
            phase: `throughput ${client.id} c=${concurrency} ${payloadBytes} B`,
            count: sample.errors,
            first: sample.firstError ?? '',
          });
        }
        progress(
          `  ${spec.id} ${client.id} c=${concurrency} ${payloadBytes} B: ${sample.callsPerSecond.toFixed(0)} calls/s, p50 ${sample.p50Ms.toFixed(2)} ms, p99 ${sample.p99Ms.toFixed(2)} ms, ${sample.cpuMsPerCall.toFixed(2)} CPU ms/call, ${sample.errors} errors`,
        );
      }
    }
  };

  try {
    // Cold start: from spawning the system to the first tool result of its first client.
    if (spec.family !== 'baseline') {
      const tally: ErrorTally = { count: 0 };
      const [first] = await measureFirstResult(rawClient, target, workload, 1, timeoutMs, tally);
      if (first !== undefined) {
        const ms = performance.now() - spawnedAt;
        result.firstResult.push({ ...base, client: 'cold start', ms });
        progress(`  ${spec.id} cold start to first result: ${ms.toFixed(0)} ms`);
      }
      recordErrors('cold start', tally);
    }
    await settle(rootPids, options.settleMs);

    for (const client of options.firstResultSamples > 0 && runs('first-result') ? clients : []) {
      const tally: ErrorTally = { count: 0 };
      const times = await measureFirstResult(client, target, workload, options.firstResultSamples, timeoutMs, tally);
      if (times.length > 0) result.firstResult.push({ ...base, client: client.id, ms: median(times) });
      progress(`  ${spec.id} first result (${client.id}): ${median(times).toFixed(1)} ms`);
      recordErrors(`first result (${client.id})`, tally);
      await settle(rootPids, options.settleMs);
    }

    // Memory first, with raw sessions that then carry the raw throughput runs:
    // one set of sessions (and children) serves both, which halves the spawning.
    if (!runs('memory') && !runs('throughput')) return;
    const mostSessions = Math.max(...options.concurrency, ...options.memorySessions);
    const rawSessions: BenchSession[] = [];
    try {
      const memoryTally: ErrorTally = { count: 0 };
      const memory = await measureMemory(rawClient, target, workload, options.memorySessions, rootPids, timeoutMs, memoryTally, options.settleMs, rawSessions);
      for (const sample of memory) result.memory.push({ ...base, ...sample });
      progress(
        `  ${spec.id} memory: ${memory.map((m) => `${m.sessions} sessions ${m.rssMiB.toFixed(0)} MiB (gateway ${m.rootRssMiB.toFixed(0)})/${m.processes} procs`).join(', ')}`,
      );
      if (rawSessions.length < mostSessions) {
        rawSessions.push(...(await openSessions(rawClient, target, workload, mostSessions - rawSessions.length, timeoutMs, memoryTally)));
      }
      recordErrors('open raw sessions', memoryTally);
      if (clients.includes(rawClient)) await throughputPass(rawClient, rawSessions);
    } finally {
      await closeSessions(rawSessions);
    }

    for (const client of runs('throughput') ? clients.filter((c) => c !== rawClient) : []) {
      await settle(rootPids, options.settleMs);
      const tally: ErrorTally = { count: 0 };
      const sessions = await openSessions(client, target, workload, Math.max(...options.concurrency), timeoutMs, tally);
      recordErrors(`open ${client.id} sessions`, tally);
      try {
        await throughputPass(client, sessions);
      } finally {
        await closeSessions(sessions);
      }
    }
  } finally {
    await system.stop();
  }
}

/** Runs the bench with `options`; stops every process it started, also on error. */
export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const progress = options.onProgress ?? (() => undefined);
  const started = performance.now();
  const loadAtStart = loadavg();
  const { onProgress: _ignored, ...recordedOptions } = options;
  const selected = SYSTEMS.filter((s) => options.systems.length === 0 || options.systems.includes(s.id));
  const result: BenchResult = {
    options: recordedOptions,
    startedAt: new Date().toISOString(),
    wallSeconds: 0,
    commit: gitCommit(),
    systems: selected.map((s) => {
      const unavailable = s.unavailable();
      return {
        id: s.id,
        label: s.label,
        family: s.family,
        sharing: s.sharing,
        version: s.version(),
        ...(unavailable === undefined ? {} : { unavailable }),
      };
    }),
    workloads: WORKLOADS.filter((w) => options.workloads.length === 0 || options.workloads.includes(w.id)).map((w) => ({
      id: w.id,
      label: w.label,
    })),
    throughput: [],
    firstResult: [],
    memory: [],
    errors: [],
  };
  const runnable = selected.filter((s) => s.unavailable() === undefined);
  for (const s of result.systems) if (s.unavailable) progress(`${s.id}: ${s.unavailable}`);

  for (let run = 0; run < options.runs; run++) {
    for (const workloadInfo of result.workloads) {
      const workload = WORKLOADS.find((w) => w.id === workloadInfo.id)!;
      // Rotate the order each run so no system always goes first (or last) on a warm machine.
      const order = runnable.map((_, i) => runnable[(i + run) % runnable.length]!);
      for (const spec of order) {
        progress(`run ${run + 1}/${options.runs} ${workload.id} ${spec.id}`);
        await measureSystem(spec, workload, run, options, result, progress);
      }
    }
  }
  return {
    ...result,
    wallSeconds: (performance.now() - started) / 1000,
    loadAverage: { start: loadAtStart, end: loadavg() },
  };
}
