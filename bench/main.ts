import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LoadClientId } from './clients.js';
import { writeReport } from './report.js';
import { FULL_OPTIONS, QUICK_OPTIONS, runBench, type BenchOptions, type BenchResult } from './runner.js';
import { killAllSpawned, ROOT, TMP_DIR } from './systems.js';

/**
 * `npm run bench [-- --quick] [--out FILE] [--systems a,b] [--workloads echo] [--runs N]`
 *
 * The full run writes docs/BENCHMARKS.md (and its SVG chart); `--quick` is the
 * smoke pass and writes nothing unless `--out` is given. The raw results always
 * go to .bench-tmp/result.json.
 */

const USAGE = `usage: tsx bench/main.ts [--quick] [--out FILE] [--systems id,id] [--workloads id,id] [--clients raw,sdk] [--runs N] [--duration-ms N] [--from-result .bench-tmp/result.json] [--profile]`;

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      systems: { type: 'string' },
      workloads: { type: 'string' },
      clients: { type: 'string' },
      runs: { type: 'string' },
      'duration-ms': { type: 'string' },
      'from-result': { type: 'string' },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const base = values.quick ? QUICK_OPTIONS : FULL_OPTIONS;
  const options: BenchOptions = {
    ...base,
    ...(values.runs === undefined ? {} : { runs: Number(values.runs) }),
    ...(values['duration-ms'] === undefined ? {} : { durationMs: Number(values['duration-ms']) }),
    systems: list(values.systems) ?? base.systems,
    workloads: list(values.workloads) ?? base.workloads,
    clients: (list(values.clients) as LoadClientId[] | undefined) ?? base.clients,
    onProgress: (line) => console.log(line),
    ...(values.profile ? { cpuProfileDir: join(TMP_DIR, 'profiles') } : {}),
  };
  const out = values.out ?? (values.quick ? undefined : 'docs/BENCHMARKS.md');

  let result: BenchResult;
  if (values['from-result'] !== undefined) {
    // Re-render a report from a saved result without measuring again.
    result = JSON.parse(readFileSync(resolve(values['from-result']), 'utf8')) as BenchResult;
  } else {
    result = await runBench(options);
    mkdirSync(TMP_DIR, { recursive: true });
    writeFileSync(join(TMP_DIR, 'result.json'), JSON.stringify(result, null, 2));
    console.log(`bench finished in ${result.wallSeconds.toFixed(0)} s; raw results in .bench-tmp/result.json`);
  }
  if (out !== undefined) {
    const written = writeReport(result, resolve(ROOT, out));
    console.log(`wrote ${written.join(', ')}`);
  }
  if (result.errors.length > 0) {
    console.log(`${result.errors.length} phases had errors (see the report)`);
  }
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
