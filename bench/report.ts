import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { LoadClientId } from './clients.js';
import { median } from './measure.js';
import type { BenchResult, ThroughputRecord } from './runner.js';
import { gitCommit, ROOT } from './systems.js';

/**
 * Renders a bench result as docs/BENCHMARKS.md plus an SVG chart beside it.
 * Every figure is the median over runs; ratios are against the best peer
 * (supergateway, mcp-proxy) on that same figure.
 */

type Better = 'higher' | 'lower';

interface Row {
  readonly system: string;
  readonly values: ReadonlyArray<number>;
}

const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const fmtInt = (v: number): string => (Number.isFinite(v) ? Math.round(v).toString() : 'n/a');

function sizeLabel(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** `value` against the best peer value: "1.25x" (lower is better for latency, higher for throughput). */
function ratio(value: number, peers: readonly number[], better: Better): string {
  const finite = peers.filter((p) => Number.isFinite(p) && p > 0);
  if (!Number.isFinite(value) || finite.length === 0) return '';
  const best = better === 'higher' ? Math.max(...finite) : Math.min(...finite);
  return `${(value / best).toFixed(2)}x`;
}

/** Helper to pull medians out of a result. */
class Figures {
  constructor(private readonly result: BenchResult) {}

  get peers(): string[] {
    return this.result.systems.filter((s) => s.family === 'peer' && !s.unavailable).map((s) => s.id);
  }

  get measured(): string[] {
    return this.result.systems.filter((s) => !s.unavailable).map((s) => s.id);
  }

  label(id: string): string {
    return this.result.systems.find((s) => s.id === id)?.label ?? id;
  }

  throughput(
    workload: string,
    system: string,
    client: LoadClientId,
    payloadBytes: number,
    concurrency: number,
    field: keyof Pick<ThroughputRecord, 'callsPerSecond' | 'p50Ms' | 'p99Ms' | 'cpuMsPerCall' | 'errors'>,
  ): number {
    return median(
      this.result.throughput
        .filter(
          (r) =>
            r.workload === workload &&
            r.system === system &&
            r.client === client &&
            r.payloadBytes === payloadBytes &&
            r.concurrency === concurrency,
        )
        .map((r) => r[field]),
    );
  }

  errorsSum(workload: string, system: string, client: LoadClientId, payloadBytes: number, concurrency: number): number {
    return this.result.throughput
      .filter(
        (r) =>
          r.workload === workload &&
          r.system === system &&
          r.client === client &&
          r.payloadBytes === payloadBytes &&
          r.concurrency === concurrency,
      )
      .reduce((a, r) => a + r.errors, 0);
  }

  firstResult(workload: string, system: string, client: string): number {
    return median(
      this.result.firstResult.filter((r) => r.workload === workload && r.system === system && r.client === client).map((r) => r.ms),
    );
  }

  memory(workload: string, system: string, sessions: number, field: 'rssMiB' | 'rootRssMiB' | 'processes'): number {
    return median(
      this.result.memory.filter((r) => r.workload === workload && r.system === system && r.sessions === sessions).map((r) => r[field]),
    );
  }
}

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: readonly ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : ':---'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

function throughputSection(f: Figures, result: BenchResult, workload: string, client: LoadClientId): string {
  const lines: string[] = [];
  const peers = f.peers;
  const rows: string[][] = [];
  for (const payloadBytes of result.options.payloadBytes) {
    for (const concurrency of result.options.concurrency) {
      const peerValues = (field: 'callsPerSecond' | 'p50Ms' | 'p99Ms' | 'cpuMsPerCall'): number[] =>
        peers.map((p) => f.throughput(workload, p, client, payloadBytes, concurrency, field));
      for (const system of f.measured) {
        const cps = f.throughput(workload, system, client, payloadBytes, concurrency, 'callsPerSecond');
        const p50 = f.throughput(workload, system, client, payloadBytes, concurrency, 'p50Ms');
        const p99 = f.throughput(workload, system, client, payloadBytes, concurrency, 'p99Ms');
        const cpu = f.throughput(workload, system, client, payloadBytes, concurrency, 'cpuMsPerCall');
        if (!Number.isFinite(cps)) continue;
        rows.push([
          sizeLabel(payloadBytes),
          String(concurrency),
          system,
          fmtInt(cps),
          ratio(cps, peerValues('callsPerSecond'), 'higher'),
          fmt(p50, 2),
          ratio(p50, peerValues('p50Ms'), 'lower'),
          fmt(p99, 2),
          ratio(p99, peerValues('p99Ms'), 'lower'),
          fmt(cpu, 2),
          ratio(cpu, peerValues('cpuMsPerCall'), 'lower'),
          String(f.errorsSum(workload, system, client, payloadBytes, concurrency)),
        ]);
      }
    }
  }
  lines.push(
    table(
      ['payload', 'clients', 'system', 'calls/s', 'vs best peer', 'p50 ms', 'vs best peer', 'p99 ms', 'vs best peer', 'system CPU ms/call', 'vs best peer', 'errors'],
      rows,
      ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  return lines.join('\n');
}

function firstResultSection(f: Figures, result: BenchResult, workload: string): string {
  const kinds = ['cold start', ...result.options.clients].filter((k) =>
    result.firstResult.some((r) => r.workload === workload && r.client === k),
  );
  const rows = f.measured.map((system) => {
    const cells = [system];
    for (const kind of kinds) {
      const v = f.firstResult(workload, system, kind);
      cells.push(fmt(v, 1), ratio(v, f.peers.map((p) => f.firstResult(workload, p, kind)), 'lower'));
    }
    return cells;
  });
  const header = ['system'];
  for (const kind of kinds) {
    header.push(kind === 'cold start' ? 'cold start: spawn to first result, ms' : `new ${kind} client: first result, ms`, 'vs best peer');
  }
  return table(header, rows);
}

function memorySection(f: Figures, result: BenchResult, workload: string): string {
  const counts = [0, ...result.options.memorySessions];
  const most = Math.max(...result.options.memorySessions);
  const least = Math.min(...result.options.memorySessions);
  const peers = f.peers;
  const perSession = (system: string): number =>
    most === least ? Number.NaN : (f.memory(workload, system, most, 'rssMiB') - f.memory(workload, system, least, 'rssMiB')) / (most - least);
  const childrenPerSession = (system: string): number =>
    most === least ? Number.NaN : (f.memory(workload, system, most, 'processes') - f.memory(workload, system, least, 'processes')) / (most - least);
  const withMemory = f.measured.filter((system) => result.memory.some((m) => m.workload === workload && m.system === system));
  const rows = withMemory.map((system) => {
    const isBaseline = result.systems.find((s) => s.id === system)?.family === 'baseline';
    const gateway = isBaseline ? Number.NaN : f.memory(workload, system, 0, 'rootRssMiB');
    const cells = [system, isBaseline ? '-' : `${fmtInt(gateway)} (${ratio(gateway, peers.map((p) => f.memory(workload, p, 0, 'rootRssMiB')), 'lower')})`];
    for (const n of counts) {
      const v = f.memory(workload, system, n, 'rssMiB');
      cells.push(n === 0 ? fmtInt(v) : `${fmtInt(v)} (${ratio(v, peers.map((p) => f.memory(workload, p, n, 'rssMiB')), 'lower') || '-'})`);
    }
    const ps = perSession(system);
    cells.push(fmt(ps, 1), ratio(ps, peers.map(perSession), 'lower') || '-');
    cells.push(fmtInt(f.memory(workload, system, most, 'processes')), fmt(childrenPerSession(system), 2));
    return cells;
  });
  const header = [
    'system',
    'gateway process alone, MiB (vs best peer)',
    ...counts.map((n) => `RSS MiB, ${n} sessions${n === 0 ? '' : ' (vs best peer)'}`),
    'MiB per extra session',
    'vs best peer',
    `processes at ${most}`,
    'processes per session',
  ];
  return table(header, rows);
}

interface Verdict {
  readonly figure: string;
  readonly fleet: number;
  readonly bestPeer: number;
  readonly ahead: boolean;
}

/** mcp-fleet (child per session) against the best peer on every figure of the echo workload. */
function scorecard(f: Figures, result: BenchResult, fleet: string): Verdict[] {
  const verdicts: Verdict[] = [];
  const peers = f.peers;
  const push = (figure: string, value: number, peerValues: number[], better: Better): void => {
    const finite = peerValues.filter((v) => Number.isFinite(v));
    if (!Number.isFinite(value) || finite.length === 0) return;
    const best = better === 'higher' ? Math.max(...finite) : Math.min(...finite);
    verdicts.push({ figure, fleet: value, bestPeer: best, ahead: better === 'higher' ? value >= best : value <= best });
  };
  for (const w of result.workloads) {
    for (const client of result.options.clients) {
      for (const bytes of result.options.payloadBytes) {
        for (const c of result.options.concurrency) {
          const at = `${w.id}, ${client}, ${sizeLabel(bytes)}, ${c} clients`;
          for (const [field, name, better] of [
            ['callsPerSecond', 'calls/s', 'higher'],
            ['p50Ms', 'p50 ms', 'lower'],
            ['p99Ms', 'p99 ms', 'lower'],
            ['cpuMsPerCall', 'CPU ms/call', 'lower'],
          ] as const) {
            push(`${name} (${at})`, f.throughput(w.id, fleet, client, bytes, c, field), peers.map((p) => f.throughput(w.id, p, client, bytes, c, field)), better);
          }
        }
      }
      push(`first result, new ${client} client (${w.id})`, f.firstResult(w.id, fleet, client), peers.map((p) => f.firstResult(w.id, p, client)), 'lower');
    }
    push(`cold start (${w.id})`, f.firstResult(w.id, fleet, 'cold start'), peers.map((p) => f.firstResult(w.id, p, 'cold start')), 'lower');
    push(`gateway process RSS (${w.id})`, f.memory(w.id, fleet, 0, 'rootRssMiB'), peers.map((p) => f.memory(w.id, p, 0, 'rootRssMiB')), 'lower');
    for (const n of result.options.memorySessions) {
      push(`RSS with ${n} sessions (${w.id})`, f.memory(w.id, fleet, n, 'rssMiB'), peers.map((p) => f.memory(w.id, p, n, 'rssMiB')), 'lower');
    }
  }
  return verdicts;
}

const COLORS: Record<string, string> = {
  direct: '#555555',
  'mcp-fleet': '#d62728',
  'mcp-fleet-pool': '#ff7f0e',
  'mcp-fleet-stateless': '#8c564b',
  supergateway: '#1f77b4',
  'mcp-proxy': '#2ca02c',
};

/** A 2x2 SVG: throughput and p50 latency by concurrency, raw and SDK client, echo workload, 100 B. */
export function renderChart(result: BenchResult, workload = 'echo', payloadBytes = 100): string {
  const f = new Figures(result);
  const systems = f.measured;
  const conc = result.options.concurrency;
  const panelW = 380;
  const panelH = 240;
  const pad = { l: 60, r: 15, t: 30, b: 40 };
  const clients = result.options.clients;
  const width = panelW * 2 + 20;
  const legendH = 24 + 18 * Math.ceil(systems.length / 2);
  const height = 40 + panelH * clients.length + legendH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${workload} workload, ${sizeLabel(payloadBytes)} payload: throughput and p50 latency by concurrent clients (median of ${result.options.runs} runs)</text>`,
  ];
  clients.forEach((client, row) => {
    (['callsPerSecond', 'p50Ms'] as const).forEach((field, col) => {
      const x0 = 10 + col * (panelW + 0);
      const y0 = 30 + row * panelH;
      const plotW = panelW - pad.l - pad.r;
      const plotH = panelH - pad.t - pad.b;
      const values = systems.flatMap((s) => conc.map((c) => f.throughput(workload, s, client, payloadBytes, c, field))).filter(Number.isFinite);
      const max = Math.max(1e-9, ...values) * 1.1;
      const xAt = (i: number): number => x0 + pad.l + (conc.length === 1 ? plotW / 2 : (i * plotW) / (conc.length - 1));
      const yAt = (v: number): number => y0 + pad.t + plotH - (v / max) * plotH;
      out.push(
        `<text x="${x0 + pad.l + plotW / 2}" y="${y0 + pad.t - 8}" text-anchor="middle" font-size="12">${field === 'callsPerSecond' ? 'tools/call per second' : 'p50 latency, ms'} (${client} client)</text>`,
        `<rect x="${x0 + pad.l}" y="${y0 + pad.t}" width="${plotW}" height="${plotH}" fill="none" stroke="#ccc"/>`,
      );
      for (let t = 0; t <= 4; t++) {
        const v = (max / 4) * t;
        const y = yAt(v);
        out.push(
          `<line x1="${x0 + pad.l}" x2="${x0 + pad.l + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`,
          `<text x="${x0 + pad.l - 5}" y="${y + 4}" text-anchor="end">${v >= 100 ? Math.round(v) : v.toFixed(1)}</text>`,
        );
      }
      conc.forEach((c, i) => {
        out.push(`<text x="${xAt(i)}" y="${y0 + pad.t + plotH + 15}" text-anchor="middle">${c}</text>`);
      });
      out.push(`<text x="${x0 + pad.l + plotW / 2}" y="${y0 + pad.t + plotH + 30}" text-anchor="middle">concurrent clients</text>`);
      for (const s of systems) {
        const pts = conc
          .map((c, i) => [xAt(i), f.throughput(workload, s, client, payloadBytes, c, field)] as const)
          .filter(([, v]) => Number.isFinite(v))
          .map(([x, v]) => `${x.toFixed(1)},${yAt(v).toFixed(1)}`);
        if (pts.length === 0) continue;
        const color = COLORS[s] ?? '#9467bd';
        out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
        for (const p of pts) {
          const [x, y] = p.split(',');
          out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${color}"/>`);
        }
      }
    });
  });
  const ly = 40 + panelH * clients.length;
  systems.forEach((s, i) => {
    const x = 20 + (i % 2) * (width / 2);
    const y = ly + 18 * Math.floor(i / 2);
    out.push(
      `<rect x="${x}" y="${y - 9}" width="14" height="4" fill="${COLORS[s] ?? '#9467bd'}"/>`,
      `<text x="${x + 20}" y="${y - 3}">${escapeXml(f.label(s))}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function installedVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}


/** Headline figures of each mcp-fleet mode: echo workload, raw client, 100 B, against the best peer. */
function summaryLines(f: Figures, result: BenchResult): string[] {
  const o = result.options;
  const lines: string[] = [];
  const peers = f.peers;
  const most = Math.max(...o.concurrency);
  const least = Math.min(...o.concurrency);
  const sessions = Math.max(...o.memorySessions);
  const w = result.workloads[0]?.id ?? 'echo';
  const bytes = o.payloadBytes[0] ?? 100;
  for (const sys of result.systems.filter((s) => s.family === 'mcp-fleet')) {
    if (sys.unavailable) {
      lines.push(`- **${sys.id}**: ${sys.unavailable}.`);
      continue;
    }
    const cps = f.throughput(w, sys.id, 'raw', bytes, most, 'callsPerSecond');
    const p50 = f.throughput(w, sys.id, 'raw', bytes, least, 'p50Ms');
    const first = f.firstResult(w, sys.id, 'raw');
    const rss = f.memory(w, sys.id, sessions, 'rssMiB');
    const verdicts = scorecard(f, result, sys.id);
    const parts: string[] = [];
    // A variant that ran only some phases (mcp-fleet-cold) reports only those figures.
    if (Number.isFinite(cps)) {
      parts.push(`${fmtInt(cps)} calls/s at ${most} clients (${ratio(cps, peers.map((p) => f.throughput(w, p, 'raw', bytes, most, 'callsPerSecond')), 'higher')} the best peer)`);
    }
    if (Number.isFinite(p50)) {
      parts.push(
        `p50 ${fmt(p50, 2)} ms at ${least} client (${ratio(p50, peers.map((p) => f.throughput(w, p, 'raw', bytes, least, 'p50Ms')), 'lower')}; direct stdio ${fmt(f.throughput(w, 'direct', 'raw', bytes, least, 'p50Ms'), 2)} ms)`,
      );
    }
    if (Number.isFinite(first)) {
      parts.push(`new client's first result ${fmt(first, 1)} ms (${ratio(first, peers.map((p) => f.firstResult(w, p, 'raw')), 'lower')})`);
    }
    if (Number.isFinite(rss)) {
      parts.push(`${fmtInt(rss)} MiB with ${sessions} sessions (${ratio(rss, peers.map((p) => f.memory(w, p, sessions, 'rssMiB')), 'lower')})`);
    }
    parts.push(`ahead of or level with the best peer on ${verdicts.filter((v) => v.ahead).length} of ${verdicts.length} figures`);
    lines.push(`- **${sys.id}** (${w}, raw client, ${sizeLabel(bytes)}): ${parts.join('; ')}.`);
  }
  lines.push(
    '',
    'Runs on this shared machine vary by up to 3x between runs for every system; treat differences under about 1.3x as noise.',
  );
  return lines;
}

/** The Markdown document. `chartFile` is the SVG's name relative to the doc. */
export function renderMarkdown(result: BenchResult, chartFile: string): string {
  const f = new Figures(result);
  const cpu = cpus();
  const o = result.options;
  const lines: string[] = [];
  lines.push(
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` (bench/) on ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC in ${Math.round(result.wallSeconds)} s, at commit ${result.commit ?? gitCommit()} (mcp-fleet built from the working tree at that commit). Do not edit by hand: edit bench/ and run it again. Figures are medians of ${o.runs} runs; "vs best peer" divides a figure by the best of supergateway and mcp-proxy on that figure (calls/s: above 1.00x is better; times, CPU and memory: below 1.00x is better).`,
    '',
    '## Machine',
    '',
    `- CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Linux ${release()}; Node ${process.version}.`,
    `- ${result.loadAverage ? `Load average (1, 5, 15 min) at the start of the run: ${result.loadAverage.start.map((l) => l.toFixed(2)).join(', ')}; at the end: ${result.loadAverage.end.map((l) => l.toFixed(2)).join(', ')}` : `Load average when the report was written: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`}. The machine is shared with other engineers' test runs, so absolute figures are noisy; the systems are interleaved run by run so the noise falls on all of them alike.`,
    '',
    '## Systems and versions',
    '',
    table(
      ['id', 'system', 'version', 'children', 'status'],
      result.systems.map((s) => [s.id, s.label, s.version, s.sharing, s.unavailable ?? 'measured']),
      ['l', 'l', 'l', 'l', 'l'],
    ),
    '',
    `Load clients and servers: ${['@modelcontextprotocol/sdk', '@modelcontextprotocol/client', 'undici', '@modelcontextprotocol/server-everything']
      .map((name) => `${name} ${installedVersion(name)}`)
      .join(', ')}.`,
    '',
    'Workloads (each system wraps the same stdio server, spawned with the same Node):',
    '',
    ...result.workloads.map((w) => `- \`${w.id}\`: ${w.label}`),
    '',
    '## Method',
    '',
    '- One process tree: the bench (tsx) starts each system, drives it from its own process and stops it (SIGTERM, then SIGKILL of the whole tree). All traffic goes to 127.0.0.1. Systems run one at a time, in an order rotated each run.',
    '- Direct stdio baseline: the client spawns the server itself and speaks JSON lines on its pipes: the floor no proxy can beat. Its "system" is the set of server children.',
    '- mcp-fleet: `node dist/cli/main.js serve --config <yaml> --port <p>`, Streamable HTTP at `/servers/<name>/mcp`, `logLevel: warn`. supergateway: `--stdio <cmd> --outputTransport streamableHttp --stateful --logLevel none` (a child per session, spawned through a shell). mcp-proxy: `--host 127.0.0.1 --server stream -- <cmd>` (one shared child; it re-implements the server side with the SDK v2 `Server`). supergateway has no host option and listens on all interfaces; the bench only connects to 127.0.0.1.',
    '- Protocols: legacy sessions (2025-era `initialize` handshake, `Mcp-Session-Id`) and modern stateless 2026-07-28 (no session; every request carries `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` headers and the `_meta` envelope; the only handshake is `server/discover`) are separate systems in the tables. mcp-fleet serves both on one endpoint: legacy sessions get a child each, modern requests run on a warm pool (default min 1, max 4). mcp-proxy serves both on `/mcp` from its one shared child. supergateway\'s modern mode is not measured (it starts a child for each request).',
    '- Load clients: `raw` is undici with one keep-alive connection per session: POST initialize, read `Mcp-Session-Id`, POST notifications/initialized, then POST tools/call in a loop with `Accept: application/json, text/event-stream`, reading a JSON body or SSE `data:` lines (over stdio: bare JSON lines). `sdk` is the official `@modelcontextprotocol/sdk` v1 `Client` with `StreamableHTTPClientTransport` (`StdioClientTransport` for the baseline; for the modern protocol, which v1 does not speak, the v2 `@modelcontextprotocol/client` pinned to 2026-07-28); it spends milliseconds of CPU per call in the bench process, which shares the 2 cores, so it caps every system: compare systems within one client, and use the `raw` tables for the systems\' own limits.',
    `- Throughput and latency: N sessions (N = ${o.concurrency.join(', ')}) each call \`tools/call echo\` in a closed loop (next call when the last returns) for ${o.warmupMs} ms of warm-up and then ${o.durationMs} ms measured; payloads of ${o.payloadBytes.map(sizeLabel).join(' and ')} (the message, echoed back). Each call has a ${o.callTimeoutMs / 1000} s timeout; a wrong echo counts as an error.`,
    '- System CPU per call: utime+stime (+cutime+cstime of reaped children) from /proc/<pid>/stat summed over the gateway and all its descendants, before and after the measured window, divided by the calls. The load client\'s own CPU is not included.',
    `- First result: a new client connects, handshakes and gets its first tool result; median of ${o.firstResultSamples} clients one after another, each session closed (DELETE) before the next. "Cold start" is from spawning the system to its first client's first result.`,
    '- Workloads: the echo workload runs both clients; server-everything runs the raw client only (the SDK client measures itself more than the system, and once is enough).',
    `- Memory (sessions opened before the raw throughput runs, which then use the first N of them): VmRSS from /proc/<pid>/status summed over the process tree with 0, then ${o.memorySessions.join(', ')} open raw sessions (each has made one call, and the tree has settled: same process count for ${o.settleMs} ms). "MiB per extra session" and "processes per session" are the slope between ${Math.min(...o.memorySessions)} and ${Math.max(...o.memorySessions)} sessions.`,
    '',
    '## Summary',
    '',
    ...summaryLines(f, result),
    '',
    `![throughput and latency by concurrency](${chartFile})`,
    '',
  );

  for (const w of result.workloads) {
    lines.push(`## Workload \`${w.id}\``, '');
    for (const client of o.clients) {
      if (!result.throughput.some((r) => r.workload === w.id && r.client === client)) continue;
      lines.push(`### Throughput and latency, ${client} client`, '', throughputSection(f, result, w.id, client), '');
    }
    lines.push('### Time to first tool result', '', firstResultSection(f, result, w.id), '');
    lines.push('### Memory and processes', '', memorySection(f, result, w.id), '');
  }

  const fleetIds = result.systems.filter((s) => s.family === 'mcp-fleet').map((s) => s.id);
  lines.push('## mcp-fleet against the target', '');
  lines.push(
    'Target: ahead of every peer on every figure, and p50 latency at 1 client within 1.5x of the direct stdio baseline. Modes of mcp-fleet are scored separately.',
    '',
  );
  for (const id of fleetIds) {
    const sys = result.systems.find((s) => s.id === id)!;
    if (sys.unavailable) {
      lines.push(`- **${id}**: ${sys.unavailable}.`);
      continue;
    }
    const verdicts = scorecard(f, result, id);
    const behind = verdicts.filter((v) => !v.ahead);
    lines.push(`- **${id}** (${sys.label}): ahead of or level with the best peer on ${verdicts.length - behind.length} of ${verdicts.length} figures.`);
    for (const w of result.workloads) {
      for (const client of o.clients) {
        const fleetP50 = f.throughput(w.id, id, client, o.payloadBytes[0]!, 1, 'p50Ms');
        const directP50 = f.throughput(w.id, 'direct', client, o.payloadBytes[0]!, 1, 'p50Ms');
        if (Number.isFinite(fleetP50) && Number.isFinite(directP50)) {
          const x = fleetP50 / directP50;
          lines.push(
            `  - p50 at 1 client, ${w.id}, ${client}, ${sizeLabel(o.payloadBytes[0]!)}: ${fmt(fleetP50, 2)} ms vs direct ${fmt(directP50, 2)} ms = ${x.toFixed(2)}x (${x <= 1.5 ? 'within' : 'outside'} 1.5x).`,
          );
        }
      }
    }
    if (behind.length > 0) {
      lines.push(
        '',
        `Where ${id} is behind the best peer:`,
        '',
        table(
          ['figure', id, 'best peer', 'ratio'],
          behind.map((v) => [v.figure, fmt(v.fleet, 2), fmt(v.bestPeer, 2), `${(v.fleet / v.bestPeer).toFixed(2)}x`]),
        ),
        '',
      );
    }
  }
  lines.push('');

  const findings = join(ROOT, 'bench/FINDINGS.md');
  if (existsSync(findings)) {
    lines.push(readFileSync(findings, 'utf8').trim(), '');
  }

  lines.push('## Errors', '');
  if (result.errors.length === 0) {
    lines.push('None: every call of every run returned the right echo.');
  } else {
    lines.push(
      table(
        ['run', 'workload', 'system', 'phase', 'count', 'first error'],
        result.errors.map((e) => [String(e.run + 1), e.workload, e.system, e.phase, String(e.count), e.first.replace(/\|/g, '/').slice(0, 160)]),
        ['r', 'l', 'l', 'l', 'r', 'l'],
      ),
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** Writes the doc to `file` and its chart beside it; returns both paths. */
export function writeReport(result: BenchResult, file: string): string[] {
  const chart = join(dirname(file), `${basename(file, '.md').toLowerCase()}-chart.svg`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(chart, renderChart(result));
  writeFileSync(file, renderMarkdown(result, basename(chart)));
  return [file, chart];
}
