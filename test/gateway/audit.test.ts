import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditSchema } from '../../src/config/audit-schema.js';
import { AuditLog } from '../../src/gateway/audit/audit-log.js';
import { createCloudWatchAuditSink } from '../../src/gateway/audit/cloudwatch-sink.js';
import { generateApiKey } from '../../src/gateway/auth/index.js';
import { ChildAnswer } from '../../src/upstream/channel.js';
import { EVERYTHING_ENTRY, newMarker, processesWithMarker, recordingLogger, startGateway, textOf, waitFor, type TestGateway } from './helpers.js';

/**
 * The audit log (`gateway.audit`): calls through the gateway in each era become
 * JSON lines in their own file, naming the principal (never its credential), the
 * server, the tool, outcome and duration; arguments only when asked for, redacted.
 */

type AuditRecord = Record<string, any>;

const alice = generateApiKey();
const auth = { apiKeys: [{ name: 'alice', sha256: alice.sha256 }] };
const headers = { authorization: `Bearer ${alice.key}` };

function readRecords(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AuditRecord);
}

describe('audit log: one record per call, in every era', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-fleet-audit-'));
  const file = join(dir, 'audit.jsonl');
  const marker = newMarker('audit');
  let gw: TestGateway;
  let records: AuditRecord[] = [];
  const logger = recordingLogger();
  let legacySessionId: string | undefined;

  beforeAll(async () => {
    gw = await startGateway(
      {
        gateway: { auth, audit: { enabled: true, destination: file } },
        servers: { everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', marker] } },
      },
      { logger },
    );
    // 2025-era session (SDK v1, Streamable HTTP)
    const v1 = new Client({ name: 'audit-v1', version: '1.0.0' });
    const v1Transport = new StreamableHTTPClientTransport(gw.mcpUrl('everything'), { requestInit: { headers } });
    await v1.connect(v1Transport);
    legacySessionId = v1Transport.sessionId;
    expect(textOf(await v1.callTool({ name: 'echo', arguments: { message: 'from 2025', password: 'p4ss-should-not-show' } }))).toBe('Echo: from 2025');
    await v1.callTool({ name: 'no_such_tool', arguments: {} }).catch(() => undefined);
    await v1.close();
    // 2024-11-05 (HTTP+SSE)
    const sse = new Client({ name: 'audit-sse', version: '1.0.0' });
    await sse.connect(new SSEClientTransport(gw.sseUrl('everything'), { requestInit: { headers } }));
    await sse.callTool({ name: 'echo', arguments: { message: 'from sse' } });
    await sse.close();
    // 2026-07-28 (SDK v2, modern)
    const v2 = new ModernClient({ name: 'audit-v2', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    await v2.connect(new ModernTransport(gw.mcpUrl('everything'), { requestInit: { headers } }));
    expect(v2.getProtocolEra()).toBe('modern');
    expect(textOf(await v2.callTool({ name: 'echo', arguments: { message: 'from 2026' } }))).toBe('Echo: from 2026');
    const { resources } = await v2.listResources();
    await v2.readResource({ uri: resources[0]!.uri });
    await v2.close();
    await gw.close();
    records = readRecords(file);
  });

  afterAll(async () => {
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN a tools/call in a 2025-era session WHEN it succeeds THEN its record names the key, server, tool, outcome, duration, ids and era', () => {
    const record = records.find((r) => r.era === 'streamable-http' && r.tool === 'echo');
    expect(record).toMatchObject({
      audit: true,
      principal: 'key:alice',
      server: 'everything',
      method: 'tools/call',
      tool: 'echo',
      outcome: 'ok',
      sessionId: legacySessionId,
    });
    expect(typeof record?.durationMs).toBe('number');
    expect(record?.requestId).toBeDefined();
    expect(Date.parse(record?.time)).not.toBeNaN();
  });

  it('GIVEN a call of a tool the server does not have WHEN answered THEN its outcome is an error, not ok', () => {
    const record = records.find((r) => r.tool === 'no_such_tool');
    expect(record?.outcome === 'error' || record?.outcome === 'tool-error').toBe(true);
  });

  it('GIVEN calls over HTTP+SSE and in the 2026-07-28 era WHEN made THEN each has its record with its era', () => {
    expect(records.find((r) => r.era === 'http+sse' && r.tool === 'echo')).toMatchObject({ principal: 'key:alice', outcome: 'ok' });
    const modern = records.find((r) => r.era === '2026-07-28' && r.tool === 'echo');
    expect(modern).toMatchObject({ principal: 'key:alice', outcome: 'ok' });
    expect(modern?.sessionId).toBeUndefined();
    expect(records.find((r) => r.era === '2026-07-28' && r.method === 'resources/read')).toMatchObject({ outcome: 'ok', uri: expect.any(String) });
  });

  it('GIVEN the default config WHEN records are written THEN they hold no arguments and no credential, the file is private, and the operational log has none', () => {
    const text = readFileSync(file, 'utf8');
    expect(records.every((r) => r.arguments === undefined)).toBe(true);
    expect(text).not.toContain('p4ss-should-not-show');
    expect(text).not.toContain(alice.key);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Only audited methods: no tools/list, initialize or ping records.
    expect(new Set(records.map((r) => r.method))).toEqual(new Set(['tools/call', 'resources/read']));
    expect(logger.records.some((r) => r.fields['audit'] === true)).toBe(false);
  });
});

describe('audit log: arguments when asked for, redacted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-fleet-audit-args-'));
  const file = join(dir, 'audit.jsonl');
  const marker = newMarker('audit-args');

  afterAll(async () => {
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('GIVEN includeArguments and redact rules WHEN a tool is called THEN the arguments are recorded with secret-looking and listed keys redacted', async () => {
    const gw = await startGateway({
      gateway: { audit: { enabled: true, destination: file, includeArguments: true, redact: ['note', 'nested.*_id'] } },
      servers: { everything: { command: process.execPath, args: [EVERYTHING_ENTRY, 'stdio', marker] } },
    });
    const client = new Client({ name: 'audit-args', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(gw.mcpUrl('everything')));
    await client.callTool({
      name: 'echo',
      arguments: { message: 'hi', apiToken: 'tok-12345678', note: 'private note', nested: { user_id: 'u1', other: 'keep', deeper: { password: 'x' } } },
    });
    await client.close();
    await gw.close();
    const [record] = readRecords(file).filter((r) => r.tool === 'echo');
    expect(record?.principal).toBe('anonymous');
    expect(record?.arguments).toEqual({
      message: 'hi',
      apiToken: '[redacted]',
      note: '[redacted]',
      nested: { user_id: '[redacted]', other: 'keep', deeper: { password: '[redacted]' } },
    });
    expect(readFileSync(file, 'utf8')).not.toContain('tok-12345678');
  });
});

describe('audit log: a stuck destination never blocks a call', () => {
  it('GIVEN a destination that never finishes a write WHEN more records come than the buffer holds THEN they are dropped, counted and warned about', async () => {
    const logger = recordingLogger();
    const audit = new AuditLog(AuditSchema.parse({ enabled: true, maxBufferedRecords: 16 }), { logger, write: () => new Promise<void>(() => {}) });
    const answer = ChildAnswer.local({ content: [] });
    for (let i = 0; i < 100; i++) {
      audit.begin({ principal: 'anonymous', server: 's', method: 'tools/call', params: { name: 't' }, requestId: i, era: '2026-07-28' })?.answered(answer);
    }
    // The first record went to the (stuck) write, the next 16 wait, the rest are dropped.
    await waitFor(() => audit.dropped > 0, { timeoutMs: 2_000, what: 'drops' });
    expect(audit.buffered).toBeLessThanOrEqual(16);
    expect(audit.dropped + audit.buffered).toBeGreaterThanOrEqual(99 - 16);
    expect(logger.records.filter((r) => r.message.startsWith('audit records dropped'))).toHaveLength(1);
  });

  it('GIVEN a destination file that cannot be opened WHEN the gateway starts THEN it fails naming the field and the fix', async () => {
    const audit = new AuditLog(AuditSchema.parse({ enabled: true, destination: join(tmpdir(), 'mcp-fleet-no-such-dir', 'x', 'audit.jsonl') }), { logger: recordingLogger(), env: {} });
    await expect(audit.ready()).rejects.toMatchObject({ code: 'AUDIT_DESTINATION', message: expect.stringMatching(/^gateway\.audit\.destination: cannot open .*audit\.jsonl for appending: ENOENT/), hint: expect.stringContaining('destination: stdout') });
  });

  it('GIVEN a method other than tools/call, prompts/get, resources/read WHEN begun THEN it is not audited', () => {
    const audit = new AuditLog(AuditSchema.parse({ enabled: true }), { logger: recordingLogger(), write: async () => {} });
    expect(audit.begin({ principal: 'anonymous', server: 's', method: 'tools/list', params: {}, requestId: 1, era: '2026-07-28' })).toBeUndefined();
  });
});

describe('audit log: the CloudWatch Logs sink (AWS mocked: a stand-in Logs API)', () => {
  it('GIVEN MCP_FLEET_AUDIT_LOG_GROUP WHEN records are written THEN one stream is created and they are put to it, in batches within the API limits', async () => {
    const calls: { op: string; input: any }[] = [];
    const api = {
      createLogStream: async (input: unknown) => void calls.push({ op: 'create', input }),
      putLogEvents: async (input: unknown) => void calls.push({ op: 'put', input }),
    };
    const sink = createCloudWatchAuditSink({ logGroupName: '/audit', logStreamName: 'replica-1', api });
    const big = 'x'.repeat(200 * 1024);
    const lines = Array.from({ length: 8 }, (_, i) => JSON.stringify({ audit: true, i, pad: big })).join('\n') + '\n';
    await sink(lines);
    await sink('{"audit":true,"i":8}\n');
    expect(calls.filter((c) => c.op === 'create')).toEqual([{ op: 'create', input: { logGroupName: '/audit', logStreamName: 'replica-1' } }]);
    const puts = calls.filter((c) => c.op === 'put');
    // 8 events of 200 KiB do not fit one 1 MiB batch.
    expect(puts.length).toBeGreaterThanOrEqual(3);
    const events = puts.flatMap((p) => p.input.logEvents as { message: string }[]);
    expect(events.map((e) => (JSON.parse(e.message) as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    for (const p of puts) {
      const bytes = (p.input.logEvents as { message: string }[]).reduce((n, e) => n + Buffer.byteLength(e.message) + 26, 0);
      expect(bytes).toBeLessThanOrEqual(1_048_576);
    }
  });

  it('GIVEN a stream that exists already WHEN the sink starts THEN it writes to it', async () => {
    const puts: unknown[] = [];
    const api = {
      createLogStream: async () => {
        throw Object.assign(new Error('exists'), { name: 'ResourceAlreadyExistsException' });
      },
      putLogEvents: async (input: unknown) => void puts.push(input),
    };
    await createCloudWatchAuditSink({ logGroupName: '/audit', logStreamName: 's', api })('{"audit":true}\n');
    expect(puts).toHaveLength(1);
  });
});
