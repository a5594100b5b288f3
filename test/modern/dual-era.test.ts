import { join } from 'node:path';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectSse,
  connectStreamable,
  EVERYTHING_ENTRY,
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
 * MCP 2026-07-28 on the same URL as the legacy transports: modern clients (SDK v2
 * in modern mode) and legacy clients (SDK v2 in legacy mode, SDK v1) against a
 * legacy stdio server (bridged through a warm pool) and a modern one (relayed).
 */

const LEGACY_FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'legacy-server.mjs');
const MODERN_FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'modern-server.mjs');
const MODERN_ONLY_FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'modern-only-server.mjs');
const V = '2026-07-28';

function modernClient(capabilities: Record<string, unknown> = {}): ModernClient {
  return new ModernClient({ name: 'modern-e2e', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' }, capabilities });
}

/** A raw 2026-07-28 POST with the headers a conforming client sends (overridable). */
async function modernPost(
  url: URL,
  method: string,
  params: Record<string, unknown> = {},
  headers: Record<string, string | null> = {},
): Promise<{ status: number; body: any; contentType: string | null }> {
  const name = typeof params['name'] === 'string' ? params['name'] : typeof params['uri'] === 'string' ? params['uri'] : undefined;
  const base: Record<string, string | null> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': V,
    'mcp-method': method,
    ...(name !== undefined ? { 'mcp-name': name } : {}),
  };
  const merged = { ...base, ...headers };
  const sent: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== null) sent[k] = v;
  const response = await fetch(url, {
    method: 'POST',
    headers: sent,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method,
      params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': headers['x-body-version'] ?? V, 'io.modelcontextprotocol/clientCapabilities': {} } },
    }),
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  let body: unknown = text;
  if (contentType?.includes('application/json')) body = JSON.parse(text);
  else if (contentType?.includes('text/event-stream')) {
    const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    body = data[data.length - 1];
  }
  return { status: response.status, body, contentType };
}

describe('one URL, both eras: a legacy stdio server bridged to 2026-07-28', () => {
  let gw: TestGateway;
  const marker = newMarker('dual-era');

  beforeAll(async () => {
    gw = await startGateway({
      gateway: { logLevel: 'error' },
      servers: {
        // server-everything reads its first argument as a transport name: the marker rides on node's --title.
        everything: { command: process.execPath, args: [`--title=${marker}`, EVERYTHING_ENTRY] },
        fixture: { command: process.execPath, args: [LEGACY_FIXTURE, marker], policy: 'shared' },
        pooled: { command: process.execPath, args: [LEGACY_FIXTURE, marker], pool: { min: 2, max: 2 } },
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('GIVEN a legacy stdio server WHEN probed THEN /ready reports its era', async () => {
    const ready = (await (await fetch(`${gw.url}/ready`)).json()) as { servers: Record<string, unknown> };
    expect(ready.servers.everything).toMatchObject({ state: 'ready', era: 'legacy' });
  });

  it('serves an SDK v2 client in modern mode: discover, tools, resources, prompts', async () => {
    const client = modernClient();
    await client.connect(new ModernTransport(gw.mcpUrl('everything')));
    try {
      expect(client.getProtocolEra()).toBe('modern');
      expect(client.getDiscoverResult()?.supportedVersions).toContain(V);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('echo');
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'modern hello' } }))).toBe('Echo: modern hello');
      const { resources } = await client.listResources();
      expect(resources.length).toBeGreaterThan(0);
      const read = await client.readResource({ uri: resources[0]!.uri });
      expect(read.contents[0]?.uri).toBe(resources[0]!.uri);
      const { prompts } = await client.listPrompts();
      const simple = prompts.find((p) => (p.arguments ?? []).every((a) => !a.required));
      expect(simple).toBeDefined();
      const prompt = await client.getPrompt({ name: simple!.name });
      expect(prompt.messages.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('serves the SDK v2 client in legacy mode and the SDK v1 client on the same URL', async () => {
    const legacy = new ModernClient({ name: 'legacy-mode', version: '1.0.0' });
    await legacy.connect(new ModernTransport(gw.mcpUrl('everything')));
    const v1 = await connectStreamable(gw.mcpUrl('everything'));
    try {
      expect(legacy.getProtocolEra()).toBe('legacy');
      expect(textOf(await legacy.callTool({ name: 'echo', arguments: { message: 'v2 legacy' } }))).toBe('Echo: v2 legacy');
      expect(textOf(await v1.client.callTool({ name: 'echo', arguments: { message: 'v1' } }))).toBe('Echo: v1');
    } finally {
      await legacy.close();
      await v1.client.close();
    }
  });

  it('turns a child elicitation into input_required and completes the call on the retry (MRTR)', async () => {
    const client = modernClient({ elicitation: {} });
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.push(String((request.params as { message?: string }).message));
      return { action: 'accept', content: { answer: 'forty-two' } };
    });
    await client.connect(new ModernTransport(gw.mcpUrl('fixture')));
    try {
      const result = await client.callTool({ name: 'ask', arguments: { question: 'What is the answer?' } });
      expect(asked).toEqual(['What is the answer?']);
      expect(textOf(result)).toBe('answer: {"answer":"forty-two"} (accept)');
    } finally {
      await client.close();
    }
  });

  it('drives a server-everything sampling request through MRTR', async () => {
    const client = modernClient({ sampling: {} });
    client.setRequestHandler('sampling/createMessage', async () => ({
      role: 'assistant',
      content: { type: 'text', text: 'sampled by the test' },
      model: 'test-model',
      stopReason: 'endTurn',
    }));
    await client.connect(new ModernTransport(gw.mcpUrl('everything')));
    try {
      const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
      expect(textOf(result)).toContain('sampled by the test');
    } finally {
      await client.close();
    }
  });

  it('answers a raw input_required with a signed requestState, and refuses a forged one', async () => {
    const first = await modernPost(gw.mcpUrl('fixture'), 'tools/call', { name: 'ask', arguments: { question: 'q?' } }, {});
    // The raw request declared no elicitation capability: 400, -32021, naming the capability.
    expect(first.status).toBe(400);
    expect(first.body.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { elicitation: {} } } });
    const forged = await modernPost(gw.mcpUrl('fixture'), 'tools/call', { name: 'ask', arguments: { question: 'q?' }, requestState: 'eyJwIjoieCJ9.AAAA', inputResponses: {} });
    expect(forged.body.error.code).toBe(-32602);
    expect(forged.body.error.message).toMatch(/requestState/);
  });

  it('delivers tools/list_changed on a subscriptions/listen stream', async () => {
    const client = modernClient();
    let changed = 0;
    client.setNotificationHandler('notifications/tools/list_changed', async () => {
      changed++;
    });
    await client.connect(new ModernTransport(gw.mcpUrl('fixture')));
    try {
      const subscription = await client.listen({ toolsListChanged: true, promptsListChanged: true });
      expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });
      await client.callTool({ name: 'add-tool', arguments: {} });
      await waitFor(() => changed > 0, { what: 'tools/list_changed on the listen stream' });
      const { tools } = await client.listTools();
      expect(tools.some((t) => t.name.startsWith('extra-'))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('cancels the child call when a modern client aborts (notifications/cancelled reaches the child)', async () => {
    const client = modernClient();
    await client.connect(new ModernTransport(gw.mcpUrl('fixture')));
    try {
      const abort = new AbortController();
      const call = client.callTool({ name: 'slow', arguments: {} }, { signal: abort.signal });
      // Abort once the child is working on the call.
      await waitFor(async () => JSON.parse(textOf(await client.callTool({ name: 'started', arguments: {} }))).length > 0, {
        what: 'the slow call to start',
      });
      abort.abort();
      await expect(call).rejects.toThrow();
      const seen = await waitFor(
        async () => {
          const list = JSON.parse(textOf(await client.callTool({ name: 'cancelled', arguments: {} }))) as unknown[];
          return list.length > 0 ? list : undefined;
        },
        { what: 'the child to record the cancellation' },
      );
      expect(seen.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('runs 50 concurrent modern requests through a pool of 2 children with no id collision', async () => {
    const client = modernClient();
    await client.connect(new ModernTransport(gw.mcpUrl('pooled')));
    try {
      const results = await within(
        Promise.all(
          Array.from({ length: 50 }, (_, i) => client.callTool({ name: 'echo', arguments: { message: `m${i}` } }).then((r) => textOf(r))),
        ),
        60_000,
        '50 concurrent calls',
      );
      expect(results).toEqual(Array.from({ length: 50 }, (_, i) => `echo: m${i}`));
      const pids = new Set(
        await Promise.all(Array.from({ length: 20 }, () => client.callTool({ name: 'pid', arguments: {} }).then((r) => textOf(r)))),
      );
      expect(pids.size).toBeLessThanOrEqual(2);
    } finally {
      await client.close();
    }
  });

  describe('2026-07-28 request validation', () => {
    it('answers server/discover with resultType, supportedVersions and caching hints', async () => {
      const { status, body } = await modernPost(gw.mcpUrl('everything'), 'server/discover');
      expect(status).toBe(200);
      expect(body.result).toMatchObject({ resultType: 'complete', supportedVersions: [V], cacheScope: expect.any(String), ttlMs: expect.any(Number) });
      expect(body.result._meta['io.modelcontextprotocol/serverInfo'].name).toBe('mcp-servers/everything');
    });

    it('adds resultType, ttlMs and cacheScope to list results', async () => {
      const { body } = await modernPost(gw.mcpUrl('everything'), 'tools/list');
      expect(body.result).toMatchObject({ resultType: 'complete', ttlMs: expect.any(Number), cacheScope: expect.any(String) });
    });

    it('rejects a Mcp-Method that does not match the body with 400 and -32020', async () => {
      const { status, body } = await modernPost(gw.mcpUrl('everything'), 'tools/list', {}, { 'mcp-method': 'prompts/list' });
      expect(status).toBe(400);
      expect(body.error.code).toBe(-32020);
    });

    it('rejects a missing Mcp-Name and a mismatching one with -32020, and accepts the Base64 sentinel form', async () => {
      const missing = await modernPost(gw.mcpUrl('everything'), 'tools/call', { name: 'echo', arguments: { message: 'x' } }, { 'mcp-name': null });
      expect([missing.status, missing.body.error.code]).toEqual([400, -32020]);
      const wrong = await modernPost(gw.mcpUrl('everything'), 'tools/call', { name: 'echo', arguments: { message: 'x' } }, { 'mcp-name': 'other' });
      expect([wrong.status, wrong.body.error.code]).toEqual([400, -32020]);
      const encoded = `=?base64?${Buffer.from('echo').toString('base64')}?=`;
      const ok = await modernPost(gw.mcpUrl('everything'), 'tools/call', { name: 'echo', arguments: { message: 'b64' } }, { 'mcp-name': encoded });
      expect(ok.status).toBe(200);
      expect(textOf(ok.body.result)).toBe('Echo: b64');
    });

    it('rejects an unsupported version with 400 and -32022 listing the supported ones', async () => {
      const { status, body } = await modernPost(gw.mcpUrl('everything'), 'tools/list', {}, { 'mcp-protocol-version': '2099-01-01', 'x-body-version': '2099-01-01' });
      expect(status).toBe(400);
      expect(body.error.code).toBe(-32022);
      expect(body.error.data).toEqual({ supported: [V], requested: '2099-01-01' });
    });

    it('rejects a request without _meta, or without its protocol version or client capabilities, with 400 and -32602', async () => {
      for (const meta of [undefined, { 'io.modelcontextprotocol/clientCapabilities': {} }, { 'io.modelcontextprotocol/protocolVersion': V }]) {
        const response = await fetch(gw.mcpUrl('everything'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, 'mcp-method': 'server/discover' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'server/discover', params: meta === undefined ? {} : { _meta: meta } }),
        });
        expect(response.status).toBe(400);
        expect(((await response.json()) as { id: number; error: { code: number } })).toMatchObject({ id: 9, error: { code: -32602 } });
      }
    });

    it('answers initialize sent as a 2026-07-28 request with 404 and -32601 (a removed method)', async () => {
      const { status, body } = await modernPost(gw.mcpUrl('everything'), 'initialize');
      expect([status, body.error.code]).toEqual([404, -32601]);
    });

    it('rejects a header and body version that disagree with -32020', async () => {
      const { status, body } = await modernPost(gw.mcpUrl('everything'), 'tools/list', {}, { 'x-body-version': '2099-01-01' });
      expect([status, body.error.code]).toEqual([400, -32020]);
    });

    it('answers an unknown method with 404 and -32601', async () => {
      const { status, body } = await modernPost(gw.mcpUrl('everything'), 'tools/frobnicate');
      expect(status).toBe(404);
      expect(body.error.code).toBe(-32601);
    });

    it('answers GET and DELETE of a modern client with 405', async () => {
      for (const method of ['GET', 'DELETE']) {
        const response = await fetch(gw.mcpUrl('everything'), { method, headers: { accept: 'text/event-stream', 'mcp-protocol-version': V } });
        expect(response.status).toBe(405);
      }
    });
  });
});

describe('a modern (SDK v2) stdio server', () => {
  let gw: TestGateway;
  const marker = newMarker('modern-upstream');

  beforeAll(async () => {
    gw = await startGateway({
      gateway: { logLevel: 'error' },
      servers: {
        modern: { command: process.execPath, args: [MODERN_FIXTURE, marker], policy: 'per-session' },
        'modern-only': { command: process.execPath, args: [MODERN_ONLY_FIXTURE, marker] },
        dual: { command: process.execPath, args: [MODERN_FIXTURE, marker], pool: { min: 1, max: 1 } },
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('is detected as modern and relayed to modern clients, MRTR included', async () => {
    const ready = (await (await fetch(`${gw.url}/ready`)).json()) as { servers: Record<string, unknown> };
    expect(ready.servers.modern).toMatchObject({ state: 'ready', era: 'modern' });
    const client = modernClient({ elicitation: {} });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { ok: true } }));
    await client.connect(new ModernTransport(gw.mcpUrl('modern')));
    try {
      expect(client.getProtocolEra()).toBe('modern');
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toBe('echo(modern): hi');
      expect(textOf(await client.callTool({ name: 'confirm', arguments: { what: 'deploy' } }))).toContain('confirmed deploy');
    } finally {
      await client.close();
    }
  });

  it('turns a modern server\'s input_required into an elicitation request to a legacy client, and retries for it', async () => {
    const asked: string[] = [];
    const { client } = await connectStreamable(gw.mcpUrl('modern-only'), { elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: { ok: true } };
    });
    try {
      const result = await client.callTool({ name: 'confirm', arguments: { what: 'release' } });
      expect(asked).toEqual(['Confirm release?']);
      expect(textOf(result)).toBe('modern-only confirmed release: {"action":"accept","content":{"ok":true}}');
    } finally {
      await client.close();
    }
  });

  it('GIVEN a dual-era server under the default pool policy THEN legacy sessions are served by children in the legacy era, and modern clients by the modern pool', async () => {
    const legacy = await connectStreamable(gw.mcpUrl('dual'));
    const modern = modernClient();
    await modern.connect(new ModernTransport(gw.mcpUrl('dual')));
    try {
      expect(textOf(await legacy.client.callTool({ name: 'echo', arguments: { message: 'a' } }))).toBe('echo(legacy): a');
      expect(textOf(await modern.callTool({ name: 'echo', arguments: { message: 'b' } }))).toBe('echo(modern): b');
    } finally {
      await legacy.client.close();
      await modern.close();
    }
  });

  it('serves an HTTP+SSE (2024-11-05) client of a modern-only server through the bridge, input requests included', async () => {
    const { client } = await connectSse(new URL(`${gw.url}/servers/modern-only/sse`), { elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: true } }));
    try {
      expect(client.getServerVersion()?.name).toBe('modern-only-fixture');
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'sse' } }))).toBe('modern-only: sse');
      expect(textOf(await client.callTool({ name: 'confirm', arguments: { what: 'it' } }))).toContain('modern-only confirmed it');
    } finally {
      await client.close();
    }
  });

  it('serves legacy clients (SDK v1, SDK v2 in legacy mode) through the bridge, even when the server refuses initialize', async () => {
    const ready = (await (await fetch(`${gw.url}/ready`)).json()) as { servers: Record<string, unknown> };
    expect(ready.servers['modern-only']).toMatchObject({ state: 'ready', era: 'modern' });
    const v1 = await connectStreamable(gw.mcpUrl('modern-only'));
    const v2 = new ModernClient({ name: 'legacy-mode', version: '1.0.0' });
    await v2.connect(new ModernTransport(gw.mcpUrl('modern-only')));
    try {
      expect(v1.client.getServerVersion()?.name).toBe('modern-only-fixture');
      expect(textOf(await v1.client.callTool({ name: 'echo', arguments: { message: 'old' } }))).toBe('modern-only: old');
      expect((await v1.client.listTools()).tools.map((t) => t.name)).toEqual(['echo', 'confirm']);
      expect(v2.getProtocolEra()).toBe('legacy');
      expect(textOf(await v2.callTool({ name: 'echo', arguments: { message: 'v2' } }))).toBe('modern-only: v2');
      // A dual-era server under per-session answers initialize itself: its legacy sessions get their own child.
      const dual = await connectStreamable(gw.mcpUrl('modern'));
      expect(textOf(await dual.client.callTool({ name: 'echo', arguments: { message: 'x' } }))).toBe('echo(legacy): x');
      await dual.client.close();
    } finally {
      await v1.client.close();
      await v2.close();
    }
  });
});
