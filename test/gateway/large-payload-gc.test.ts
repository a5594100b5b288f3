import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClient } from '../../bench/clients.js';
import { WORKLOADS } from '../../bench/systems.js';
import { serveBenchEcho, type ServedEcho } from '../cli/helpers.js';

// Full collections while relaying large messages. A call's Buffers (socket and
// pipe reads, framing) die young, but V8 counts the bytes of Buffers allocated
// since the last full collection against the old generation's room, and it sized
// that room at 1.1 to 1.2 times the gateway's live heap. At 64 KiB per call a full
// collection, which marks the whole heap, started about every 45 calls, and cost
// a third of the gateway's CPU per call at 64 KiB and 1 MiB. `serve` lets the old
// generation grow to three times its live size (src/gateway/heap-tuning.ts).
// V8's own GC trace (`--trace-gc`) names each full collection; this asserts on
// their count, never on time.

const echo = WORKLOADS.find((w) => w.id === 'echo')!;
const MESSAGE = 'x'.repeat(64 * 1024);
/** Calls before the measure: the young generation grows to its working size under load. */
const WARM_UP_CALLS = 500;
const CALLS = 1500;
/** Measured in 1,500 calls: 4 with the setting (twice), 29 and 33 without it. */
const MAX_FULL_COLLECTIONS = 12;

let served: ServedEcho;

beforeAll(async () => {
  served = await serveBenchEcho('large-payload-gc', ['--trace-gc']);
}, 90_000);

afterAll(async () => {
  await served?.stop();
}, 60_000);

describe('large messages: full collections stay rare', () => {
  it(`GIVEN a legacy session, warmed up WHEN it makes ${CALLS} calls of 64 KiB THEN the gateway runs fewer than ${MAX_FULL_COLLECTIONS} full collections`, async () => {
    const session = await rawClient.open({ kind: 'streamable-http', url: served.url, protocol: 'sessions' }, echo.tool, 30_000);
    let offset: number;
    try {
      for (let i = 0; i < WARM_UP_CALLS; i++) expect(await session.call(MESSAGE)).toBe(MESSAGE);
      offset = served.cli.stdout().length;
      for (let i = 0; i < CALLS; i++) expect(await session.call(MESSAGE)).toBe(MESSAGE);
    } finally {
      await session.close();
    }
    const trace = served.cli.stdout().slice(offset);
    // The trace is on: a run this long has young collections.
    expect(trace).toMatch(/\bScavenge\b/);
    expect(trace.match(/\bMark-Compact\b/g)?.length ?? 0).toBeLessThan(MAX_FULL_COLLECTIONS);
  }, 120_000);
});
