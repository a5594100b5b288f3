import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LOAD_CLIENTS, rawClient, type BenchSession, type LoadClient, type LoadClientId } from './clients.js';
import {
  closeSessions,
  measureFirstResult,
  measureMemory,
  measureThroughput,
  median,
  openSessions,
  payload,
  settle,
  type ErrorTally,
  type MemorySample,
  type ThroughputSample,
  type Window,
} from './measure.js';
import { profileFiles, readProfile, summarize, type TopFrame } from './profile.js';
import {
  FLEET_MAIN,
  FLEET_WORKLOADS,
  freePort,
  gitCommit,
  ROOT,
  spawnLogged,
  SYSTEMS,
  workload as workloadById,
  type BenchPhase,
  type RunningSystem,
  type StartOptions,
  type SystemSpec,
  type Workload,
  type WorkloadId,
} from './systems.js';

/**
 * Runs the bench: the selected phases over the selected systems, alternating
 * their order from one run to the next, and returns every figure it measured.
 */

/** A phase written elsewhere (bench/cli-startup.ts): it measures and returns a table for the report. */
export interface ExtraPhase {
  readonly id: BenchPhase;
  readonly title: string;
  run(context: { readonly fleetMain: string; readonly progress: (line: string) => void }): Promise<ExtraPhaseResult>;
}

/** What an extra phase adds to the report: a table, notes, and targets it met or not. */
export interface ExtraPhaseResult {
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  readonly notes?: readonly string[];
  readonly targets?: ReadonlyArray<{ readonly target: string; readonly measured: string; readonly met: boolean }>;
}

/** What to measure and how long. */
export interface BenchOptions {
  readonly runs: number;
  readonly phases: readonly BenchPhase[];
  /** Ids of systems to run; all when empty. */
  readonly systems: readonly string[];
  /** Workloads of the load phases (throughput, cpu, cold, profile). */
  readonly workloads: readonly WorkloadId[];
  /** Load clients of the throughput phase (the cpu phase uses the raw client). */
  readonly clients: readonly LoadClientId[];
  readonly throughputConcurrency: readonly number[];
  readonly throughputPayloadBytes: readonly number[];
  readonly cpuConcurrency: readonly number[];
  readonly cpuPayloadBytes: readonly number[];
  readonly window: Window;
  /** Idle sessions of the memory phase, spread round-robin over its workloads. */
  readonly memorySessions: readonly number[];
  /** Servers of the memory phase. @default the example fleet's (FLEET_WORKLOADS) */
  readonly memoryWorkloads?: readonly WorkloadId[];
  /** Extra wait before a memory reading (for a gateway that stops idle children after a delay). */
  readonly idleWaitMs: number;
  /** New clients timed one after another with a warm child, per load client. */
  readonly firstResultSamples: number;
  /** Load clients of those new clients. @default clients */
  readonly firstResultClients?: readonly LoadClientId[];
  /** `serve` start-to-ready samples for examples/fleet.yaml. */
  readonly readySamples: number;
  /** Load time of each profiled system, and its clients. */
  readonly profileMs: number;
  readonly profileConcurrency: number;
  readonly callTimeoutMs: number;
  /** How long a system's process count must hold still before memory is read or the next phase starts. */
  readonly settleMs: number;
  /**
   * Load before the first timed cell of a set of sessions, not recorded: at 100 B
   * and then at 64 KiB, each until `calls` calls or `maxMsPerSize`, whichever comes
   * first. The system's optimizing compiler has compiled its hot path by then.
   */
  readonly jitWarmup: { readonly calls: number; readonly maxMsPerSize: number };
  /** The longest wait for that; past it the bench goes on (a loaded machine may never look idle). */
  readonly settleMaxMs: number;
  /** The mcp-fleet CLI to run. @default dist/cli/main.js */
  readonly fleetMain?: string;
  /** Where this run keeps its files (profiles); outside git. */
  readonly runDir: string;
  /** Phases written elsewhere, run after the others when selected. */
  readonly extraPhases?: readonly ExtraPhase[];
  /** Progress lines (the CLI prints them, a test may collect them). */
  readonly onProgress?: (line: string) => void;
}

const KiB = 1024;
const MiB = 1024 * 1024;

/** Full bench: 3 runs of the load phases, one of memory; 45 to 50 minutes on 2 cores. */
export const FULL_OPTIONS: Omit<BenchOptions, 'runDir'> = {
  runs: 3,
  phases: ['throughput', 'cpu', 'memory', 'cold', 'ready', 'profile', 'cli'],
  systems: [],
  workloads: ['echo'],
  clients: ['raw', 'sdk', 'sdk2'],
  throughputConcurrency: [1, 8, 32],
  throughputPayloadBytes: [100],
  cpuConcurrency: [1, 8],
  cpuPayloadBytes: [100, 64 * KiB, 1 * MiB, 8 * MiB],
  window: { warmupMs: 150, durationMs: 700, minCalls: 8, maxDurationMs: 6000, maxCallsPerSession: 100_000 },
  memorySessions: [1, 64, 200],
  idleWaitMs: 0,
  firstResultSamples: 3,
  readySamples: 3,
  profileMs: 3000,
  profileConcurrency: 8,
  callTimeoutMs: 30_000,
  settleMs: 300,
  settleMaxMs: 10_000,
  jitWarmup: { calls: 10_000, maxMsPerSize: 4000 },
};

/** `--quick`: every phase once with small counts, a minute or two. */
export const QUICK_OPTIONS: Omit<BenchOptions, 'runDir'> = {
  ...FULL_OPTIONS,
  runs: 1,
  throughputConcurrency: [1, 8],
  cpuConcurrency: [1],
  cpuPayloadBytes: [100, 64 * KiB, 1 * MiB],
  window: { warmupMs: 30, durationMs: 200, minCalls: 3, maxDurationMs: 2000, maxCallsPerSession: 2000 },
  jitWarmup: { calls: 500, maxMsPerSize: 200 },
  memorySessions: [1, 8],
  firstResultSamples: 2,
  readySamples: 1,
  profileMs: 600,
  settleMs: 100,
  settleMaxMs: 5000,
};

/** One throughput cell. */
export interface ThroughputRecord extends ThroughputSample {
  readonly run: number;
  readonly workload: string;
  readonly system: string;
  readonly client: LoadClientId;
  readonly payloadBytes: number;
  readonly concurrency: number;
  /**
   * CPU cells of a system other than the floor: the HTTP floor's server CPU per
   * call on the same cell, measured just before and just after this window (their
   * mean), so that a ratio to it compares two systems on the machine as it was.
   */
  readonly pairedFloorCpuMsPerCall?: number;
}

/** Time to first result of a new client in one run: median of its samples. */
export interface FirstResultRecord {
  readonly run: number;
  readonly workload: string;
  readonly system: string;
  /** `cold start`: from spawning the system to its first client's first result. */
  readonly client: LoadClientId | 'cold start';
  readonly ms: number;
}

/** Memory of one system serving the example fleet's servers. */
export interface MemoryRecord extends MemorySample {
  readonly run: number;
  readonly system: string;
}

/** One `serve` start of examples/fleet.yaml. */
export interface ReadyRecord {
  readonly run: number;
  /** Spawn to the port accepting connections. */
  readonly listeningMs: number;
  /** Spawn to `/ready` answering 200. */
  readonly readyMs: number;
}

/** A CPU profile of one system under load, summed up. */
export interface ProfileRecord {
  readonly system: string;
  readonly workload: string;
  /** The profile files, relative to the repository. */
  readonly files: string[];
  readonly load: string;
  readonly calls: number;
  readonly busyMs: number;
  readonly self: TopFrame[];
  readonly packages: TopFrame[];
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
  readonly options: Omit<BenchOptions, 'onProgress' | 'extraPhases'>;
  readonly startedAt: string;
  readonly wallSeconds: number;
  /** 1, 5 and 15 minute load averages before and after the run (the machine may be shared). */
  readonly loadAverage?: { readonly start: number[]; readonly end: number[] };
  /** Commit checked out when the run started (the working tree may hold more). */
  readonly commit?: string;
  readonly systems: ReadonlyArray<{ id: string; label: string; family: string; sharing: string; protocol: string; version: string; phases: readonly string[]; unavailable?: string }>;
  readonly workloads: ReadonlyArray<{ id: string; label: string }>;
  /** Wall time of each phase, s. */
  readonly phaseSeconds: Record<string, number>;
  readonly throughput: ThroughputRecord[];
  readonly firstResult: FirstResultRecord[];
  readonly memory: MemoryRecord[];
  readonly ready: ReadyRecord[];
  readonly profiles: ProfileRecord[];
  readonly extra: Array<{ id: string; title: string } & ExtraPhaseResult>;
  readonly errors: ErrorRecord[];
}

interface Cell {
  readonly client: LoadClient;
  readonly payloadBytes: number;
  readonly concurrency: number;
  /** A cell of the cpu phase (its CPU figures are compared with the floor beside). */
  readonly cpu: boolean;
}

/** The throughput and cpu cells of a system, each once, grouped by client. */
function cellsFor(spec: SystemSpec, options: BenchOptions): Cell[] {
  const cells = new Map<string, Cell>();
  const add = (client: LoadClient, payloadBytes: number, concurrency: number, cpu: boolean): void => {
    if (!client.speaks(spec.protocol)) return;
    const key = `${client.id}/${concurrency}/${payloadBytes}`;
    cells.set(key, { client, payloadBytes, concurrency, cpu: cpu || (cells.get(key)?.cpu ?? false) });
  };
  const on = (phase: BenchPhase): boolean => options.phases.includes(phase) && spec.phases.includes(phase);
  if (on('throughput')) {
    for (const client of LOAD_CLIENTS.filter((c) => options.clients.includes(c.id))) {
      for (const c of options.throughputConcurrency) for (const p of options.throughputPayloadBytes) add(client, p, c, false);
    }
  }
  if (on('cpu')) {
    for (const c of options.cpuConcurrency) for (const p of options.cpuPayloadBytes) add(rawClient, p, c, true);
  }
  const order = (c: Cell): number => LOAD_CLIENTS.indexOf(c.client);
  return [...cells.values()].sort((a, b) => order(a) - order(b) || a.concurrency - b.concurrency || a.payloadBytes - b.payloadBytes);
}

const sizeLabel = (bytes: number): string => (bytes >= MiB ? `${bytes / MiB} MiB` : bytes >= KiB ? `${bytes / KiB} KiB` : `${bytes} B`);

class Recorder {
  constructor(
    readonly result: BenchResult,
    readonly progress: (line: string) => void,
  ) {}

  errors(base: { run: number; workload: string; system: string }, phase: string, tally: ErrorTally): void {
    if (tally.count > 0) this.result.errors.push({ ...base, phase, count: tally.count, first: tally.first ?? '' });
  }
}

function startOptions(options: BenchOptions, cpuProfileDir?: string): StartOptions {
  return {
    ...(options.fleetMain === undefined ? {} : { fleetMain: options.fleetMain }),
    ...(cpuProfileDir === undefined ? {} : { cpuProfileDir }),
  };
}

/**
 * Loads fresh sessions until the system's CPU per call is steady (see `jitWarmup`):
 * at 100 B and then 64 KiB, each for the warm-up's calls or its time, whichever
 * comes first. Nothing is recorded.
 */
async function warmUp(sessions: readonly BenchSession[], workload: Workload, system: RunningSystem, options: BenchOptions): Promise<void> {
  const { calls, maxMsPerSize } = options.jitWarmup;
  if (calls <= 0 || sessions.length === 0) return;
  const window = { warmupMs: 0, durationMs: 0, minCalls: calls, maxDurationMs: maxMsPerSize, maxCallsPerSession: 1_000_000 };
  for (const bytes of [100, 64 * KiB]) await measureThroughput({ sessions, workload, message: payload(bytes), window, system });
}

/**
 * The HTTP floor running beside a system during its CPU cells. This machine's
 * speed drifts (the same cell of the same system costs up to twice as much CPU
 * a minute later, and so do the floor and the load client), so a ratio to a floor
 * measured minutes apart measures the drift too. The floor beside is measured on
 * the same cell right before and right after the system's window.
 */
interface FloorBeside {
  /** The floor's server CPU per call on a cell, measured now. */
  measure(cell: Cell): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function startFloorBeside(workload: Workload, sessionCount: number, options: BenchOptions, rec: Recorder, base: { run: number; workload: string; system: string }): Promise<FloorBeside | undefined> {
  const spec = SYSTEMS.find((s) => s.id === 'floor');
  if (!spec || spec.unavailable(startOptions(options)) !== undefined) return undefined;
  const where = { ...base, system: `${base.system} (floor beside)` };
  let running: RunningSystem;
  try {
    running = await spec.start([workload], startOptions(options));
  } catch (err) {
    rec.errors(where, 'start', { count: 1, first: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
  const tally: ErrorTally = { count: 0 };
  const sessions = await openSessions(rawClient, running.target(workload.id), workload, sessionCount, options.callTimeoutMs, tally);
  rec.errors(where, 'open raw sessions', tally);
  await warmUp(sessions, workload, running, options);
  return {
    async measure(cell) {
      const active = sessions.slice(0, cell.concurrency);
      if (active.length < cell.concurrency) return undefined;
      const sample = await measureThroughput({ sessions: active, workload, message: payload(cell.payloadBytes), window: options.window, system: running });
      rec.errors(where, `raw c=${cell.concurrency} ${sizeLabel(cell.payloadBytes)}`, { count: sample.errors, ...(sample.firstError === undefined ? {} : { first: sample.firstError }) });
      return sample.errors === 0 ? sample.serverCpuMsPerCall : undefined;
    },
    async stop() {
      await closeSessions(sessions);
      await running.stop();
    },
  };
}

/** The load phases of one system in one run: cold start, new clients with a warm child, then every throughput/cpu cell. */
async function measureLoad(spec: SystemSpec, workload: Workload, run: number, options: BenchOptions, rec: Recorder): Promise<void> {
  const base = { run, workload: workload.id, system: spec.id };
  const timeoutMs = options.callTimeoutMs;
  const cold = options.phases.includes('cold') && spec.phases.includes('cold');
  const cells = cellsFor(spec, options);
  if (!cold && cells.length === 0) return;

  const spawnedAt = performance.now();
  let system: RunningSystem;
  try {
    system = await spec.start([workload], startOptions(options));
  } catch (err) {
    rec.errors(base, 'start', { count: 1, first: err instanceof Error ? err.message : String(err) });
    rec.progress(`  ${spec.id}: failed to start: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const target = system.target(workload.id);
  try {
    if (cold) {
      const tally: ErrorTally = { count: 0 };
      const [first] = await measureFirstResult(rawClient, target, workload, { samples: 1 }, timeoutMs, tally);
      if (first !== undefined) {
        const ms = performance.now() - spawnedAt;
        rec.result.firstResult.push({ ...base, client: 'cold start', ms });
        rec.progress(`  ${spec.id} cold start to first result: ${ms.toFixed(0)} ms`);
      }
      rec.errors(base, 'cold start', tally);
      for (const client of LOAD_CLIENTS.filter((c) => (options.firstResultClients ?? options.clients).includes(c.id) && c.speaks(spec.protocol))) {
        const clientTally: ErrorTally = { count: 0 };
        const times = await measureFirstResult(
          client,
          target,
          workload,
          {
            samples: options.firstResultSamples,
            // The first system of a run would otherwise time the bench's own client code while it is
            // still cold (20 to 30 ms on these machines), not the system.
            untimed: 1,
            // A new client arrives at an idle gateway: whatever it starts ahead of need is running.
            beforeEach: () => settle(system.rootPids, options.settleMs, options.settleMaxMs),
          },
          timeoutMs,
          clientTally,
        );
        if (times.length > 0) rec.result.firstResult.push({ ...base, client: client.id, ms: median(times) });
        rec.progress(`  ${spec.id} first result, new ${client.id} client, warm child: ${median(times).toFixed(1)} ms`);
        rec.errors(base, `first result (${client.id})`, clientTally);
      }
    }

    for (const client of LOAD_CLIENTS) {
      const mine = cells.filter((c) => c.client === client);
      if (mine.length === 0) continue;
      await settle(system.rootPids, options.settleMs, options.settleMaxMs);
      const tally: ErrorTally = { count: 0 };
      const wanted = Math.max(...mine.map((c) => c.concurrency));
      const sessions: BenchSession[] = await openSessions(client, target, workload, wanted, timeoutMs, tally);
      rec.errors(base, `open ${client.id} sessions`, tally);
      // Timed cells measure the steady cost of a call. A fresh gateway spends 0.75 to
      // 1.1 ms of CPU per call over its first 1500 calls (its optimizing compiler runs
      // on threads of its process) and about 0.1 ms after some 4000: a warm-up by time
      // alone gives a fast system enough calls and a slow one too few.
      await warmUp(sessions, workload, system, options);
      const cpuCells = spec.id === 'floor' ? [] : mine.filter((cell) => cell.cpu);
      const beside = cpuCells.length > 0 ? await startFloorBeside(workload, Math.max(...cpuCells.map((c) => c.concurrency)), options, rec, base) : undefined;
      // Children a system starts ahead of need (spares) for the next sessions start now: not in the window.
      await settle(system.rootPids, options.settleMs, options.settleMaxMs);
      try {
        for (const cell of mine) {
          const active = sessions.slice(0, cell.concurrency);
          if (active.length < cell.concurrency) {
            rec.progress(`  ${spec.id}: only ${active.length}/${cell.concurrency} ${client.id} sessions open`);
            if (active.length === 0) continue;
          }
          const floorBeside = beside !== undefined && cell.cpu;
          const floorBefore = floorBeside ? await beside.measure(cell) : undefined;
          const sample = await measureThroughput({ sessions: active, workload, message: payload(cell.payloadBytes), window: options.window, system });
          const floorAfter = floorBeside ? await beside.measure(cell) : undefined;
          const floorCpu = floorBefore !== undefined && floorAfter !== undefined ? (floorBefore + floorAfter) / 2 : undefined;
          rec.result.throughput.push({
            ...base,
            client: client.id,
            payloadBytes: cell.payloadBytes,
            concurrency: cell.concurrency,
            ...sample,
            ...(floorCpu === undefined ? {} : { pairedFloorCpuMsPerCall: floorCpu }),
          });
          if (sample.errors > 0) {
            rec.result.errors.push({ ...base, phase: `${client.id} c=${cell.concurrency} ${sizeLabel(cell.payloadBytes)}`, count: sample.errors, first: sample.firstError ?? '' });
          }
          const cpu = [
            sample.serverCpuMsPerCall === undefined ? '' : `server ${sample.serverCpuMsPerCall.toFixed(3)}`,
            sample.childCpuMsPerCall === undefined ? '' : `child ${sample.childCpuMsPerCall.toFixed(3)}`,
            `client ${sample.clientCpuMsPerCall.toFixed(3)}`,
            floorCpu === undefined ? '' : `floor beside ${floorCpu.toFixed(3)}`,
          ].filter(Boolean);
          rec.progress(
            `  ${spec.id} ${client.id} c=${cell.concurrency} ${sizeLabel(cell.payloadBytes)}: ${sample.callsPerSecond.toFixed(0)} calls/s, p50 ${sample.p50Ms.toFixed(2)} ms, p99 ${sample.p99Ms.toFixed(2)} ms, CPU ms/call ${cpu.join(', ')}; ${sample.calls} calls, ${sample.errors} errors`,
          );
        }
      } finally {
        await closeSessions(sessions);
        await beside?.stop();
      }
    }
  } finally {
    await system.stop();
  }
}

/** Memory of one system serving the example fleet's servers with 0, then each count of idle raw sessions. */
async function measureFleetMemory(spec: SystemSpec, run: number, options: BenchOptions, rec: Recorder): Promise<void> {
  const workloads = (options.memoryWorkloads ?? FLEET_WORKLOADS).map(workloadById);
  const base = { run, workload: 'fleet', system: spec.id };
  let system: RunningSystem;
  try {
    system = await spec.start(workloads, startOptions(options));
  } catch (err) {
    rec.errors(base, 'start (memory)', { count: 1, first: err instanceof Error ? err.message : String(err) });
    rec.progress(`  ${spec.id}: failed to start: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  try {
    const tally: ErrorTally = { count: 0 };
    await measureMemory({
      client: rawClient,
      system,
      workloads,
      counts: options.memorySessions,
      timeoutMs: options.callTimeoutMs,
      errors: tally,
      settleMs: options.settleMs,
      settleMaxMs: options.settleMaxMs,
      idleWaitMs: options.idleWaitMs,
      onPoint: (sample) => {
        rec.result.memory.push({ ...base, ...sample });
        rec.progress(
          `  ${spec.id} memory, ${sample.sessions} idle sessions: ${sample.rssMiB.toFixed(0)} MiB (gateway ${sample.rootRssMiB.toFixed(0)}), ${sample.processes} processes${sample.projected ? ' (projected: would not fit in available memory)' : ''}`,
        );
      },
    });
    rec.errors(base, 'memory', tally);
  } finally {
    await system.stop();
  }
}

function getStatus(port: number, path: string): Promise<number> {
  return new Promise((resolveStatus) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.once('error', () => resolveStatus(0));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

/** `serve --config examples/fleet.yaml` from spawn to `/ready` answering 200, polled every 5 ms. */
async function measureReady(run: number, options: BenchOptions, rec: Recorder): Promise<void> {
  const base = { run, workload: 'fleet', system: 'mcp-fleet' };
  const port = await freePort();
  const main = options.fleetMain ?? FLEET_MAIN;
  const started = performance.now();
  const proc = spawnLogged('ready', process.execPath, [main, 'serve', '--config', join(ROOT, 'examples/fleet.yaml'), '--port', String(port)], {
    MEMORY_FILE_PATH: join(options.runDir, 'memory-graph.jsonl'),
  });
  let listeningMs = Number.NaN;
  try {
    const deadline = started + 30_000;
    while (performance.now() < deadline && !proc.exited()) {
      const status = await getStatus(port, '/ready');
      if (status !== 0 && Number.isNaN(listeningMs)) listeningMs = performance.now() - started;
      if (status === 200) {
        const readyMs = performance.now() - started;
        rec.result.ready.push({ run, listeningMs, readyMs });
        rec.progress(`  serve examples/fleet.yaml: listening after ${listeningMs.toFixed(0)} ms, ready after ${readyMs.toFixed(0)} ms`);
        return;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    rec.errors(base, 'serve start to ready', { count: 1, first: `/ready did not answer 200 within 30 s${proc.exited() ? ' (the process exited)' : ''}` });
  } finally {
    await proc.stop();
  }
}

/** One system under `--cpu-prof` with the raw client at 100 B and 64 KiB; keeps the samples of the load window. */
async function profileSystem(spec: SystemSpec, workload: Workload, options: BenchOptions, rec: Recorder): Promise<void> {
  const base = { run: 0, workload: workload.id, system: spec.id };
  let system: RunningSystem;
  try {
    system = await spec.start([workload], startOptions(options, join(options.runDir, 'profiles')));
  } catch (err) {
    rec.errors(base, 'start (profile)', { count: 1, first: err instanceof Error ? err.message : String(err) });
    return;
  }
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
  let fromUs = 0;
  let toUs = 0;
  let calls = 0;
  const tally: ErrorTally = { count: 0 };
  const sessions = await openSessions(rawClient, system.target(workload.id), workload, options.profileConcurrency, options.callTimeoutMs, tally);
  await settle(system.rootPids, options.settleMs, options.settleMaxMs);
  try {
    const half = options.profileMs / 2;
    const window = { warmupMs: 0, durationMs: half, minCalls: 1, maxDurationMs: half * 2, maxCallsPerSession: 1_000_000 };
    // One short warm-up pass outside the window, so start-up and first calls are not profiled.
    await measureThroughput({ sessions, workload, message: payload(100), window: { ...window, durationMs: 100, maxDurationMs: 1000 }, system });
    fromUs = nowUs();
    for (const bytes of [100, 64 * KiB]) {
      calls += (await measureThroughput({ sessions, workload, message: payload(bytes), window, system })).calls;
    }
    toUs = nowUs();
  } finally {
    await closeSessions(sessions);
    await system.stop();
  }
  rec.errors(base, 'profile', tally);
  // The direct baseline's profiles are its stdio children's: one file per session.
  const files = profileFiles(join(options.runDir, 'profiles', `${spec.id}-${workload.id}`));
  if (files.length === 0) {
    rec.errors(base, 'profile', { count: 1, first: `no .cpuprofile written for ${spec.id}` });
    return;
  }
  const summary = summarize(files.map(readProfile), 10, fromUs, toUs);
  rec.result.profiles.push({
    system: spec.id,
    workload: workload.id,
    files: files.map((f) => f.slice(ROOT.length + 1)),
    load: `raw client, ${options.profileConcurrency} sessions, 100 B then 64 KiB, ${options.profileMs} ms`,
    calls,
    busyMs: summary.busyMs,
    self: summary.self,
    packages: summary.packages,
  });
  rec.progress(`  ${spec.id} profile: ${summary.busyMs.toFixed(0)} ms busy over ${calls} calls; top: ${summary.self[0]?.name ?? 'none'}`);
}

/** Runs the bench with `options`; stops every process it started, also on error. */
export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const progress = options.onProgress ?? (() => undefined);
  const started = performance.now();
  const loadAtStart = loadavg();
  const { onProgress: _ignored, extraPhases: _extra, ...recordedOptions } = options;
  mkdirSync(options.runDir, { recursive: true });
  const selected = SYSTEMS.filter((s) => options.systems.length === 0 || options.systems.includes(s.id));
  const unknown = options.systems.filter((id) => !SYSTEMS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown system ${unknown.join(', ')} (known: ${SYSTEMS.map((s) => s.id).join(', ')})`);
  const start = startOptions(options);
  const result: BenchResult = {
    options: recordedOptions,
    startedAt: new Date().toISOString(),
    wallSeconds: 0,
    commit: gitCommit(),
    systems: selected.map((s) => {
      const unavailable = s.unavailable(start);
      return {
        id: s.id,
        label: s.label,
        family: s.family,
        sharing: s.sharing,
        protocol: s.protocol,
        version: s.version(),
        phases: s.phases.filter((p) => options.phases.includes(p)),
        ...(unavailable === undefined ? {} : { unavailable }),
      };
    }),
    workloads: [...new Set([...options.workloads, ...(options.phases.includes('memory') ? (options.memoryWorkloads ?? FLEET_WORKLOADS) : [])])].map((id) => ({
      id,
      label: workloadById(id).label,
    })),
    phaseSeconds: {},
    throughput: [],
    firstResult: [],
    memory: [],
    ready: [],
    profiles: [],
    extra: [],
    errors: [],
  };
  const rec = new Recorder(result, progress);
  const runnable = selected.filter((s) => s.unavailable(start) === undefined);
  for (const s of result.systems) if (s.unavailable) progress(`${s.id}: ${s.unavailable}`);
  const timed = async (phase: string, body: () => Promise<void>): Promise<void> => {
    const t0 = performance.now();
    await body();
    result.phaseSeconds[phase] = (result.phaseSeconds[phase] ?? 0) + (performance.now() - t0) / 1000;
  };
  // Rotate the order each run so no system always goes first (or last) on a warm machine.
  const rotated = (list: readonly SystemSpec[], run: number): SystemSpec[] => list.map((_, i) => list[(i + run) % list.length]!);
  const on = (phase: BenchPhase): boolean => options.phases.includes(phase);

  if (on('throughput') || on('cpu') || on('cold')) {
    await timed('throughput, cpu, cold', async () => {
      for (let run = 0; run < options.runs; run++) {
        for (const id of options.workloads) {
          for (const spec of rotated(runnable, run)) {
            progress(`run ${run + 1}/${options.runs} ${id} ${spec.id}`);
            await measureLoad(spec, workloadById(id), run, options, rec);
          }
        }
      }
    });
  }
  if (on('memory')) {
    await timed('memory', async () => {
      for (const spec of runnable.filter((s) => s.phases.includes('memory'))) {
        progress(`memory ${spec.id} (${(options.memoryWorkloads ?? FLEET_WORKLOADS).join(', ')})`);
        await measureFleetMemory(spec, 0, options, rec);
      }
    });
  }
  if (on('ready') && runnable.some((s) => s.family === 'mcp-fleet')) {
    await timed('ready', async () => {
      progress('serve examples/fleet.yaml: start to ready');
      for (let run = 0; run < options.readySamples; run++) await measureReady(run, options, rec);
    });
  }
  if (on('profile')) {
    await timed('profile', async () => {
      for (const spec of runnable.filter((s) => s.phases.includes('profile'))) {
        progress(`profile ${spec.id}`);
        await profileSystem(spec, workloadById(options.workloads[0] ?? 'echo'), options, rec);
      }
    });
  }
  for (const extra of (options.extraPhases ?? []).filter((p) => on(p.id))) {
    await timed(extra.id, async () => {
      progress(extra.title);
      try {
        result.extra.push({ id: extra.id, title: extra.title, ...(await extra.run({ fleetMain: options.fleetMain ?? FLEET_MAIN, progress })) });
      } catch (err) {
        rec.errors({ run: 0, workload: '-', system: '-' }, extra.id, { count: 1, first: err instanceof Error ? err.message : String(err) });
      }
    });
  }
  return {
    ...result,
    wallSeconds: (performance.now() - started) / 1000,
    loadAverage: { start: loadAtStart, end: loadavg() },
  };
}
