import { join } from 'node:path';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetConfigSchema } from '../../src/config/schema.js';
import { resolveCallerCredentials } from '../../src/gateway/credentials/caller-credentials.js';
import { HttpError } from '../../src/gateway/http/errors.js';
import {
  initializeBody,
  modernRequest,
  newMarker,
  POST_HEADERS,
  processesWithMarker,
  recordingLogger,
  REPO_ROOT,
  startGateway,
  textOf,
  waitFor,
  type TestGateway,
} from './helpers.js';

/**
 * Per-user credentials (`servers.<name>.fromRequest`): each caller's child runs
 * with that caller's header value, in every era; the value never reaches the log
 * (the fixture even writes it to stderr), and configs that would share a child
 * between callers are refused at load.
 */

const ENV_FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'env-server.mjs');
const TOKEN_A = 'tok-alice-5f1c2a9e8d7b';
const TOKEN_B = 'tok-bob-93e04c7d1a62';
const HEADER = 'X-Caller-Token';

/** `<pid> <value>` of the fixture's `env` tool. */
function parseEnv(text: string): { pid: number; value: string } {
  const [pid, ...rest] = text.split(' ');
  return { pid: Number(pid), value: rest.join(' ') };
}

describe('fromRequest: config checks', () => {
  const server = (extra: Record<string, unknown>) => ({
    servers: { gh: { command: 'node', args: ['x.js'], fromRequest: { GITHUB_TOKEN: { header: 'X-GitHub-Token' } }, ...extra } },
  });
  const issues = (input: unknown): string[] => {
    const parsed = FleetConfigSchema.safeParse(input);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('GIVEN fromRequest with the default (pool) policy WHEN loaded THEN refused, naming the reason and the fix', () => {
    const found = issues(server({}));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^servers\.gh\.policy: fromRequest needs policy: per-session.*pool.*one caller's credential would act for another\. Set policy: per-session$/);
  });

  it.each(['pool', 'shared'])('GIVEN fromRequest with policy %s WHEN loaded THEN refused', (policy) => {
    expect(issues(server({ policy }))[0]).toMatch(new RegExp(`servers\\.gh\\.policy: .*under ${policy} one child serves several callers`));
  });

  it('GIVEN fromRequest with policy per-session WHEN loaded THEN accepted, the header name lower-cased', () => {
    const config = FleetConfigSchema.parse(server({ policy: 'per-session' }));
    expect(config.servers['gh']?.fromRequest).toEqual({ GITHUB_TOKEN: { header: 'x-github-token' } });
  });

  it('GIVEN the gateway credential header, a bad header name, PATH, NODE_OPTIONS, or a name in env WHEN loaded THEN each refused with its fix', () => {
    const bad = (fromRequest: unknown, env: Record<string, string> = {}) =>
      issues({ servers: { gh: { command: 'node', policy: 'per-session', env, fromRequest } } }).join('\n');
    expect(bad({ T: { header: 'Authorization' } })).toMatch(/fromRequest\.T\.header: this header is read by the gateway itself/);
    expect(bad({ T: { header: 'X Token' } })).toMatch(/fromRequest\.T\.header: a header name is/);
    expect(bad({ PATH: { header: 'X-Path' } })).toMatch(/fromRequest\.PATH: PATH cannot come from a caller/);
    expect(bad({ NODE_OPTIONS: { header: 'X-Opt' } })).toMatch(/NODE_OPTIONS cannot come from a caller/);
    expect(bad({ LD_PRELOAD: { header: 'X-Opt' } })).toMatch(/LD_PRELOAD cannot come from a caller/);
    expect(bad({ 'MY-VAR': { header: 'X-Opt' } })).toMatch(/is not an environment variable name/);
    expect(bad({ T: { header: 'X-T' } }, { T: 'default' })).toMatch(/fromRequest\.T: T is set in env too; .*Remove T from env/);
    expect(bad({ T: { header: 'X-T', claim: 'email' } })).toMatch(/fromRequest\.T: give either header .* or claim/);
    expect(bad({ T: {} })).toMatch(/fromRequest\.T: give either header/);
  });
});

describe('fromRequest: values from a claim of the OAuth token', () => {
  const fromRequest = { USER_EMAIL: { claim: 'email' } };
  const noHeaders = new Headers();

  it('GIVEN an OAuth principal with the claim WHEN resolved THEN the variable has its value, keyed by principal and value', () => {
    const ann = resolveCallerCredentials('s', fromRequest, noHeaders, { id: 'oauth:ann', kind: 'oauth', scopes: [], claims: { email: 'ann@example.com' } });
    const bob = resolveCallerCredentials('s', fromRequest, noHeaders, { id: 'oauth:bob', kind: 'oauth', scopes: [], claims: { email: 'ann@example.com' } });
    expect(ann.env).toEqual({ USER_EMAIL: 'ann@example.com' });
    // Same value, another principal: another child.
    expect(ann.key).not.toBe(bob.key);
    expect(ann.key).not.toContain('ann@example.com');
  });

  it('GIVEN a token without the claim, or an API key WHEN resolved THEN 403 naming the claim', () => {
    const refusal = (claims?: Record<string, unknown>): HttpError => {
      try {
        resolveCallerCredentials('s', fromRequest, noHeaders, { id: 'x', kind: claims ? 'oauth' : 'api-key', scopes: [], ...(claims ? { claims } : {}) });
      } catch (error) {
        return error as HttpError;
      }
      throw new Error('not refused');
    };
    expect(refusal({ sub: 'ann' })).toMatchObject({ status: 403, message: expect.stringContaining('needs the "email" claim in your access token') });
    expect(refusal()).toMatchObject({ status: 403, message: expect.stringContaining('an API key or no credential has no claims') });
  });
});

describe('fromRequest: each caller gets its own child with its own value', () => {
  let gw: TestGateway;
  const logger = recordingLogger();
  const marker = newMarker('per-user');

  beforeAll(async () => {
    gw = await startGateway(
      {
        gateway: { logLevel: 'debug' },
        servers: {
          creds: {
            command: process.execPath,
            args: [ENV_FIXTURE, marker],
            policy: 'per-session',
            spares: 1,
            fromRequest: { CALLER_TOKEN: { header: HEADER } },
          },
        },
      },
      { logger },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  const callEnv = async (client: Client | ModernClient): Promise<{ pid: number; value: string }> =>
    parseEnv(textOf(await client.callTool({ name: 'env', arguments: { name: 'CALLER_TOKEN' } })));

  it('GIVEN two SDK v1 Streamable HTTP sessions with different tokens WHEN each reads CALLER_TOKEN THEN each sees its own, on different children', async () => {
    const connect = async (token: string): Promise<Client> => {
      const client = new Client({ name: 'per-user', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(gw.mcpUrl('creds'), { requestInit: { headers: { [HEADER]: token } } }));
      return client;
    };
    const alice = await connect(TOKEN_A);
    const bob = await connect(TOKEN_B);
    try {
      const a = await callEnv(alice);
      const b = await callEnv(bob);
      expect(a.value).toBe(TOKEN_A);
      expect(b.value).toBe(TOKEN_B);
      expect(a.pid).not.toBe(b.pid);
      // The probe's child (no caller) sees a placeholder, never a caller's value.
      expect(a.value).not.toBe('mcp-fleet-probe-no-caller');
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('GIVEN an HTTP+SSE (2024-11-05) session with a token WHEN it reads CALLER_TOKEN THEN it sees its own', async () => {
    const client = new Client({ name: 'per-user-sse', version: '1.0.0' });
    await client.connect(new SSEClientTransport(gw.sseUrl('creds'), { requestInit: { headers: { [HEADER]: TOKEN_B } } }));
    try {
      expect((await callEnv(client)).value).toBe(TOKEN_B);
    } finally {
      await client.close();
    }
  });

  it('GIVEN two SDK v2 clients in the 2026-07-28 era with different tokens WHEN each reads CALLER_TOKEN THEN each sees its own, on different children, and keeps its child', async () => {
    const connect = async (token: string): Promise<ModernClient> => {
      const client = new ModernClient({ name: 'per-user-modern', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
      await client.connect(new ModernTransport(gw.mcpUrl('creds'), { requestInit: { headers: { [HEADER]: token } } }));
      return client;
    };
    const alice = await connect(TOKEN_A);
    const bob = await connect(TOKEN_B);
    try {
      expect(alice.getProtocolEra()).toBe('modern');
      const a1 = await callEnv(alice);
      const b1 = await callEnv(bob);
      const a2 = await callEnv(alice);
      expect(a1.value).toBe(TOKEN_A);
      expect(b1.value).toBe(TOKEN_B);
      expect(a1.pid).not.toBe(b1.pid);
      expect(a2.pid).toBe(a1.pid);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('GIVEN a 2026-07-28 request without the header WHEN sent THEN 400 naming the header', async () => {
    const answer = await modernRequest(gw.mcpUrl('creds'), 'tools/call', { params: { name: 'env', arguments: { name: 'CALLER_TOKEN' } } });
    expect(answer.status).toBe(400);
    expect(answer.final?.error?.message).toBe('Bad Request: server "creds" needs the x-caller-token header (its value becomes CALLER_TOKEN of your own child)');
  });

  it('GIVEN a session opened with one token WHEN a request brings another THEN 403 and the session child is not used', async () => {
    const opened = await fetch(gw.mcpUrl('creds'), { method: 'POST', headers: { ...POST_HEADERS, [HEADER]: TOKEN_A }, body: initializeBody() });
    expect(opened.status).toBe(200);
    const session = opened.headers.get('mcp-session-id') as string;
    await opened.text();
    const other = await fetch(gw.mcpUrl('creds'), {
      method: 'POST',
      headers: { ...POST_HEADERS, [HEADER]: TOKEN_B, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'env', arguments: { name: 'CALLER_TOKEN' } } }),
    });
    expect(other.status).toBe(403);
    const body = await other.text();
    expect(body).toContain('start a new session');
    expect(body).not.toContain(TOKEN_A);
    expect(body).not.toContain(TOKEN_B);
    await fetch(gw.mcpUrl('creds'), { method: 'DELETE', headers: { 'mcp-session-id': session } });
  });

  it('GIVEN the calls above WHEN the captured gateway log is read THEN no token is in it, though the child wrote them to stderr', async () => {
    const text = JSON.stringify(logger.records);
    expect(text).not.toContain(TOKEN_A);
    expect(text).not.toContain(TOKEN_B);
    // The fixture's stderr lines did reach the log, scrubbed: the test would see a leak.
    expect(logger.records.some((r) => r.message === 'env-echo: CALLER_TOKEN=[redacted]')).toBe(true);
  });

  it('GIVEN a fromRequest server WHEN /ready is read THEN it carries no caller value', async () => {
    const ready = await (await fetch(`${gw.url}/ready`)).text();
    expect(ready).not.toContain(TOKEN_A);
    expect(ready).not.toContain(TOKEN_B);
  });
});

describe('fromRequest: at most maxSessions callers have a child without a session', () => {
  const marker = newMarker('per-user-cap');
  const logger = recordingLogger();
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway(
      { servers: { capped: { command: process.execPath, args: [ENV_FIXTURE, marker], policy: 'per-session', maxSessions: 1, fromRequest: { CALLER_TOKEN: { header: HEADER } } } } },
      { logger },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('GIVEN one caller with a call in flight WHEN a second caller comes THEN 503 naming maxSessions; once the first call ends, the second gets a child', async () => {
    const url = gw.mcpUrl('capped');
    const abort = new AbortController();
    const hanging = modernRequest(url, 'tools/call', { params: { name: 'hang', arguments: {} }, headers: { [HEADER]: TOKEN_A }, signal: abort.signal }).catch(() => undefined);
    await waitFor(() => logger.records.some((r) => r.message === 'env-echo: hanging'), { what: 'the first call in flight' });
    const refused = await modernRequest(url, 'tools/call', { params: { name: 'env', arguments: { name: 'CALLER_TOKEN' } }, headers: { [HEADER]: TOKEN_B } });
    expect(refused.status).toBe(503);
    expect(refused.final?.error?.message).toContain('servers.capped.maxSessions');
    abort.abort();
    await hanging;
    // The first caller's child is idle now: a new caller takes its place (bounded wait for the cancellation to land).
    const answer = await waitFor(
      async () => {
        const a = await modernRequest(url, 'tools/call', { params: { name: 'env', arguments: { name: 'CALLER_TOKEN' } }, headers: { [HEADER]: TOKEN_B } });
        return a.status === 200 ? a : undefined;
      },
      { what: 'the second caller to be served', intervalMs: 100 },
    );
    expect(parseEnv(textOf(answer.final?.result)).value).toBe(TOKEN_B);
  });
});
