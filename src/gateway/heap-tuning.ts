import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for a process that serves requests, applied by `serve` before the
 * gateway starts.
 *
 * Allocation-site pretenuring is off. V8 allocates the objects of a site straight
 * into the old generation once most of them survived a young collection. Under
 * load, V8 pretenured sites of the gateway's hot path (`--trace-pretenuring`
 * shows it), and from then on each call left old objects pointing at its young
 * ones, which were promoted in turn and lived until a full collection. What made
 * those sites look long-lived in the first place was not pinned down. That cost about 2 KiB promoted per legacy call, and 7 to 15%
 * of the gateway's CPU per call at 100 B and 64 KiB (alternating restarts of one
 * build; bench/FINDINGS.md). Off, a warm session's call promotes 50 to 350 B.
 */
const PRETENURING_FLAG = 'allocation-site-pretenuring';

/**
 * Turns allocation-site pretenuring off, unless the operator chose a setting
 * (`--allocation-site-pretenuring` or `--no-...` in the node flags or
 * `NODE_OPTIONS`). Returns whether it changed the setting.
 */
export function tuneHeapForRequests(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): boolean {
  const chosen = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((arg) => arg.replace(/_/g, '-').includes(PRETENURING_FLAG));
  if (chosen) return false;
  setFlagsFromString(`--no-${PRETENURING_FLAG}`);
  return true;
}
