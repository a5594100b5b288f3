import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { modernRequest, newMarker, processesWithMarker, REPO_ROOT, startGateway, waitFor, type TestGateway } from './helpers.js';

/**
 * The warm pool starts another child when its children are busy, not when they
 * merely have several quick calls in flight: a child that answers at once serves
 * many clients alone (a second one costs memory and, by splitting the calls, CPU
 * per call in the gateway and in both children), and a child that keeps calls
 * waiting gets company.
 */

const CHANNEL = join(REPO_ROOT, 'test', 'fixtures', 'channel-server.mjs');

describe('warm pool growth', () => {
  let gw: TestGateway | undefined;
  let marker = '';

  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  async function poolOf(max: number): Promise<URL> {
    marker = newMarker('pool-growth');
    gw = await startGateway({
      gateway: { logLevel: 'error' },
      servers: { pooled: { command: process.execPath, args: [CHANNEL, marker], policy: 'pool', pool: { min: 1, max } } },
    });
    return gw.mcpUrl('pooled');
  }

  async function call(url: URL, id: number, name: string, args: Record<string, unknown>): Promise<string> {
    const answer = await modernRequest(url, 'tools/call', { id, params: { name, arguments: args } });
    expect(answer.status).toBe(200);
    return (answer.final?.result?.content?.[0]?.text as string | undefined) ?? JSON.stringify(answer.final);
  }

  it('GIVEN 8 clients calling a tool that answers at once, back to back WHEN they have made 400 calls THEN one child served them all', async () => {
    const url = await poolOf(4);
    await waitFor(() => processesWithMarker(marker).length === 1, { what: 'the warm child' });
    const pids = new Set<string>();
    await Promise.all(
      Array.from({ length: 8 }, async (_, client) => {
        for (let i = 0; i < 50; i++) {
          const id = client * 1000 + i;
          expect(await call(url, id, 'echo', { message: `m${id}` })).toBe(`echo: m${id}`);
        }
        pids.add(await call(url, client, 'pid', {}));
      }),
    );
    expect(pids.size).toBe(1);
    expect(processesWithMarker(marker)).toHaveLength(1);
  });

  it('GIVEN a child whose 4 calls in flight keep it waiting WHEN more calls come THEN another child starts and takes them', async () => {
    const url = await poolOf(2);
    await waitFor(() => processesWithMarker(marker).length === 1, { what: 'the warm child' });
    const first = Array.from({ length: 4 }, (_, i) => call(url, i, 'wait', { ms: 1500, tag: `t${i}` }));
    // The first four have now waited well past what a quick answer takes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const later = await call(url, 10, 'wait', { ms: 1, tag: 'later' });
    expect(later).toBe('later waited');
    expect(processesWithMarker(marker)).toHaveLength(2);
    expect(await Promise.all(first)).toEqual(['t0 waited', 't1 waited', 't2 waited', 't3 waited']);
  });
});
