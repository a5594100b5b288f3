import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStreamable, newMarker, processesWithMarker, REPO_ROOT, startGateway, textOf, waitFor, type TestGateway } from './helpers.js';

/** Children started ahead of need: a new legacy session takes a running one. */

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'legacy-server.mjs');

describe('spare children for new sessions', () => {
  let gw: TestGateway;
  const marker = newMarker('spares');

  beforeAll(async () => {
    gw = await startGateway({
      gateway: { logLevel: 'error' },
      servers: {
        warm: { command: process.execPath, args: [FIXTURE, marker], policy: 'per-session', spares: 1 },
        cold: { command: process.execPath, args: [FIXTURE, marker], policy: 'per-session', spares: 0 },
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('GIVEN a ready server with spares: 1 WHEN a session starts THEN it gets the child already running, and a new spare starts', async () => {
    const server = gw.gateway.servers.get('warm')!;
    const [spare] = await waitFor(() => (server.sparePids.length === 1 ? server.sparePids : undefined), { what: 'a spare child' });
    const { client } = await connectStreamable(gw.mcpUrl('warm'));
    try {
      expect(Number(textOf(await client.callTool({ name: 'pid', arguments: {} })))).toBe(spare);
      const [next] = await waitFor(() => (server.sparePids.length === 1 && server.sparePids[0] !== spare ? server.sparePids : undefined), {
        what: 'the next spare',
      });
      expect(next).not.toBe(spare);
    } finally {
      await client.close();
    }
  });

  it('GIVEN spares: 0 THEN no child idles ahead', () => {
    expect(gw.gateway.servers.get('cold')!.sparePids).toEqual([]);
  });
});
