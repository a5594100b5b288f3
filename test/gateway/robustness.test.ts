import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequestRaw, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usedAfterCollection } from '../heap.js';
import {
  connectSse,
  connectStreamable,
  CRASHY_ENTRY,
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
 * A child that misbehaves (huge lines, floods, silence, failing to start) or a
 * client that misbehaves (stops reading, sends what cannot be re-encoded) costs
 * the gateway bounded time and memory, and never anyone else's service.
 */

const CHANNEL = join(REPO_ROOT, 'test', 'fixtures', 'channel-server.mjs');
const HOSTILE = join(REPO_ROOT, 'test', 'fixtures', 'hostile-server.mjs');
const MiB = 1024 * 1024;

describe('a child that writes one very large line', () => {
  let gw: TestGateway;
  const marker = newMarker('bigline');
  const logger = recordingLogger();

  beforeAll(async () => {
    gw = await startGateway(
      {
        gateway: { logLevel: 'debug', maxBodyBytes: 64 * MiB },
        servers: {
          capped: { command: process.execPath, args: [HOSTILE, marker], policy: 'shared' },
          roomy: { command: process.execPath, args: [CHANNEL, marker], policy: 'shared', maxMessageBytes: 64 * MiB },
          other: { command: process.execPath, args: [CHANNEL, marker], policy: 'shared' },
        },
      },
      { logger },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('GIVEN a line past servers.<name>.maxMessageBytes THEN that call fails with a clear error, the child is replaced, and other servers answer meanwhile', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('capped'));
    const { client: other } = await connectStreamable(gw.mcpUrl('other'));
    try {
      const big = client.callTool({ name: 'bigline', arguments: { mb: 40 } }).then(
        (r) => textOf(r),
        (e: Error) => e.message,
      );
      // Another server answers while the big line streams in.
      for (let i = 0; i < 5; i++) {
        expect(textOf(await within(other.callTool({ name: 'echo', arguments: { message: `m${i}` } }), 5_000, 'an echo on another server'))).toBe(`echo: m${i}`);
      }
      expect(await within(big, 20_000, 'the oversized answer to fail')).toMatch(/larger than|maxMessageBytes/);
      expect(logger.records.some((r) => r.level === 'warn' && /maxMessageBytes|too large/i.test(r.message + JSON.stringify(r.fields)))).toBe(true);
      // The server still serves (a fresh child).
      await waitFor(async () => {
        const { client: again } = await connectStreamable(gw.mcpUrl('capped'));
        try {
          return (await again.listTools()).tools.length > 0;
        } finally {
          await again.close();
        }
      }, { what: 'the capped server to serve again' });
    } finally {
      await client.close();
      await other.close();
    }
  });

  it('GIVEN a 20 MB answer under the cap THEN it arrives whole, in linear time', async () => {
    const { client } = await connectStreamable(gw.mcpUrl('roomy'));
    try {
      const result = await within(client.callTool({ name: 'big', arguments: { bytes: 20 * MiB } }), 20_000, 'a 20 MB answer');
      expect(textOf(result).length).toBe(20 * MiB);
    } finally {
      await client.close();
    }
  });
});

describe('what clients and probes learn about a child that fails', () => {
  let gw: TestGateway;
  const marker = newMarker('stderr');
  const logger = recordingLogger();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-fleet-starts-'));
  const starts = join(dir, 'starts');

  beforeAll(async () => {
    appendFileSync(starts, '');
    gw = await startGateway(
      {
        gateway: { logLevel: 'debug' },
        servers: {
          // Writes a secret-looking line to stderr and exits: the line is for the log only.
          leaky: { command: process.execPath, args: [CRASHY_ENTRY, '--exit-at-start', marker] },
          // Counts its own starts, then exits at once.
          broken: {
            command: process.execPath,
            args: ['-e', `require('node:fs').appendFileSync(${JSON.stringify(starts)}, 'x\\n'); process.exit(2)`, '--', marker],
          },
        },
      },
      { logger },
    );
  });

  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('keeps stderr out of /ready and of error bodies; it goes to the log, tagged with the server', async () => {
    const ready = await httpRequest(`${gw.url}/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).servers.leaky.state).toBe('failing');
    expect(ready.body).not.toContain('CRASHY_API_KEY');
    const init = await httpRequest(gw.mcpUrl('leaky'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
    expect(init.status).toBeGreaterThanOrEqual(400);
    expect(init.body).toMatch(/leaky/);
    expect(init.body).not.toContain('CRASHY_API_KEY');
    expect(logger.records.some((r) => r.message.includes('CRASHY_API_KEY') && r.fields['server'] === 'leaky')).toBe(true);
  });

  it('GIVEN a server that cannot start THEN every transport is answered at once with the cause, and children are started with backoff, not per request', async () => {
    await waitFor(async () => JSON.parse((await httpRequest(`${gw.url}/ready`)).body).servers.broken.state === 'failing', { what: 'broken to fail' });
    const before = readFileSync(starts, 'utf8').length;
    const began = Date.now();
    for (let i = 0; i < 10; i++) {
      const init = await httpRequest(gw.mcpUrl('broken'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
      expect(init.status).toBe(503);
      expect(init.headers['retry-after']).toBeDefined();
      expect(JSON.parse(init.body).error.message).toMatch(/"broken".*exited with code 2/);
      const modern = await modernRequest(gw.mcpUrl('broken'), 'tools/list');
      expect(modern.status).toBe(503);
      expect(JSON.stringify(modern.final)).toMatch(/exited with code 2/);
    }
    const sse = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequestRaw(gw.sseUrl('broken'), { headers: { accept: 'text/event-stream' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(sse.status).toBe(503);
    expect(sse.body).toMatch(/exited with code 2/);
    expect(Date.now() - began).toBeLessThan(10_000);
    // 21 requests, yet at most a few backoff retries started a child.
    const spawned = (readFileSync(starts, 'utf8').length - before) / 2;
    expect(spawned).toBeLessThanOrEqual(3);
  });
});

describe('a client that stops reading an SSE stream', () => {
  let gw: TestGateway;
  const marker = newMarker('slow-reader');
  /** What the gateway holds when it drops a stream, the moment it logs it (the stream's events are still held). */
  const heldAtDrop: number[] = [];
  const logger = recordingLogger((record) => {
    if (/stream dropped/i.test(record.message)) heldAtDrop.push(usedAfterCollection());
  });

  beforeAll(async () => {
    gw = await startGateway(
      {
        gateway: { logLevel: 'debug', limits: { maxStreamBufferBytes: 2 * MiB } },
        servers: { flood: { command: process.execPath, args: [CHANNEL, marker], policy: 'per-session' } },
      },
      { logger },
    );
    idleChildren = processesWithMarker(marker).length;
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  /** Children of the gateway with no session: its spares. */
  let idleChildren = 0;

  /** Ends a flood's session: its child stops, and what it held goes. */
  async function endSession(session: string): Promise<void> {
    await fetch(gw.mcpUrl('flood'), { method: 'DELETE', headers: { 'mcp-session-id': session } });
  }

  /** Opens a session and asks for `count` progress events of `size` characters on a POST whose answer it never reads. */
  async function floodUnread(count: number, size: number): Promise<{ req: ClientRequest; session: string }> {
    const init = await httpRequest(gw.mcpUrl('flood'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
    const session = String(init.headers['mcp-session-id']);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'flood', arguments: { count, size }, _meta: { progressToken: 'p' } } });
    const req = httpRequestRaw(gw.mcpUrl('flood'), {
      method: 'POST',
      headers: { ...POST_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
    });
    // Takes the head, then never reads the body.
    req.on('response', (res) => res.pause());
    req.on('error', () => {});
    req.end(body);
    return { req, session };
  }

  it('GIVEN a flood of progress WHEN the client does not read THEN the stream is dropped past its buffer limit, with a logged reason, and others are served', async () => {
    const rssBefore = process.memoryUsage().rss;
    const { req, session } = await floodUnread(2000, 64 * 1024);
    const record = await waitFor(() => logger.records.find((r) => /stream dropped|dropped.*stream/i.test(r.message)), {
      what: 'the stream to be dropped',
      timeoutMs: 60_000,
    });
    expect(Number(record.fields['bufferedBytes'])).toBeLessThanOrEqual(2 * MiB + 128 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * MiB);
    req.destroy();
    const { client } = await connectStreamable(gw.mcpUrl('flood'));
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('echo: after');
    await client.close();
    await endSession(session);
  }, 90_000);

  it('GIVEN a flood of tiny progress events WHEN the client does not read THEN the stream is dropped at about its limit in memory, not at its limit in bytes', async () => {
    heldAtDrop.length = 0;
    const before = usedAfterCollection();
    const { req, session } = await floodUnread(40_000, 1);
    await waitFor(() => heldAtDrop.length > 0, { what: 'the stream to be dropped', timeoutMs: 60_000 });
    req.destroy();
    await endSession(session);
    // Counting bytes alone, 2 MiB of events of some 110 bytes held some 800 bytes each: 15 MB, seven times the limit.
    expect(heldAtDrop[0]! - before).toBeLessThan(3 * 2 * MiB);
  }, 90_000);

  it('GIVEN the flood goes on after its stream was dropped WHEN no stream is open THEN what is kept for the next one is bounded by the stream limit in bytes, and the drops are logged once', async () => {
    // The floods before this one have ended, their children with them (the first test's SDK client left its session open).
    await waitFor(() => processesWithMarker(marker).length <= idleChildren + 1, { what: 'the earlier floods to end' });
    const before = usedAfterCollection();
    const { req, session } = await floodUnread(600, 64 * 1024);
    const warnings = (): number => logger.records.filter((r) => r.fields['session'] === session && /oldest w(as|ere) dropped/i.test(r.message)).length;
    await waitFor(() => warnings() > 0, { what: 'a kept message to be dropped', timeoutMs: 60_000 });
    req.destroy();
    // Half a second more of the flood, every message of it dropped (one warning each, before); the cut stream is gone by then.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const held = usedAfterCollection() - before;
    await endSession(session);
    // 200 kept messages of 64 KiB held 13 MB, six times the limit, and each drop after them logged a warning.
    expect(held).toBeLessThan(3 * 2 * MiB);
    expect(warnings()).toBe(1);
  }, 90_000);
});

describe('a request the gateway cannot re-encode, then a drain', () => {
  it('answers it, leaks nothing in flight, and drains without waiting out the grace period', async () => {
    const marker = newMarker('deep');
    const gw = await startGateway({ gateway: { logLevel: 'error' }, servers: { echo: { command: process.execPath, args: [CHANNEL, marker] } } });
    try {
      // 20,000 levels: JSON.parse reads it, JSON.stringify overflows the stack (so the text is written by hand).
      const deep = `${'{"d":'.repeat(20_000)}"bottom"${'}'.repeat(20_000)}`;
      const meta = '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}';
      for (const traceparent of [undefined, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']) {
        const response = await fetch(gw.mcpUrl('echo'), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': '2026-07-28',
            'mcp-method': 'tools/call',
            'mcp-name': 'echo',
            ...(traceparent ? { traceparent } : {}),
          },
          body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"deep","deep":${deep}},${meta}}}`,
        });
        await response.text();
        expect(response.status).toBeLessThan(500);
      }
      const began = Date.now();
      await gw.gateway.drain(20_000);
      expect(Date.now() - began).toBeLessThan(6_000);
    } finally {
      await gw.close();
      await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
    }
  }, 60_000);
});

describe('request timeouts in every policy and era', () => {
  let gw: TestGateway;
  const marker = newMarker('timeouts');

  beforeAll(async () => {
    gw = await startGateway({
      gateway: { logLevel: 'error', limits: { maxInFlightPerChild: 1, maxQueuedPerChild: 0 } },
      servers: {
        pooled: { command: process.execPath, args: [CHANNEL, marker], policy: 'pool', pool: { min: 1, max: 1 }, requestTimeoutSeconds: 1 },
        shared: { command: process.execPath, args: [CHANNEL, marker], policy: 'shared', requestTimeoutSeconds: 1 },
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  for (const server of ['pooled', 'shared']) {
    it(`GIVEN policy ${server === 'pooled' ? 'pool' : 'shared'} WHEN the child never answers THEN a 2026-07-28 call and a 2025 session call time out, and free their slot`, async () => {
      const modern = await within(modernRequest(gw.mcpUrl(server), 'tools/call', { params: { name: 'hang', arguments: {} } }), 10_000, 'a modern timeout');
      expect(modern.final?.error?.message).toMatch(/timed out/i);
      const { client } = await connectStreamable(gw.mcpUrl(server));
      try {
        const legacy = await within(
          client.callTool({ name: 'hang', arguments: {} }).then(
            () => 'answered',
            (e: Error) => e.message,
          ),
          10_000,
          'a legacy timeout',
        );
        expect(legacy).toMatch(/timed out/i);
        // The one slot is free again.
        expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'free' } }))).toBe('echo: free');
      } finally {
        await client.close();
      }
    });
  }

  it('GIVEN an HTTP+SSE client of a shared child THEN its unanswered call times out too', async () => {
    const { client } = await connectSse(gw.sseUrl('shared'));
    try {
      const outcome = await within(
        client.callTool({ name: 'hang', arguments: {} }).then(
          () => 'answered',
          (e: Error) => e.message,
        ),
        10_000,
        'an HTTP+SSE timeout',
      );
      expect(outcome).toMatch(/timed out/i);
    } finally {
      await client.close();
    }
  });
});
