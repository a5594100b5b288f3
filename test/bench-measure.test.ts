import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClient, type LoadClient } from '../bench/clients.js';
import { measureFirstResult, type ErrorTally } from '../bench/measure.js';
import { killAllSpawned, SYSTEMS, WORKLOADS, type RunningSystem } from '../bench/systems.js';

// The bench's first-result sampling, against its real HTTP floor with its real raw
// client (counted, not replaced). It asserts what is timed, never how fast.

const echo = WORKLOADS.find((w) => w.id === 'echo')!;
let floor: RunningSystem;

beforeAll(async () => {
  floor = await SYSTEMS.find((s) => s.id === 'floor')!.start([echo]);
}, 30_000);

/** The raw client, counting the sessions it opens. */
function countingRawClient(): LoadClient & { opened: number } {
  return {
    ...rawClient,
    opened: 0,
    async open(target, tool, timeoutMs) {
      this.opened++;
      return rawClient.open(target, tool, timeoutMs);
    },
  };
}

afterAll(async () => {
  await floor?.stop();
  killAllSpawned();
});

describe('measureFirstResult', () => {
  it('GIVEN one untimed client WHEN two samples are taken THEN three new clients run, each after the settle hook, and two are timed', async () => {
    const counted = countingRawClient();
    let settled = 0;
    const tally: ErrorTally = { count: 0 };
    const times = await measureFirstResult(
      counted,
      floor.target('echo'),
      echo,
      {
        samples: 2,
        untimed: 1,
        beforeEach: async () => {
          settled++;
        },
      },
      10_000,
      tally,
    );
    expect(tally).toEqual({ count: 0 });
    expect({ opened: counted.opened, settled, timed: times.length }).toEqual({ opened: 3, settled: 3, timed: 2 });
    for (const ms of times) expect(ms).toBeGreaterThan(0);
  });

  it('GIVEN no untimed client WHEN one sample is taken THEN the one client is timed (the cold start)', async () => {
    const counted = countingRawClient();
    const times = await measureFirstResult(counted, floor.target('echo'), echo, { samples: 1 }, 10_000, { count: 0 });
    expect({ opened: counted.opened, timed: times.length }).toEqual({ opened: 1, timed: 1 });
  });
});
