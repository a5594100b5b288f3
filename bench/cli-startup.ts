import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { ROOT } from './systems.js';
import type { ExtraPhaseResult } from './runner.js';
import { median } from './measure.js';

/**
 * The `cli` phase: how long the mcp-fleet CLI takes to answer `--help`,
 * `--version` and `serve --help`, from spawn to exit, as a user waits for it
 * (issue 14: under 300 ms). Each command runs a few times to warm the file
 * cache, then is timed `runs` times one after another, like hyperfine; the
 * report shows the median and the spread.
 */

/** Commands timed, and the most each may take (median) to meet the target. */
const COMMANDS: ReadonlyArray<{ readonly args: readonly string[]; readonly targetMs?: number }> = [
  { args: ['--help'], targetMs: 300 },
  { args: ['--version'], targetMs: 300 },
  { args: ['serve', '--help'] },
];

/** Untimed runs before the timed ones (file cache, V8 code cache). */
const WARMUP_RUNS = 2;
/** Timed runs per command. */
const TIMED_RUNS = 15;

/** Milliseconds of each of `runs` runs of `node main ...args`; throws when a run fails. */
function timeRuns(main: string, args: readonly string[], runs: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const run = spawnSync(process.execPath, [main, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (run.status !== 0) throw new Error(`mcp-fleet ${args.join(' ')} exited with ${run.status ?? run.signal}: ${(run.stderr ?? '').trim().slice(0, 300)}`);
    times.push(ms);
  }
  return times;
}

/** Node's own start-up on this machine (`node -e ""`), the floor every CLI command pays. */
function nodeFloorMs(runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', ''], { encoding: 'utf8' });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

/** Measures the CLI's start-up; the bench's `cli` phase (bench/main.ts EXTRA_PHASES). */
export async function measureCliStartup(context: { readonly fleetMain: string; readonly progress: (line: string) => void }): Promise<ExtraPhaseResult> {
  const rows: string[][] = [];
  const targets: Array<{ target: string; measured: string; met: boolean }> = [];
  const loadBefore = loadavg()[0]!;
  const floor = nodeFloorMs(TIMED_RUNS);
  rows.push(['`node -e ""` (floor)', fmt(floor), '-', '-']);
  for (const { args, targetMs } of COMMANDS) {
    const label = `mcp-fleet ${args.join(' ')}`;
    context.progress(`  ${label}: ${TIMED_RUNS} runs`);
    timeRuns(context.fleetMain, args, WARMUP_RUNS);
    const times = timeRuns(context.fleetMain, args, TIMED_RUNS);
    const mid = median(times);
    rows.push([`\`${label}\``, fmt(mid), fmt(Math.min(...times)), fmt(Math.max(...times))]);
    if (targetMs !== undefined) targets.push({ target: `\`${label}\` under ${targetMs} ms (median)`, measured: `${fmt(mid)} ms`, met: mid < targetMs });
  }
  return {
    header: ['command', 'median ms', 'min ms', 'max ms'],
    rows,
    notes: [
      `Spawn to exit, ${TIMED_RUNS} runs each after ${WARMUP_RUNS} untimed ones, one after another; load average ${loadBefore.toFixed(1)} before and ${loadavg()[0]!.toFixed(1)} after (compare with the node floor on a loaded machine). The AWS CDK and SDK load only inside the deploy actions that use them (test/cli/startup.test.ts checks which commands load them); \`--version\` loads no command module, and \`--help\` registers every command without loading zod, yaml or the config schemas, which load inside the actions.`,
    ],
    targets,
  };
}

function fmt(ms: number): string {
  return ms.toFixed(0);
}
