import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetConfigSchema, type FleetConfigInput } from '../../src/config/schema.js';
import { createGateway } from '../../src/gateway/app.js';
import { generateApiKey } from '../../src/gateway/auth/index.js';
import { startIssuer, type TestIssuer } from '../auth/issuer-fixture.js';
import { EVERYTHING_ENTRY, httpRequest, MEMORY_ENTRY, startGateway, textOf, waitFor, type TestGateway } from '../gateway/helpers.js';

/**
 * The console's JSON API on a real gateway over a real 127.0.0.1 socket, with
 * the example fleet's two servers (server-everything and server-memory) and the
 * official SDK client for the sessions it lists and ends.
 */

const client = generateApiKey();
const admin = generateApiKey();
const SECRET_ENV_VALUE = 'sekrit-env-value-7c1d94';

function fleet(): FleetConfigInput {
  return {
    gateway: {
      auth: { apiKeys: [{ name: 'client', sha256: client.sha256 }] },
      console: { enabled: true, adminKeys: [{ name: 'ops', sha256: admin.sha256 }] },
    },
    servers: {
      everything: { command: process.execPath, args: [EVERYTHING_ENTRY] },
      memory: {
        command: process.execPath,
        args: [MEMORY_ENTRY],
        env: { MEMORY_FILE_PATH: join(mkdtempSync(join(tmpdir(), 'console-api-')), 'memory.json'), SERVICE_TOKEN: SECRET_ENV_VALUE },
      },
    },
    virtualServers: { dev: { servers: { everything: { tools: ['echo'] }, memory: { prefix: 'mem_' } } } },
  };
}

let gw: TestGateway;
/** Every body the console answered in this file, to look for secrets in. */
const bodies: string[] = [];

async function api(path: string, init: RequestInit & { key?: string | null } = {}): Promise<{ status: number; body: any }> {
  const { key = admin.key, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (key !== null) headers.set('authorization', `Bearer ${key}`);
  if (rest.method !== undefined && rest.method !== 'GET' && !headers.has('x-mcp-fleet-console')) headers.set('x-mcp-fleet-console', '1');
  const response = await fetch(`${gw.url}/_console/api${path}`, { ...rest, headers });
  const text = await response.text();
  bodies.push(text);
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

beforeAll(async () => {
  gw = await startGateway(fleet());
});

afterAll(async () => {
  await gw?.close();
});

describe('console API', () => {
  it('refuses every API call without an admin credential, and an MCP client key is not one', async () => {
    expect((await api('/overview', { key: null })).status).toBe(401);
    const withClientKey = await api('/overview', { key: client.key });
    expect(withClientKey.status).toBe(401);
    expect(withClientKey.body.error).toMatch(/admin key/);
    expect((await api('/overview', { key: 'mcpf_not-a-key-at-all-000000000000000' })).status).toBe(401);
    expect((await api('/whoami')).body).toMatchObject({ principal: 'key:ops', mode: 'admin' });
  });

  it('shows both servers of the example fleet up, with their children', async () => {
    const { status, body } = await api('/overview');
    expect(status).toBe(200);
    const byName = Object.fromEntries(body.servers.map((s: any) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['everything', 'memory']);
    expect(byName.everything.state).toBe('ready');
    expect(byName.memory.state).toBe('ready');
    expect(byName.everything.children).toBeGreaterThanOrEqual(1);
    expect(byName.everything.lastStartError).toBeNull();
    expect(byName.memory.restarts).toBe(0);
  });

  it('shows the virtual server with its members, its sessions and its calls', async () => {
    const before = (await api('/overview')).body.virtualServers;
    expect(before).toEqual([
      expect.objectContaining({ name: 'dev', state: 'ready', sessions: 0, members: [{ name: 'everything', state: 'ready' }, { name: 'memory', state: 'ready' }] }),
    ]);
    const sessionsBefore = (await api('/sessions')).body.sessions.length;
    const mcp = new Client({ name: 'console-virtual', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(gw.mcpUrl('dev'), { requestInit: { headers: { authorization: `Bearer ${client.key}` } } });
    await mcp.connect(transport);
    try {
      expect(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'via dev' } }))).toContain('via dev');
      const after = (await api('/overview')).body.virtualServers[0];
      expect(after.sessions).toBe(1);
      expect(after.stats.callsPerSecond).toBeGreaterThan(0);
    } finally {
      await transport.terminateSession();
      await mcp.close();
    }
    // Ending the virtual session ends its member sessions too.
    await waitFor(async () => (await api('/sessions')).body.sessions.length === sessionsBefore || undefined, { what: "the virtual session's member sessions to end" });
    expect((await api('/overview')).body.virtualServers[0].sessions).toBe(0);
  });

  it('calls a tool through the gateway as the admin, and counts the call in the overview', async () => {
    const call = await api('/servers/everything/rpc', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: gw.url },
      body: JSON.stringify({ method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello console' } } }),
    });
    expect(call.status).toBe(200);
    expect(call.body.status).toBe(200);
    expect(textOf(call.body.message.result)).toContain('hello console');
    const overview = await api('/overview');
    const everything = overview.body.servers.find((s: any) => s.name === 'everything');
    expect(everything.stats.requests).toBeGreaterThanOrEqual(1);
    expect(everything.stats.p50Ms).not.toBeNull();
  });

  it('refuses actions from another origin or without the console header', async () => {
    const body = JSON.stringify({ method: 'tools/list' });
    const foreign = await api('/servers/everything/rpc', { method: 'POST', headers: { origin: 'http://evil.example' }, body });
    expect(foreign.status).toBe(403);
    const noHeader = await api('/servers/everything/rpc', { method: 'POST', headers: { 'x-mcp-fleet-console': '0' }, body });
    expect(noHeader.status).toBe(403);
    expect(noHeader.body.error).toMatch(/x-mcp-fleet-console/);
    // Reads too: a page of another site cannot read the console through a browser that holds the key.
    const foreignRead = await api('/overview', { headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(foreignRead.status).toBe(403);
  });

  it('lists the tools of a server as the gateway sees them, and masks its env values', async () => {
    const caps = await api('/servers/everything/capabilities');
    expect(caps.body.tools.items.map((t: any) => t.name)).toContain('echo');
    // What a server does not offer is not asked for, so listing adds no failed request to its statistics.
    const memoryCaps = await api('/servers/memory/capabilities');
    expect(memoryCaps.body.tools.items.length).toBeGreaterThan(0);
    expect(memoryCaps.body.prompts.error).toMatch(/offers no prompts/);
    const memory = await api('/servers/memory');
    expect(memory.status).toBe(200);
    expect(memory.body.recentErrors).toEqual([]);
    expect(Object.keys(memory.body.config.env).sort()).toEqual(['MEMORY_FILE_PATH', 'SERVICE_TOKEN']);
    expect(Object.values(memory.body.config.env).every((v) => v === '••••')).toBe(true);
    expect(memory.body.processes.length).toBeGreaterThanOrEqual(1);
    expect(memory.body.processes[0].pid).toBeTypeOf('number');
  });

  it('lists a client session with its owner and era, and ends it', async () => {
    const transport = new StreamableHTTPClientTransport(gw.mcpUrl('memory'), { requestInit: { headers: { authorization: `Bearer ${client.key}` } } });
    const sdk = new Client({ name: 'console-test', version: '1.0.0' });
    await sdk.connect(transport);
    try {
      const sessionId = transport.sessionId as string;
      const listed = await api('/sessions');
      const mine = listed.body.sessions.filter((s: any) => s.server === 'memory');
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ owner: 'key:client', transport: 'streamable', client: 'console-test 1.0.0' });
      expect(mine[0].era).toMatch(/^2025-\d\d-\d\d \(Streamable HTTP\)$/);
      expect(JSON.stringify(listed.body)).not.toContain(sessionId);
      const ended = await api(`/sessions/${mine[0].handle}`, { method: 'DELETE' });
      expect(ended.status).toBe(200);
      await waitFor(async () => (await api('/sessions')).body.sessions.length === 0, { timeoutMs: 10_000, intervalMs: 100 });
      // The client notices: its session is gone.
      await expect(sdk.listTools()).rejects.toThrow();
      expect(bodies.some((b) => b.includes(sessionId))).toBe(false);
    } finally {
      await sdk.close().catch(() => {});
    }
  });

  it('stops a child on request, and the overview shows it gone', async () => {
    const before = await api('/servers/memory');
    const pid = before.body.processes[0].pid as number;
    const stopped = await api(`/servers/memory/children/${pid}/stop`, { method: 'POST' });
    expect(stopped.status).toBe(200);
    const after = await api('/servers/memory');
    expect(after.body.processes.map((p: any) => p.pid)).not.toContain(pid);
    expect(after.body.restarts).toBe(before.body.restarts);
  });

  it('never puts a key, a token or an env value in any answer', () => {
    expect(bodies.length).toBeGreaterThan(10);
    for (const body of bodies) {
      expect(body).not.toContain(admin.key);
      expect(body).not.toContain(client.key);
      expect(body).not.toContain(admin.sha256);
      expect(body).not.toContain(SECRET_ENV_VALUE);
    }
  });
});

describe('console config', () => {
  it('refuses a console open beyond this machine, naming the field and the fix', () => {
    const parsed = FleetConfigSchema.safeParse({ gateway: { host: '0.0.0.0', console: { enabled: true } }, servers: { a: { command: 'x' } } });
    expect(parsed.success).toBe(false);
    const issue = parsed.error?.issues.find((i) => i.path.join('.') === 'gateway.console.adminKeys');
    expect(issue?.message).toMatch(/adminKeys/);
    expect(issue?.message).toMatch(/127\.0\.0\.1/);
  });

  it('refuses it at start too when serve --host moves the bind off loopback', () => {
    const config = FleetConfigSchema.parse({ gateway: { console: { enabled: true } }, servers: { a: { command: 'x' } } });
    expect(() => createGateway({ ...config, gateway: { ...config.gateway, host: '0.0.0.0' } })).toThrow(/gateway\.console\.adminKeys/);
  });

  it('needs an admin credential when the gateway has auth', () => {
    const parsed = FleetConfigSchema.safeParse({
      gateway: { auth: { apiKeys: [{ name: 'a', sha256: client.sha256 }] }, console: { enabled: true } },
      servers: { a: { command: 'x' } },
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/no admin credential/);
  });

  it('shows a server that cannot start as failing, with its start error', async () => {
    const broken = await startGateway({ gateway: { console: { enabled: true } }, servers: { broken: { command: '/nonexistent/mcp-fleet-console-test-server' } } });
    try {
      const response = await fetch(`${broken.url}/_console/api/overview`);
      const body = (await response.json()) as { servers: { name: string; state: string; lastStartError: { reason: string; current: boolean } | null }[] };
      expect(body.servers[0]).toMatchObject({ name: 'broken', state: 'failing', lastStartError: { current: true } });
      expect(body.servers[0]?.lastStartError?.reason).toContain('/nonexistent/mcp-fleet-console-test-server');
    } finally {
      await broken.close();
    }
  });

  it('is open on loopback without auth, and says so', async () => {
    const local = await startGateway(
      { gateway: { console: { enabled: true }, cors: { enabled: true, allowedOrigins: ['*'] } }, servers: { everything: { command: process.execPath, args: [EVERYTHING_ENTRY] } } },
      { probe: false },
    );
    try {
      const response = await fetch(`${local.url}/_console/api/whoami`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { mode: string; notice: string };
      expect(body.mode).toBe('open-local');
      expect(body.notice).toMatch(/anyone on this machine/);
      // Open without a key, so another site's page must not read it through a local browser, whatever gateway.cors allows.
      const crossSite = await fetch(`${local.url}/_console/api/overview`, { headers: { origin: 'https://evil.example' } });
      expect(crossSite.status).toBe(403);
      expect(crossSite.headers.get('access-control-allow-origin')).toBeNull();
      // DNS rebinding: a page of another host name that resolves here gets nothing.
      const rebound = await httpRequest(`${local.url}/_console/api/whoami`, { headers: { host: 'evil.example' } });
      expect(rebound.status).toBe(403);
    } finally {
      await local.close();
    }
  });
});

describe('console admins by OAuth scope', () => {
  let issuer: TestIssuer;
  let oauthGw: TestGateway;

  beforeAll(async () => {
    issuer = await startIssuer();
    oauthGw = await startGateway(
      {
        gateway: {
          auth: { oauth: { issuer: issuer.issuer } },
          console: { enabled: true, adminScope: 'mcp-fleet:admin' },
        },
        servers: { everything: { command: process.execPath, args: [EVERYTHING_ENTRY] } },
      },
      { probe: false },
    );
  });

  afterAll(async () => {
    await oauthGw?.close();
    await issuer?.close();
  });

  async function whoami(token: string): Promise<{ status: number; body: any }> {
    const response = await fetch(`${oauthGw.url}/_console/api/whoami`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: await response.json() };
  }

  it('signs in a token for the console that carries the admin scope, as its subject', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: `${oauthGw.url}/_console`, scope: 'mcp:tools mcp-fleet:admin' });
    const answer = await whoami(token);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ principal: 'oauth:alice', mode: 'admin' });
    expect(JSON.stringify(answer.body)).not.toContain(token);
  });

  it('refuses a token without the admin scope (403), or made for a server instead of the console (401)', async () => {
    const unscoped = await whoami(await issuer.sign({ sub: 'bob', aud: `${oauthGw.url}/_console`, scope: 'mcp:tools' }));
    expect(unscoped.status).toBe(403);
    expect(unscoped.body.error).toMatch(/mcp-fleet:admin/);
    const forServer = await whoami(await issuer.sign({ sub: 'alice', aud: `${oauthGw.url}/servers/everything/mcp`, scope: 'mcp-fleet:admin' }));
    expect(forServer.status).toBe(401);
  });
});
