import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './systems.js';

/**
 * `tsx bench/profile.ts <file.cpuprofile | dir> [skip-first-ms]`: the top frames of a V8 CPU
 * profile (from `node --cpu-prof`), as a flame graph shows them: self time by
 * function, inclusive time by function, and self time by package, so the
 * findings fit in a report.
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}

interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

/** One line of a top list. */
export interface TopFrame {
  readonly name: string;
  readonly ms: number;
  readonly percent: number;
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

/** Self and inclusive time of every function of a profile, plus self time by package. */
export function summarize(profile: CpuProfile, top = 15, fromMs = 0): { self: TopFrame[]; inclusive: TopFrame[]; packages: TopFrame[]; totalMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let clockUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    clockUs += delta;
    // Skipping the first `fromMs` leaves start-up (module loading) out of a steady-state profile.
    if (clockUs >= fromMs * 1000) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

  const label = (n: ProfileNode): string =>
    `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
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
  const list = (m: Map<string, number>): TopFrame[] =>
    [...m.entries()]
      .filter(([name]) => !name.startsWith('(idle)') && !name.startsWith('(program)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / totalUs }));
  return { self: list(self), inclusive: list(inclusive), packages: list(packages), totalMs: totalUs / 1000 };
}

function print(file: string, fromMs: number): void {
  const summary = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, 15, fromMs);
  console.log(`# ${relative(ROOT, file)}: ${summary.totalMs.toFixed(0)} ms sampled from ${fromMs} ms on (idle included in the total)`);
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

const target = process.argv[2];
const fromMs = Number(process.argv[3] ?? 0);
if (target === undefined) {
  console.error('usage: tsx bench/profile.ts <file.cpuprofile | directory> [skip-first-ms]');
  process.exitCode = 2;
} else if (statSync(target).isDirectory()) {
  for (const f of readdirSync(target).filter((f) => f.endsWith('.cpuprofile'))) print(join(target, f), fromMs);
} else {
  print(target, fromMs);
}
