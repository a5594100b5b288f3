import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './systems.js';

/**
 * V8 CPU profiles (from `node --cpu-prof`) summed up as a flame graph's top
 * frames: self time by function, inclusive time by function, self time by
 * package. The bench keeps the samples of its load window only (profile
 * timestamps and `process.hrtime` share the monotonic clock).
 *
 * CLI: `tsx bench/profile.ts <file.cpuprofile | dir> [skip-first-ms]`.
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}

/** The parts of a `.cpuprofile` the summary reads. */
export interface CpuProfile {
  readonly nodes: ProfileNode[];
  /** Monotonic clock, microseconds. */
  readonly startTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

/** One line of a top list. */
export interface TopFrame {
  readonly name: string;
  readonly ms: number;
  /** Share of the busy (not idle) time sampled. */
  readonly percent: number;
}

/** Top lists of one or more profiles over a window. */
export interface ProfileSummary {
  readonly self: TopFrame[];
  readonly inclusive: TopFrame[];
  readonly packages: TopFrame[];
  /** Sampled time that was not idle, ms. */
  readonly busyMs: number;
}

function where(url: string): string {
  if (url === '') return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const inModules = path.lastIndexOf('node_modules/');
  if (inModules >= 0) {
    const rest = path.slice(inModules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (path.startsWith('node:')) return path;
  return relative(ROOT, path);
}

const IDLE = new Set(['(idle)', '(program)']);

/**
 * Self and inclusive time of every function, plus self time by package, summed
 * over `profiles`, counting only samples taken within [fromUs, toUs] of the
 * monotonic clock. `(idle)` and `(program)` count in neither the lists nor busy time;
 * `(garbage collector)` does.
 */
export function summarize(profiles: readonly CpuProfile[], top = 15, fromUs = -Infinity, toUs = Infinity): ProfileSummary {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  let busyUs = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const label = (n: ProfileNode): string =>
      `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    const selfUs = new Map<number, number>();
    let clock = profile.startTime;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      clock += delta;
      if (clock >= fromUs && clock <= toUs) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    });
    for (const [id, us] of selfUs) {
      const node = byId.get(id)!;
      if (IDLE.has(node.callFrame.functionName)) continue;
      busyUs += us;
      self.set(label(node), (self.get(label(node)) ?? 0) + us);
      const pkg = where(node.callFrame.url);
      packages.set(pkg, (packages.get(pkg) ?? 0) + us);
      // Count each function once per sample even when it recurses.
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const l = label(byId.get(cur)!);
        if (seen.has(l)) continue;
        seen.add(l);
        inclusive.set(l, (inclusive.get(l) ?? 0) + us);
      }
    }
  }
  const list = (m: Map<string, number>): TopFrame[] =>
    [...m.entries()]
      .filter(([name]) => !name.startsWith('(root)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, percent: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  return { self: list(self), inclusive: list(inclusive), packages: list(packages), busyMs: busyUs / 1000 };
}

/** Every `.cpuprofile` file under `dir` (not recursive), oldest first. */
export function profileFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  } catch {
    return [];
  }
}

/** Reads a `.cpuprofile` file. */
export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

function print(file: string, skipFirstMs: number): void {
  const profile = readProfile(file);
  const summary = summarize([profile], 15, profile.startTime + skipFirstMs * 1000);
  console.log(`# ${relative(ROOT, file)}: ${summary.busyMs.toFixed(0)} ms busy, sampled from ${skipFirstMs} ms on`);
  for (const [title, rows] of [
    ['self time by function', summary.self],
    ['inclusive time by function', summary.inclusive],
    ['self time by package', summary.packages],
  ] as const) {
    console.log(`\n## ${title}`);
    for (const r of rows) console.log(`${r.percent.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}`);
  }
  console.log('');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = process.argv[2];
  const skipFirstMs = Number(process.argv[3] ?? 0);
  if (target === undefined) {
    console.error('usage: tsx bench/profile.ts <file.cpuprofile | directory> [skip-first-ms]');
    process.exitCode = 2;
  } else if (statSync(target).isDirectory()) {
    for (const f of profileFiles(target)) print(f, skipFirstMs);
  } else {
    print(target, skipFirstMs);
  }
}
