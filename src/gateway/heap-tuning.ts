import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for a process that serves requests, applied by `serve` before the
 * gateway starts. Each is left alone when the operator names it in the node flags
 * or in `NODE_OPTIONS`, in either form (`-` or `_`).
 */
interface HeapSetting {
  /** The V8 flag, without dashes or value. */
  readonly flag: string;
  /** What `serve` sets. */
  readonly value: string;
}

const SETTINGS: readonly HeapSetting[] = [
  /**
   * Allocation-site pretenuring off. V8 allocates the objects of a site straight
   * into the old generation once most of them survived a young collection. Under
   * load, V8 pretenured sites of the gateway's hot path (`--trace-pretenuring`
   * shows it), and from then on each call left old objects pointing at its young
   * ones, which were promoted in turn and lived until a full collection. What made
   * those sites look long-lived in the first place was not pinned down. That cost
   * about 2 KiB promoted per legacy call, and 7 to 15% of the gateway's CPU per
   * call at 100 B and 64 KiB (bench/FINDINGS.md). Off, a warm session's call
   * promotes 50 to 350 B.
   */
  { flag: 'allocation-site-pretenuring', value: '--no-allocation-site-pretenuring' },
  /**
   * The old generation may grow to three times its live size before a full
   * collection. V8 counts the bytes of Buffers allocated since the last full
   * collection against the old generation's room, and a relay allocates Buffers
   * in step with the bytes it relays (socket and pipe reads, framing), while the
   * call's objects die young. V8 sized the gateway's room at 1.1 to 1.2 times its
   * live heap, so at 64 KiB per call a full collection (marking the whole heap,
   * some 17 MB) started about every 45 calls (`--trace-gc-verbose` shows the
   * external bytes at each one). With this, about every 400 calls. It does not
   * help at 8 MiB per call, where a call allocates more Buffers than any room;
   * there 2026-07-28 requests measured about 10% dearer with it, for a reason
   * not found (bench/FINDINGS.md).
   */
  { flag: 'heap-growing-percent', value: '--heap-growing-percent=200' },
];

/**
 * Applies the {@link SETTINGS} the operator did not choose. Returns the flags it set.
 */
export function tuneHeapForRequests(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): string[] {
  const named = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((arg) => arg.replace(/_/g, '-'));
  const applied: string[] = [];
  for (const setting of SETTINGS) {
    if (named.some((arg) => arg.includes(setting.flag))) continue;
    setFlagsFromString(setting.value);
    applied.push(setting.value);
  }
  return applied;
}
