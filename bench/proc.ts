import { readdirSync, readFileSync } from 'node:fs';

/**
 * Process-tree accounting from /proc (Linux only): the CPU time and resident
 * memory of a system under test, split into the gateway process itself and the
 * stdio children below it.
 */

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** R running or runnable, S sleeping, D in uninterruptible I/O wait, Z zombie, ... */
  readonly state: string;
  /** utime + stime of the process itself (all its threads), in clock ticks. */
  readonly ownTicks: number;
  /** cutime + cstime: CPU of its children that exited and were reaped, in clock ticks. */
  readonly reapedTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself contain spaces or ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const num = (i: number): number => Number(fields[i] ?? 0);
  return { pid, ppid: num(1), state: fields[0] ?? '?', ownTicks: num(11) + num(12), reapedTicks: num(13) + num(14) };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** The roots and all their live descendants, from one scan of /proc. */
function treeOf(rootPids: readonly number[]): ProcStat[] {
  const stats = allStats();
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const seen = new Map<number, ProcStat>();
  const queue = rootPids.map((p) => byPid.get(p)).filter((s): s is ProcStat => s !== undefined);
  while (queue.length > 0) {
    const stat = queue.pop()!;
    if (seen.has(stat.pid)) continue;
    seen.set(stat.pid, stat);
    queue.push(...(children.get(stat.pid) ?? []));
  }
  return [...seen.values()];
}

/** The given roots and all their live descendants. */
export function processTree(rootPids: readonly number[]): number[] {
  return treeOf(rootPids).map((s) => s.pid);
}

/**
 * CPU seconds a live process has run, all threads summed, from
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds; the tick counts of
 * /proc/<pid>/stat are 10 ms coarse, too coarse for a sub-millisecond call).
 * Falls back to utime + stime when schedstat is missing.
 */
export function processCpuSeconds(pid: number): number {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  let ns = 0;
  let found = false;
  for (const tid of tasks) {
    try {
      const first = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0];
      ns += Number(first ?? 0);
      found = true;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  if (found) return ns / 1e9;
  return (readStat(pid)?.ownTicks ?? 0) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds used so far by a system, split by who used it. */
export interface CpuSplit {
  /** The roots themselves (the gateway process), all threads, children excluded. */
  readonly rootSeconds: number;
  /** Every descendant of the roots: live ones, plus those that exited and were reaped by a root or a descendant. */
  readonly childSeconds: number;
}

/** A system's process tree at one moment: its size, whether any process is busy, and its CPU so far. */
export interface TreeSnapshot extends CpuSplit {
  readonly processes: number;
  /**
   * Whether any process is running, waiting for a CPU, or in uninterruptible
   * I/O: on a loaded machine a child still loading its modules uses little CPU
   * because it waits for one, yet it is not idle.
   */
  readonly busy: boolean;
}

/**
 * The tree of `rootPids` from one scan of /proc, with its CPU so far, the roots
 * apart from their descendants. Children that exited stay counted through their
 * parent's cutime/cstime, so a before/after difference stays right when a child ends.
 */
export function treeSnapshot(rootPids: readonly number[]): TreeSnapshot {
  const roots = new Set(rootPids);
  let rootSeconds = 0;
  let childSeconds = 0;
  let busy = false;
  const tree = treeOf(rootPids);
  for (const stat of tree) {
    const own = processCpuSeconds(stat.pid);
    if (roots.has(stat.pid)) rootSeconds += own;
    else childSeconds += own;
    childSeconds += stat.reapedTicks / CLOCK_TICKS_PER_SECOND;
    if (stat.state === 'R' || stat.state === 'D') busy = true;
  }
  return { processes: tree.length, busy, rootSeconds, childSeconds };
}

/** CPU of a process tree so far, the roots apart from their descendants (see {@link treeSnapshot}). */
export function treeCpuSplit(rootPids: readonly number[]): CpuSplit {
  const { rootSeconds, childSeconds } = treeSnapshot(rootPids);
  return { rootSeconds, childSeconds };
}

/** Resident memory of one process in KiB (0 if it is gone). */
function rssKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident memory and process count of a process tree. */
export interface TreeMemory {
  readonly rssMiB: number;
  /** RSS of the roots alone (the gateway process without its children). */
  readonly rootRssMiB: number;
  readonly processes: number;
}

/** Sum of VmRSS over a process tree. */
export function treeMemory(rootPids: readonly number[]): TreeMemory {
  const pids = processTree(rootPids);
  let kib = 0;
  for (const pid of pids) kib += rssKiB(pid);
  let rootKib = 0;
  for (const pid of rootPids) rootKib += rssKiB(pid);
  return { rssMiB: kib / 1024, rootRssMiB: rootKib / 1024, processes: pids.length };
}

/** Memory the kernel says can be given to new work without swapping (MemAvailable), in MiB. */
export function availableMemoryMiB(): number {
  try {
    const match = /^MemAvailable:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
