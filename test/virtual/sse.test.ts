import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answerElicitations,
  connectSse,
  EVERYTHING_ENTRY,
  MEMORY_ENTRY,
  newMarker,
  POST_HEADERS,
  processesWithMarker,
  REPO_ROOT,
  startGateway,
  textOf,
  waitFor,
  within,
  type TestGateway,
} from '../gateway/helpers.js';

/**
 * A virtual server for old clients: the HTTP+SSE transport (2024-11-05) at
 * `/servers/<virtual>/sse`, driven by the official SDK v1 `SSEClientTransport`
 * over a real socket, with real members (server-everything and server-memory
 * from npm, and the SDK fixture that asks the client a question).
 */

const LEGACY_ENTRY = join(REPO_ROOT, 'test', 'fixtures', 'legacy-server.mjs');
const KEY_A = 'sse-key-a-0123456789abcdef0123456789abcdef';
const KEY_B = 'sse-key-b-0123456789abcdef0123456789abcdef';

describe('virtual server over HTTP+SSE (2024-11-05)', () => {
  const marker = newMarker('virtual-sse');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({
      servers: {
        everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', marker], pool: { min: 1, max: 1 } },
        memory: { command: process.execPath, args: [MEMORY_ENTRY, marker], env: { MEMORY_FILE_PATH: `/tmp/${marker}-memory.jsonl` }, pool: { min: 1, max: 1 } },
        legacy: { command: process.execPath, args: [LEGACY_ENTRY, marker], policy: 'per-session' },
      },
      virtualServers: {
        dev: {
          servers: {
            everything: { tools: { exclude: ['get-env'] } },
            memory: { prefix: 'mem_' },
            legacy: { tools: ['ask'] },
          },
        },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('GIVEN an SSE client WHEN it lists and calls tools of the virtual server THEN it sees the selection and gets the member results', async () => {
    const { client } = await connectSse(gw.sseUrl('dev'));
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('echo');
      expect(names).toContain('mem_create_entities');
      expect(names).toContain('ask');
      expect(names).not.toContain('get-env');
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'over sse' } }))).toContain('over sse');
      const refused = await client.callTool({ name: 'get-env', arguments: {} }).then(
        (result) => JSON.stringify(result),
        (error: Error) => error.message,
      );
      expect(refused).toMatch(/get-env/);
      expect(refused).toMatch(/virtualServers\.dev\.servers\.everything\.tools/);
    } finally {
      await client.close();
    }
  });

  it('GIVEN an SSE client that can answer questions WHEN a member asks one mid-call THEN the question arrives on its stream and the answer reaches the member', async () => {
    const { client } = await connectSse(gw.sseUrl('dev'), { elicitation: {} });
    try {
      const questions = answerElicitations(client, { answer: 'green' });
      const result = await within(client.callTool({ name: 'ask', arguments: { question: 'favourite colour?' } }), 20_000, 'the ask call');
      expect(questions).toEqual(['favourite colour?']);
      expect(textOf(result)).toContain('green');
    } finally {
      await client.close();
    }
  });

  it('GIVEN an open SSE stream WHEN the first POST is not initialize THEN it is refused with 400', async () => {
    const abort = new AbortController();
    try {
      const stream = await fetch(gw.sseUrl('dev'), { headers: { accept: 'text/event-stream' }, signal: abort.signal });
      expect(stream.status).toBe(200);
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      const endpoint = /event: endpoint\ndata: (\S+)/.exec(first)?.[1];
      expect(endpoint).toMatch(/^\/servers\/dev\/messages\?sessionId=/);
      const response = await fetch(new URL(endpoint as string, gw.url), { method: 'POST', headers: POST_HEADERS, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/must be initialize/);
    } finally {
      abort.abort();
    }
  });
});

describe('virtual server over HTTP+SSE behind auth', () => {
  const marker = newMarker('virtual-sse-auth');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway(
      {
        gateway: { auth: { apiKeys: [{ name: 'a', env: 'KEY_A', servers: ['dev'] }, { name: 'b', env: 'KEY_B', servers: ['dev'] }] } },
        servers: { memory: { command: process.execPath, args: [MEMORY_ENTRY, marker], env: { MEMORY_FILE_PATH: `/tmp/${marker}-memory.jsonl` }, pool: { min: 1, max: 1 } } },
        virtualServers: { dev: { servers: { memory: {} } } },
      },
      { env: { KEY_A, KEY_B } },
    );
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it("GIVEN A's SSE session WHEN key B posts to it THEN it is not found, and A's own initialize is accepted", async () => {
    const abort = new AbortController();
    try {
      const stream = await fetch(gw.sseUrl('dev'), { headers: { accept: 'text/event-stream', authorization: `Bearer ${KEY_A}` }, signal: abort.signal });
      expect(stream.status).toBe(200);
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      const endpoint = /event: endpoint\ndata: (\S+)/.exec(new TextDecoder().decode((await reader.read()).value))?.[1] as string;
      const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'sse-auth', version: '1' } } });
      const byB = await fetch(new URL(endpoint, gw.url), { method: 'POST', headers: { ...POST_HEADERS, authorization: `Bearer ${KEY_B}` }, body: initialize });
      expect(byB.status).toBe(404);
      const byA = await fetch(new URL(endpoint, gw.url), { method: 'POST', headers: { ...POST_HEADERS, authorization: `Bearer ${KEY_A}` }, body: initialize });
      expect(byA.status).toBe(202);
      // The answer to A's initialize comes on A's stream.
      let seen = '';
      while (!seen.includes('"id":1')) {
        const { value, done } = await within(reader.read(), 20_000, 'the initialize answer on the stream');
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      expect(seen).toContain('event: message');
      expect(seen).toContain('"protocolVersion"');
    } finally {
      abort.abort();
    }
  });
});
