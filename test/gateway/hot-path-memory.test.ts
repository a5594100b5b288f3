import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClient } from '../../bench/clients.js';
import { WORKLOADS } from '../../bench/systems.js';
import { serveBenchEcho, type ServedEcho } from '../cli/helpers.js';

// What a call leaves behind in the gateway's heap. A call's objects should die
// young: once its answer is written nothing refers to them. With V8's
// allocation-site pretenuring on, V8 pretenured sites of the hot path under load,
// and every later call's old objects kept its young ones alive, so about 2 KiB
// per call was promoted to the old generation, paid for in scavenges and full
// collections (`serve` turns pretenuring off for that:
// src/gateway/heap-tuning.ts). V8's own GC trace (`--trace-gc-nvp`) counts the
// bytes each scavenge promotes; this asserts on that count, never on time. A small
// young generation gives dozens of scavenges in a short run.
//
// 2026-07-28 requests too: each promoted about 2.6 KiB while the SDK's request
// classifier validated every one with zod; the gateway now takes its verdict once
// per `_meta` envelope (src/gateway/era.ts).

const echo = WORKLOADS.find((w) => w.id === 'echo')!;
const CLIENTS = 4;
const CALLS_PER_CLIENT = 1000;
/**
 * Calls per client before the measure, in the same sessions. A gateway that has
 * just started promotes 1.5 to 2 KiB per call even with pretenuring off, until its
 * hot path has warmed up (measured: its first 1,500 to 8,000 calls; with this
 * test's 1 MiB young generation, a later set of new sessions once did too).
 * Without the fix it never stops.
 */
const WARM_UP_CALLS_PER_CLIENT = 3000;
/** Measured: about 300 B with pretenuring off, about 2 KiB with it on; 2026-07-28 requests 39 B, and 2.6 KiB classified each time. */
const MAX_PROMOTED_BYTES_PER_CALL = 800;

let served: ServedEcho;

beforeAll(async () => {
  served = await serveBenchEcho('hot-path-memory', ['--trace-gc-nvp', '--max-semi-space-size=1']);
}, 90_000);

afterAll(async () => {
  await served?.stop();
}, 60_000);

/** Scavenges in the gateway's GC trace from `offset` on, and the bytes they promoted. */
function scavengesSince(offset: number): { scavenges: number; promoted: number } {
  let scavenges = 0;
  let promoted = 0;
  for (const line of served.cli.stdout().slice(offset).split('\n')) {
    if (!/\bgc=s\b/.test(line)) continue;
    scavenges++;
    promoted += Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return { scavenges, promoted };
}

/**
 * `clients` raw bench clients (legacy sessions or 2026-07-28 requests), each calling echo
 * `calls` times, one call at a time; `onWarm` runs once when every client has made `warmUp` calls.
 */
async function load(protocol: 'sessions' | 'modern', clients: number, calls: number, warmUp: number, onWarm: () => void): Promise<void> {
  let warm = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const session = await rawClient.open({ kind: 'streamable-http', url: served.url, protocol }, echo.tool, 30_000);
      try {
        for (let i = 0; i < calls; i++) {
          if (i === warmUp && ++warm === clients) onWarm();
          expect(await session.call(`m${i}`)).toBe(`m${i}`);
        }
      } finally {
        await session.close();
      }
    }),
  );
}

describe('hot path: a call leaves little in the old generation', () => {
  it.each([
    ['legacy sessions', 'sessions'],
    ['2026-07-28 clients', 'modern'],
  ] as const)(`GIVEN ${CLIENTS} %s in parallel, warmed up WHEN they make ${CLIENTS * CALLS_PER_CLIENT} more calls THEN the scavenges promote under ${MAX_PROMOTED_BYTES_PER_CALL} B per call`, async (_label, protocol) => {
    let offset = -1;
    await load(protocol, CLIENTS, WARM_UP_CALLS_PER_CLIENT + CALLS_PER_CLIENT, WARM_UP_CALLS_PER_CLIENT, () => (offset = served.cli.stdout().length));
    expect(offset).toBeGreaterThan(0);
    const { scavenges, promoted } = scavengesSince(offset);
    // Without scavenges there is nothing to measure: each call allocates kilobytes, so there are dozens.
    expect(scavenges).toBeGreaterThanOrEqual(10);
    // The clients were still calling when the offset was taken: at most a few calls more than counted.
    expect(Math.round(promoted / (CLIENTS * CALLS_PER_CLIENT))).toBeLessThan(MAX_PROMOTED_BYTES_PER_CALL);
  }, 120_000);
});
