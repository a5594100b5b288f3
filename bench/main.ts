import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LoadClientId } from './clients.js';
import { writeReport } from './report.js';
import { FULL_OPTIONS, QUICK_OPTIONS, runBench, type BenchOptions, type BenchResult, type ExtraPhase } from './runner.js';
import { killAllSpawned, PHASES, ROOT, SYSTEMS, TMP_DIR, type BenchPhase, type WorkloadId } from './systems.js';

/**
 * `npm run bench [-- --quick] [--only a,b] [--phases p,q] ...`
 *
 * The full run writes docs/BENCHMARKS.md and its two SVG charts; `--quick` and
 * any selection write nothing unless `--out` is given. Each run keeps its raw
 * results and CPU profiles in .bench-tmp/runs/<time>/ (outside git), and the
 * latest raw result also at .bench-tmp/result.json.
 */

const USAGE = `usage: tsx bench/main.ts [--quick] [--only id,id] [--phases ${PHASES.join(',')}]
       [--clients raw,sdk,sdk2] [--workloads echo,everything] [--runs N] [--duration-ms N]
       [--memory-sessions 1,64,200] [--idle-wait-ms N] [--out FILE] [--from-result FILE]

  --quick            every phase once with small counts (a minute or two; writes nothing by default)
  --only             systems: ${SYSTEMS.map((s) => s.id).join(', ')}
  --phases           ${PHASES.join(', ')} (default: all)
  --out FILE         write the report there (default for a full, unselected run: docs/BENCHMARKS.md)
  --from-result FILE re-render a report from a saved result.json without measuring`;

/**
 * Phases written in other files: the CLI start-up phase (`mcp-fleet --help` and
 * `--version`, bench/cli-startup.ts).
 */
const EXTRA_PHASES: ExtraPhase[] = [
  { id: 'cli', title: 'CLI start-up', run: async (context) => (await import('./cli-startup.js')).measureCliStartup(context) },
];

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

function numbers(value: string | undefined, flag: string): number[] | undefined {
  const items = list(value);
  if (items === undefined) return undefined;
  const parsed = items.map(Number);
  if (parsed.some((n) => !Number.isFinite(n) || n < 0)) throw new Error(`${flag} takes comma-separated non-negative numbers, got ${value}`);
  return parsed;
}

function checked<T extends string>(values: string[] | undefined, known: readonly T[], flag: string): T[] | undefined {
  const bad = values?.filter((v) => !known.includes(v as T)) ?? [];
  if (bad.length > 0) throw new Error(`${flag}: unknown ${bad.join(', ')} (known: ${known.join(', ')})`);
  return values as T[] | undefined;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      systems: { type: 'string' },
      phases: { type: 'string' },
      workloads: { type: 'string' },
      clients: { type: 'string' },
      runs: { type: 'string' },
      'duration-ms': { type: 'string' },
      'memory-sessions': { type: 'string' },
      'idle-wait-ms': { type: 'string' },
      'from-result': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const base = values.quick ? QUICK_OPTIONS : FULL_OPTIONS;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const systems = checked(list(values.only ?? values.systems), SYSTEMS.map((s) => s.id), '--only');
  const phases = checked(list(values.phases), PHASES, '--phases');
  const options: BenchOptions = {
    ...base,
    runDir: join(TMP_DIR, 'runs', stamp),
    ...(values.runs === undefined ? {} : { runs: Number(values.runs) }),
    ...(values['duration-ms'] === undefined ? {} : { window: { ...base.window, durationMs: Number(values['duration-ms']) } }),
    ...(values['idle-wait-ms'] === undefined ? {} : { idleWaitMs: Number(values['idle-wait-ms']) }),
    memorySessions: numbers(values['memory-sessions'], '--memory-sessions') ?? base.memorySessions,
    systems: systems ?? base.systems,
    phases: (phases as BenchPhase[] | undefined) ?? base.phases,
    workloads: checked(list(values.workloads), ['echo', 'everything', 'memory'] as WorkloadId[], '--workloads') ?? base.workloads,
    clients: checked(list(values.clients), ['raw', 'sdk', 'sdk2'] as LoadClientId[], '--clients') ?? base.clients,
    extraPhases: EXTRA_PHASES,
    onProgress: (line) => console.log(line),
  };
  const selection = values.quick || systems !== undefined || phases !== undefined;
  const out = values.out ?? (selection ? undefined : 'docs/BENCHMARKS.md');

  let result: BenchResult;
  if (values['from-result'] !== undefined) {
    // Re-render a report from a saved result without measuring again.
    result = JSON.parse(readFileSync(resolve(values['from-result']), 'utf8')) as BenchResult;
  } else {
    result = await runBench(options);
    const json = JSON.stringify(result, null, 2);
    mkdirSync(options.runDir, { recursive: true });
    writeFileSync(join(options.runDir, 'result.json'), json);
    writeFileSync(join(TMP_DIR, 'result.json'), json);
    console.log(`bench finished in ${result.wallSeconds.toFixed(0)} s; raw results and profiles in ${shownPath(options.runDir)}/`);
  }
  if (out !== undefined) {
    const written = await writeReport(result, resolve(ROOT, out));
    console.log(`wrote ${written.map(shownPath).join(', ')}`);
  }
  if (result.errors.length > 0) {
    console.log(`${result.errors.length} phases had errors (see the report or result.json)`);
  }
}

/** A path as the user can open it: relative to the working directory when inside it, else absolute. */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllSpawned();
    process.exitCode = 130;
    process.exit();
  });
}

try {
  await main();
} catch (err) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
} finally {
  killAllSpawned();
}
