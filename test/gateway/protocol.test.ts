import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/protocol.js';
import {
  connectSse,
  connectStreamable,
  CRASHY_ENTRY,
  EVERYTHING_ENTRY,
  httpRequest,
  initializeBody,
  newMarker,
  POST_HEADERS,
  processesWithMarker,
  rpcMessagesOf,
  startGateway,
  textOf,
  waitFor,
  within,
  type TestGateway,
} from './helpers.js';

/**
 * Less travelled paths of the legacy transports: requests the server sends
 * unprompted (GET stream), batches, notification-only POSTs, the HTTP+SSE
 * message endpoint, body limits, a server that cannot start, and a drain that
 * lets a call in flight finish.
 */

const marker = newMarker('protocol');
let fleet: TestGateway;

beforeAll(async () => {
  fleet = await startGateway({
    // Keep-alives far apart: a stream must not need one to get its head out.
    gateway: { maxBodyBytes: 8192, sseKeepAliveSeconds: 120 },
    servers: {
      everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', marker], policy: 'per-session' },
      crashy: { command: process.execPath, args: [CRASHY_ENTRY, marker], policy: 'per-session' },
      ghost: { command: '/nonexistent/mcp-fleet-no-such-command', args: [marker] },
      quitter: { command: process.execPath, args: [CRASHY_ENTRY, '--exit-at-start', marker] },
    },
  });
});

afterAll(async () => {
  await fleet?.close();
  await waitFor(() => processesWithMarker(marker).length === 0, { what: 'every child of this file to exit' });
});

/** Opens a raw Streamable HTTP session; returns a poster bound to it. */
async function rawSession(server: string, protocolVersion = '2025-06-18') {
  const opened = await httpRequest(fleet.mcpUrl(server), { method: 'POST', headers: POST_HEADERS, body: initializeBody(1, protocolVersion) });
  expect(opened.status).toBe(200);
  const id = String(opened.headers['mcp-session-id']);
  const headers = { ...POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': protocolVersion };
  return {
    id,
    post: (body: unknown) => httpRequest(fleet.mcpUrl(server), { method: 'POST', headers, body: JSON.stringify(body) }),
    end: () => httpRequest(fleet.mcpUrl(server), { method: 'DELETE', headers: { 'mcp-session-id': id } }),
  };
}

describe('server-initiated requests without a client request open', () => {
  it('delivers roots/list on the GET stream and relays the answer back to the child', async () => {
    let answered!: () => void;
    const asked = new Promise<void>((resolve) => (answered = resolve));
    const { client, transport } = await connectStreamable(fleet.mcpUrl('everything'), { roots: { listChanged: true } });
    try {
      client.setRequestHandler(ListRootsRequestSchema, async () => {
        answered();
        return { roots: [{ uri: 'file:///srv/e2e-root', name: 'e2e root' }] };
      });
      // server-everything asks for roots on its own, shortly after initialization.
      await within(asked, 15_000, 'the server to ask for roots');
      const listed = await waitFor(
        async () => {
          const text = textOf(await client.callTool({ name: 'get-roots-list', arguments: {} }));
          return text.includes('file:///srv/e2e-root') ? text : undefined;
        },
        { what: 'the child to know the roots' },
      );
      expect(listed).toContain('e2e root');
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });
});

describe('Streamable HTTP details', () => {
  it('answers a JSON-RPC batch with an array in 2025-03-26, and refuses batches in 2025-06-18', async () => {
    const old = await rawSession('crashy', '2025-03-26');
    try {
      const response = await old.post([
        { jsonrpc: '2.0', id: 'a', method: 'tools/list' },
        { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'echo', arguments: { message: 'batched' } } },
      ]);
      expect(response.status).toBe(200);
      const messages = rpcMessagesOf(response);
      expect(messages.map((m) => m['id']).sort()).toEqual(['a', 'b']);
      expect(messages.find((m) => m['id'] === 'b')).toMatchObject({ result: { content: [{ text: 'echo: batched' }] } });
    } finally {
      await old.end();
    }
    const current = await rawSession('crashy', '2025-06-18');
    try {
      const refused = await current.post([{ jsonrpc: '2.0', id: 'a', method: 'tools/list' }]);
      expect(refused.status).toBe(400);
    } finally {
      await current.end();
    }
  });

  it('refuses a batch that repeats a request id, and the id stays usable', async () => {
    const session = await rawSession('crashy', '2025-03-26');
    try {
      const twice = await session.post([
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      ]);
      expect(twice.status).toBe(400);
      const once = await session.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect(once.status).toBe(200);
      expect(rpcMessagesOf(once)[0]).toMatchObject({ id: 1, result: { tools: expect.any(Array) } });
    } finally {
      await session.end();
    }
  });

  it('answers 202 to a POST of notifications only, and 400 to a request id already in flight', async () => {
    const session = await rawSession('crashy');
    try {
      const notified = await session.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
      expect(notified.status).toBe(202);
      expect(notified.body).toBe('');
      const hanging = session.post({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'hang', arguments: {} } });
      // The hang is in flight once the gateway counts it; a second request with its id is refused.
      await waitFor(async () => (await session.post({ jsonrpc: '2.0', id: 5, method: 'tools/list' })).status === 400, {
        what: 'the duplicate id to be refused',
      });
      const ended = await session.end();
      expect(ended.status).toBe(200);
      // Ending the session answers the hanging call.
      expect(rpcMessagesOf(await hanging)[0]).toMatchObject({ id: 5, error: { code: -32000 } });
    } finally {
      await session.end();
    }
  });

  it('allows one GET stream per session: a second one gets 409', async () => {
    const session = await rawSession('crashy');
    const controller = new AbortController();
    try {
      const first = await within(
        fetch(fleet.mcpUrl('crashy'), {
          headers: { accept: 'text/event-stream', 'mcp-session-id': session.id },
          signal: controller.signal,
        }),
        10_000,
        'the head of a GET stream with no events yet',
      );
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toBe('text/event-stream');
      const second = await httpRequest(fleet.mcpUrl('crashy'), { headers: { accept: 'text/event-stream', 'mcp-session-id': session.id } });
      expect(second.status).toBe(409);
      const noAccept = await httpRequest(fleet.mcpUrl('crashy'), { headers: { accept: 'application/json', 'mcp-session-id': session.id } });
      expect(noAccept.status).toBe(406);
    } finally {
      controller.abort();
      await session.end();
    }
  });

  it('answers 413 to a body over gateway.maxBodyBytes', async () => {
    const session = await rawSession('crashy');
    try {
      const big = await session.post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(10_000) } } });
      expect(big.status).toBe(413);
      expect(JSON.parse(big.body)).toMatchObject({ error: { code: ErrorCode.MessageTooLarge, message: expect.stringContaining('maxBodyBytes') } });
    } finally {
      await session.end();
    }
  });
});

describe('HTTP+SSE message endpoint', () => {
  it('answers 400 without sessionId, 404 for an unknown one or a Streamable HTTP session', async () => {
    const url = `${fleet.url}/servers/crashy/messages`;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const headers = { 'content-type': 'application/json' };
    expect((await httpRequest(url, { method: 'POST', headers, body })).status).toBe(400);
    expect((await httpRequest(`${url}?sessionId=nope`, { method: 'POST', headers, body })).status).toBe(404);
    const streamable = await rawSession('crashy');
    try {
      expect((await httpRequest(`${url}?sessionId=${streamable.id}`, { method: 'POST', headers, body })).status).toBe(404);
    } finally {
      await streamable.end();
    }
  });

  it('keeps SSE sessions of different clients apart', async () => {
    const a = await connectSse(fleet.sseUrl('crashy'));
    const b = await connectSse(fleet.sseUrl('crashy'));
    try {
      const [ra, rb] = await Promise.all([
        a.client.callTool({ name: 'echo', arguments: { message: 'to a' } }),
        b.client.callTool({ name: 'echo', arguments: { message: 'to b' } }),
      ]);
      expect([textOf(ra), textOf(rb)]).toEqual(['echo: to a', 'echo: to b']);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });
});

describe('a server that cannot start', () => {
  it('fails initialize with an error saying the command was not found', async () => {
    const error = await connectStreamable(fleet.mcpUrl('ghost')).then(
      () => new Error('connected'),
      (e: unknown) => e as Error,
    );
    expect(error.message).toMatch(/MCP server \\?"ghost\\?" could not be started: command not found/);
    // Answered at once, with the cause and Retry-After: no session, no child for the attempt.
    const raw = await httpRequest(fleet.mcpUrl('ghost'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
    expect(raw.status).toBe(503);
    expect(raw.headers['retry-after']).toBeDefined();
    await waitFor(() => fleet.gateway.sessionCount('ghost') === 0, { what: 'the failed session to be gone' });
  });

  it('fails initialize with the exit code of a server that exits at start, and /ready says why, without its stderr', async () => {
    const error = await connectStreamable(fleet.mcpUrl('quitter')).then(
      () => new Error('connected'),
      (e: unknown) => e as Error,
    );
    expect(error.message).toMatch(/MCP server \\?"quitter\\?" exited with code 1/);
    expect(error.message).not.toContain('CRASHY_API_KEY');
    const ready = (await (await fetch(`${fleet.url}/ready`)).json()) as { servers: Record<string, { state: string; reason?: string }> };
    expect(ready.servers['quitter']).toMatchObject({ state: 'failing', reason: expect.stringContaining('exited with code 1') });
    expect(ready.servers['quitter']?.reason).not.toContain('CRASHY_API_KEY');
  });
});

describe('drain with a call in flight', () => {
  it('lets the call finish, then ends the session', async () => {
    const drainMarker = newMarker('drain-inflight');
    const own = await startGateway(
      { servers: { everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', drainMarker] } } },
      { probe: false },
    );
    try {
      const { client } = await connectStreamable(own.mcpUrl('everything'));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const call = client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 3 } },
        undefined,
        { onprogress: () => started() },
      );
      await running;
      const drained = own.gateway.drain(20_000);
      expect((await fetch(`${own.url}/ready`)).status).toBe(503);
      expect(textOf(await call)).toContain('completed');
      await within(drained, 15_000, 'the drain to finish');
      expect(own.gateway.sessionCount()).toBe(0);
      await waitFor(() => processesWithMarker(drainMarker).length === 0, { what: 'the drained child to exit' });
      await client.close();
    } finally {
      await own.close();
    }
  });
});
