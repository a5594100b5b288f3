import { join } from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSse, connectStreamable, newMarker, processesWithMarker, REPO_ROOT, startGateway, textOf, waitFor, type TestGateway } from '../gateway/helpers.js';

/**
 * `servers.<name>.policy` for legacy clients: `per-session` gives each session its
 * own child; `pool` (the default) and `shared` run legacy sessions on the server's pool.
 */

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'legacy-server.mjs');

describe('child policies for legacy sessions', () => {
  let gw: TestGateway;
  const marker = newMarker('legacy-policy');

  beforeAll(async () => {
    gw = await startGateway({
      gateway: { logLevel: 'error' },
      servers: {
        isolated: { command: process.execPath, args: [FIXTURE, marker], policy: 'per-session' },
        unset: { command: process.execPath, args: [FIXTURE, marker], pool: { min: 1, max: 2 } },
        shared: { command: process.execPath, args: [FIXTURE, marker], policy: 'shared' },
        pooled: { command: process.execPath, args: [FIXTURE, marker], policy: 'pool', pool: { min: 1, max: 2 } },
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  async function pidsOf(server: string, sessions: number): Promise<Set<string>> {
    const pids = new Set<string>();
    for (let i = 0; i < sessions; i++) {
      const { client } = await connectStreamable(gw.mcpUrl(server));
      pids.add(textOf(await client.callTool({ name: 'pid', arguments: {} })));
      await client.close();
    }
    return pids;
  }

  it('GIVEN policy per-session WHEN three legacy sessions call THEN each has its own child', async () => {
    expect((await pidsOf('isolated', 3)).size).toBe(3);
  });

  it('GIVEN no policy WHEN four legacy sessions call THEN they share the pool (a child per session only when asked for)', async () => {
    expect((await pidsOf('unset', 4)).size).toBeLessThanOrEqual(2);
  });

  it('GIVEN policy shared WHEN three legacy sessions call THEN they all reach the one shared child', async () => {
    expect((await pidsOf('shared', 3)).size).toBe(1);
  });

  it('GIVEN policy pool WHEN legacy sessions call THEN they stay within the pool', async () => {
    expect((await pidsOf('pooled', 4)).size).toBeLessThanOrEqual(2);
  });

  it('GIVEN policy shared THEN a legacy client still answers the child\'s elicitation mid-call', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('shared'), { elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'shared' } }));
    try {
      expect(textOf(await client.callTool({ name: 'ask', arguments: { question: 'who?' } }))).toBe('answer: {"answer":"shared"} (accept)');
    } finally {
      await client.close();
    }
  });

  it('GIVEN policy shared THEN an HTTP+SSE client works too', async () => {
    const { client } = await connectSse(new URL(`${gw.url}/servers/shared/sse`));
    try {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'over sse' } }))).toBe('echo: over sse');
    } finally {
      await client.close();
    }
  });
});
