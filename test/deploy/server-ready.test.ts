import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStreamable, CRASHY_ENTRY, startGateway, waitFor, type TestGateway } from '../gateway/helpers.js';

// The per-server readiness path every target group of the deployment checks
// (`/ready/<server>`, answered by src/gateway/health.ts), over a real socket,
// against real stdio servers: one that starts, one that exits at start with a
// secret-looking complaint on stderr. The contract the deployment relies on:
// 200 for ready or degraded, 503 otherwise and while draining, on any Host.

/** GET with an explicit Host header, as a load balancer health check sends it (the task's IP). */
function get(url: string, path: string, host = '10.0.3.17:8808'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({
    servers: {
      good: { command: process.execPath, args: [CRASHY_ENTRY], spares: 0 },
      broken: { command: process.execPath, args: [CRASHY_ENTRY, '--exit-at-start'], spares: 0 },
    },
  });
}, 60_000);
afterAll(() => gw?.close());

describe('GET /ready/<server>, the target group health check of one server', () => {
  it('answers 200 with {server, state} for a ready server, on any Host', async () => {
    const res = await get(gw.url, '/ready/good');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ server: 'good', state: 'ready' });
  });

  it('answers 503 for a server that does not start, without its stderr (which may name secrets)', async () => {
    const res = await get(gw.url, '/ready/broken');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ server: 'broken', state: 'failing' });
    expect(res.body).not.toContain('CRASHY_API_KEY');
    // The whole-gateway readiness is not ready either: that is why each target group checks its own server.
    expect((await get(gw.url, '/ready')).status).toBe(503);
  });

  it('answers 404 for a server the gateway does not run', async () => {
    expect((await get(gw.url, '/ready/nope')).status).toBe(404);
  });

  it('stays 200, as degraded, while a ready server has children crashing', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('good'));
    await client.callTool({ name: 'crash', arguments: {} }).catch(() => undefined);
    const degraded = await waitFor(async () => {
      const res = await get(gw.url, '/ready/good');
      return JSON.parse(res.body).state === 'degraded' ? res : undefined;
    }, { timeoutMs: 20_000, what: 'good to show degraded' });
    expect(degraded.status).toBe(200);
    await client.close().catch(() => undefined);
  }, 60_000);

  it('answers 503 once the gateway drains, so the load balancer stops sending new requests', async () => {
    const drained = gw.gateway.drain(2_000);
    const res = await get(gw.url, '/ready/good');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ server: 'good', state: 'draining' });
    await drained;
  }, 30_000);
});
