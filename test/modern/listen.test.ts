import { join } from 'node:path';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODERN_REVISION, modernRequest, newMarker, processesWithMarker, REPO_ROOT, startGateway, textOf, waitFor, within, type TestGateway } from '../gateway/helpers.js';

/**
 * `subscriptions/listen` (2026-07-28) through the gateway: the child's
 * acknowledgement reaches the client, and open listen streams do not take the
 * request slots other callers need.
 */

const MODERN = join(REPO_ROOT, 'test', 'fixtures', 'modern-server.mjs');
const CHANNEL = join(REPO_ROOT, 'test', 'fixtures', 'channel-server.mjs');
const STRING_SUBSCRIPTION = join(REPO_ROOT, 'test', 'fixtures', 'string-subscription-server.mjs');

describe('subscriptions/listen', () => {
  let gw: TestGateway;
  const marker = newMarker('listen');

  beforeAll(async () => {
    gw = await startGateway({
      gateway: { logLevel: 'error', limits: { maxInFlightPerChild: 1, maxQueuedPerChild: 0 } },
      servers: {
        modern: { command: process.execPath, args: [MODERN, marker], pool: { min: 1, max: 1 } },
        legacy: { command: process.execPath, args: [CHANNEL, marker], pool: { min: 1, max: 1 } },
        stringy: { command: process.execPath, args: [STRING_SUBSCRIPTION, marker], pool: { min: 1, max: 1 } },
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  for (const server of ['modern', 'stringy']) {
    it(`GIVEN a modern stdio server${server === 'stringy' ? ' that writes subscription ids as strings' : ''} WHEN an SDK v2 client listens through the gateway THEN it gets the child's acknowledgement`, async () => {
      const client = new ModernClient({ name: 'listen-e2e', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
      await client.connect(new ModernTransport(gw.mcpUrl(server)));
      try {
        const subscription = await within(client.listen({ toolsListChanged: true }), 15_000, 'the listen acknowledgement');
        expect(subscription.honoredFilter).toMatchObject({ toolsListChanged: true });
      } finally {
        await client.close();
      }
    });
  }

  for (const server of ['modern', 'legacy']) {
    it(`GIVEN one request slot per child and three open listen streams on ${server} THEN a tools/call is still served`, async () => {
      const streams = Array.from({ length: 3 }, () => new AbortController());
      try {
        const opened = streams.map(async (abort, i) => {
          const response = await fetch(gw.mcpUrl(server), {
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
              id: `listen-${i}`,
              method: 'subscriptions/listen',
              params: {
                notifications: { toolsListChanged: true },
                _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN_REVISION, 'io.modelcontextprotocol/clientCapabilities': {} },
              },
            }),
          });
          expect(response.status).toBe(200);
          // Read up to the acknowledgement, then keep the stream open.
          const reader = response.body!.getReader();
          let text = '';
          while (!text.includes('acknowledged')) {
            const { value, done } = await reader.read();
            if (done) break;
            text += new TextDecoder().decode(value);
          }
          return text;
        });
        for (const text of await within(Promise.all(opened), 10_000, 'three listen acknowledgements')) expect(text).toContain('acknowledged');
        const call = await modernRequest(gw.mcpUrl(server), 'tools/call', { params: { name: 'echo', arguments: { message: 'not starved' } } });
        expect(call.status).toBe(200);
        expect(textOf(call.final?.result)).toMatch(/not starved/);
      } finally {
        for (const abort of streams) abort.abort();
      }
    });
  }
});
