import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetConfigSchema } from '../../src/config/schema.js';
import { createGateway, type Gateway } from '../../src/gateway/app.js';
import { listen } from '../../src/gateway/http/node.js';
import { connectStreamable, CRASHY_ENTRY, newMarker, POST_HEADERS, processesWithMarker, rpcMessagesOf, httpRequest, waitFor } from '../gateway/helpers.js';

/**
 * Two replicas of one gateway (in process, real sockets, no load balancer): a
 * virtual session opened on one is served there when its requests reach the
 * other, as the gateway's own sessions are.
 */

const SECRET = 'virtual-cluster-test-fleet-secret-0123456789';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

describe('virtual server on two replicas', () => {
  const marker = newMarker('virtual-cluster');
  const replicas: { gateway: Gateway; close: () => Promise<void>; url: string }[] = [];

  beforeAll(async () => {
    const ports = [await freePort(), await freePort()];
    const peers = ports.map((p) => `http://127.0.0.1:${p}`);
    const config = FleetConfigSchema.parse({
      servers: { crashy: { command: process.execPath, args: [CRASHY_ENTRY, marker], pool: { min: 1, max: 1 } } },
      virtualServers: { dev: { servers: { crashy: { tools: ['echo'] } } } },
    });
    for (const [i, port] of ports.entries()) {
      const gateway = createGateway(config, { cluster: { secret: SECRET, advertise: peers[i] as string, peers, refreshMs: 10_000 } });
      const listening = await listen(gateway, { host: '127.0.0.1', port, keepAliveTimeoutMs: 5_000, maxBodyBytes: config.gateway.maxBodyBytes });
      await gateway.start();
      replicas.push({ gateway, url: listening.url, close: async () => (await gateway.drain(2_000), await listening.close()) });
    }
  }, 60_000);

  afterAll(async () => {
    for (const r of replicas) await r.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('GIVEN a virtual session opened on replica A WHEN its next request reaches replica B THEN B forwards it and the client gets its answer', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const { client, transport } = await connectStreamable(new URL(`${a.url}/servers/dev/mcp`));
    try {
      const session = transport.sessionId as string;
      expect(session).toBeTruthy();
      const response = await httpRequest(`${b.url}/servers/dev/mcp`, {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'via B' } } }),
      });
      expect(response.status).toBe(200);
      const answer = rpcMessagesOf(response).find((m) => m['id'] === 7) as { result?: { content?: { text?: string }[] } } | undefined;
      expect(answer?.result?.content?.[0]?.text).toBe('echo: via B');
      expect(a.gateway.sessionCount()).toBeGreaterThanOrEqual(1);
    } finally {
      await client.close();
    }
  });
});
