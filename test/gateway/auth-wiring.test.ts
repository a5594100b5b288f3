import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetConfigSchema } from '../../src/config/schema.js';
import { generateApiKey } from '../../src/gateway/auth/index.js';
import { createFleetMetrics } from '../../src/gateway/metrics.js';
import { listenMetrics } from '../../src/gateway/metrics-server.js';
import { traceMessages } from '../../src/gateway/trace.js';
import { startIssuer, type TestIssuer } from '../auth/issuer-fixture.js';
import {
  CRASHY_ENTRY,
  initializeBody,
  newMarker,
  POST_HEADERS,
  processesWithMarker,
  startGateway,
  textOf,
  waitFor,
  type TestGateway,
} from './helpers.js';

/**
 * The security modules wired into the real gateway over a real 127.0.0.1
 * socket: API keys and OAuth bearer tokens (with the local issuer fixture),
 * session owners, the per-key rate limit and session cap, CORS and /metrics.
 */

const marker = newMarker('auth-wiring');
const echo = { command: process.execPath, args: [CRASHY_ENTRY, marker] };
const ci = generateApiKey();
const ops = generateApiKey();
const burst = generateApiKey();
const calm = generateApiKey();

let issuer: TestIssuer;
let secured: TestGateway;
let limited: TestGateway;
let open: TestGateway;

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function connect(url: URL, token: string): Promise<Client> {
  const client = new Client({ name: 'auth-wiring', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: bearer(token) } }));
  return client;
}

async function initialize(url: URL, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { ...POST_HEADERS, ...headers }, body: initializeBody() });
}

beforeAll(async () => {
  issuer = await startIssuer();
  secured = await startGateway({
    gateway: {
      auth: {
        apiKeys: [
          { name: 'ci', sha256: ci.sha256, servers: ['echo'] },
          { name: 'ops', sha256: ops.sha256 },
        ],
        oauth: { issuer: issuer.issuer, requiredScopes: ['mcp:tools'] },
      },
    },
    servers: { echo, other: echo },
  });
  limited = await startGateway({
    gateway: {
      auth: { apiKeys: [{ name: 'burst', sha256: burst.sha256 }, { name: 'calm', sha256: calm.sha256 }] },
      limits: { rate: { requestsPerSecond: 0.05, burst: 2 } },
    },
    servers: { echo },
  });
  open = await startGateway({
    gateway: {
      port: 0,
      metrics: { enabled: true, port: 0 },
      cors: { enabled: true },
      allowedOrigins: ['https://app.example.test'],
      limits: { maxSessionsPerKey: 1 },
    },
    servers: { echo },
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([secured?.close(), limited?.close(), open?.close()]);
  await issuer?.close();
  await waitFor(() => processesWithMarker(marker).length === 0, { what: 'every fixture child to exit' });
});

describe('API keys', () => {
  it('GIVEN no credentials WHEN a client initializes THEN 401 with a WWW-Authenticate challenge pointing at the metadata', async () => {
    const response = await initialize(secured.mcpUrl('echo'), {});
    expect(response.status).toBe(401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain(`resource_metadata="${secured.url}/.well-known/oauth-protected-resource/servers/echo/mcp"`);
    const body = (await response.json()) as { error: { code: number; message: string } };
    expect(body.error.message).toMatch(/Authentication required/);
  });

  it('refuses an unknown key with 401 and never echoes it', async () => {
    const forged = generateApiKey().key;
    const response = await initialize(secured.mcpUrl('echo'), bearer(forged));
    expect(response.status).toBe(401);
    const text = await response.text();
    expect(text).not.toContain(forged);
    expect(response.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('GIVEN a valid key WHEN the SDK v1 client sends it in requestInit THEN tools/call works', async () => {
    const client = await connect(secured.mcpUrl('echo'), ops.key);
    const result = await client.callTool({ name: 'echo', arguments: { message: 'keyed' } });
    expect(textOf(result)).toBe('echo: keyed');
    await client.close();
  });

  it('GIVEN a key restricted to echo WHEN it calls another server THEN 403', async () => {
    const response = await initialize(secured.mcpUrl('other'), bearer(ci.key));
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/may not use server "other"/);
    expect((await initialize(secured.mcpUrl('echo'), bearer(ci.key))).status).toBe(200);
  });

  it('answers a session id presented by another principal with 404, as if it did not exist', async () => {
    const opened = await initialize(secured.mcpUrl('echo'), bearer(ops.key));
    const sessionId = opened.headers.get('mcp-session-id') as string;
    await opened.text();
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
    const stolen = await fetch(secured.mcpUrl('echo'), {
      method: 'POST',
      headers: { ...POST_HEADERS, ...bearer(ci.key), 'mcp-session-id': sessionId },
      body: ping,
    });
    expect(stolen.status).toBe(404);
    expect(((await stolen.json()) as { error: { message: string } }).error.message).toBe('Session not found');
    const owner = await fetch(secured.mcpUrl('echo'), {
      method: 'POST',
      headers: { ...POST_HEADERS, ...bearer(ops.key), 'mcp-session-id': sessionId },
      body: ping,
    });
    expect(owner.status).toBe(200);
    await owner.text();
  });

  it('needs the key on /sse too, and one key works on every transport of a server', async () => {
    const refused = await fetch(secured.sseUrl('echo'), { headers: { accept: 'text/event-stream' } });
    expect(refused.status).toBe(401);
    await refused.text();
    const client = new Client({ name: 'auth-wiring-sse', version: '1.0.0' });
    const transport = new SSEClientTransport(secured.sseUrl('echo'), { requestInit: { headers: bearer(ops.key) } });
    await client.connect(transport);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'sse' } }))).toBe('echo: sse');
    await client.close();
  });

  it('leaves /health and /ready open', async () => {
    expect((await fetch(`${secured.url}/health`)).status).toBe(200);
    expect((await fetch(`${secured.url}/ready`)).status).toBe(200);
  });
});

describe('OAuth 2.1', () => {
  it('serves the Protected Resource Metadata of each server endpoint', async () => {
    const response = await fetch(`${secured.url}/.well-known/oauth-protected-resource/servers/echo/mcp`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      resource: `${secured.url}/servers/echo/mcp`,
      authorization_servers: [issuer.issuer],
      scopes_supported: ['mcp:tools'],
    });
    expect((await fetch(`${secured.url}/.well-known/oauth-protected-resource/servers/nope/mcp`)).status).toBe(404);
  });

  it('GIVEN a token for this endpoint with the scope WHEN the SDK client uses it THEN tools/call works', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: `${secured.url}/servers/echo/mcp`, scope: 'mcp:tools' });
    const client = await connect(secured.mcpUrl('echo'), token);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'oauth' } }))).toBe('echo: oauth');
    await client.close();
  });

  it('refuses a token issued for another server (401) and one without the scope (403 insufficient_scope)', async () => {
    const elsewhere = await issuer.sign({ sub: 'alice', aud: `${secured.url}/servers/other/mcp`, scope: 'mcp:tools' });
    const wrongAudience = await initialize(secured.mcpUrl('echo'), bearer(elsewhere));
    expect(wrongAudience.status).toBe(401);
    expect(((await wrongAudience.json()) as { error: { message: string } }).error.message).toMatch(/not issued for this MCP server/);
    const unscoped = await issuer.sign({ sub: 'alice', aud: `${secured.url}/servers/echo/mcp`, scope: 'other' });
    const response = await initialize(secured.mcpUrl('echo'), bearer(unscoped));
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('insufficient_scope');
  });
});

describe('limits', () => {
  it('GIVEN a burst of 2 WHEN a key sends a third request THEN 429 with Retry-After and a JSON-RPC error, and another key is unaffected', async () => {
    const url = limited.mcpUrl('echo');
    for (let i = 0; i < 2; i++) {
      const ok = await initialize(url, bearer(burst.key));
      expect(ok.status).toBe(200);
      await ok.text();
    }
    const refused = await initialize(url, bearer(burst.key));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { message: expect.stringMatching(/Too Many Requests/) } });
    const other = await initialize(url, bearer(calm.key));
    expect(other.status).toBe(200);
    await other.text();
  });

  it('GIVEN maxSessionsPerKey 1 WHEN the same principal opens a second session THEN 503 with Retry-After, and a closed one frees the slot', async () => {
    const url = open.mcpUrl('echo');
    const first = await initialize(url, {});
    expect(first.status).toBe(200);
    const sessionId = first.headers.get('mcp-session-id') as string;
    await first.text();
    const second = await initialize(url, {});
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('5');
    expect(((await second.json()) as { error: { message: string } }).error.message).toMatch(/maximum of 1 open sessions/);
    const closed = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': sessionId } });
    expect(closed.status).toBe(200);
    const third = await initialize(url, {});
    expect(third.status).toBe(200);
    await third.text();
    await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': third.headers.get('mcp-session-id') as string } });
  });
});

describe('CORS (gateway.cors.enabled)', () => {
  it('answers a preflight of an allowed origin with the MCP headers, Mcp-Param-* included', async () => {
    const response = await fetch(open.mcpUrl('echo'), {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization, mcp-param-region, x-evil header',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').split(', ');
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'last-event-id', 'traceparent', 'mcp-param-region']));
    expect(allowed).not.toContain('x-evil header');
  });

  it('refuses a preflight of another origin with 403, and exposes Mcp-Session-Id to an allowed one', async () => {
    const refused = await fetch(open.mcpUrl('echo'), {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.test', 'access-control-request-method': 'POST' },
    });
    expect(refused.status).toBe(403);
    const response = await fetch(`${open.url}/health`, { headers: { origin: 'https://app.example.test' } });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
    expect(response.headers.get('access-control-expose-headers')).toBe('Mcp-Session-Id, WWW-Authenticate, Mcp-Protocol-Version');
  });
});

describe('metrics', () => {
  it('GIVEN a few requests WHEN /metrics is scraped on the gateway port THEN it counts them with server, method and status', async () => {
    const client = new Client({ name: 'metrics', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(open.mcpUrl('echo')));
    await client.callTool({ name: 'echo', arguments: { message: 'count me' } });
    const text = await (await fetch(`${open.url}/metrics`)).text();
    expect(text).toMatch(/mcp_fleet_requests_total\{server="echo",method="initialize",status="200"\} \d+/);
    expect(text).toMatch(/mcp_fleet_requests_total\{server="echo",method="tools\/call",status="200"\} 1/);
    expect(text).toMatch(/mcp_fleet_sessions_open\{server="echo"\} 1/);
    expect(text).toMatch(/mcp_fleet_children_running\{server="echo"\} [1-9]/);
    expect(text).toMatch(/mcp_fleet_rate_limited_total\{server="echo",limit="sessions"\} 1/);
    await client.close();
    await waitFor(async () => /mcp_fleet_request_duration_seconds_count\{server="echo",method="tools\/call"\} 1/.test(await (await fetch(`${open.url}/metrics`)).text()), {
      what: 'the tools/call latency to be observed',
    });
  });

  it('counts auth failures by reason, never with the credential', async () => {
    // The secured gateway has no metrics: auth failures are counted on a gateway that has both.
    const key = generateApiKey();
    const fleet = await startGateway({
      gateway: { port: 0, metrics: { enabled: true, port: 0 }, auth: { apiKeys: [{ name: 'k', sha256: key.sha256 }] } },
      servers: { echo },
    });
    try {
      const forged = generateApiKey().key;
      await (await initialize(fleet.mcpUrl('echo'), bearer(forged))).text();
      await (await initialize(fleet.mcpUrl('echo'), {})).text();
      const text = await (await fetch(`${fleet.url}/metrics`)).text();
      expect(text).toContain('mcp_fleet_auth_failures_total{server="echo",reason="invalid-api-key"} 1');
      expect(text).toContain('mcp_fleet_auth_failures_total{server="echo",reason="missing-credentials"} 1');
      expect(text).not.toContain(forged);
    } finally {
      await fleet.close();
    }
  });

  it('serves metrics on a port of their own', async () => {
    const metrics = createFleetMetrics();
    metrics.requests.inc({ server: 'echo', method: 'ping', status: '200' });
    const listening = await listenMetrics(metrics.registry, { host: '127.0.0.1', port: 0, path: '/metrics' });
    try {
      const response = await fetch(`${listening.url}/metrics`);
      expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
      expect(await response.text()).toContain('mcp_fleet_requests_total{server="echo",method="ping",status="200"} 1');
      expect((await fetch(`${listening.url}/other`)).status).toBe(404);
    } finally {
      await listening.close();
    }
  });
});

describe('in-flight queue and supervision', () => {
  let busy: TestGateway;

  beforeAll(async () => {
    busy = await startGateway({
      gateway: { sseKeepAliveSeconds: 0.2, limits: { maxInFlightPerChild: 1, maxQueuedPerChild: 0 } },
      // A child of its own per session: one slot in front of it.
      servers: { echo: { ...echo, policy: 'per-session' } },
    });
  });

  afterAll(async () => {
    await busy?.close();
  });

  async function session(): Promise<Record<string, string>> {
    const opened = await initialize(busy.mcpUrl('echo'), {});
    const headers = { ...POST_HEADERS, 'mcp-session-id': opened.headers.get('mcp-session-id') as string, 'mcp-protocol-version': '2025-06-18' };
    await opened.text();
    await (await fetch(busy.mcpUrl('echo'), { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
    return headers;
  }

  const call = (id: number, name: string): string => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });

  it('GIVEN a child busy with its one slot and no queue WHEN another request comes THEN 503 with Retry-After, and the slot frees when the client leaves', async () => {
    const headers = await session();
    const abort = new AbortController();
    const hanging = await fetch(busy.mcpUrl('echo'), { method: 'POST', headers, body: call(2, 'hang'), signal: abort.signal });
    expect(hanging.headers.get('content-type')).toContain('text/event-stream');
    const refused = await fetch(busy.mcpUrl('echo'), { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' }) });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/too many requests are waiting/);
    abort.abort();
    await waitFor(async () => {
      const ping = await fetch(busy.mcpUrl('echo'), { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: Date.now(), method: 'ping' }) });
      await ping.text();
      return ping.status === 200;
    }, { what: 'the slot to be free again' });
  });

  it('GIVEN a child that crashed WHEN /ready is asked THEN the server is degraded but still ready (200)', async () => {
    const headers = await session();
    const crashed = await fetch(busy.mcpUrl('echo'), { method: 'POST', headers, body: call(5, 'crash') });
    await crashed.text();
    const ready = await fetch(`${busy.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ servers: { echo: { state: 'degraded', reason: expect.stringContaining('exited unexpectedly') } } });
  });
});

describe('config', () => {
  it('refuses an API key or oauth.serverScopes naming a server the config does not define, at the field', () => {
    const result = FleetConfigSchema.safeParse({
      gateway: {
        auth: {
          apiKeys: [{ name: 'ci', sha256: ci.sha256, servers: ['echo', 'ehco'] }],
          oauth: { issuer: 'https://auth.example.test', serverScopes: { nope: ['x'] } },
        },
      },
      servers: { echo },
    });
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'gateway.auth.apiKeys.0.servers.1', message: expect.stringContaining('"ehco", which is not defined') },
        { path: 'gateway.auth.oauth.serverScopes.nope', message: expect.stringContaining('"nope", which is not defined') },
      ]),
    );
  });

  it('defaults limits, metrics and CORS to off, except the per-child queue', () => {
    const gateway = FleetConfigSchema.parse({ servers: { echo } }).gateway;
    expect(gateway.cors.enabled).toBe(false);
    expect(gateway.metrics.enabled).toBe(false);
    expect(gateway.limits).toEqual({ maxInFlightPerChild: 16, maxQueuedPerChild: 64, queueTimeoutSeconds: 30, maxStreamBufferBytes: 8 * 1024 * 1024 });
  });
});

describe('traceparent', () => {
  it('puts a valid traceparent header into params._meta and re-serializes only then', () => {
    const message = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } };
    const raw = JSON.stringify(message);
    const messages = [JSON.parse(raw) as typeof message];
    expect(traceMessages(new Headers(), messages)).toBe(messages);
    expect(traceMessages(new Headers({ traceparent: 'garbage' }), messages)).toBe(messages);
    const traced = traceMessages(new Headers({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }), messages);
    expect(traced).not.toBe(messages);
    expect(traced[0]).toEqual({ ...message, params: { name: 'echo', _meta: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } } });
  });
});
