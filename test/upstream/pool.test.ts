import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { ChannelPool } from '../../src/upstream/pool.js';
import { UpstreamServer } from '../../src/upstream/server.js';
import { newMarker, processesWithMarker, REPO_ROOT, waitFor } from '../gateway/helpers.js';

/**
 * The warm pool asks whether a child keeps calls waiting, not merely whether
 * calls are slow to come back: when the gateway itself is too busy to read
 * the answers, they sit in the pipe, and another child would only split the
 * same work (and the CPU it costs) in two. Calls gather on the first child
 * that is not busy, so a child added for a burst is idle once it is over.
 */

const CHANNEL = join(REPO_ROOT, 'test', 'fixtures', 'channel-server.mjs');

/** Keeps this process (the gateway) busy, without a turn of its event loop, for `ms`. */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Nothing: the point is that no I/O is read meanwhile.
  }
}

describe('ChannelPool growth', () => {
  let pool: ChannelPool | undefined;
  let marker = '';

  afterEach(async () => {
    await pool?.close();
    pool = undefined;
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  async function warmPool(stopIdleAfterMs?: number): Promise<ChannelPool> {
    marker = newMarker('pool-unit');
    const config = ServerSchema.parse({ command: process.execPath, args: [CHANNEL, marker] });
    const server = new UpstreamServer('pooled', config, { logger: createLogger({ level: 'error', write: () => undefined }) });
    pool = new ChannelPool(server, 'legacy', {
      min: 1,
      max: 2,
      logger: createLogger({ level: 'error', write: () => undefined }),
      ...(stopIdleAfterMs !== undefined ? { stopIdleAfterMs } : {}),
    });
    pool.warm();
    await pool.acquire();
    return pool;
  }

  it('GIVEN 4 quick calls whose answers wait unread while the gateway is busy WHEN another call comes THEN no child is added', async () => {
    const p = await warmPool();
    const channel = await p.acquire();
    const calls = Array.from({ length: 4 }, (_, i) => channel.ask('tools/call', { name: 'wait', arguments: { ms: 20, tag: `t${i}` } }, 10_000));
    // One turn of the loop sends them; the child answers 20 ms later, while the gateway is busy.
    await new Promise((resolve) => setImmediate(resolve));
    busyFor(300);
    expect(channel.load).toBe(4);
    // The choice is made before acquire's first await.
    const next = p.acquire();
    expect(p.size).toBe(1);
    expect(await next).toBe(channel);
    const answers = await Promise.all(calls);
    expect(answers.map((a) => (a.result as { content: Array<{ text: string }> }).content[0]?.text)).toEqual(['t0 waited', 't1 waited', 't2 waited', 't3 waited']);
  });

  it('GIVEN 4 calls the child keeps waiting while the gateway idles WHEN another call comes THEN a child is added', async () => {
    const p = await warmPool();
    const channel = await p.acquire();
    const calls = Array.from({ length: 4 }, (_, i) => channel.ask('tools/call', { name: 'wait', arguments: { ms: 1000, tag: `t${i}` } }, 10_000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(channel.load).toBe(4);
    void p.acquire();
    expect(p.size).toBe(2);
    await Promise.all(calls);
  });

  it('GIVEN a second child added while the first was busy WHEN the first has a few quick calls in flight THEN the next call goes to the first', async () => {
    const p = await warmPool();
    const first = await p.acquire();
    const waiting = Array.from({ length: 4 }, (_, i) => first.ask('tools/call', { name: 'wait', arguments: { ms: 600, tag: `t${i}` } }, 10_000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await p.acquire();
    expect(second).not.toBe(first);
    await Promise.all(waiting);
    // Two calls in flight on the first child: not busy, so it takes the next call; the second child stays idle.
    const quick = [0, 1].map((i) => first.ask('tools/call', { name: 'wait', arguments: { ms: 200, tag: `q${i}` } }, 10_000));
    expect(first.load).toBe(2);
    expect(await p.acquire()).toBe(first);
    expect(second.load).toBe(0);
    await Promise.all(quick);
  });

  it('GIVEN a child added for a burst WHEN it has been idle for stopIdleAfterMs THEN it is stopped, and the warm minimum stays', async () => {
    const p = await warmPool(500);
    const first = await p.acquire();
    const burst = Array.from({ length: 4 }, (_, i) => first.ask('tools/call', { name: 'wait', arguments: { ms: 600, tag: `t${i}` } }, 10_000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await p.acquire();
    expect(p.size).toBe(2);
    const late = second.ask('tools/call', { name: 'wait', arguments: { ms: 1500, tag: 'late' } }, 10_000);
    await Promise.all(burst);
    // A call in flight keeps it, however long ago it was chosen.
    p.stopIdle(Date.now() + 60_000);
    expect(p.size).toBe(2);
    await late;
    await waitFor(() => p.size === 1, { what: 'the idle child to be stopped' });
    await waitFor(() => processesWithMarker(marker).length === 1, { what: 'its process to exit' });
    expect(await p.acquire()).toBe(first);
    const answer = await first.ask('tools/call', { name: 'echo', arguments: { message: 'still here' } }, 10_000);
    expect((answer.result as { content: Array<{ text: string }> }).content[0]?.text).toBe('echo: still here');
  });
});
