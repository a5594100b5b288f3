import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectStreamable,
  CRASHY_ENTRY,
  httpRequest,
  initializeBody,
  newMarker,
  POST_HEADERS,
  processesWithMarker,
  rpcMessagesOf,
  startGateway,
  textOf,
  waitFor,
  type RawResponse,
  type TestGateway,
} from './helpers.js';

/**
 * The HTTP edge over a real socket: refusals a client sees (status, JSON-RPC
 * code), host routing, `/health` and `/ready`, the per-server session cap, drain.
 * Raw requests over `node:http` where the SDK client would never send them.
 */

const marker = newMarker('edge');
const crashy = { command: process.execPath, args: [CRASHY_ENTRY, marker] };
let fleet: TestGateway;

beforeAll(async () => {
  fleet = await startGateway({
    gateway: { allowedOrigins: ['https://app.example.test'], allowedHosts: ['gw.example.test'] },
    servers: {
      crashy,
      capped: { ...crashy, maxSessions: 2 },
      routed: { ...crashy, hostnames: ['echo.example.test'] },
      ghost: { command: '/nonexistent/mcp-fleet-no-such-command', args: [marker] },
    },
  });
});

afterAll(async () => {
  await fleet?.close();
  await waitFor(() => processesWithMarker(marker).length === 0, { what: 'every child of this file to exit' });
});

/** Opens a Streamable HTTP session with a raw initialize; returns its id. */
async function openRawSession(path: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await httpRequest(`${fleet.url}${path}`, {
    method: 'POST',
    headers: { ...POST_HEADERS, ...headers },
    body: initializeBody(),
  });
  expect(response.status).toBe(200);
  const [message] = rpcMessagesOf(response);
  expect(message).toMatchObject({ id: 1, result: { serverInfo: { name: 'crashy' } } });
  return String(response.headers['mcp-session-id']);
}

/** Ends a raw session. */
async function deleteRawSession(path: string, id: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return httpRequest(`${fleet.url}${path}`, { method: 'DELETE', headers: { 'mcp-session-id': id, ...headers } });
}

/** The JSON-RPC error of a refusal. */
function rpcError(response: RawResponse): { code: number; message: string } {
  expect(String(response.headers['content-type'])).toContain('application/json');
  return (JSON.parse(response.body) as { error: { code: number; message: string } }).error;
}

const toolsList = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

describe('refusals of malformed requests', () => {
  it('answers 404 with -32001 for an unknown session', async () => {
    const response = await httpRequest(`${fleet.url}/servers/crashy/mcp`, {
      method: 'POST',
      headers: { ...POST_HEADERS, 'mcp-session-id': 'no-such-session' },
      body: toolsList,
    });
    expect(response.status).toBe(404);
    expect(rpcError(response).code).toBe(-32001);
  });

  it('answers 400 to a non-initialize POST without a session id', async () => {
    const response = await httpRequest(`${fleet.url}/servers/crashy/mcp`, { method: 'POST', headers: POST_HEADERS, body: toolsList });
    expect(response.status).toBe(400);
    expect(rpcError(response).message).toMatch(/Mcp-Session-Id/);
  });

  it('answers 400 to an unsupported MCP-Protocol-Version, and serves a supported one', async () => {
    const id = await openRawSession('/servers/crashy/mcp');
    try {
      const bad = await httpRequest(`${fleet.url}/servers/crashy/mcp`, {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '1999-01-01' },
        body: toolsList,
      });
      expect(bad.status).toBe(400);
      expect(rpcError(bad).message).toContain('1999-01-01');
      const good = await httpRequest(`${fleet.url}/servers/crashy/mcp`, {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
        body: toolsList,
      });
      expect(good.status).toBe(200);
      expect(rpcMessagesOf(good)[0]).toMatchObject({ id: 2, result: { tools: expect.any(Array) } });
    } finally {
      await deleteRawSession('/servers/crashy/mcp', id);
    }
  });

  it('answers 400 to an initialize that carries a session id', async () => {
    const id = await openRawSession('/servers/crashy/mcp');
    try {
      const again = await httpRequest(`${fleet.url}/servers/crashy/mcp`, {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': id },
        body: initializeBody(5),
      });
      expect(again.status).toBe(400);
      expect(JSON.parse(again.body)).toMatchObject({ id: 5, error: { code: -32600 } });
    } finally {
      await deleteRawSession('/servers/crashy/mcp', id);
    }
  });

  it('answers 415 to a body that is not application/json', async () => {
    const response = await httpRequest(`${fleet.url}/servers/crashy/mcp`, {
      method: 'POST',
      headers: { ...POST_HEADERS, 'content-type': 'text/plain' },
      body: initializeBody(),
    });
    expect(response.status).toBe(415);
    expect(rpcError(response).code).toBe(-32600);
  });

  it('answers 406 when Accept does not list both JSON and SSE', async () => {
    for (const accept of [undefined, 'application/json']) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (accept) headers['accept'] = accept;
      const response = await httpRequest(`${fleet.url}/servers/crashy/mcp`, { method: 'POST', headers, body: initializeBody() });
      expect(response.status).toBe(406);
    }
  });

  it('answers 400 with -32700 to malformed JSON', async () => {
    const response = await httpRequest(`${fleet.url}/servers/crashy/mcp`, {
      method: 'POST',
      headers: POST_HEADERS,
      body: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    expect(response.status).toBe(400);
    expect(rpcError(response)).toMatchObject({ code: -32700, message: expect.stringMatching(/^Parse error/) });
  });

  it('answers 405 with Allow to an unsupported method', async () => {
    const response = await httpRequest(`${fleet.url}/servers/crashy/mcp`, { method: 'PUT', headers: POST_HEADERS, body: '{}' });
    expect(response.status).toBe(405);
    expect(response.headers['allow']).toBe('GET, POST, DELETE');
  });

  it('answers 403 to a browser Origin that is not allowed, and serves an allowed one', async () => {
    const denied = await httpRequest(`${fleet.url}/servers/crashy/mcp`, {
      method: 'POST',
      headers: { ...POST_HEADERS, origin: 'https://evil.example.test' },
      body: initializeBody(),
    });
    expect(denied.status).toBe(403);
    const id = await openRawSession('/servers/crashy/mcp', { origin: 'https://app.example.test' });
    await deleteRawSession('/servers/crashy/mcp', id, { origin: 'https://app.example.test' });
  });

  it('answers 404 for an unknown server or path', async () => {
    expect((await httpRequest(`${fleet.url}/servers/nope/mcp`, { method: 'POST', headers: POST_HEADERS, body: initializeBody() })).status).toBe(404);
    expect((await httpRequest(`${fleet.url}/elsewhere`)).status).toBe(404);
  });
});

describe('host routing', () => {
  it("serves a server's own host name at /mcp", async () => {
    const host = { host: 'echo.example.test' };
    const id = await openRawSession('/mcp', host);
    const listed = await httpRequest(`${fleet.url}/mcp`, {
      method: 'POST',
      headers: { ...POST_HEADERS, ...host, 'mcp-session-id': id },
      body: toolsList,
    });
    expect(rpcMessagesOf(listed)[0]).toMatchObject({ result: { tools: expect.arrayContaining([expect.objectContaining({ name: 'crash' })]) } });
    expect((await deleteRawSession('/mcp', id, host)).status).toBe(200);
    expect(fleet.gateway.sessionCount('routed')).toBe(0);
  });

  it('matches host names without case or port', async () => {
    const id = await openRawSession('/mcp', { host: 'Echo.EXAMPLE.test:443' });
    expect((await deleteRawSession('/mcp', id, { host: 'echo.example.test:8443' })).status).toBe(200);
  });

  it('serves /servers/<name>/mcp on loopback names and gateway.allowedHosts', async () => {
    for (const host of [`localhost:${fleet.port}`, `[::1]:${fleet.port}`, 'gw.example.test']) {
      const id = await openRawSession('/servers/crashy/mcp', { host });
      expect((await deleteRawSession('/servers/crashy/mcp', id, { host })).status).toBe(200);
    }
  });

  it("keeps a host-routed server's sessions to that host", async () => {
    const id = await openRawSession('/mcp', { host: 'echo.example.test' });
    try {
      // The same session id on the path of another server is not found.
      const elsewhere = await httpRequest(`${fleet.url}/servers/crashy/mcp`, {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': id },
        body: toolsList,
      });
      expect(elsewhere.status).toBe(404);
    } finally {
      await deleteRawSession('/mcp', id, { host: 'echo.example.test' });
    }
  });

  it('answers 403 "Hostname not allowed" to any other host, and still answers /health there', async () => {
    for (const path of ['/mcp', '/servers/crashy/mcp']) {
      const response = await httpRequest(`${fleet.url}${path}`, {
        method: 'POST',
        headers: { ...POST_HEADERS, host: 'rebinding.attacker.test' },
        body: initializeBody(),
      });
      expect(response.status).toBe(403);
      expect(response.body).toBe('Hostname not allowed');
    }
    const health = await httpRequest(`${fleet.url}/health`, { headers: { host: 'rebinding.attacker.test' } });
    expect(health.status).toBe(200);
  });
});

describe('/health and /ready', () => {
  it('/health answers 200 with {status: "ok"}', async () => {
    const response = await fetch(`${fleet.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/ready answers 503 naming the failing server, while the others serve', async () => {
    const response = await fetch(`${fleet.url}/ready`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { status: string; servers: Record<string, { state: string; era?: string; reason?: string; sessions: number }> };
    expect(body.status).toBe('not-ready');
    expect(body.servers['crashy']).toMatchObject({ state: 'ready', era: 'legacy', sessions: expect.any(Number) });
    expect(body.servers['ghost']).toMatchObject({ state: 'failing', reason: expect.stringContaining('command not found') });
    expect(body.servers['ghost']?.reason).toContain('"ghost"');

    const { client, transport } = await connectStreamable(fleet.mcpUrl('crashy'));
    try {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'fine' } }))).toBe('echo: fine');
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('/ready answers 200 when every server is ready', async () => {
    const healthy = await startGateway({ servers: { crashy } });
    try {
      const response = await fetch(`${healthy.url}/ready`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        status: 'ready',
        servers: { crashy: { state: 'ready', era: 'legacy', sessions: 0 } },
      });
    } finally {
      await healthy.close();
    }
  });
});

describe('limits', () => {
  it('answers 503 with Retry-After past maxSessions, and admits again once a session ends', async () => {
    const first = await openRawSession('/servers/capped/mcp');
    const second = await openRawSession('/servers/capped/mcp');
    try {
      const refused = await httpRequest(`${fleet.url}/servers/capped/mcp`, { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
      expect(refused.status).toBe(503);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(rpcError(refused).message).toContain('"capped"');
      // Other servers are not affected by one server's cap.
      const other = await openRawSession('/servers/crashy/mcp');
      await deleteRawSession('/servers/crashy/mcp', other);
    } finally {
      await deleteRawSession('/servers/capped/mcp', first);
    }
    const third = await openRawSession('/servers/capped/mcp');
    await deleteRawSession('/servers/capped/mcp', third);
    await deleteRawSession('/servers/capped/mcp', second);
  });
});

describe('drain', () => {
  it('turns /ready to 503, refuses new sessions with 503, and stops every child', async () => {
    const drainMarker = newMarker('drain');
    const draining = await startGateway({ servers: { crashy: { command: process.execPath, args: [CRASHY_ENTRY, drainMarker] } } });
    try {
      const { client } = await connectStreamable(draining.mcpUrl('crashy'));
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'before' } }))).toBe('echo: before');
      const drained = draining.gateway.drain(2_000);
      const ready = await fetch(`${draining.url}/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { status: string }).status).toBe('draining');
      const refused = await httpRequest(`${draining.url}/servers/crashy/mcp`, { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBeDefined();
      await drained;
      expect(draining.gateway.sessionCount()).toBe(0);
      await waitFor(() => processesWithMarker(drainMarker).length === 0, { what: 'the drained children to exit' });
      await client.close();
    } finally {
      await draining.close();
    }
  });
});
