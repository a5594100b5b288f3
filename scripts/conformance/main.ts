import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { judge, renderFailures, renderTables, runFailed, unmatchedBaselineEntries, type Baseline, type LegRun } from './report.js';
import { installSuite, runLeg } from './suite.js';
import { DEFAULT_LEGS, LEGS, ROOT, startDirect, startGateway, TARGETS, type GatewayOptions, type Started } from './targets.js';

const USAGE = `usage: npm run conformance -- [options]

Runs the official MCP conformance suite (@modelcontextprotocol/conformance, the
server scenarios) against stdio MCP servers served by the mcp-fleet gateway on
127.0.0.1, and prints a pass/fail table per scenario and leg. See docs/CONFORMANCE.md.

  --target <names>     targets, comma-separated: ${TARGETS.map((t) => t.name).join(', ')} (default: all)
  --legs <names>       legs, comma-separated: ${LEGS.map((l) => l.name).join(', ')}
                       (default: ${DEFAULT_LEGS.join(',')})
  --policy <policy>    servers.<name>.policy for every target: per-session, pool or shared
                       (default: the gateway's default)
  --direct             also run each target that has its own HTTP transport without
                       the gateway, shown as gateway/direct in the table
  --expected <file>    expected failures (default: scripts/conformance/expected-failures.yaml)
  --suite-version <v>  another @modelcontextprotocol/conformance version than the pinned one
  --out <dir>          results directory (default: .conformance-tmp/<time>)
  --no-build           do not run npm run build first
  --scenario-timeout <s>  per-scenario timeout of the suite (default 30)
  --all-checks         list the failing checks of scenarios that are not scored too
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

function readBaseline(file: string): Baseline {
  if (!existsSync(file)) throw new Error(`no expected-failures file at ${file}`);
  return (parse(readFileSync(file, 'utf8')) ?? {}) as Baseline;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      legs: { type: 'string' },
      policy: { type: 'string' },
      direct: { type: 'boolean', default: false },
      expected: { type: 'string' },
      'suite-version': { type: 'string' },
      out: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      'scenario-timeout': { type: 'string', default: '30' },
      'all-checks': { type: 'boolean', default: false },
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
  const scenarioTimeoutMs = Number(values['scenario-timeout']) * 1000;
  if (!(scenarioTimeoutMs > 0)) throw new Error(`--scenario-timeout is a number of seconds, not ${values['scenario-timeout']}`);
  const expectedFile = resolve(values.expected ?? join(ROOT, 'scripts', 'conformance', 'expected-failures.yaml'));
  const baseline = readBaseline(expectedFile);
  const outDir = resolve(values.out ?? join(ROOT, '.conformance-tmp', new Date().toISOString().replace(/[:.]/g, '-')));
  mkdirSync(outDir, { recursive: true });

  const started = Date.now();
  const suite = await installSuite(values['suite-version'], (line) => console.error(line));
  console.error(`conformance suite ${suite.version}; results in ${relative(process.cwd(), outDir) || '.'}`);
  if (!values['no-build']) await build();

  const runs: LegRun[] = [];
  const legTimeoutMs = 20 * 60_000;
  const stoppers: Started[] = [];
  const stopAll = (): Promise<unknown> => Promise.all(stoppers.splice(0).map((s) => s.stop()));
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const gateway = await startGateway({ targets, ...(policy ? { policy } : {}), outDir, readyTimeoutMs: 90_000 });
    stoppers.push(gateway);
    console.error(`gateway ${gateway.url}${policy ? ` (policy ${policy})` : ''}`);
    for (const target of targets) {
      for (const leg of legs) {
        const t0 = Date.now();
        const run = await runLeg({ suite, target: target.name, via: 'gateway', url: gateway.urlOf(target.name), leg, outDir, scenarioTimeoutMs, legTimeoutMs });
        runs.push(run);
        console.error(`  ${target.name} ${leg.name}: ${run.scenarios.length} scenarios in ${((Date.now() - t0) / 1000).toFixed(0)}s${run.error ? ` (${run.error})` : ''}`);
      }
    }
    await gateway.stop();
    if (values.direct) {
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

  const judged = judge(runs, baseline);
  writeFileSync(join(outDir, 'summary.json'), JSON.stringify({ suite: suite.version, legs: legs.map((l) => l.name), policy: policy ?? null, runs, judged }, null, 2));
  console.log(`\n@modelcontextprotocol/conformance ${suite.version}, through the mcp-fleet gateway${policy ? ` (policy ${policy})` : ''}\n`);
  console.log(renderTables(judged, legs.map((l) => l.name)));
  const failures = renderFailures(judged, { allChecks: values['all-checks'] });
  if (failures) console.log(`\nFailing and warning checks:\n${failures}`);
  for (const run of runs.filter((r) => r.error !== undefined)) console.log(`\n${run.target} ${run.leg} ${run.via}: ${run.error}`);
  const unmatched = unmatchedBaselineEntries(runs, baseline);
  if (unmatched.length > 0) console.log(`\nExpected-failure entries for scenarios that did not run:\n  ${unmatched.join('\n  ')}`);
  const failed = runFailed(judged, runs);
  const unexpected = judged.filter((j) => j.via === 'gateway' && (j.verdict === 'unexpected' || j.verdict === 'stale'));
  console.log(
    `\n${failed ? 'FAILED' : 'OK'}: ${unexpected.length} unexpected result(s) in ${judged.filter((j) => j.via === 'gateway').length} scenario runs, ` +
      `${((Date.now() - started) / 1000).toFixed(0)}s; details in ${relative(process.cwd(), outDir) || '.'} (summary.json, <target>/<leg>.log)`,
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
