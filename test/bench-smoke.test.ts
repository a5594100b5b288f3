import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFleet } from '../bench/build.js';
import { renderLoadChart, renderMemoryChart } from '../bench/chart.js';
import { loadChartData, memoryChartData, renderMarkdown, targetVerdicts, Figures } from '../bench/report.js';
import { FULL_OPTIONS, runBench, type BenchOptions, type BenchResult } from '../bench/runner.js';
import { killAllSpawned, ROOT, TMP_DIR } from '../bench/systems.js';

// The full benchmark (`npm run bench`) takes 45 to 50 minutes and is not part of
// `npm test`. This tiny run builds mcp-fleet from src/ and measures it, the
// bare-HTTP floor and the relay floor for real, so a bench that silently skips
// mcp-fleet, or records a figure it did not measure, fails here. It asserts no speed.

const SMOKE_DIR = join(TMP_DIR, 'smoke');

/** One pass with tiny counts over the systems the issue-12 targets compare. */
function smokeOptions(fleetMain: string): BenchOptions {
  return {
    ...FULL_OPTIONS,
    runs: 1,
    phases: ['throughput', 'cpu', 'memory', 'cold'],
    systems: ['floor', 'relay-floor', 'mcp-fleet'],
    clients: ['raw', 'sdk', 'sdk2'],
    throughputConcurrency: [1],
    throughputPayloadBytes: [100],
    cpuConcurrency: [1],
    cpuPayloadBytes: [100, 64 * 1024],
    window: { warmupMs: 0, durationMs: 50, minCalls: 3, maxDurationMs: 5000, maxCallsPerSession: 200 },
    // The warm-up's code path runs, but not the full run's 10000 calls: this run asserts no speed.
    jitWarmup: { calls: 20, maxMsPerSize: 200 },
    memorySessions: [1],
    // The echo server starts faster than the example fleet's; the memory phase's code path is the same.
    memoryWorkloads: ['echo'],
    firstResultSamples: 1,
    firstResultClients: ['raw'],
    settleMs: 50,
    // Figures need not be accurate here; a loaded machine may never look idle.
    settleMaxMs: 500,
    callTimeoutMs: 15_000,
    fleetMain,
    runDir: join(SMOKE_DIR, 'run'),
  };
}

const positive = (value: number | undefined): boolean => value !== undefined && Number.isFinite(value) && value > 0;

describe('bench smoke run', () => {
  let result: BenchResult;
  let options: BenchOptions;

  // About 10 s of work on 2 quiet cores (a build, three systems, three clients, a memory point); the limit leaves 9x.
  beforeAll(async () => {
    const fleetMain = buildFleet(join(SMOKE_DIR, 'fleet-build'));
    options = smokeOptions(fleetMain);
    try {
      result = await runBench(options);
    } finally {
      killAllSpawned();
    }
  }, 90_000);

  afterAll(() => killAllSpawned());

  it('GIVEN src/ WHEN the smoke run starts THEN it measures an mcp-fleet it built, not a stale or missing dist/', () => {
    expect(existsSync(options.fleetMain!)).toBe(true);
    const fleet = result.systems.find((s) => s.id === 'mcp-fleet');
    const floor = result.systems.find((s) => s.id === 'floor');
    expect(fleet?.unavailable, 'mcp-fleet must be measured').toBeUndefined();
    expect(floor?.unavailable, 'the floor must be measured').toBeUndefined();
    expect(result.systems.find((s) => s.id === 'relay-floor')?.unavailable, 'the relay floor must be measured').toBeUndefined();
    expect(result.errors).toEqual([]);
  });

  it('GIVEN the floors and mcp-fleet WHEN every load cell runs THEN each has calls and finite, non-zero latency and CPU figures', () => {
    const expected = [
      ...options.clients.map((client) => ({ client, payloadBytes: 100 })),
      { client: 'raw', payloadBytes: 64 * 1024 },
    ];
    for (const system of ['floor', 'relay-floor', 'mcp-fleet']) {
      for (const cell of expected) {
        const records = result.throughput.filter((r) => r.system === system && r.client === cell.client && r.payloadBytes === cell.payloadBytes);
        const where = `${system}, ${cell.client} client, ${cell.payloadBytes} B`;
        expect(records, where).toHaveLength(1);
        const r = records[0]!;
        expect(r.calls, where).toBeGreaterThan(0);
        expect(r.errors, where).toBe(0);
        for (const [name, value] of Object.entries({
          callsPerSecond: r.callsPerSecond,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          serverCpuMsPerCall: r.serverCpuMsPerCall,
          clientCpuMsPerCall: r.clientCpuMsPerCall,
        })) {
          expect(positive(value), `${where}: ${name} = ${value}`).toBe(true);
        }
        // The floor has no child; the echo server behind the relay floor and mcp-fleet does the work of every call.
        if (system === 'floor') expect(r.childCpuMsPerCall, where).toBe(0);
        else expect(positive(r.childCpuMsPerCall), `${where}: childCpuMsPerCall = ${r.childCpuMsPerCall}`).toBe(true);
        // Every CPU cell of a system but the floor has the floor measured beside it.
        if (system === 'floor' || cell.client !== 'raw') expect(r.pairedFloorCpuMsPerCall, where).toBeUndefined();
        else expect(positive(r.pairedFloorCpuMsPerCall), `${where}: pairedFloorCpuMsPerCall = ${r.pairedFloorCpuMsPerCall}`).toBe(true);
      }
    }
  });

  it('GIVEN mcp-fleet WHEN the cold and memory phases run THEN its first results and its memory with an idle session are measured', () => {
    for (const client of ['cold start', 'raw']) {
      const first = result.firstResult.filter((r) => r.system === 'mcp-fleet' && r.client === client);
      expect(first, client).toHaveLength(1);
      expect(positive(first[0]!.ms), `${client}: ${first[0]!.ms} ms`).toBe(true);
    }
    // The floors' first results, the reference of the first-result target.
    for (const system of ['floor', 'relay-floor']) {
      const first = result.firstResult.filter((r) => r.system === system && r.client === 'raw');
      expect(first, system).toHaveLength(1);
      expect(positive(first[0]!.ms), `${system}: ${first[0]!.ms} ms`).toBe(true);
    }
    for (const sessions of [0, 1]) {
      const point = result.memory.find((m) => m.system === 'mcp-fleet' && m.sessions === sessions);
      expect(point, `${sessions} sessions`).toBeDefined();
      expect(point!.projected).toBeUndefined();
      expect(positive(point!.rssMiB) && positive(point!.rootRssMiB) && point!.processes >= 1).toBe(true);
    }
  });

  it('GIVEN the run WHEN the report renders THEN the floor comparisons are computed from it and both charts are SVG', async () => {
    // The rows this run covers are decided (met or not), whatever the machine's speed.
    const verdicts = targetVerdicts(new Figures(result)).filter((v) => v.system === 'mcp-fleet');
    const covered = [/^gateway CPU per call .*\(100 B, 1 client, raw\)/, /^gateway CPU per call .*\(64 KiB, 1 client, raw\)/, /^no quadratic step .*\(1 client, raw\)/, /^p50 at 1 client/, /^first tool result/];
    for (const pattern of covered) {
      const row = verdicts.find((v) => pattern.test(v.target));
      expect(row?.met, `${pattern}: ${row?.measured}`).toBeTypeOf('boolean');
    }

    const cpuRow = verdicts.find((v) => /^gateway CPU per call .*\(100 B, 1 client, raw\)/.test(v.target));
    // The relay floor's own ratio stands beside it: what the pipe to a child costs any relay.
    expect(cpuRow?.reference).toMatch(/^floor beside it \d+\.\d+ ms \(run alone: \d+\.\d+ ms\); the relay floor: \d+\.\dx its floor beside$/);

    const firstRow = verdicts.find((v) => /^first tool result/.test(v.target));
    expect(firstRow?.reference).toMatch(/^floor \d+\.\d ms, relay floor \d+\.\d ms$/);

    const markdown = renderMarkdown(result, { load: 'chart.svg', memory: 'memory.svg' });
    expect(markdown).toContain('## Targets of issue 12, checked against this run');
    expect(markdown).toMatch(/\| 100 B \| 1 \| floor \| \d/);
    expect(markdown).toMatch(/\| 100 B \| 1 \| mcp-fleet \| \d/);
    expect(await renderLoadChart(loadChartData(result))).toMatch(/^<svg[\s\S]*mcp-fleet[\s\S]*<\/svg>\n$/);
    expect(await renderMemoryChart(memoryChartData(result))).toMatch(/^<svg[\s\S]*mcp-fleet[\s\S]*<\/svg>\n$/);
  });

  it('GIVEN a saved result WHEN bench/main.ts re-renders it to a file outside the repository THEN it names the files it wrote by their paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-fleet-bench-out-'));
    try {
      const saved = join(dir, 'result.json');
      writeFileSync(saved, JSON.stringify(result));
      const out = join(dir, 'report.md');
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/main.ts', '--from-result', saved, '--out', out], { cwd: ROOT, timeout: 60_000 });
      expect(stdout).toContain(`wrote ${out}, ${join(dir, 'report-chart.svg')}, ${join(dir, 'report-memory.svg')}`);
      for (const file of ['report.md', 'report-chart.svg', 'report-memory.svg']) expect(existsSync(join(dir, file)), file).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
