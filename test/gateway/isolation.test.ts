import { connect } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/gateway/auth/index.js';
import {
  connectStreamable,
  httpRequest,
  initializeBody,
  modernRequest,
  newMarker,
  POST_HEADERS,
  processesWithMarker,
  REPO_ROOT,
  recordingLogger,
  startGateway,
  textOf,
  waitFor,
  within,
  type TestGateway,
} from './helpers.js';

/**
 * What one caller may see of another when they share a child: nothing. Replies,
 * server-to-client requests, progress and sessions are routed by the request that
 * caused them; what cannot be attributed is refused, never handed to a guess; a
 * session or a multi-round-trip state belongs to the principal that opened it.
 */

const CHANNEL = join(REPO_ROOT, 'test', 'fixtures', 'channel-server.mjs');
const HOSTILE = join(REPO_ROOT, 'test', 'fixtures', 'hostile-server.mjs');
const LEGACY = join(REPO_ROOT, 'test', 'fixtures', 'legacy-server.mjs');
const KEY_A = 'mcpf_isolation-test-key-alice-0000000000000';
const KEY_B = 'mcpf_isolation-test-key-bob-00000000000000000';

/** An SDK v1 client sending `key` as a bearer token. */
async function clientWith(url: URL, key: string | undefined, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: 'isolation', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(url, key ? { requestInit: { headers: { authorization: `Bearer ${key}` } } } : {});
  await client.connect(transport);
  return client;
}

describe('a shared child serves several callers without crossing them', () => {
  let gw: TestGateway;
  const marker = newMarker('isolation');
  const logger = recordingLogger();

  beforeAll(async () => {
    gw = await startGateway(
      {
        gateway: { logLevel: 'debug' },
        servers: {
          shared: { command: process.execPath, args: [CHANNEL, marker], policy: 'shared' },
          hostile: { command: process.execPath, args: [HOSTILE, marker], policy: 'shared' },
        },
      },
      { logger },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('GIVEN two callers in flight WHEN the child elicits THEN the other caller never sees the question; the ambiguous request is refused', async () => {
    const seenByA: string[] = [];
    const seenByB: string[] = [];
    const a = await clientWith(new URL(`${gw.url}/servers/shared/mcp`), undefined, { elicitation: {} });
    const b = await clientWith(new URL(`${gw.url}/servers/shared/mcp`), undefined, { elicitation: {} });
    a.setRequestHandler(ElicitRequestSchema, async (r) => {
      seenByA.push(r.params.message);
      return { action: 'accept', content: { answer: 'from A' } };
    });
    b.setRequestHandler(ElicitRequestSchema, async (r) => {
      seenByB.push(r.params.message);
      return { action: 'accept', content: { answer: 'from B' } };
    });
    const abort = new AbortController();
    try {
      // A holds a call open on the shared child; B's call then asks for input.
      const held = a.callTool({ name: 'slow', arguments: { tag: 'A' } }, undefined, { signal: abort.signal }).catch(() => undefined);
      await waitFor(async () => textOf(await b.callTool({ name: 'waiting', arguments: {} })).includes('"A"'), { what: 'A in flight' });
      const outcome = await within(
        b.callTool({ name: 'ask', arguments: { tag: 'B' } }).then(
          (r) => ({ ok: true as const, text: textOf(r), isError: r.isError === true }),
          (e: Error) => ({ ok: false as const, text: e.message, isError: true }),
        ),
        15_000,
        'the ask call to end',
      );
      expect(seenByA).toEqual([]);
      // Nobody can tell whose call asked: refused, so B's call ends in an error.
      expect(outcome.isError).toBe(true);
      abort.abort();
      await held;
      // Alone on the child, B's question reaches B.
      expect(textOf(await b.callTool({ name: 'ask', arguments: { tag: 'B' } }))).toBe('B got {"answer":"from B"} (accept)');
      expect(seenByB).toEqual(['question for B']);
      expect(seenByA).toEqual([]);
    } finally {
      abort.abort();
      await a.close();
      await b.close();
    }
  });

  it('GIVEN 32 concurrent callers that each get a sampling request mid-call THEN no caller ever sees another one\'s prompt or reply', async () => {
    const clients = await Promise.all(
      Array.from({ length: 32 }, async (_, i) => {
        const tag = `caller-${i}`;
        const client = await clientWith(new URL(`${gw.url}/servers/shared/mcp`), undefined, { sampling: {} });
        const prompts: string[] = [];
        client.setRequestHandler(CreateMessageRequestSchema, async (r) => {
          const content = r.params.messages[0]?.content as { type?: string; text?: string } | undefined;
          prompts.push(content?.type === 'text' ? String(content.text) : '?');
          return { role: 'assistant', model: 'test', content: { type: 'text', text: tag } };
        });
        return { tag, client, prompts };
      }),
    );
    try {
      const outcomes = await within(
        Promise.all(
          clients.map(({ tag, client }) =>
            client.callTool({ name: 'sample', arguments: { tag } }).then(
              (r) => ({ tag, text: textOf(r), error: r.isError === true }),
              (e: Error) => ({ tag, text: e.message, error: true }),
            ),
          ),
        ),
        60_000,
        '32 sampling calls',
      );
      for (const { tag, prompts } of clients) for (const prompt of prompts) expect(prompt).toBe(`prompt for ${tag}`);
      for (const { tag, text, error } of outcomes) {
        if (!error) expect(text).toBe(`${tag} sampled ${tag}`);
        else expect(text).not.toMatch(/caller-\d+ sampled/);
      }
    } finally {
      await Promise.all(clients.map(({ client }) => client.close()));
    }
  });

  it('GIVEN two callers WHEN both get progress THEN each sees only its own', async () => {
    const a = await clientWith(new URL(`${gw.url}/servers/shared/mcp`), undefined);
    const b = await clientWith(new URL(`${gw.url}/servers/shared/mcp`), undefined);
    const seen: Record<string, string[]> = { A: [], B: [] };
    try {
      await Promise.all(
        (['A', 'B'] as const).map((tag) =>
          (tag === 'A' ? a : b).callTool({ name: 'progress', arguments: { tag, steps: 20 } }, undefined, {
            onprogress: (p) => void seen[tag]!.push(String(p.message)),
          }),
        ),
      );
      expect(seen['A']).toHaveLength(20);
      expect(seen['B']).toHaveLength(20);
      expect(seen['A']!.every((m) => m.startsWith('A '))).toBe(true);
      expect(seen['B']!.every((m) => m.startsWith('B '))).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('GIVEN a shared child WHEN a client aborts a call THEN notifications/cancelled reaches the child', async () => {
    const client = await clientWith(new URL(`${gw.url}/servers/shared/mcp`), undefined);
    const abort = new AbortController();
    try {
      const call = client.callTool({ name: 'slow', arguments: { tag: 'cancel-me' } }, undefined, { signal: abort.signal }).catch(() => 'aborted');
      await waitFor(async () => textOf(await client.callTool({ name: 'waiting', arguments: {} })).includes('cancel-me'), { what: 'the call to start' });
      abort.abort();
      await call;
      await waitFor(async () => textOf(await client.callTool({ name: 'cancelled', arguments: {} })).includes('cancel-me'), {
        what: 'the child to see the cancellation',
      });
    } finally {
      await client.close();
    }
  });

  it('GIVEN a child that answers with forged ids ("7", [7], "0x7", "7e0") THEN the waiting caller never gets them, and an id nobody asked for is logged and dropped', async () => {
    const a = await clientWith(new URL(`${gw.url}/servers/hostile/mcp`), undefined);
    const b = await clientWith(new URL(`${gw.url}/servers/hostile/mcp`), undefined);
    try {
      const held = a.callTool({ name: 'hang', arguments: {} });
      let answered = false;
      void held.then(() => (answered = true));
      // The forged answers go out before B's own answer, on the same pipe.
      await waitFor(async () => textOf(await b.callTool({ name: 'spoof', arguments: {} })) === 'spoofed 1', { what: 'the spoof to run' });
      expect(answered).toBe(false);
      expect(textOf(await b.callTool({ name: 'release', arguments: {} }))).toBe('released all');
      expect(textOf(await within(held, 10_000, 'the released call'))).toBe('released');
      expect(logger.records.some((r) => /no call waits for/i.test(r.message))).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('a session and a requestState belong to the principal that opened them', () => {
  let gw: TestGateway;
  const marker = newMarker('isolation-auth');

  beforeAll(async () => {
    gw = await startGateway({
      gateway: {
        logLevel: 'error',
        auth: {
          apiKeys: [
            { name: 'alice', sha256: sha256Hex(KEY_A) },
            { name: 'bob', sha256: sha256Hex(KEY_B) },
          ],
        },
      },
      servers: {
        shared: { command: process.execPath, args: [CHANNEL, marker], policy: 'shared', maxSessions: 2 },
        pooled: { command: process.execPath, args: [CHANNEL, marker], policy: 'pool', pool: { min: 1, max: 2 } },
        legacy: { command: process.execPath, args: [LEGACY, marker], policy: 'pool', pool: { min: 1, max: 1 } },
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  async function openSession(server: string, key: string): Promise<string> {
    const response = await httpRequest(`${gw.url}/servers/${server}/mcp`, {
      method: 'POST',
      headers: { ...POST_HEADERS, authorization: `Bearer ${key}` },
      body: initializeBody(1, '2025-06-18'),
    });
    expect(response.status).toBe(200);
    return String(response.headers['mcp-session-id']);
  }

  for (const server of ['shared', 'pooled']) {
    it(`GIVEN policy ${server === 'shared' ? 'shared' : 'pool'} WHEN another key presents a session id THEN POST, GET and DELETE answer 404, and the owner keeps its session`, async () => {
      const id = await openSession(server, KEY_A);
      const url = `${gw.url}/servers/${server}/mcp`;
      const as = (key: string): Record<string, string> => ({
        ...POST_HEADERS,
        authorization: `Bearer ${key}`,
        'mcp-session-id': id,
        'mcp-protocol-version': '2025-06-18',
      });
      const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      expect((await httpRequest(url, { method: 'POST', headers: as(KEY_B), body: list })).status).toBe(404);
      expect((await httpRequest(url, { method: 'GET', headers: { ...as(KEY_B), accept: 'text/event-stream' } })).status).toBe(404);
      expect((await httpRequest(url, { method: 'DELETE', headers: as(KEY_B) })).status).toBe(404);
      const own = await httpRequest(url, { method: 'POST', headers: as(KEY_A), body: list });
      expect(own.status).toBe(200);
      expect((await httpRequest(url, { method: 'DELETE', headers: as(KEY_A) })).status).toBe(200);
    });
  }

  it('GIVEN policy shared and maxSessions 2 WHEN a third session opens THEN 503 with Retry-After, and a closed one frees a place', async () => {
    const first = await openSession('shared', KEY_A);
    await openSession('shared', KEY_B);
    const third = await httpRequest(`${gw.url}/servers/shared/mcp`, {
      method: 'POST',
      headers: { ...POST_HEADERS, authorization: `Bearer ${KEY_B}` },
      body: initializeBody(1, '2025-06-18'),
    });
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBeDefined();
    await httpRequest(`${gw.url}/servers/shared/mcp`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${KEY_A}`, 'mcp-session-id': first, 'mcp-protocol-version': '2025-06-18' },
    });
    await openSession('shared', KEY_B);
  });

  it('GIVEN an input_required answer to one key WHEN another key retries with its requestState THEN it is refused, and the owner completes the call', async () => {
    const url = new URL(`${gw.url}/servers/legacy/mcp`);
    const params = { name: 'ask', arguments: { question: 'whose?' } };
    const first = await modernRequest(url, 'tools/call', {
      params,
      capabilities: { elicitation: {} },
      headers: { authorization: `Bearer ${KEY_A}` },
    });
    expect(first.final?.result?.resultType).toBe('input_required');
    const state = first.final?.result?.requestState as string;
    const [inputKey] = Object.keys(first.final?.result?.inputRequests ?? {});
    const retry = { ...params, requestState: state, inputResponses: { [inputKey!]: { action: 'accept', content: { answer: 'bob' } } } };
    const stolen = await modernRequest(url, 'tools/call', { params: retry, capabilities: { elicitation: {} }, headers: { authorization: `Bearer ${KEY_B}` } });
    expect(stolen.final?.error?.code).toBe(-32602);
    expect(JSON.stringify(stolen.final)).not.toContain('bob');
    const owner = await modernRequest(url, 'tools/call', {
      params: { ...retry, inputResponses: { [inputKey!]: { action: 'accept', content: { answer: 'alice' } } } },
      capabilities: { elicitation: {} },
      headers: { authorization: `Bearer ${KEY_A}` },
    });
    expect(textOf(owner.final?.result)).toBe('answer: {"answer":"alice"} (accept)');
  });
});

describe('request targets the gateway cannot route', () => {
  let gw: TestGateway;
  const marker = newMarker('isolation-target');

  beforeAll(async () => {
    gw = await startGateway({ gateway: { logLevel: 'error' }, servers: { echo: { command: process.execPath, args: [CHANNEL, marker] } } });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  /** Sends raw bytes and resolves with the status line. */
  function rawStatus(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(gw.port, '127.0.0.1', () => socket.write(text));
      let got = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        got += d;
        if (got.includes('\r\n')) {
          resolve(got.slice(0, got.indexOf('\r\n')));
          socket.destroy();
        }
      });
      socket.on('error', reject);
      socket.on('end', () => resolve(got.split('\r\n')[0] ?? ''));
    });
  }

  it('answers an absolute-form target naming another host, and a malformed Host, with 400, not 500', async () => {
    const body = initializeBody();
    const head = (target: string, host: string): string =>
      `POST ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    expect(await rawStatus(head('http://evil.example/servers/echo/mcp', `127.0.0.1:${gw.port}`))).toMatch(/^HTTP\/1\.1 (400|403)/);
    expect(await rawStatus(head('/servers/echo/mcp', '[::1'))).toMatch(/^HTTP\/1\.1 400/);
    expect(await rawStatus(head('/servers/echo/mcp', 'a b'))).toMatch(/^HTTP\/1\.1 400/);
    // And the gateway still serves.
    const { client } = await connectStreamable(gw.mcpUrl('echo'));
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'still here' } }))).toBe('echo: still here');
    await client.close();
  });
});
