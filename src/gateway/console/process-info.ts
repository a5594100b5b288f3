import { readdir, readFile } from 'node:fs/promises';

/**
 * Resident memory of a child's process group, read from /proc (Linux). A child
 * started as `npx pkg` or `uvx pkg` is a wrapper whose server runs as its own
 * process in the same group, so the group's sum is what the child costs.
 */

const PAGE_BYTES = 4096;

/** RSS in bytes of every process in the process groups `groups` (by group id); empty where /proc is absent. */
export async function groupRss(groups: ReadonlySet<number>): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (groups.size === 0) return out;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return out;
  }
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (pid) => {
        let stat: string;
        try {
          stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        } catch {
          return; // gone meanwhile
        }
        // The command name (field 2) is in parentheses and may hold spaces: read the fields after its last ')'.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const pgrp = Number(fields[2]);
        const rssPages = Number(fields[21]);
        if (!groups.has(pgrp) || !Number.isFinite(rssPages)) return;
        out.set(pgrp, (out.get(pgrp) ?? 0) + rssPages * PAGE_BYTES);
      }),
  );
  return out;
}
