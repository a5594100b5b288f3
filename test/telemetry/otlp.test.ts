import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERYTHING_ENTRY, newMarker, recordingLogger, startGateway, textOf, waitFor, type TestGateway } from '../gateway/helpers.js';
import { SpanKindNumber, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

/**
 * Traces of a tools/call through the gateway, exported over OTLP HTTP/protobuf to
 * an in-process receiver: real children (server-everything, a fixture that echoes
 * its `_meta`), a real socket, the official SDK v1 client sending a W3C traceparent.
 */

const META_ENTRY = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'meta-echo-server.mjs');
const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`;
const OTLP_SECRET = 'otlp-secret-value-never-logged';
// A 2026-07-28 request carries its own context in params._meta, which wins over the header.
const META_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const META_SPAN_ID = 'b7ad6b7169203331';

describe('OpenTelemetry export of a tools/call', () => {
  let receiver: OtlpReceiver;
  let fleet: TestGateway;
  const logger = recordingLogger();
  let echoText = '';
  let childMeta: Record<string, unknown> = {};
  let modernChildMeta: Record<string, unknown> = {};
  let unknownToolFailed = false;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const marker = newMarker('otlp');
    fleet = await startGateway(
      {
        gateway: {
          telemetry: { enabled: true, endpoint: receiver.url, serviceName: 'fleet-under-test', headers: { 'x-otlp-key': OTLP_SECRET } },
        },
        servers: {
          everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', marker] },
          meta: { command: process.execPath, args: [META_ENTRY, marker] },
        },
      },
      { logger },
    );
    // GIVEN a client that sends a W3C traceparent header on every request
    const connect = async (server: string): Promise<Client> => {
      const client = new Client({ name: 'otlp-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(fleet.mcpUrl(server), { requestInit: { headers: { traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=abc' } } }));
      return client;
    };
    const everything = await connect('everything');
    const meta = await connect('meta');
    // WHEN it calls echo, and the fixture that shows what its child received
    echoText = textOf(await everything.callTool({ name: 'echo', arguments: { message: 'traced hello' } }));
    childMeta = JSON.parse(textOf(await meta.callTool({ name: 'meta', arguments: {} }))) as Record<string, unknown>;
    // AND a tool the server does not have
    unknownToolFailed = await everything.callTool({ name: 'no-such-tool', arguments: {} }).then(
      (result) => result.isError === true,
      () => true,
    );
    // AND a stateless 2026-07-28 request whose params._meta names another trace than its header
    const modern = await fetch(fleet.mcpUrl('meta'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'meta',
        traceparent: CLIENT_TRACEPARENT,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'modern-1',
        method: 'tools/call',
        params: {
          name: 'meta',
          arguments: {},
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': {},
            traceparent: `00-${META_TRACE_ID}-${META_SPAN_ID}-01`,
          },
        },
      }),
    });
    const modernText = await modern.text();
    const modernJson = (modern.headers.get('content-type')?.includes('text/event-stream') ? modernText.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).pop() : modernText) ?? '{}';
    modernChildMeta = JSON.parse(textOf((JSON.parse(modernJson) as { result?: unknown }).result)) as Record<string, unknown>;
    await everything.close();
    await meta.close();
    // The drain shuts telemetry down, which exports what is buffered.
    await fleet.close();
    await waitFor(() => receiver.spans.some((s) => s.name === 'tools/call meta' && s.kind === SpanKindNumber.client), { what: 'the spans of both calls' });
  }, 60_000);

  afterAll(async () => {
    await receiver?.close();
  });

  const find = (name: string, kind: number): ReceivedSpan => {
    const span = receiver.spans.find((s) => s.name === name && s.kind === kind);
    expect(span, `a ${kind === SpanKindNumber.server ? 'SERVER' : 'CLIENT'} span named "${name}" among ${receiver.spans.map((s) => s.name).join(', ')}`).toBeDefined();
    return span as ReceivedSpan;
  };

  it('answers the call as without telemetry', () => {
    expect(echoText).toBe('Echo: traced hello');
  });

  it('exports in OTLP HTTP/protobuf, with the configured service name and headers', () => {
    expect([...receiver.contentTypes]).toEqual(['application/x-protobuf']);
    expect(find('tools/call echo', SpanKindNumber.server).resource['service.name']).toBe('fleet-under-test');
    expect(receiver.lastHeaders['x-otlp-key']).toBe(OTLP_SECRET);
  });

  it('makes a SERVER span per client request, child of the client traceparent, with the MCP attributes', () => {
    const server = find('tools/call echo', SpanKindNumber.server);
    expect(server.traceId).toBe(CLIENT_TRACE_ID);
    expect(server.parentSpanId).toBe(CLIENT_SPAN_ID);
    expect(server.traceState).toBe('vendor=abc');
    expect(server.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool',
      'mcp_fleet.server': 'everything',
      'mcp_fleet.era': 'streamable',
      'network.transport': 'tcp',
      'http.response.status_code': 200,
    });
    expect(server.attributes['jsonrpc.request.id']).toMatch(/^\d+$/);
    expect(server.attributes['mcp.session.id']).toEqual(expect.any(String));
    expect(server.attributes['mcp.protocol.version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(server.attributes['error.type']).toBeUndefined();
    expect(server.statusCode).not.toBe(2);
  });

  it('makes a CLIENT span for the call to the child, child of the SERVER span', () => {
    const server = find('tools/call echo', SpanKindNumber.server);
    const client = find('tools/call echo', SpanKindNumber.client);
    expect(client.traceId).toBe(CLIENT_TRACE_ID);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(client.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'echo',
      'mcp_fleet.server': 'everything',
      'network.transport': 'pipe',
    });
  });

  it("gives the child the CLIENT span's context in params._meta.traceparent", () => {
    const client = find('tools/call meta', SpanKindNumber.client);
    expect(childMeta['traceparent']).toBe(`00-${CLIENT_TRACE_ID}-${client.spanId}-01`);
    expect(childMeta['tracestate']).toBe('vendor=abc');
  });

  it('takes the parent from params._meta.traceparent over the header, and marks the era of a 2026-07-28 request', () => {
    const server = receiver.spans.find((s) => s.name === 'tools/call meta' && s.kind === SpanKindNumber.server && s.attributes['mcp_fleet.era'] === 'modern');
    expect(server, 'the SERVER span of the 2026-07-28 call').toBeDefined();
    expect(server?.traceId).toBe(META_TRACE_ID);
    expect(server?.parentSpanId).toBe(META_SPAN_ID);
    expect(server?.attributes['jsonrpc.request.id']).toBe('modern-1');
    expect(server?.attributes['mcp.protocol.version']).toBe('2026-07-28');
    const client = receiver.spans.find((s) => s.kind === SpanKindNumber.client && s.parentSpanId === server?.spanId);
    expect(modernChildMeta['traceparent']).toBe(`00-${META_TRACE_ID}-${client?.spanId}-01`);
  });

  it('marks a failed call as an error with its type', () => {
    expect(unknownToolFailed).toBe(true);
    const server = find('tools/call no-such-tool', SpanKindNumber.server);
    expect(server.attributes['error.type']).toMatch(/^(-32602|tool_error)$/);
    expect(server.statusCode).toBe(2);
    const client = find('tools/call no-such-tool', SpanKindNumber.client);
    expect(client.attributes['error.type']).toBe(server.attributes['error.type']);
  });

  it('traces the session the call belongs to: its initialize has a span of the same trace', () => {
    const initialize = receiver.spans.filter((s) => s.name === 'initialize' && s.kind === SpanKindNumber.server);
    expect(initialize.length).toBeGreaterThanOrEqual(2);
    expect(initialize.every((s) => s.traceId === CLIENT_TRACE_ID)).toBe(true);
    // The session id is known only from the answer to initialize.
    expect(initialize.every((s) => typeof s.attributes['mcp.session.id'] === 'string')).toBe(true);
  });

  it('exports the server and client operation duration histograms', async () => {
    await waitFor(() => receiver.points.some((p) => p.metric === 'mcp.client.operation.duration'), { what: 'the metrics export' });
    const serverPoint = receiver.points.find((p) => p.metric === 'mcp.server.operation.duration' && p.attributes['gen_ai.tool.name'] === 'echo');
    expect(serverPoint?.unit).toBe('s');
    expect(serverPoint?.count).toBe(1n);
    expect(serverPoint?.attributes).toMatchObject({ 'mcp.method.name': 'tools/call', 'mcp_fleet.server': 'everything' });
    // Two calls reached the meta child (one per era); the child's side does not know eras.
    const clientPoint = receiver.points.find((p) => p.metric === 'mcp.client.operation.duration' && p.attributes['gen_ai.tool.name'] === 'meta');
    expect(clientPoint?.count).toBe(2n);
    expect(clientPoint?.attributes['network.transport']).toBe('pipe');
  });

  it('never logs the export headers', () => {
    expect(logger.records.some((r) => r.message === 'telemetry on')).toBe(true);
    expect(JSON.stringify(logger.records)).not.toContain(OTLP_SECRET);
  });
});
