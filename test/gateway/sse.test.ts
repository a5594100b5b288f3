import { CreateMessageRequestSchema, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectSse,
  CRASHY_ENTRY,
  EVERYTHING_ENTRY,
  newMarker,
  processesWithMarker,
  startGateway,
  textOf,
  waitFor,
  type TestGateway,
} from './helpers.js';

/**
 * The official SDK v1 client over HTTP+SSE (the 2024-11-05 transport) at
 * `/servers/<name>/sse`, through a real gateway on a real socket.
 */

const marker = newMarker('sse');
let fleet: TestGateway;

beforeAll(async () => {
  fleet = await startGateway({
    servers: {
      everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', marker] },
      crashy: { command: process.execPath, args: [CRASHY_ENTRY, marker] },
    },
  });
});

afterAll(async () => {
  await fleet?.close();
  await waitFor(() => processesWithMarker(marker).length === 0, { what: 'every child of this file to exit' });
});

describe('HTTP+SSE with the SDK v1 SSEClientTransport', () => {
  it('lists tools, calls echo, and relays progress', async () => {
    const { client } = await connectSse(fleet.sseUrl('everything'));
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'trigger-long-running-operation']));
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'over sse' } }))).toBe('Echo: over sse');
      const progress: Progress[] = [];
      const result = await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
        undefined,
        { onprogress: (p) => progress.push(p) },
      );
      expect(textOf(result)).toContain('completed');
      // The SDK client handles notifications a microtask after responses, so the last
      // progress may lose the race with the result that follows it in the same chunk.
      expect(progress.map((p) => p.progress).slice(0, 2)).toEqual([1, 2]);
    } finally {
      await client.close();
    }
  });

  it('reads a resource and gets a prompt', async () => {
    const { client } = await connectSse(fleet.sseUrl('everything'));
    try {
      const { resources } = await client.listResources();
      const read = await client.readResource({ uri: resources[0]!.uri });
      expect(read.contents.length).toBeGreaterThan(0);
      const prompt = await client.getPrompt({ name: 'simple-prompt' });
      expect(prompt.messages.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('carries a sampling round trip', async () => {
    const { client } = await connectSse(fleet.sseUrl('everything'), { sampling: {} });
    try {
      client.setRequestHandler(CreateMessageRequestSchema, async () => ({
        model: 'test-model',
        role: 'assistant',
        content: { type: 'text', text: 'sampled over sse' },
      }));
      const result = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
      expect(textOf(result)).toContain('sampled over sse');
    } finally {
      await client.close();
    }
  });

  it('cancels a call when the client aborts, and the session keeps working', async () => {
    const { client } = await connectSse(fleet.sseUrl('everything'));
    try {
      const abort = new AbortController();
      let firstProgress!: () => void;
      const progressed = new Promise<void>((resolve) => (firstProgress = resolve));
      const call = client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 60, steps: 600 } },
        undefined,
        { signal: abort.signal, onprogress: () => firstProgress() },
      );
      await progressed;
      abort.abort('cancelled by the test');
      await expect(call).rejects.toThrow();
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after cancel' } }))).toBe('Echo: after cancel');
    } finally {
      await client.close();
    }
  });

  it('ends the session and stops its child when the client closes the stream', async () => {
    const { client } = await connectSse(fleet.sseUrl('crashy'));
    await client.callTool({ name: 'echo', arguments: { message: 'x' } });
    expect(fleet.gateway.sessionCount('crashy')).toBe(1);
    await client.close();
    await waitFor(() => fleet.gateway.sessionCount('crashy') === 0, { what: 'the SSE session to end' });
  });

  it('fails a call whose child crashes with an error naming the server and its exit code (never its stderr), and keeps serving', async () => {
    const doomed = await connectSse(fleet.sseUrl('crashy'));
    const bystander = await connectSse(fleet.sseUrl('crashy'));
    try {
      const error = await doomed.client.callTool({ name: 'crash', arguments: {} }).then(
        () => new Error('the call succeeded'),
        (e: unknown) => e as Error,
      );
      expect(error.message).toContain('"crashy"');
      expect(error.message).toContain('exited with code 3');
      expect(error.message).not.toContain('the disk is made of cheese');
      expect(textOf(await bystander.client.callTool({ name: 'echo', arguments: { message: 'alive' } }))).toBe('echo: alive');
    } finally {
      await doomed.client.close();
      await bystander.client.close();
    }
  });
});
