import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { judge, renderFailures, renderTables, runFailed, unmatchedBaselineEntries, type Baseline, type LegRun } from './report.js';
import { installSuite, runLeg, type Leg } from './suite.js';
import { DEFAULT_LEGS, LEGS, ROOT, startDirect, startGateway, TARGETS, type GatewayOptions, type Started, type Target } from './targets.js';

const USAGE = `usage: npm run conformance -- [options]

Runs the official MCP conformance suite (@modelcontextprotocol/conformance, the
server scenarios) against stdio MCP servers served by the mcp-fleet gateway on
127.0.0.1, and prints a pass/fail table per scenario and leg. See docs/CONFORMANCE.md.

  --target <names>     targets, comma-separated: ${TARGETS.map((t) => t.name).join(', ')} (default: all)
  --legs <names>       legs, comma-separated: ${LEGS.map((l) => l.name).join(', ')}
                       (default: ${DEFAULT_LEGS.join(',')})
  --policy <policy>    servers.<name>.policy for every target: per-session, pool or shared
                       (default: the gateway's default)
  --pool-min <n>       servers.<name>.pool.min for every target (children kept warm; default 1):
                       with 2 or more, requests of one scenario may land on different children
  --direct             also run each target that has its own HTTP transport without
                       the gateway, shown as gateway/direct in the table
  --expected <file>    expected failures (default: scripts/conformance/expected-failures.yaml)
  --suite-version <v>  another @modelcontextprotocol/conformance version than the pinned one
  --out <dir>          results directory (default: .conformance-tmp/<time>)
  --no-build           do not run npm run build first
  --from-sources       run the gateway from src/ with tsx (no build)
  --scenario-timeout <s>  per-scenario timeout of the suite (default 30)
  --all-checks         list the failing checks of scenarios that are not scored too
  --from-summary <f>   judge a saved run (its summary.json) again, without running anything
  -h, --help

Exit status: 0 when every scored scenario passed or failed as expected, 1 on an
unexpected failure or a stale expected-failures entry, 2 when the run itself failed.`;

function list(value: string | undefined, fallback: readonly string[], known: readonly string[], what: string): string[] {
  const names = value === undefined ? [...fallback] : value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new Error(`unknown ${what}: ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return names;
}

function build(): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`npm run build failed (${code})`))));
  });
}

/** The gateway settings a run changed, for its headings. */
function settingsNote(policy: string | null, poolMin: number | null): string {
  const notes = [policy ? `policy ${policy}` : '', poolMin !== null ? `pool.min ${poolMin}` : ''].filter(Boolean);
  return notes.length > 0 ? ` (${notes.join(', ')})` : '';
}

/** `dir` relative to the working directory when it is under it, else absolute. */
function shown(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel === '' ? '.' : rel.startsWith('..') ? dir : rel;
}

function readBaseline(file: string): Baseline {
  if (!existsSync(file)) throw new Error(`no expected-failures file at ${file}`);
  return (parse(readFileSync(file, 'utf8')) ?? {}) as Baseline;
}

/** What a run collected: saved as summary.json, and all that judging needs. */
interface Collected {
  readonly suite: string;
  readonly legs: readonly string[];
  readonly policy: string | null;
  readonly poolMin?: number | null;
  readonly outDir: string;
  readonly runs: readonly LegRun[];
}

interface CollectOptions {
  readonly targets: readonly Target[];
  readonly legs: readonly Leg[];
  readonly policy: GatewayOptions['policy'];
  readonly poolMin: number | undefined;
  readonly direct: boolean;
  readonly outDir: string;
  readonly scenarioTimeoutMs: number;
  readonly suiteVersion: string | undefined;
  readonly build: boolean;
  readonly fromSources: boolean;
}

/** Installs the suite, builds, starts the gateway (and direct servers) and runs every leg against every target. */
async function collect(options: CollectOptions): Promise<Collected> {
  const { targets, legs, policy, poolMin, outDir, scenarioTimeoutMs } = options;
  const suite = await installSuite(options.suiteVersion, (line) => console.error(line));
  console.error(`conformance suite ${suite.version}; results in ${shown(outDir)}`);
  if (options.build && !options.fromSources) await build();
  const runs: LegRun[] = [];
  const legTimeoutMs = 20 * 60_000;
  const stoppers: Started[] = [];
  const stopAll = (): Promise<unknown> => Promise.all(stoppers.splice(0).map((s) => s.stop()));
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const gateway = await startGateway({ targets, ...(policy ? { policy } : {}), ...(poolMin !== undefined ? { poolMin } : {}), fromSources: options.fromSources, outDir, readyTimeoutMs: 90_000 });
    stoppers.push(gateway);
    console.error(`gateway ${gateway.url}${settingsNote(policy ?? null, poolMin ?? null)}`);
    for (const target of targets) {
      for (const leg of legs) {
        const t0 = Date.now();
        const run = await runLeg({ suite, target: target.name, via: 'gateway', url: gateway.urlOf(target.name), leg, outDir, scenarioTimeoutMs, legTimeoutMs });
        runs.push(run);
        console.error(`  ${target.name} ${leg.name}: ${run.scenarios.length} scenarios in ${((Date.now() - t0) / 1000).toFixed(0)}s${run.error ? ` (${run.error})` : ''}`);
      }
    }
    await gateway.stop();
    if (options.direct) {
      for (const target of targets.filter((t) => t.direct)) {
        const direct = await startDirect(target, outDir, 60_000);
        stoppers.push(direct);
        for (const leg of legs) {
          const run = await runLeg({ suite, target: target.name, via: 'direct', url: direct.url, leg, outDir, scenarioTimeoutMs, legTimeoutMs });
          runs.push(run);
          console.error(`  ${target.name} ${leg.name} direct: ${run.scenarios.length} scenarios${run.error ? ` (${run.error})` : ''}`);
        }
        await direct.stop();
      }
    }
  } finally {
    await stopAll();
  }
  return { suite: suite.version, legs: legs.map((l) => l.name), policy: policy ?? null, poolMin: poolMin ?? null, outDir, runs };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      legs: { type: 'string' },
      policy: { type: 'string' },
      'pool-min': { type: 'string' },
      direct: { type: 'boolean', default: false },
      expected: { type: 'string' },
      'suite-version': { type: 'string' },
      out: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      'from-sources': { type: 'boolean', default: false },
      'scenario-timeout': { type: 'string', default: '30' },
      'all-checks': { type: 'boolean', default: false },
      'from-summary': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const targets = list(values.target, TARGETS.map((t) => t.name), TARGETS.map((t) => t.name), 'target').map((n) => TARGETS.find((t) => t.name === n)!);
  const legs = list(values.legs, DEFAULT_LEGS, LEGS.map((l) => l.name), 'leg').map((n) => LEGS.find((l) => l.name === n)!);
  if (values.policy !== undefined && !['per-session', 'pool', 'shared'].includes(values.policy)) {
    throw new Error(`--policy is per-session, pool or shared, not ${values.policy}`);
  }
  const policy = values.policy as GatewayOptions['policy'];
  const poolMin = values['pool-min'] === undefined ? undefined : Number(values['pool-min']);
  if (poolMin !== undefined && !(Number.isInteger(poolMin) && poolMin >= 0 && poolMin <= 16)) {
    throw new Error(`--pool-min is a whole number of children from 0 to 16, not ${values['pool-min']}`);
  }
  const scenarioTimeoutMs = Number(values['scenario-timeout']) * 1000;
  if (!(scenarioTimeoutMs > 0)) throw new Error(`--scenario-timeout is a number of seconds, not ${values['scenario-timeout']}`);
  const expectedFile = resolve(values.expected ?? join(ROOT, 'scripts', 'conformance', 'expected-failures.yaml'));
  const baseline = readBaseline(expectedFile);
  const started = Date.now();
  let collected: Collected;
  if (values['from-summary'] !== undefined) {
    // Judge a saved run again (after editing the expected failures) without running anything.
    const file = resolve(values['from-summary']);
    collected = { ...(JSON.parse(readFileSync(file, 'utf8')) as Collected), outDir: dirname(file) };
  } else {
    const outDir = resolve(values.out ?? join(ROOT, '.conformance-tmp', new Date().toISOString().replace(/[:.]/g, '-')));
    mkdirSync(outDir, { recursive: true });
    collected = await collect({ targets, legs, policy, poolMin, direct: values.direct, outDir, scenarioTimeoutMs, suiteVersion: values['suite-version'], build: !values['no-build'], fromSources: values['from-sources'] });
    writeFileSync(join(outDir, 'summary.json'), JSON.stringify(collected, null, 2));
  }
  const { runs, outDir } = collected;
  const judged = judge(runs, baseline);
  console.log(`\n@modelcontextprotocol/conformance ${collected.suite}, through the mcp-fleet gateway${settingsNote(collected.policy, collected.poolMin ?? null)}\n`);
  console.log(renderTables(judged, collected.legs));
  const failures = renderFailures(judged, { allChecks: values['all-checks'] });
  if (failures) console.log(`\nFailing and warning checks:\n${failures}`);
  for (const run of runs.filter((r) => r.error !== undefined)) console.log(`\n${run.target} ${run.leg} ${run.via}: ${run.error}`);
  const unmatched = unmatchedBaselineEntries(runs, baseline);
  if (unmatched.length > 0) console.log(`\nExpected-failure entries for scenarios that did not run:\n  ${unmatched.join('\n  ')}`);
  const failed = runFailed(judged, runs);
  const unexpected = judged.filter((j) => j.via === 'gateway' && (j.verdict === 'unexpected' || j.verdict === 'stale'));
  console.log(
    `\n${failed ? 'FAILED' : 'OK'}: ${unexpected.length} unexpected result(s) in ${judged.filter((j) => j.via === 'gateway').length} scenario runs, ` +
      `${((Date.now() - started) / 1000).toFixed(0)}s; details in ${shown(outDir)} (summary.json, <target>/<leg>.log)`,
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`conformance: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
