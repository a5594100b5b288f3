import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { LegRun, ScenarioRun, SuiteCheck } from './report.js';

/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance):
 * installing the pinned version into a temporary directory and running its
 * `server` command under the Node 20 shim.
 *
 * Why not a devDependency: 0.2.0-alpha.12 imports `globSync` from `fs` (Node 22)
 * and pulls content-type@3 (engines: node >= 22), so it does not install
 * cleanly on the project's Node 20.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
/** package.json and package-lock.json that pin the suite and its dependencies. */
const PINNED_DIR = join(HERE, 'suite');
/** `node --import` preload that supplies fs.globSync on Node 20 (does nothing on Node 22+). */
export const NODE20_SHIM = join(HERE, 'node20-shim', 'preload.mjs');

/** An installed copy of the suite. */
export interface InstalledSuite {
  readonly version: string;
  /** The CLI's entry file. */
  readonly cli: string;
  /** Its frozen requirement sets, `<revision>.yaml`. */
  readonly requirementsDir: string;
  readonly dir: string;
}

function run(command: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${command} ${args.join(' ')} failed (${code}):\n${stderr}`))));
  });
}

/**
 * Installs the suite from the npm registry into a directory under the OS temp
 * dir, reused while the pin is unchanged. `version` overrides the pin (then
 * only the suite itself is pinned, not its dependencies).
 */
export async function installSuite(version?: string, log: (line: string) => void = () => {}): Promise<InstalledSuite> {
  const pinnedLock = readFileSync(join(PINNED_DIR, 'package-lock.json'));
  const key = version === undefined ? createHash('sha256').update(pinnedLock).digest('hex').slice(0, 12) : `v${version}`;
  const dir = join(tmpdir(), `mcp-fleet-conformance-suite-${key}`);
  const pkgDir = join(dir, 'node_modules', '@modelcontextprotocol', 'conformance');
  if (!existsSync(join(pkgDir, 'package.json'))) {
    const staging = `${dir}.partial-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    const quiet = ['--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
    if (version === undefined) {
      log(`installing the pinned conformance suite into ${dir}`);
      copyFileSync(join(PINNED_DIR, 'package.json'), join(staging, 'package.json'));
      copyFileSync(join(PINNED_DIR, 'package-lock.json'), join(staging, 'package-lock.json'));
      await run('npm', ['ci', ...quiet], staging);
    } else {
      log(`installing @modelcontextprotocol/conformance@${version} into ${dir}`);
      writeFileSync(join(staging, 'package.json'), JSON.stringify({ name: 'mcp-fleet-conformance-suite', private: true }));
      await run('npm', ['install', '--save-exact', ...quiet, `@modelcontextprotocol/conformance@${version}`], staging);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  }
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string; bin: { conformance: string } };
  return { version: pkg.version, cli: join(pkgDir, pkg.bin.conformance), requirementsDir: join(pkgDir, 'requirements'), dir };
}

/** Server scenarios a requirement set runs without scoring them. */
export function notScoredScenarios(suite: InstalledSuite, revision: string): string[] {
  const file = join(suite.requirementsDir, `${revision}.yaml`);
  if (!existsSync(file)) throw new Error(`the conformance suite ${suite.version} has no requirement set ${revision} (${file})`);
  const set = parse(readFileSync(file, 'utf8')) as { not_scored?: { scenario: string; leg: string }[] };
  return (set.not_scored ?? []).filter((e) => e.leg === 'server').map((e) => e.scenario);
}

/** A scenario's result folder is `server-<scenario>-<ISO time with - for : and .>`. */
const RESULT_DIR = /^server-(.+)-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)$/;

/** Reads the checks.json files the suite wrote under `outDir`, in the order the scenarios ran. */
export function readResults(outDir: string): ScenarioRun[] {
  if (!existsSync(outDir)) return [];
  return readdirSync(outDir)
    .map((name) => ({ name, match: RESULT_DIR.exec(name) }))
    .filter((e) => e.match !== null && existsSync(join(outDir, e.name, 'checks.json')))
    .sort((a, b) => a.match![2]!.localeCompare(b.match![2]!))
    .map((e) => ({ scenario: e.match![1]!, checks: JSON.parse(readFileSync(join(outDir, e.name, 'checks.json'), 'utf8')) as SuiteCheck[] }));
}

/** One leg: which scenarios at which wire version. */
export interface Leg {
  readonly name: string;
  /** Arguments of `conformance server` that select the scenarios. */
  readonly args: readonly string[];
  /** The requirement set, when the leg is one (its not_scored list applies). */
  readonly requirements?: string;
  /** Requirement sets whose not_scored lists apply to a leg that is not one of them. */
  readonly notScoredFrom?: readonly string[];
}

/** Options of {@link runLeg}. */
export interface RunLegOptions {
  readonly suite: InstalledSuite;
  readonly target: string;
  readonly via: 'gateway' | 'direct';
  readonly url: string;
  readonly leg: Leg;
  /** Results go to `<outDir>/<target>[-direct]/<leg>/`, the suite's output to `<leg>.log` next to it. */
  readonly outDir: string;
  /** Per-scenario timeout passed to the suite. */
  readonly scenarioTimeoutMs: number;
  /** The whole leg is killed after this long. */
  readonly legTimeoutMs: number;
}

/** Runs `conformance server` for one leg against one URL and reads what it wrote. */
export async function runLeg(options: RunLegOptions): Promise<LegRun> {
  const { suite, leg, url } = options;
  const base = join(options.outDir, options.via === 'direct' ? `${options.target}-direct` : options.target);
  const resultsDir = join(base, leg.name);
  mkdirSync(base, { recursive: true });
  const logFile = join(base, `${leg.name}.log`);
  const args = ['--import', NODE20_SHIM, suite.cli, 'server', '--url', url, ...leg.args, '--timeout', String(options.scenarioTimeoutMs), '-o', resultsDir];
  const error = await new Promise<string | undefined>((resolvePromise) => {
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.legTimeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      log.end();
      resolvePromise(`could not start the suite: ${e.message}`);
    });
    // The suite exits non-zero when a scenario fails; only a signal means it did not finish.
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      log.end();
      resolvePromise(signal === null ? undefined : `the suite was killed (${signal}) after ${options.legTimeoutMs / 1000}s; see ${logFile}`);
    });
  });
  const scenarios = readResults(resultsDir);
  return {
    target: options.target,
    leg: leg.name,
    via: options.via,
    scenarios,
    notScored: [...new Set((leg.notScoredFrom ?? (leg.requirements ? [leg.requirements] : [])).flatMap((r) => notScoredScenarios(suite, r)))],
    ...(error !== undefined ? { error } : scenarios.length === 0 ? { error: `the suite wrote no results; see ${logFile}` } : {}),
  };
}
