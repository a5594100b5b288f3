import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectStreamable,
  EVERYTHING_ENTRY,
  MEMORY_ENTRY,
  newMarker,
  POST_HEADERS,
  processesWithMarker,
  startGateway,
  textOf,
  waitFor,
  type TestGateway,
} from './helpers.js';

/**
 * The official SDK v1 client over Streamable HTTP, through a real gateway on a real
 * socket, against server-everything and server-memory spawned from node_modules.
 */

const marker = newMarker('streamable');
let fleet: TestGateway;
let memoryDir: string;

beforeAll(async () => {
  memoryDir = await mkdtemp(join(tmpdir(), 'mcp-fleet-e2e-memory-'));
  fleet = await startGateway({
    servers: {
      everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', marker], policy: 'per-session' },
      memory: {
        command: process.execPath,
        args: [MEMORY_ENTRY, marker],
        env: { MEMORY_FILE_PATH: join(memoryDir, 'memory.jsonl') },
      },
    },
  });
});

afterAll(async () => {
  await fleet?.close();
  await waitFor(() => processesWithMarker(marker).length === 0, { what: 'every child of this file to exit' });
  await rm(memoryDir, { recursive: true, force: true });
});

describe('Streamable HTTP with the SDK v1 client: server-everything', () => {
  it('lists tools and calls echo', async () => {
    const { client, transport } = await connectStreamable(fleet.mcpUrl('everything'));
    try {
      expect(client.getServerVersion()?.name).toBe('mcp-servers/everything');
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['echo', 'trigger-long-running-operation', 'get-sum']));
      const result = await client.callTool({ name: 'echo', arguments: { message: 'hello through the gateway' } });
      expect(textOf(result)).toBe('Echo: hello through the gateway');
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('relays progress notifications of a long-running tool to the caller', async () => {
    const { client, transport } = await connectStreamable(fleet.mcpUrl('everything'));
    try {
      const progress: Progress[] = [];
      const result = await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
        undefined,
        { onprogress: (p) => progress.push(p) },
      );
      expect(textOf(result)).toContain('Long running operation completed');
      // The SDK client handles notifications a microtask after responses, so the last
      // progress may lose the race with the result that follows it in the same chunk.
      expect(progress.map((p) => p.progress).slice(0, 2)).toEqual([1, 2]);
      expect(progress.every((p) => p.total === 3)).toBe(true);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('lists and reads resources, lists and gets prompts', async () => {
    const { client, transport } = await connectStreamable(fleet.mcpUrl('everything'));
    try {
      const { resources } = await client.listResources();
      expect(resources.length).toBeGreaterThan(0);
      const first = resources[0]!;
      const read = await client.readResource({ uri: first.uri });
      expect(read.contents[0]?.uri).toBe(first.uri);

      const { prompts } = await client.listPrompts();
      expect(prompts.map((p) => p.name)).toContain('simple-prompt');
      const prompt = await client.getPrompt({ name: 'simple-prompt' });
      expect(prompt.messages.length).toBeGreaterThan(0);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('carries a sampling round trip: the server asks the client mid-call and gets its answer', async () => {
    const { client, transport } = await connectStreamable(fleet.mcpUrl('everything'), { sampling: {} });
    try {
      const asked: string[] = [];
      client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
        const content = request.params.messages[0]?.content;
        asked.push(content && 'text' in content ? String(content.text) : '');
        return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'sampled by the test client' } };
      });
      const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'ping', maxTokens: 5 } });
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain('ping');
      expect(textOf(result)).toContain('sampled by the test client');
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('carries an elicitation round trip', async () => {
    const { client, transport } = await connectStreamable(fleet.mcpUrl('everything'), { elicitation: {} });
    try {
      let elicited = 0;
      client.setRequestHandler(ElicitRequestSchema, async () => {
        elicited++;
        return { action: 'decline' };
      });
      const result = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
      expect(elicited).toBe(1);
      expect(JSON.stringify(result)).toMatch(/decline/i);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('cancels a call when the client aborts, and the session keeps working', async () => {
    const { client, transport } = await connectStreamable(fleet.mcpUrl('everything'));
    try {
      const abort = new AbortController();
      let firstProgress!: () => void;
      const progressed = new Promise<void>((resolve) => (firstProgress = resolve));
      const call = client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 60, steps: 600 } },
        undefined,
        { signal: abort.signal, onprogress: () => firstProgress() },
      );
      // Abort only once the call is surely running in the child.
      await progressed;
      abort.abort('the user changed their mind');
      await expect(call).rejects.toThrow();
      const result = await client.callTool({ name: 'echo', arguments: { message: 'still here' } });
      expect(textOf(result)).toBe('Echo: still here');
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  it('ends the session on DELETE: the session id then answers 404', async () => {
    const { client, transport } = await connectStreamable(fleet.mcpUrl('everything'));
    const sessionId = transport.sessionId;
    expect(sessionId).toMatch(/^[\x21-\x7e]+$/);
    const before = fleet.gateway.sessionCount('everything');
    await transport.terminateSession();
    expect(fleet.gateway.sessionCount('everything')).toBe(before - 1);
    await client.close();
    const after = await fetch(fleet.mcpUrl('everything'), {
      method: 'POST',
      headers: { ...POST_HEADERS, 'mcp-session-id': sessionId as string },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(after.status).toBe(404);
    expect(((await after.json()) as { error: { code: number } }).error.code).toBe(-32001);
  });

  it('serves 20 concurrent sessions, each with its own child', async () => {
    const sessions = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const connected = await connectStreamable(fleet.mcpUrl('everything'));
        const result = await connected.client.callTool({ name: 'echo', arguments: { message: `client ${i}` } });
        expect(textOf(result)).toBe(`Echo: client ${i}`);
        return connected;
      }),
    );
    try {
      expect(new Set(sessions.map((s) => s.transport.sessionId)).size).toBe(20);
      expect(fleet.gateway.sessionCount('everything')).toBeGreaterThanOrEqual(20);
      // Each session's answers reach only that session.
      const sums = await Promise.all(
        sessions.map((s, i) => s.client.callTool({ name: 'get-sum', arguments: { a: i, b: 1000 } })),
      );
      sums.forEach((r, i) => expect(textOf(r)).toContain(String(i + 1000)));
    } finally {
      await Promise.all(sessions.map(async (s) => {
        await s.transport.terminateSession();
        await s.client.close();
      }));
    }
  }, 90_000);
});

describe('Streamable HTTP with the SDK v1 client: server-memory', () => {
  it('creates entities and reads them back in another session', async () => {
    const writer = await connectStreamable(fleet.mcpUrl('memory'));
    try {
      const { tools } = await writer.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['create_entities', 'read_graph', 'search_nodes']));
      await writer.client.callTool({
        name: 'create_entities',
        arguments: { entities: [{ name: 'gateway', entityType: 'software', observations: ['relays JSON-RPC'] }] },
      });
    } finally {
      await writer.transport.terminateSession();
      await writer.client.close();
    }
    const reader = await connectStreamable(fleet.mcpUrl('memory'));
    try {
      const found = await reader.client.callTool({ name: 'search_nodes', arguments: { query: 'gateway' } });
      expect(textOf(found)).toContain('relays JSON-RPC');
    } finally {
      await reader.transport.terminateSession();
      await reader.client.close();
    }
  });
});
