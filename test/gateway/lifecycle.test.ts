import { McpError } from '@modelcontextprotocol/sdk/types.js';
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
  processGone,
  rpcMessagesOf,
  startGateway,
  textOf,
  waitFor,
  type TestGateway,
} from './helpers.js';

/**
 * Lives and deaths of children: a crash mid-call, DELETE, idle reaping and
 * request timeouts, each checked from the client's side and in `/proc`.
 */

const marker = newMarker('lifecycle');
let fleet: TestGateway;

beforeAll(async () => {
  fleet = await startGateway({
    servers: {
      crashy: { command: process.execPath, args: [CRASHY_ENTRY, marker], policy: 'per-session' },
      slow: { command: process.execPath, args: [CRASHY_ENTRY, marker], requestTimeoutSeconds: 0.5 },
    },
  });
});

afterAll(async () => {
  await fleet?.close();
  await waitFor(() => processesWithMarker(marker).length === 0, { what: 'every child of this file to exit' });
});

/** A gateway of one crashy server with its own marker and no probe child, so `/proc` shows only session children. */
async function isolatedGateway(
  label: string,
  gateway: Record<string, unknown> = {},
  server: Record<string, unknown> = {},
): Promise<{ fleet: TestGateway; marker: string }> {
  const own = newMarker(label);
  const started = await startGateway(
    { gateway, servers: { crashy: { command: process.execPath, args: [CRASHY_ENTRY, own], policy: 'per-session', spares: 0, ...server } } },
    { probe: false },
  );
  return { fleet: started, marker: own };
}

describe('a child that crashes mid-call', () => {
  it('fails the call with an error naming the server and its exit code (never its stderr), keeps serving others, and the session is gone', async () => {
    const doomed = await connectStreamable(fleet.mcpUrl('crashy'));
    const bystander = await connectStreamable(fleet.mcpUrl('crashy'));
    const sessionId = doomed.transport.sessionId as string;
    try {
      const error = await doomed.client.callTool({ name: 'crash', arguments: {} }).then(
        () => new Error('the call succeeded'),
        (e: unknown) => e as Error,
      );
      expect(error).toBeInstanceOf(McpError);
      expect((error as McpError).code).toBe(-32000);
      expect(error.message).toContain('MCP server "crashy" exited with code 3');
      expect(error.message).toContain('exited with code 3');
      expect(error.message).not.toContain('the disk is made of cheese');
      // Still serving, flagged for operators.
      const ready = await fetch(`${fleet.url}/ready`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { servers: Record<string, { state: string }> }).servers['crashy']?.state).toBe('degraded');

      expect(textOf(await bystander.client.callTool({ name: 'echo', arguments: { message: 'still serving' } }))).toBe(
        'echo: still serving',
      );

      const after = await httpRequest(fleet.mcpUrl('crashy'), {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': sessionId },
        body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list' }),
      });
      expect(after.status).toBe(404);
      // A fresh session on the same server works.
      const fresh = await connectStreamable(fleet.mcpUrl('crashy'));
      expect(textOf(await fresh.client.callTool({ name: 'echo', arguments: { message: 'new' } }))).toBe('echo: new');
      await fresh.transport.terminateSession();
      await fresh.client.close();
    } finally {
      await doomed.client.close();
      await bystander.transport.terminateSession();
      await bystander.client.close();
    }
  });
});

describe('ending sessions', () => {
  it('DELETE stops the session child: its process is gone', async () => {
    const { fleet: own, marker: ownMarker } = await isolatedGateway('delete');
    try {
      const { client, transport } = await connectStreamable(own.mcpUrl('crashy'));
      await client.callTool({ name: 'echo', arguments: { message: 'x' } });
      const pids = processesWithMarker(ownMarker);
      expect(pids).toHaveLength(1);
      await transport.terminateSession();
      // Polled by pid: the marker leaves /proc/<pid>/cmdline a moment before the pid is reaped.
      await waitFor(() => processGone(pids[0]!), { timeoutMs: 10_000, what: `child ${pids[0]} to exit after DELETE` });
      expect(processesWithMarker(ownMarker)).toEqual([]);
      await client.close();
    } finally {
      await own.close();
    }
  });

  it('answers DELETE without waiting for a busy child to stop, then stops it', async () => {
    // server-everything with an operation running does not exit on stdin end: the
    // gateway's stop sequence needs its SIGTERM step, two seconds in.
    const own = newMarker('delete-busy');
    const busy = await startGateway(
      { servers: { everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', own], policy: 'per-session', spares: 0 } } },
      { probe: false },
    );
    try {
      const { client, transport } = await connectStreamable(busy.mcpUrl('everything'));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const call = client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 60, steps: 600 } },
        undefined,
        { onprogress: () => started() },
      );
      // The call fails as soon as the session ends, which may be before DELETE's answer reaches the test.
      const outcome = call.then(
        () => 'answered',
        (e: Error) => e.message,
      );
      await running;
      await transport.terminateSession();
      // Answered while the child still runs its stop sequence.
      expect(processesWithMarker(own)).toHaveLength(1);
      expect(await outcome).toMatch(/client ended the session/);
      await waitFor(() => processesWithMarker(own).length === 0, { timeoutMs: 10_000, what: 'the busy child to be stopped' });
      await client.close();
    } finally {
      await busy.close();
    }
  });

  it('reaps a session idle past sessionIdleTimeoutSeconds and stops its child', async () => {
    const { fleet: own, marker: ownMarker } = await isolatedGateway('idle', { sessionIdleTimeoutSeconds: 0.5 });
    try {
      // A raw client: it opens no GET stream, which would keep the session busy.
      const opened = await httpRequest(own.mcpUrl('crashy'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
      expect(opened.status).toBe(200);
      const id = String(opened.headers['mcp-session-id']);
      expect(processesWithMarker(ownMarker)).toHaveLength(1);
      await waitFor(() => own.gateway.sessionCount('crashy') === 0, { timeoutMs: 10_000, what: 'the idle session to be reaped' });
      await waitFor(() => processesWithMarker(ownMarker).length === 0, { timeoutMs: 10_000, what: 'the reaped child to exit' });
      const after = await httpRequest(own.mcpUrl('crashy'), {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': id },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
      expect(after.status).toBe(404);
    } finally {
      await own.close();
    }
  });

  it('does not reap a session while a request is in flight', async () => {
    // The gateway's own timeout (4 idle periods later) ends the call: until then the
    // reaper ran several rounds with the call open, and the session must have survived.
    const { fleet: own } = await isolatedGateway('busy', { sessionIdleTimeoutSeconds: 0.5 }, { requestTimeoutSeconds: 2 });
    try {
      const opened = await httpRequest(own.mcpUrl('crashy'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
      const id = String(opened.headers['mcp-session-id']);
      const post = (body: unknown) =>
        httpRequest(own.mcpUrl('crashy'), { method: 'POST', headers: { ...POST_HEADERS, 'mcp-session-id': id }, body: JSON.stringify(body) });
      const hung = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'hang', arguments: {} } });
      expect(rpcMessagesOf(hung)[0]).toMatchObject({ id: 2, error: { message: expect.stringContaining('timed out') } });
      const echoed = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: 'kept' } } });
      expect(echoed.status).toBe(200);
      expect(rpcMessagesOf(echoed)[0]).toMatchObject({ id: 3, result: { content: [{ text: 'echo: kept' }] } });
    } finally {
      await own.close();
    }
  });
});

describe('request timeouts', () => {
  it('answers an HTTP+SSE request the child never answers with a timeout error, and the session keeps working', async () => {
    const { client } = await connectSse(fleet.sseUrl('slow'));
    try {
      const error = await client.callTool({ name: 'hang', arguments: {} }, undefined, { timeout: 10_000 }).then(
        () => new Error('the call succeeded'),
        (e: unknown) => e as Error,
      );
      expect(error.message).toContain('timed out after 0.5s');
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after timeout' } }))).toBe('echo: after timeout');
    } finally {
      await client.close();
    }
  });

  it('answers a request the child never answers with a timeout error, and the session keeps working', async () => {
    const opened = await httpRequest(fleet.mcpUrl('slow'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
    const id = String(opened.headers['mcp-session-id']);
    try {
      const hung = await httpRequest(fleet.mcpUrl('slow'), {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': id },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'hang', arguments: {} } }),
      });
      expect(hung.status).toBe(200);
      expect(rpcMessagesOf(hung)[0]).toMatchObject({ id: 7, error: { code: ErrorCode.RequestTimeout, message: expect.stringContaining('timed out after 0.5s') } });
      const echoed = await httpRequest(fleet.mcpUrl('slow'), {
        method: 'POST',
        headers: { ...POST_HEADERS, 'mcp-session-id': id },
        body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'echo', arguments: { message: 'ok' } } }),
      });
      expect(rpcMessagesOf(echoed)[0]).toMatchObject({ id: 8, result: { content: [{ type: 'text', text: 'echo: ok' }] } });
    } finally {
      await httpRequest(fleet.mcpUrl('slow'), { method: 'DELETE', headers: { 'mcp-session-id': id } });
    }
  });
});
