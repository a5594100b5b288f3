import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { ToolListChangedNotificationSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIRTUAL_META_KEY } from '../../src/gateway/virtual/composition.js';
import {
  answerElicitations,
  connectStreamable,
  CRASHY_ENTRY,
  EVERYTHING_ENTRY,
  MEMORY_ENTRY,
  MODERN_REVISION,
  modernRequest,
  newMarker,
  processesWithMarker,
  REPO_ROOT,
  startGateway,
  textOf,
  waitFor,
  within,
  type TestGateway,
} from '../gateway/helpers.js';

/**
 * A virtual server over real members (server-everything and server-memory from
 * npm, and the SDK fixtures), through a real gateway socket, with the official
 * clients of both SDK generations.
 */

const LEGACY_ENTRY = join(REPO_ROOT, 'test', 'fixtures', 'legacy-server.mjs');
const PAGING_ENTRY = join(REPO_ROOT, 'test', 'fixtures', 'paging-server.mjs');
const FILESYSTEM_ENTRY = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-filesystem/dist/index.js');

describe('virtual server: one endpoint over several members', () => {
  const marker = newMarker('virtual');
  let memoryDir: string;
  let filesDir: string;
  let gw: TestGateway;

  beforeAll(async () => {
    memoryDir = mkdtempSync(join(tmpdir(), 'mcp-fleet-virtual-'));
    // server-filesystem takes every argument as an allowed directory: the marker goes into the path.
    filesDir = join(memoryDir, marker);
    mkdirSync(filesDir);
    gw = await startGateway({
      servers: {
        everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', marker], pool: { min: 1, max: 1 } },
        memory: {
          command: process.execPath,
          args: [MEMORY_ENTRY, marker],
          env: { MEMORY_FILE_PATH: join(memoryDir, 'memory.jsonl') },
          pool: { min: 1, max: 1 },
        },
        crashy: { command: process.execPath, args: [CRASHY_ENTRY, marker], policy: 'per-session' },
        legacy: { command: process.execPath, args: [LEGACY_ENTRY, marker], policy: 'per-session' },
        broken: { command: process.execPath, args: [CRASHY_ENTRY, '--exit-at-start', marker] },
        paging: { command: process.execPath, args: [PAGING_ENTRY, marker], pool: { min: 1, max: 1 } },
        files: { command: process.execPath, args: [FILESYSTEM_ENTRY, filesDir], pool: { min: 1, max: 1 } },
      },
      virtualServers: {
        dev: {
          servers: {
            everything: { tools: { exclude: ['get-env'] } },
            memory: { prefix: 'mem_' },
            crashy: { tools: ['echo', 'crash'] },
            legacy: { tools: ['echo', 'ask', 'add-tool', 'extra-*'] },
            paging: { resources: { exclude: ['paging://item/25'] } },
          },
        },
        partial: { servers: { memory: {}, broken: {} } },
        solo: { servers: { legacy: {} } },
        notes: { servers: { files: { tools: ['write_file', 'read_text_file', 'list_directory'] }, memory: { tools: { exclude: ['delete_*'] } } } },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
    rmSync(memoryDir, { recursive: true, force: true });
  });

  it('GIVEN members with a tool of the same name WHEN an SDK v1 client lists tools THEN each is prefixed with its member, the rest keep their names, and fields pass through unchanged', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('dev'));
    const direct = await connectStreamable(gw.mcpUrl('everything'));
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['everything__echo', 'crashy__echo', 'legacy__echo', 'crash', 'ask', 'mem_create_entities', 'get-sum']));
      expect(names).not.toContain('echo');
      expect(names).not.toContain('get-env');
      // initialize advertised the union of the members' capabilities, and their instructions under each member's name.
      expect(client.getServerCapabilities()).toMatchObject({ tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true } });
      const ownInstructions = direct.client.getInstructions();
      expect(ownInstructions).toBeTruthy();
      expect(client.getInstructions()).toContain(`## everything\n\n${(ownInstructions as string).trim()}`);
      const own = (await direct.client.listTools()).tools.find((t) => t.name === 'get-structured-content') as Tool;
      const virtual = (await client.listTools()).tools.find((t) => t.name === 'get-structured-content');
      expect(virtual).toEqual(own);
      expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } }))).toBe('Echo: hi');
      expect(textOf(await client.callTool({ name: 'crashy__echo', arguments: { message: 'hi' } }))).toBe('echo: hi');
      const structured = await client.callTool({ name: 'get-structured-content', arguments: { location: 'New York' } });
      expect(structured.structuredContent).toBeDefined();
    } finally {
      await client.close();
      await direct.client.close();
    }
  });

  it('GIVEN a tool filtered out of the virtual server WHEN a client calls it THEN it is refused with an error naming the filter, not passed through', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('dev'));
    try {
      await expect(client.callTool({ name: 'get-env', arguments: {} })).rejects.toThrow(/filtered out.*virtualServers\.dev\.servers\.everything\.tools/);
    } finally {
      await client.close();
    }
  });

  it('GIVEN members that page their lists WHEN a client follows nextCursor THEN every item of every member arrives once, over several pages, in member order', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('dev'));
    try {
      // The members before the paging one list their resources directly in one page each.
      const before: string[] = [];
      for (const member of ['everything', 'memory']) {
        const direct = await connectStreamable(gw.mcpUrl(member));
        before.push(...(await direct.client.listResources()).resources.map((r) => r.uri));
        await direct.client.close();
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await client.listResources(cursor === undefined ? {} : { cursor });
        seen.push(...page.resources.map((r) => r.uri));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined && pages < 100);
      // The paging member's 24 shown resources come 10 per page after the other members' single page.
      expect(pages).toBe(3);
      const paged = Array.from({ length: 24 }, (_, i) => `paging://item/${i + 1}`);
      expect(seen).toEqual([...before, ...paged]);
      expect(seen).not.toContain('paging://item/25');
      const read = await client.readResource({ uri: 'paging://item/7' });
      expect(read.contents[0]).toMatchObject({ uri: 'paging://item/7', text: 'content of paging://item/7' });
      await expect(client.readResource({ uri: 'paging://item/25' })).rejects.toThrow(/filtered out/);

      const tools: string[] = [];
      let toolPages = 0;
      cursor = undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor });
        tools.push(...page.tools.map((t) => t.name));
        cursor = page.nextCursor;
        toolPages++;
      } while (cursor !== undefined && toolPages < 100);
      expect(toolPages).toBe(3);
      expect(tools.filter((t) => t.startsWith('page-tool-'))).toEqual(Array.from({ length: 12 }, (_, i) => `page-tool-${i + 1}`));
      expect(new Set(tools).size).toBe(tools.length);
      await expect(client.listTools({ cursor: 'not-a-cursor' })).rejects.toThrow(/unknown cursor/);
    } finally {
      await client.close();
    }
  });

  it('GIVEN a member whose child exits mid-call WHEN that tool is called THEN only that call fails, naming the member, and other members still answer', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('dev'));
    try {
      await expect(within(client.callTool({ name: 'crash', arguments: {} }), 20_000, 'the crash call')).rejects.toThrow(/server "crashy"/);
      expect(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'still here' } }))).toBe('Echo: still here');
      const created = await client.callTool({ name: 'mem_create_entities', arguments: { entities: [{ name: 'a', entityType: 't', observations: [] }] } });
      expect(created.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });

  it('GIVEN a member that reports progress WHEN the virtual client asks for progress THEN it gets the member\'s progress under its own token', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('dev'));
    try {
      const progress: { progress: number; total?: number }[] = [];
      const result = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } }, undefined, {
        onprogress: (p) => progress.push(p),
      });
      expect(result.isError).toBeFalsy();
      expect(progress.map((p) => p.progress)).toEqual([1, 2, 3]);
      expect(progress.every((p) => p.total === 3)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('GIVEN a call in flight at a member WHEN the virtual client cancels it THEN the member sees the cancellation', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('solo'));
    try {
      const abort = new AbortController();
      const call = client.callTool({ name: 'slow', arguments: {} }, undefined, { signal: abort.signal });
      await waitFor(async () => JSON.parse(textOf(await client.callTool({ name: 'started', arguments: {} }))).length === 1, { what: 'the slow call to start at the member' });
      abort.abort();
      await expect(call).rejects.toThrow();
      await waitFor(async () => JSON.parse(textOf(await client.callTool({ name: 'cancelled', arguments: {} }))).length === 1, {
        what: 'the member to see notifications/cancelled',
      });
    } finally {
      await client.close();
    }
  });

  it('GIVEN server-filesystem and server-memory as one endpoint WHEN a client writes and lists a file THEN the selected tools work and the rest are refused', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('notes'));
    try {
      const names = (await client.listTools()).tools.map((t) => t.name).sort();
      expect(names).toEqual(['add_observations', 'create_entities', 'create_relations', 'list_directory', 'open_nodes', 'read_graph', 'read_text_file', 'search_nodes', 'write_file']);
      const path = join(filesDir, 'note.txt');
      const written = await client.callTool({ name: 'write_file', arguments: { path, content: 'composed' } });
      expect(written.isError).toBeFalsy();
      expect(textOf(await client.callTool({ name: 'list_directory', arguments: { path: filesDir } }))).toContain('note.txt');
      expect(textOf(await client.callTool({ name: 'read_text_file', arguments: { path } }))).toBe('composed');
      await expect(client.callTool({ name: 'move_file', arguments: { source: path, destination: `${path}.bak` } })).rejects.toThrow(/filtered out.*servers\.files\.tools/);
      await expect(client.callTool({ name: 'delete_entities', arguments: { entityNames: ['a'] } })).rejects.toThrow(/filtered out.*servers\.memory\.tools/);
    } finally {
      await client.close();
    }
  });

  it('GIVEN a member that cannot start WHEN a client lists tools THEN the others answer and the list says which member is missing; its tools fail naming it', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('partial'));
    try {
      const listed = await client.listTools();
      expect(listed.tools.map((t) => t.name)).toContain('create_entities');
      const meta = listed._meta?.[VIRTUAL_META_KEY] as { unavailable?: { server: string; reason: string }[] } | undefined;
      expect(meta?.unavailable?.map((m) => m.server)).toEqual(['broken']);
      await expect(client.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(/"broken"/);
    } finally {
      await client.close();
    }
  });

  it('GIVEN a member that adds a tool WHEN it sends tools/list_changed THEN the virtual client gets list_changed and sees the new tool', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('dev'));
    try {
      let changed = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
        changed++;
      });
      await client.listTools();
      expect(textOf(await client.callTool({ name: 'add-tool', arguments: {} }))).toMatch(/added extra-1/);
      await waitFor(() => changed > 0, { what: 'notifications/tools/list_changed from the virtual server' });
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('extra-1');
    } finally {
      await client.close();
    }
  });

  it('GIVEN a member that elicits input mid-call WHEN the virtual client answers THEN the member gets the answer', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('dev'), { elicitation: {} });
    try {
      const questions = answerElicitations(client, { answer: 'blue' });
      const result = await within(client.callTool({ name: 'ask', arguments: { question: 'favourite colour?' } }), 20_000, 'the ask call');
      expect(questions).toEqual(['favourite colour?']);
      expect(textOf(result)).toContain('blue');
    } finally {
      await client.close();
    }
  });

  it('GIVEN a 2026-07-28 listen stream on the virtual server WHEN a member adds a tool THEN the stream gets tools/list_changed', async () => {
    const abort = new AbortController();
    try {
      const response = await fetch(gw.mcpUrl('solo'), {
        method: 'POST',
        signal: abort.signal,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': MODERN_REVISION,
          'mcp-method': 'subscriptions/listen',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 'listen-1',
          method: 'subscriptions/listen',
          params: {
            notifications: { toolsListChanged: true },
            _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN_REVISION, 'io.modelcontextprotocol/clientCapabilities': {} },
          },
        }),
      });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      const readUntil = async (needle: string): Promise<void> => {
        while (!text.includes(needle)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${needle}: ${text}`);
          text += new TextDecoder().decode(value);
        }
      };
      await within(readUntil('acknowledged'), 15_000, 'the listen acknowledgement');
      const added = await modernRequest(gw.mcpUrl('solo'), 'tools/call', { params: { name: 'add-tool', arguments: {} } });
      expect(textOf(added.final?.result)).toMatch(/added extra-/);
      await within(readUntil('notifications/tools/list_changed'), 15_000, 'tools/list_changed on the listen stream');
    } finally {
      abort.abort();
    }
  });

  it('GIVEN a 2026-07-28 client WHEN a member elicits input mid-call THEN the client gets input_required, and its retry brings the answer to the member', async () => {
    const capabilities = { elicitation: {} };
    const first = await modernRequest(gw.mcpUrl('solo'), 'tools/call', { params: { name: 'ask', arguments: { question: 'colour?' } }, capabilities });
    const asked = first.final?.result as { resultType?: string; inputRequests?: Record<string, { method: string; params: { message: string } }>; requestState?: string };
    expect(asked.resultType).toBe('input_required');
    const [key, request] = Object.entries(asked.inputRequests ?? {})[0] ?? [];
    expect(request).toMatchObject({ method: 'elicitation/create', params: { message: 'colour?' } });
    const retry = await modernRequest(gw.mcpUrl('solo'), 'tools/call', {
      params: { name: 'ask', arguments: { question: 'colour?' }, requestState: asked.requestState, inputResponses: { [key as string]: { action: 'accept', content: { answer: 'green' } } } },
      capabilities,
    });
    expect(retry.final, JSON.stringify(retry.messages)).toHaveProperty("result");
    expect(textOf(retry.final?.result)).toContain('green');
    const forged = await modernRequest(gw.mcpUrl('solo'), 'tools/call', {
      params: { name: 'ask', arguments: { question: 'x' }, requestState: 'not-a-parked-call', inputResponses: {} },
      capabilities,
    });
    expect(forged.final?.error?.message).toMatch(/requestState is unknown/);
  });

  it('GIVEN an SDK v2 client speaking 2026-07-28 WHEN it lists and calls tools of the virtual server THEN it gets the merged list and the routed answer', async () => {
    const client = new ModernClient({ name: 'virtual-e2e', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new ModernTransport(gw.mcpUrl('dev')));
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['everything__echo', 'crashy__echo', 'mem_read_graph']));
      const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'modern' } });
      expect(textOf(result)).toBe('Echo: modern');
      await expect(client.callTool({ name: 'get-env', arguments: {} })).rejects.toThrow(/filtered out/);
    } finally {
      await client.close();
    }
  });
});
