import { readdirSync, readFileSync } from 'node:fs';

/**
 * Process-tree accounting from /proc (Linux only): the CPU time and resident
 * memory of a system under test, gateway plus every descendant.
 */

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly cpuTicks: number;
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
  return { pid, ppid: num(1), cpuTicks: num(11) + num(12) + num(13) + num(14) };
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

/** The given roots and all their live descendants. */
export function processTree(rootPids: readonly number[]): number[] {
  const stats = allStats();
  const children = new Map<number, number[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list) list.push(s.pid);
    else children.set(s.ppid, [s.pid]);
  }
  const live = new Set(stats.map((s) => s.pid));
  const seen = new Set<number>();
  const queue = rootPids.filter((p) => live.has(p));
  while (queue.length > 0) {
    const pid = queue.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

/**
 * CPU seconds used so far by a process tree. Children that exited and were
 * reaped by a live parent stay counted through the parent's cutime/cstime, so a
 * before/after difference stays right when a session's child ends mid-run.
 */
export function treeCpuSeconds(rootPids: readonly number[]): number {
  let ticks = 0;
  for (const pid of processTree(rootPids)) ticks += readStat(pid)?.cpuTicks ?? 0;
  return ticks / CLOCK_TICKS_PER_SECOND;
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
