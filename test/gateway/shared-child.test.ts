import { join } from 'node:path';
import { LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStreamable, newMarker, processesWithMarker, REPO_ROOT, startGateway, textOf, waitFor, type TestGateway } from './helpers.js';

/**
 * Legacy sessions on a shared child get what the child says, as it says it: no
 * 2026-07-28 members added to their results, and the session features a relay of
 * one connection would have (log levels, resource subscriptions) work per session.
 */

const CHANNEL = join(REPO_ROOT, 'test', 'fixtures', 'channel-server.mjs');

describe('legacy sessions on a shared child', () => {
  let gw: TestGateway;
  const marker = newMarker('shared-child');

  beforeAll(async () => {
    gw = await startGateway({
      gateway: { logLevel: 'error' },
      servers: {
        shared: { command: process.execPath, args: [CHANNEL, marker], policy: 'shared' },
        pooled: { command: process.execPath, args: [CHANNEL, marker], policy: 'pool', pool: { min: 2, max: 2 } },
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  for (const server of ['shared', 'pooled']) {
    it(`GIVEN policy ${server === 'shared' ? 'shared' : 'pool'} THEN results come back as the child wrote them (no resultType, ttlMs or cacheScope)`, async () => {
      const { client } = await connectStreamable(gw.mcpUrl(server));
      try {
        const listed = (await client.listTools()) as Record<string, unknown>;
        expect(listed).not.toHaveProperty('resultType');
        expect(listed).not.toHaveProperty('ttlMs');
        const called = (await client.callTool({ name: 'echo', arguments: { message: 'as is' } })) as Record<string, unknown>;
        expect(called).toEqual({ content: [{ type: 'text', text: 'echo: as is' }] });
      } finally {
        await client.close();
      }
    });
  }

  it('GIVEN sessions opened one after another, each alone on the shared child WHEN they complete their handshakes THEN the child has heard notifications/initialized once, from the gateway', async () => {
    for (let i = 0; i < 3; i++) {
      const { client } = await connectStreamable(gw.mcpUrl('shared'));
      await client.close();
    }
    const { client } = await connectStreamable(gw.mcpUrl('shared'));
    try {
      expect(textOf(await client.callTool({ name: 'initialized', arguments: {} }))).toBe('1');
    } finally {
      await client.close();
    }
  });

  it('GIVEN two sessions on one child WHEN one subscribes to a resource THEN only that one hears its updates', async () => {
    const a = await connectStreamable(gw.mcpUrl('shared'));
    const b = await connectStreamable(gw.mcpUrl('shared'));
    const heard: Record<string, string[]> = { a: [], b: [] };
    a.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void heard['a']!.push(n.params.uri));
    b.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void heard['b']!.push(n.params.uri));
    try {
      await a.client.subscribeResource({ uri: 'test://counter' });
      expect(textOf(await b.client.callTool({ name: 'subscriptions', arguments: {} }))).toBe('["test://counter"]');
      await b.client.callTool({ name: 'touch', arguments: {} });
      await waitFor(() => heard['a']!.length > 0, { what: 'the update to reach the subscriber' });
      expect(heard['a']).toEqual(['test://counter']);
      // B's own request caused the update, yet it did not subscribe: it hears nothing.
      await b.client.callTool({ name: 'echo', arguments: { message: 'sync' } });
      expect(heard['b']).toEqual([]);
      // The child unsubscribes only when no session holds the subscription.
      await b.client.subscribeResource({ uri: 'test://counter' });
      await a.client.unsubscribeResource({ uri: 'test://counter' });
      expect(textOf(await a.client.callTool({ name: 'subscriptions', arguments: {} }))).toBe('["test://counter"]');
      await b.client.unsubscribeResource({ uri: 'test://counter' });
      expect(textOf(await a.client.callTool({ name: 'subscriptions', arguments: {} }))).toBe('[]');
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  it('GIVEN two sessions with their own log levels THEN each gets the log lines of its calls at its level', async () => {
    const a = await connectStreamable(gw.mcpUrl('shared'));
    const b = await connectStreamable(gw.mcpUrl('shared'));
    const heard: Record<string, string[]> = { a: [], b: [] };
    a.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void heard['a']!.push(String(n.params.data)));
    b.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void heard['b']!.push(String(n.params.data)));
    try {
      await a.client.setLoggingLevel('error');
      await b.client.setLoggingLevel('debug');
      await b.client.callTool({ name: 'log', arguments: { tag: 'b' } });
      await a.client.callTool({ name: 'log', arguments: { tag: 'a' } });
      await waitFor(() => heard['b']!.length > 0, { what: 'b to hear its log line' });
      expect(heard['b']).toEqual(['log for b']);
      // An info line is below a's level, and b's line was b's.
      expect(heard['a']).toEqual([]);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });
});
