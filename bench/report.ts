import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { renderLoadChart, renderMemoryChart, type ChartPoint, type MemoryBar } from './chart.js';
import type { LoadClientId } from './clients.js';
import { median } from './measure.js';
import type { BenchResult, ThroughputRecord } from './runner.js';
import { gitCommit, ROOT } from './systems.js';

/**
 * Renders a bench result as docs/BENCHMARKS.md plus two SVG charts beside it.
 * Every figure is the median over runs, and every verdict in the targets table
 * is computed here from the result, never typed in.
 */

/** The mcp-fleet systems the issue-12 targets are checked for: the default policy and the modern era. */
export const TARGET_SYSTEMS = ['mcp-fleet', 'mcp-fleet-modern'] as const;

/** Targets of issue 12, as numbers the verdicts use. */
export const TARGETS = {
  /** Gateway CPU per call at most this many times the floor's, at these payloads and clients. */
  cpuVsFloor: 2,
  cpuPayloadBytes: [100, 64 * 1024],
  cpuConcurrency: [1, 8],
  /** Largest exponent k of a payload step (CPU per call ~ size^k); linear is 1, quadratic 2. */
  stepExponent: 1.2,
  /** Calls/s at least this many times the best peer's, raw client, at this payload and these clients. */
  rawVsBestPeer: 2,
  throughputPayloadBytes: 100,
  throughputConcurrency: [8, 32],
  /** The same with the official SDK clients. */
  sdkVsBestPeer: 1.5,
  /** p50 at one client at most this many ms above the floor's. */
  p50AboveFloorMs: 0.3,
  /** Idle sessions of the memory target, and the most processes per extra idle session that is not "a process tree per session". */
  memorySessions: 64,
  processesPerSession: 0.25,
  /** 200 idle sessions of the example fleet fit in this much memory. */
  manySessions: 200,
  manySessionsMiB: 8 * 1024,
  /** First tool result for a new client with a warm child. */
  firstResultMs: 5,
  /** `serve` start to ready for examples/fleet.yaml. */
  readyMs: 1000,
} as const;

type Field = keyof Pick<ThroughputRecord, 'callsPerSecond' | 'p50Ms' | 'p99Ms' | 'serverCpuMsPerCall' | 'childCpuMsPerCall' | 'clientCpuMsPerCall'>;

const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const fmtInt = (v: number): string => (Number.isFinite(v) ? Math.round(v).toString() : 'n/a');
/** Two significant digits at least, for CPU figures from 0.05 to 500 ms. */
const fmtMs = (v: number): string => (!Number.isFinite(v) ? 'n/a' : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));

/** "100 B", "64 KiB", "8 MiB". */
export function sizeLabel(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${bytes / (1024 * 1024)} MiB`;
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

const CLIENT_NAMES: Record<LoadClientId, string> = { raw: 'raw client', sdk: 'SDK v1 client', sdk2: 'SDK v2 client' };

/** Medians and comparisons pulled out of a result. */
export class Figures {
  readonly workload: string;

  constructor(readonly result: BenchResult) {
    this.workload = result.options.workloads[0] ?? 'echo';
  }

  /** Measured systems of a family (or all), in the report's order. */
  ids(family?: string): string[] {
    return this.result.systems.filter((s) => !s.unavailable && (family === undefined || s.family === family)).map((s) => s.id);
  }

  get peers(): string[] {
    return this.ids('peer');
  }

  family(id: string): string {
    return this.result.systems.find((s) => s.id === id)?.family ?? 'unknown';
  }

  label(id: string): string {
    return this.result.systems.find((s) => s.id === id)?.label ?? id;
  }

  cells(system: string, client: LoadClientId, payloadBytes: number, concurrency: number, workload = this.workload): ThroughputRecord[] {
    return this.result.throughput.filter(
      (r) => r.workload === workload && r.system === system && r.client === client && r.payloadBytes === payloadBytes && r.concurrency === concurrency,
    );
  }

  tp(system: string, client: LoadClientId, payloadBytes: number, concurrency: number, field: Field, workload = this.workload): number {
    return median(this.cells(system, client, payloadBytes, concurrency, workload).map((r) => r[field] ?? Number.NaN));
  }

  /**
   * Gateway CPU per call against the floor measured beside it (right before and
   * after each window, raw client): the median of the windows' ratios, and the
   * floor's median. NaN for a result without such windows (an older run).
   */
  besideFloor(system: string, payloadBytes: number, concurrency: number): { ratio: number; floor: number } {
    const paired = this.cells(system, 'raw', payloadBytes, concurrency).filter((r) => r.pairedFloorCpuMsPerCall !== undefined && r.serverCpuMsPerCall !== undefined);
    return {
      ratio: median(paired.map((r) => r.serverCpuMsPerCall! / r.pairedFloorCpuMsPerCall!)),
      floor: median(paired.map((r) => r.pairedFloorCpuMsPerCall!)),
    };
  }

  errors(system: string, client: LoadClientId, payloadBytes: number, concurrency: number): number {
    return this.cells(system, client, payloadBytes, concurrency).reduce((a, r) => a + r.errors, 0);
  }

  /** The best peer's value of a figure (max calls/s, min anything else) and which peer it is. */
  bestPeer(client: LoadClientId, payloadBytes: number, concurrency: number, field: Field): { value: number; id: string } {
    let best = { value: Number.NaN, id: '' };
    for (const p of this.peers) {
      const v = this.tp(p, client, payloadBytes, concurrency, field);
      if (!Number.isFinite(v)) continue;
      const better = field === 'callsPerSecond' ? v > best.value : v < best.value;
      if (!Number.isFinite(best.value) || better) best = { value: v, id: p };
    }
    return best;
  }

  firstResult(system: string, client: string): number {
    return median(this.result.firstResult.filter((r) => r.workload === this.workload && r.system === system && r.client === client).map((r) => r.ms));
  }

  memory(system: string, sessions: number, field: 'rssMiB' | 'rootRssMiB' | 'processes'): number {
    return median(this.result.memory.filter((r) => r.system === system && r.sessions === sessions).map((r) => r[field]));
  }

  memoryProjected(system: string, sessions: number): boolean {
    return this.result.memory.some((r) => r.system === system && r.sessions === sessions && r.projected === true);
  }

  get memoryCounts(): number[] {
    return [...new Set(this.result.memory.map((r) => r.sessions))].sort((a, b) => a - b);
  }
}

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: readonly ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : ':---'));
  // A cell is one line of plain text: no pipes, no line breaks, no HTML (an error body may hold any of them).
  const cell = (c: string): string => c.replace(/\|/g, '/').replace(/\s*\n\s*/g, ' ').replace(/<(?=[A-Za-z/!?])/g, '&lt;');
  return [header, sep, ...rows.map((r) => r.map(cell))].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** One row of the targets table. */
export interface TargetVerdict {
  readonly target: string;
  readonly system: string;
  readonly measured: string;
  readonly reference: string;
  /** undefined: not measured in this run. */
  readonly met: boolean | undefined;
}

const verdictText = (met: boolean | undefined): string => (met === undefined ? 'not measured' : met ? '**met**' : '**not met**');

/** Every target of issue 12, checked against the run; a target the run did not cover is "not measured". */
export function targetVerdicts(f: Figures): TargetVerdict[] {
  const o = f.result.options;
  const rows: TargetVerdict[] = [];
  const fleet = TARGET_SYSTEMS;
  const push = (target: string, system: string, value: number, measured: string, reference: string, met: boolean): void => {
    const ok = Number.isFinite(value);
    rows.push({ target, system, measured: ok ? measured : 'n/a', reference: ok ? reference : '', met: ok ? met : undefined });
  };
  const clients = (c: number): string => `${c} client${c > 1 ? 's' : ''}`;
  // The relay floor's own figure beside a target: the least any stdio relay costs, so a
  // reader sees where a target asks for less than the pipe to the child allows.
  const relayFloor = {
    cpu(bytes: number, c: number): string {
      const own = f.besideFloor('relay-floor', bytes, c).ratio;
      return Number.isFinite(own) ? `; the relay floor: ${fmt(own, 1)}x its floor beside` : '';
    },
    calls(client: LoadClientId, c: number, best: number): string {
      const own = f.tp('relay-floor', client, TARGETS.throughputPayloadBytes, c, 'callsPerSecond') / best;
      return Number.isFinite(own) ? `; the relay floor: ${fmt(own, 2)}x` : '';
    },
  };

  // 1. Gateway CPU per call against the floor, and no quadratic step.
  for (const bytes of TARGETS.cpuPayloadBytes) {
    for (const c of TARGETS.cpuConcurrency) {
      const floor = f.tp('floor', 'raw', bytes, c, 'serverCpuMsPerCall');
      for (const id of fleet) {
        const v = f.tp(id, 'raw', bytes, c, 'serverCpuMsPerCall');
        const beside = f.besideFloor(id, bytes, c);
        // The floor measured beside each window where the run has it; else the floor's own cells.
        const x = Number.isFinite(beside.ratio) ? beside.ratio : v / floor;
        const reference = Number.isFinite(beside.ratio) ? `floor beside it ${fmtMs(beside.floor)} ms (run alone: ${fmtMs(floor)} ms)` : `floor ${fmtMs(floor)} ms`;
        push(
          `gateway CPU per call <= ${TARGETS.cpuVsFloor}x the floor (${sizeLabel(bytes)}, ${clients(c)}, raw)`,
          id,
          x,
          Number.isFinite(beside.ratio) ? `${fmtMs(v)} ms; ${fmt(x, 1)}x the floor beside it` : `${fmtMs(v)} ms = ${fmt(x, 1)}x the floor`,
          `${reference}${relayFloor.cpu(bytes, c)}`,
          x <= TARGETS.cpuVsFloor,
        );
      }
    }
  }
  const sizes = [...o.cpuPayloadBytes].sort((a, b) => a - b);
  const steepest = (id: string, c: number): { k: number; step: string } => {
    let worst = { k: Number.NaN, step: '' };
    for (let i = 0; i + 1 < sizes.length; i++) {
      const a = f.tp(id, 'raw', sizes[i]!, c, 'serverCpuMsPerCall');
      const b = f.tp(id, 'raw', sizes[i + 1]!, c, 'serverCpuMsPerCall');
      const k = Math.log(b / a) / Math.log(sizes[i + 1]! / sizes[i]!);
      if (!Number.isFinite(k)) return { k: Number.NaN, step: '' };
      if (!Number.isFinite(worst.k) || k > worst.k) worst = { k, step: `${sizeLabel(sizes[i]!)} to ${sizeLabel(sizes[i + 1]!)}` };
    }
    return worst;
  };
  const range = sizes.length > 0 ? `${sizeLabel(sizes[0]!)} to ${sizeLabel(sizes[sizes.length - 1]!)}` : 'no sizes';
  for (const c of TARGETS.cpuConcurrency) {
    const floor = steepest('floor', c);
    for (const id of fleet) {
      const s = steepest(id, c);
      push(
        `no quadratic step in gateway CPU per call, ${range} (${clients(c)}, raw): every step CPU ~ size^k with k <= ${TARGETS.stepExponent}`,
        id,
        s.k,
        `steepest k = ${fmt(s.k, 2)} (${s.step})`,
        `floor's steepest k = ${fmt(floor.k, 2)} (${floor.step}); linear 1, quadratic 2`,
        s.k <= TARGETS.stepExponent,
      );
    }
  }
  // 2. Calls/s against the best peer.
  const bytes = TARGETS.throughputPayloadBytes;
  for (const client of ['raw', 'sdk', 'sdk2'] as const) {
    const factor = client === 'raw' ? TARGETS.rawVsBestPeer : TARGETS.sdkVsBestPeer;
    for (const c of TARGETS.throughputConcurrency) {
      const best = f.bestPeer(client, bytes, c, 'callsPerSecond');
      for (const id of fleet) {
        // SDK v1 does not speak 2026-07-28: no such row to check.
        if (client === 'sdk' && id === 'mcp-fleet-modern') continue;
        const v = f.tp(id, client, bytes, c, 'callsPerSecond');
        const x = v / best.value;
        push(
          `calls/s >= ${factor}x the best peer (${sizeLabel(bytes)}, ${clients(c)}, ${CLIENT_NAMES[client]})`,
          id,
          x,
          `${fmtInt(v)} calls/s = ${fmt(x, 2)}x`,
          `best peer ${best.id} ${fmtInt(best.value)} calls/s${relayFloor.calls(client, c, best.value)}`,
          x >= factor,
        );
      }
    }
  }
  // 3. p50 at one client against the floor.
  const floorP50 = f.tp('floor', 'raw', bytes, 1, 'p50Ms');
  for (const id of fleet) {
    const v = f.tp(id, 'raw', bytes, 1, 'p50Ms');
    push(
      `p50 at 1 client within ${TARGETS.p50AboveFloorMs} ms of the floor (${sizeLabel(bytes)}, raw)`,
      id,
      v - floorP50,
      `${fmtMs(v)} ms = floor ${v >= floorP50 ? '+' : '-'} ${fmtMs(Math.abs(v - floorP50))} ms`,
      `floor ${fmtMs(floorP50)} ms`,
      v - floorP50 <= TARGETS.p50AboveFloorMs,
    );
  }
  // 4. Memory of the default policy.
  const n = TARGETS.memorySessions;
  const low = f.memoryCounts.filter((x) => x > 0 && x < n)[0] ?? Number.NaN;
  const rss = f.memory('mcp-fleet', n, 'rssMiB');
  const perSession = (f.memory('mcp-fleet', n, 'processes') - f.memory('mcp-fleet', low, 'processes')) / (n - low);
  const peerRss = f.peers.map((p) => f.memory(p, n, 'rssMiB')).filter(Number.isFinite);
  const bestRss = peerRss.length > 0 ? Math.min(...peerRss) : Number.NaN;
  push(
    `default policy at ${n} idle sessions of the example fleet: no process tree per session (<= ${TARGETS.processesPerSession} processes per extra session)`,
    'mcp-fleet',
    perSession,
    `${fmtInt(rss)} MiB${f.memoryProjected('mcp-fleet', n) ? ' (projected)' : ''}, ${fmt(perSession, 2)} processes per extra session`,
    `best peer ${fmtInt(bestRss)} MiB (mcp-fleet ${fmt(rss / bestRss, 1)}x)`,
    perSession <= TARGETS.processesPerSession,
  );
  const many = f.memory('mcp-fleet', TARGETS.manySessions, 'rssMiB');
  push(
    `default policy: ${TARGETS.manySessions} idle sessions of the example fleet fit in ${TARGETS.manySessionsMiB / 1024} GiB (RSS of gateway + children)`,
    'mcp-fleet',
    many,
    `${fmtInt(many)} MiB${f.memoryProjected('mcp-fleet', TARGETS.manySessions) ? " (projected from the measured slope: it did not fit in this machine's available memory)" : ''}`,
    `${TARGETS.manySessionsMiB} MiB`,
    many <= TARGETS.manySessionsMiB,
  );
  // 5. Cold path.
  const floorsFirst = Object.entries({ floor: 'floor', 'relay-floor': 'relay floor' })
    .map(([id, name]) => ({ name, ms: f.firstResult(id, 'raw') }))
    .filter(({ ms }) => Number.isFinite(ms))
    .map(({ name, ms }) => `${name} ${fmt(ms, 1)} ms`)
    .join(', ');
  for (const id of fleet) {
    const v = f.firstResult(id, 'raw');
    push(`first tool result of a new client with a warm child < ${TARGETS.firstResultMs} ms (raw)`, id, v, `${fmt(v, 1)} ms`, floorsFirst, v < TARGETS.firstResultMs);
  }
  const ready = median(f.result.ready.map((r) => r.readyMs));
  push(`\`serve\` start to ready for examples/fleet.yaml < ${TARGETS.readyMs / 1000} s`, 'mcp-fleet', ready, `${fmtInt(ready)} ms`, `median of ${f.result.ready.length}`, ready < TARGETS.readyMs);
  for (const extra of f.result.extra) {
    for (const t of extra.targets ?? []) rows.push({ target: t.target, system: 'mcp-fleet', measured: t.measured, reference: extra.title, met: t.met });
  }
  return rows;
}

function cpuSection(f: Figures): string {
  const o = f.result.options;
  const rows: string[][] = [];
  for (const c of o.cpuConcurrency) {
    for (const bytes of o.cpuPayloadBytes) {
      const floor = f.tp('floor', 'raw', bytes, c, 'serverCpuMsPerCall');
      for (const id of f.ids()) {
        if (f.cells(id, 'raw', bytes, c).length === 0) continue;
        const server = f.tp(id, 'raw', bytes, c, 'serverCpuMsPerCall');
        const beside = f.besideFloor(id, bytes, c);
        rows.push([
          sizeLabel(bytes),
          String(c),
          id,
          fmtMs(server),
          id === 'floor' || !Number.isFinite(server) ? '' : `${fmt(Number.isFinite(beside.ratio) ? beside.ratio : server / floor, 1)}x`,
          Number.isFinite(beside.floor) ? fmtMs(beside.floor) : '',
          fmtMs(f.tp(id, 'raw', bytes, c, 'childCpuMsPerCall')),
          fmtMs(f.tp(id, 'raw', bytes, c, 'clientCpuMsPerCall')),
          fmtInt(f.tp(id, 'raw', bytes, c, 'callsPerSecond')),
          fmtMs(f.tp(id, 'raw', bytes, c, 'p50Ms')),
          String(f.errors(id, 'raw', bytes, c)),
        ]);
      }
    }
  }
  return table(
    ['payload', 'clients', 'system', 'gateway CPU ms/call', 'vs floor', 'floor beside ms/call', 'stdio child CPU ms/call', 'client CPU ms/call', 'calls/s', 'p50 ms', 'errors'],
    rows,
    ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

function throughputSection(f: Figures, client: LoadClientId): string {
  const o = f.result.options;
  const rows: string[][] = [];
  for (const bytes of o.throughputPayloadBytes) {
    for (const c of o.throughputConcurrency) {
      const best = f.bestPeer(client, bytes, c, 'callsPerSecond');
      for (const id of f.ids()) {
        if (f.cells(id, client, bytes, c).length === 0) continue;
        const cps = f.tp(id, client, bytes, c, 'callsPerSecond');
        rows.push([
          sizeLabel(bytes),
          String(c),
          id,
          fmtInt(cps),
          Number.isFinite(best.value) ? `${fmt(cps / best.value, 2)}x` : '',
          fmtMs(f.tp(id, client, bytes, c, 'p50Ms')),
          fmtMs(f.tp(id, client, bytes, c, 'p99Ms')),
          fmtMs(f.tp(id, client, bytes, c, 'serverCpuMsPerCall')),
          fmtMs(f.tp(id, client, bytes, c, 'childCpuMsPerCall')),
          fmtMs(f.tp(id, client, bytes, c, 'clientCpuMsPerCall')),
          String(f.errors(id, client, bytes, c)),
        ]);
      }
    }
  }
  return table(
    ['payload', 'clients', 'system', 'calls/s', 'vs best peer', 'p50 ms', 'p99 ms', 'gateway CPU ms/call', 'child CPU ms/call', 'client CPU ms/call', 'errors'],
    rows,
    ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}

function memorySection(f: Figures): string {
  const counts = f.memoryCounts;
  const positive = counts.filter((n) => n > 0);
  const low = positive[0];
  const high = positive[positive.length - 1];
  const withMemory = f.ids().filter((id) => f.result.memory.some((m) => m.system === id));
  const rows = withMemory.map((id) => {
    const cells = [id, f.result.systems.find((s) => s.id === id)?.sharing ?? '', fmtInt(f.memory(id, 0, 'rootRssMiB'))];
    for (const n of counts) {
      const v = f.memory(id, n, 'rssMiB');
      const best = Math.min(...f.peers.map((p) => f.memory(p, n, 'rssMiB')).filter(Number.isFinite));
      const projected = f.memoryProjected(id, n) ? ' projected' : '';
      cells.push(`${fmtInt(v)} (${fmtInt(f.memory(id, n, 'processes'))} proc${projected}${n > 0 && Number.isFinite(best) ? `, ${fmt(v / best, 2)}x` : ''})`);
    }
    const slope =
      low !== undefined && high !== undefined && high > low ? (f.memory(id, high, 'rssMiB') - f.memory(id, low, 'rssMiB')) / (high - low) : Number.NaN;
    cells.push(fmt(slope, 1));
    return cells;
  });
  return table(
    [
      'system',
      'children',
      'gateway alone, MiB',
      ...counts.map((n) => `${n} idle sessions: MiB (processes, vs best peer)`),
      low !== undefined && high !== undefined ? `MiB per extra session (${low} to ${high})` : 'MiB per extra session',
    ],
    rows,
    ['l', 'l', ...Array<'r'>(counts.length + 2).fill('r')],
  );
}

function coldSection(f: Figures): string {
  const kinds = ['cold start', ...f.result.options.clients].filter((k) => f.result.firstResult.some((r) => r.client === k));
  const rows = f
    .ids()
    .filter((id) => f.result.firstResult.some((r) => r.system === id))
    .map((id) => [id, ...kinds.map((k) => fmt(f.firstResult(id, k), 1))]);
  const header = [
    'system',
    ...kinds.map((k) => (k === 'cold start' ? 'spawn of the system to its first result, ms' : `new ${CLIENT_NAMES[k as LoadClientId]}, warm child: first result, ms`)),
  ];
  return table(header, rows);
}

function profileSection(f: Figures): string[] {
  const lines: string[] = [];
  for (const p of f.result.profiles) {
    lines.push(
      `#### ${p.system}`,
      '',
      `${fmtInt(p.busyMs)} ms busy over ${p.calls} calls (${fmtMs(p.calls > 0 ? p.busyMs / p.calls : Number.NaN)} ms per call, profiler on); load: ${p.load}. Profile: \`${p.files.length === 1 ? p.files[0] : `${p.files.length} files in ${dirname(p.files[0] ?? '')}`}\`. By package: ${p.packages
        .slice(0, 4)
        .map((x) => `${x.name} ${fmt(x.percent, 0)}%`)
        .join(', ')}.`,
      '',
      table(
        ['self time', 'ms', 'function'],
        p.self.map((x) => [`${fmt(x.percent, 1)}%`, fmtInt(x.ms), `\`${x.name}\``]),
        ['r', 'r', 'l'],
      ),
      '',
    );
  }
  return lines;
}

function installedVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * How the cells of one set of sessions begin. Runs before the JIT warm-up have
 * neither field; runs of 2026-12-02 before 20:00 UTC warmed up by time (`jitWarmupMs`).
 */
function warmSentence(o: { readonly jitWarmup?: { calls: number; maxMsPerSize: number }; readonly jitWarmupMs?: number }): string {
  const idle = 'and then the bench waits for the system to be idle: neither the optimizing compiler\'s first pass nor children a system starts ahead of need are in a window.';
  if (o.jitWarmup !== undefined && o.jitWarmup.calls > 0) {
    const { calls, maxMsPerSize } = o.jitWarmup;
    return `before the first cell those sessions load the system, not recorded, at 100 B and then at 64 KiB, each for ${calls} calls or ${maxMsPerSize} ms, whichever comes first (a fresh gateway needs some 4000 calls before its CPU per call is steady), ${idle}`;
  }
  if (o.jitWarmupMs !== undefined && o.jitWarmupMs > 0) {
    return `before the first cell those sessions load the system for ${o.jitWarmupMs} ms (half at 100 B, half at 64 KiB, not recorded), ${idle}`;
  }
  return 'after opening them the bench waits for the system to be idle, so children it starts ahead of need are not in a window.';
}

function methodLines(f: Figures): string[] {
  const o = f.result.options;
  const w = o.window;
  const sizes = o.cpuPayloadBytes.map(sizeLabel).join(', ');
  return [
    '## Method, and how to reproduce each figure',
    '',
    'Run everything with `npm run bench` (builds, then `tsx bench/main.ts`; 45 to 50 minutes on 2 cores; writes this file and its charts). Every figure below can be measured alone with a selection, which writes a report only when given `--out`; `--quick` runs every phase once with small counts. Raw results and CPU profiles of each run go to `.bench-tmp/runs/<time>/` (outside git); `--from-result <result.json> --out <file>` re-renders a report from one.',
    '',
    '- **Processes.** The bench (tsx) starts each system, drives it from its own process and stops it (SIGTERM, then SIGKILL of the whole tree). All traffic goes to 127.0.0.1. Systems run one at a time, in an order rotated each run, so noise falls on all alike. Every system wraps the same stdio server, spawned with the same Node.',
    '- **The floor** (`floor`, bench/fixtures/floor-server.mjs): `node:http`, reads the body, `JSON.parse`, builds the JSON-RPC reply and writes it with one `end()`; no MCP layer, no child, no session. A gateway that relays to a child cannot cost less than this plus a pipe write and read.',
    '- **The relay floor** (`relay-floor`, bench/fixtures/relay-floor.mjs): the floor plus that pipe. `node:http` in front of one shared child per server (the same echo server as every system), JSON lines on its pipes, request ids rewritten so clients cannot collide, the child\'s first `initialize` answer given to later clients; no session, era decision, auth, limit or timeout. What mcp-fleet costs above it is its MCP layer.',
    '- **Direct stdio** (`direct`): the client spawns the server and speaks JSON lines on its pipes. It has no gateway process: its CPU is all the child\'s.',
    '- **mcp-fleet**: `node dist/cli/main.js serve --config <json> --port <p>`, one server per workload at `/servers/<name>/mcp`, `logLevel: warn`, `maxBodyBytes` 64 MiB (the default 4 MiB refuses the 8 MiB rows), `maxSessions: 256` (the memory phase holds 100 sessions per server), otherwise defaults. `mcp-fleet` is the default policy with legacy sessions, `-pool` and `-shared` set `policy`, `-modern` speaks the stateless 2026-07-28 revision (no session: `Mcp-Method`/`Mcp-Name` headers and the `_meta` envelope, `server/discover` as the only handshake), `-cold` sets `spares: 0`. supergateway: `--stdio <cmd> --outputTransport streamableHttp --stateful --logLevel none` (a child per session, through a shell). mcp-proxy: `--host 127.0.0.1 --server stream -- <cmd>` (one shared child; sessions and 2026-07-28 on one endpoint).',
    '- **Load clients.** `raw`: undici, one keep-alive connection per session; POST initialize, read `Mcp-Session-Id`, POST notifications/initialized, then POST tools/call in a closed loop, reading a JSON body or SSE `data:` lines (over stdio: bare JSON lines). `sdk`: the official v1 `Client` of `@modelcontextprotocol/sdk` with `StreamableHTTPClientTransport` (no 2026-07-28 support, so no modern rows). `sdk2`: the v2 `Client` of `@modelcontextprotocol/client`, default negotiation against session endpoints and pinned to 2026-07-28 against modern ones. The SDK clients spend more CPU per call than most systems here and share the 2 cores with them; their rows show the client\'s CPU per call so that cap is visible.',
    `- **CPU per call** (\`--phases cpu\`): raw client, ${o.cpuConcurrency.join(' and ')} client(s), payloads ${sizes} (the message, echoed back). Before and after the measured window the bench reads, for the system's own process(es) (gateway or floor), the on-CPU time of every thread from \`/proc/<pid>/task/<tid>/schedstat\` (nanoseconds); for the stdio children, the same summed over every descendant, plus the growth of cutime/cstime in \`/proc/<pid>/stat\` for children that ended in the window; for the load client, \`process.cpuUsage()\` of the bench. Each divided by the calls. The machine's speed drifts: the same cell costs every process (system, floor and load client alike) up to twice the CPU a minute later. So for every system but the floor, the HTTP floor runs beside it, and each CPU window of the system is sandwiched between two windows of the floor on the same cell; the targets compare each window with the mean of its two floor windows and take the median over runs. Reproduce: \`npx tsx bench/main.ts --phases cpu --only floor,relay-floor,direct,mcp-fleet,mcp-fleet-modern,supergateway,mcp-proxy --out .bench-tmp/cpu.md\`.`,
    `- **Throughput and latency** (\`--phases throughput\`): N sessions (N = ${o.throughputConcurrency.join(', ')}) per load client (${o.clients.join(', ')}), each calling \`tools/call echo\` in a closed loop, ${o.throughputPayloadBytes.map(sizeLabel).join(', ')}. Each cell warms up for ${w.warmupMs} ms (at least one call per session; again while the system is still starting processes, such as a pool growing), then measures for at least ${w.durationMs} ms and ${w.minCalls} calls (at most ${w.maxDurationMs} ms); p50/p99 are over every call of the window. Each call has a ${o.callTimeoutMs / 1000} s timeout; a wrong echo is an error. The cells of both phases run on one set of sessions per client, opened once per system and run; ${warmSentence(o)} Reproduce: \`npx tsx bench/main.ts --phases throughput --clients raw,sdk,sdk2 --out .bench-tmp/throughput.md\`.`,
    `- **Memory** (\`--phases memory\`): each system serves the example fleet's servers (examples/fleet.yaml: server-everything and server-memory, run as \`node <installed bin>\` by every system; the peers run one instance per server). ${o.memorySessions.join(', ')} idle raw sessions are opened, spread round-robin over the servers; each makes one call, then the tree must hold the same process count for ${o.settleMs} ms${o.idleWaitMs > 0 ? ` and the bench waits ${o.idleWaitMs} ms more` : ''}; then VmRSS is summed over the gateway and every descendant. A count whose memory would exceed 60% of the machine's MemAvailable is not opened: it is projected from the last measured slope and marked "projected". Reproduce: \`npx tsx bench/main.ts --phases memory --memory-sessions 1,64,200 --out .bench-tmp/memory.md\`.`,
    `- **Cold path** (\`--phases cold\`): "spawn of the system to its first result" times a new raw client from spawning the system. "New client, warm child": after the system has served its first client and its process count has held still for ${o.settleMs} ms (whatever it starts ahead of need is running), a new client connects, handshakes and gets its first tool result; median of ${o.firstResultSamples} after one untimed client (which warms the bench's own client code), each session closed before the next. The HTTP floor and the relay floor take part, so the share of a first result that any server or relay pays on this machine (each idle process woken on the way) is in the same table. Reproduce: \`npx tsx bench/main.ts --phases cold --only floor,relay-floor,mcp-fleet,mcp-fleet-modern,mcp-proxy --out .bench-tmp/cold.md\`.`,
    `- **Start to ready** (\`--phases ready\`): \`node dist/cli/main.js serve --config examples/fleet.yaml --port <p>\` as a user runs it (its servers are devDependencies, so installed), polling \`GET /ready\` every 5 ms until it answers 200; median of ${o.readySamples}.`,
    `- **CPU profiles** (\`--phases profile\`): each system once more, its Node process under \`--cpu-prof\` (for direct stdio: its stdio children), raw client with ${o.profileConcurrency} sessions, 100 B then 64 KiB for ${o.profileMs} ms in all. Only the samples taken within the load window count (profile timestamps and \`process.hrtime\` share the monotonic clock); idle time is left out. \`npx tsx bench/profile.ts <file or directory> [skip-first-ms]\` prints any profile's self, inclusive and per-package tops.`,
    '- **Targets** are computed by bench/report.ts from the medians of the run (`TARGETS` there; the CPU-per-call ratios from the floor beside, above); "best peer" is the best of supergateway, mcp-proxy and mcp-proxy-modern on the same figure, client, payload and concurrency. The reference of a CPU or calls/s target also gives the relay floor\'s own ratio on the same cell, the least a relay to a stdio child costs on this machine in this run.',
    '',
  ];
}

/** The Markdown document. `charts` are the SVG names relative to the doc. */
export function renderMarkdown(result: BenchResult, charts: { load: string; memory: string }): string {
  const f = new Figures(result);
  const cpu = cpus();
  const o = result.options;
  const lines: string[] = [];
  const verdicts = targetVerdicts(f);
  const met = verdicts.filter((v) => v.met === true).length;
  const measured = verdicts.filter((v) => v.met !== undefined).length;
  lines.push(
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` (bench/) on ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC in ${Math.round(result.wallSeconds)} s, at commit ${result.commit ?? gitCommit()} (mcp-fleet built from the working tree at that commit). Do not edit by hand: edit bench/ and run it again. Figures are medians of ${o.runs} run${o.runs > 1 ? 's' : ''} (memory: one), workload \`${f.workload}\` unless said otherwise.`,
    '',
    `- Machine: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Linux ${release()}; Node ${process.version}.`,
    `- ${result.loadAverage ? `Load average (1, 5, 15 min) at the start: ${result.loadAverage.start.map((l) => l.toFixed(2)).join(', ')}; at the end: ${result.loadAverage.end.map((l) => l.toFixed(2)).join(', ')}` : `Load average when written: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`}. A load above the core count means other work shared the machine and absolute figures are noisy; ratios within one run hold up better.`,
    `- Phases: ${Object.entries(result.phaseSeconds).map(([p, s]) => `${p} ${Math.round(s)} s`).join(', ') || 'none'}.`,
    '',
    '## Targets of issue 12, checked against this run',
    '',
    `${met} of ${measured} measured targets met.`,
    '',
    table(
      ['target', 'system', 'measured', 'reference', 'verdict'],
      verdicts.map((v) => [v.target, v.system, v.measured, v.reference, verdictText(v.met)]),
      ['l', 'l', 'l', 'l', 'l'],
    ),
    '',
    `![calls/s by concurrent clients per load client; gateway CPU, child CPU and p50 by payload](${charts.load})`,
    '',
    `![RSS of each system with idle sessions of the example fleet](${charts.memory})`,
    '',
    '## Systems and versions',
    '',
    table(
      ['id', 'system', 'version', 'children', 'phases', 'status'],
      result.systems.map((s) => [s.id, s.label, s.version, s.sharing, s.phases.join(', '), s.unavailable ?? 'measured']),
      ['l', 'l', 'l', 'l', 'l', 'l'],
    ),
    '',
    `Load clients and servers: ${['@modelcontextprotocol/sdk', '@modelcontextprotocol/client', 'undici', '@modelcontextprotocol/server-everything', '@modelcontextprotocol/server-memory']
      .map((name) => `${name} ${installedVersion(name)}`)
      .join(', ')}. Workloads: ${result.workloads.map((w) => `\`${w.id}\`: ${w.label}`).join('; ')}.`,
    '',
  );

  if (result.throughput.some((r) => r.client === 'raw' && o.cpuPayloadBytes.includes(r.payloadBytes))) {
    lines.push(
      '## CPU per call: gateway, stdio child, floor and client',
      '',
      'Raw client. "gateway CPU" is the system\'s own process alone (for the floor: the floor server; for the relay floor: the relay); "stdio child CPU" is every process below it (for direct stdio: its child). The load client\'s CPU is the bench process. "floor beside" is the HTTP floor, running beside the system, measured on the same cell right before and right after each of its windows (the mean of the two); "vs floor" is the median over runs of each window\'s ratio to its floor beside (to the floor\'s own row in a result without it).',
      '',
      cpuSection(f),
      '',
    );
  }
  for (const client of o.clients) {
    if (!result.throughput.some((r) => r.client === client && o.throughputPayloadBytes.includes(r.payloadBytes))) continue;
    lines.push(`## Throughput and latency, ${CLIENT_NAMES[client]}`, '', throughputSection(f, client), '');
  }
  if (result.memory.length > 0) {
    lines.push(
      `## Memory: idle sessions of ${memoryServers(result)}`,
      '',
      'RSS of the gateway process and every descendant, in MiB, with the process count; "vs best peer" divides by the smallest peer figure at the same count. Sessions are spread round-robin over the servers.',
      '',
      memorySection(f),
      '',
    );
  }
  if (result.firstResult.length > 0 || result.ready.length > 0) {
    lines.push('## Cold path', '');
    if (result.firstResult.length > 0) lines.push(coldSection(f), '');
    if (result.ready.length > 0) {
      lines.push(
        `\`mcp-fleet serve --config examples/fleet.yaml\`: listening after ${fmtInt(median(result.ready.map((r) => r.listeningMs)))} ms, \`/ready\` 200 after ${fmtInt(median(result.ready.map((r) => r.readyMs)))} ms (median of ${result.ready.length}: ${result.ready.map((r) => fmtInt(r.readyMs)).join(', ')} ms).`,
        '',
      );
    }
  }
  if (result.profiles.length > 0) {
    lines.push('## CPU profiles: top 10 functions by self time', '', ...profileSection(f));
  }
  for (const extra of result.extra) {
    lines.push(`## ${extra.title}`, '', table(extra.header, extra.rows), '', ...(extra.notes ?? []).flatMap((n) => [n, '']));
  }
  if (o.phases.includes('cli') && !result.extra.some((e) => e.id === 'cli')) {
    lines.push('## CLI start-up', '', 'Not measured in this run: the `cli` phase (bench/cli-startup.ts) is not wired into `EXTRA_PHASES` in bench/main.ts.', '');
  }
  lines.push(...methodLines(f));

  const findings = join(ROOT, 'bench/FINDINGS.md');
  if (existsSync(findings)) lines.push(readFileSync(findings, 'utf8').trim(), '');

  lines.push('## Errors', '');
  if (result.errors.length === 0) {
    lines.push('None: every call of every run returned the right echo.');
  } else {
    lines.push(
      table(
        ['run', 'workload', 'system', 'phase', 'count', 'first error'],
        result.errors.map((e) => [String(e.run + 1), e.workload, e.system, e.phase, String(e.count), e.first.slice(0, 160)]),
        ['r', 'l', 'l', 'l', 'r', 'l'],
      ),
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** What the memory phase served: the example fleet unless the run chose other servers. */
function memoryServers(result: BenchResult): string {
  const ids = result.options.memoryWorkloads ?? ['everything', 'memory'];
  const names = ids.map((id) => (id === 'everything' ? 'server-everything' : id === 'memory' ? 'server-memory' : id)).join(' + ');
  return result.options.memoryWorkloads === undefined ? `the example fleet (${names})` : names;
}

/** The load chart's data: calls/s by concurrency per client, and CPU/p50 by payload at one client. */
export function loadChartData(result: BenchResult): Parameters<typeof renderLoadChart>[0] {
  const f = new Figures(result);
  const o = result.options;
  const systems = f.ids();
  const bytes = o.throughputPayloadBytes[0] ?? 100;
  const throughput: ChartPoint[] = [];
  for (const client of o.clients) {
    for (const id of systems) {
      for (const c of o.throughputConcurrency) {
        const y = f.tp(id, client, bytes, c, 'callsPerSecond');
        if (Number.isFinite(y) && y > 0) throughput.push({ system: id, family: f.family(id), panel: client, x: c, y });
      }
    }
  }
  const perPayload: ChartPoint[] = [];
  const c = o.cpuConcurrency[0] ?? 1;
  for (const id of systems) {
    for (const p of o.cpuPayloadBytes) {
      for (const [panel, field] of [
        ['server', 'serverCpuMsPerCall'],
        ['child', 'childCpuMsPerCall'],
        ['p50', 'p50Ms'],
      ] as const) {
        const y = f.tp(id, 'raw', p, c, field);
        if (Number.isFinite(y) && y > 0) perPayload.push({ system: id, family: f.family(id), panel, x: p, y });
      }
    }
  }
  const plotted = systems.filter((id) => throughput.some((p) => p.system === id) || perPayload.some((p) => p.system === id));
  return {
    title: `Workload ${f.workload}: calls/s (${sizeLabel(bytes)}) and cost per call by payload, medians of ${o.runs} run${o.runs > 1 ? 's' : ''}; log scales`,
    systems: plotted,
    throughput,
    throughputPanels: o.clients.map((client) => ({ id: client, title: `calls/s, ${CLIENT_NAMES[client]}` })),
    concurrency: o.throughputConcurrency,
    perPayload,
    payloads: o.cpuPayloadBytes,
    payloadLabels: Object.fromEntries(o.cpuPayloadBytes.map((p) => [p, sizeLabel(p)])),
  };
}

/** The memory chart's data. */
export function memoryChartData(result: BenchResult): Parameters<typeof renderMemoryChart>[0] {
  const f = new Figures(result);
  const counts = f.memoryCounts.filter((n) => n > 0);
  const bars: MemoryBar[] = [];
  for (const id of f.ids()) {
    for (const n of counts) {
      const mib = f.memory(id, n, 'rssMiB');
      if (Number.isFinite(mib)) bars.push({ system: id, sessions: String(n), mib, projected: f.memoryProjected(id, n) });
    }
  }
  return {
    title: `Memory with idle sessions of ${memoryServers(result)}`,
    systems: f.ids(),
    bars,
    sessionOrder: counts.map(String),
    limitMiB: TARGETS.manySessionsMiB,
  };
}

/** Writes the doc to `file` and its two charts beside it; returns the paths written. */
export async function writeReport(result: BenchResult, file: string): Promise<string[]> {
  const stem = basename(file, '.md').toLowerCase();
  const charts = { load: `${stem}-chart.svg`, memory: `${stem}-memory.svg` };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(join(dirname(file), charts.load), await renderLoadChart(loadChartData(result)));
  writeFileSync(join(dirname(file), charts.memory), await renderMemoryChart(memoryChartData(result)));
  writeFileSync(file, renderMarkdown(result, charts));
  return [file, join(dirname(file), charts.load), join(dirname(file), charts.memory)];
}
