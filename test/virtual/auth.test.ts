import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASHY_ENTRY, MEMORY_ENTRY, newMarker, POST_HEADERS, initializeBody, processesWithMarker, startGateway, waitFor, type TestGateway } from '../gateway/helpers.js';

/**
 * A virtual server behind the gateway's auth: the same API keys, server
 * allow-lists and session ownership as any server, over a real socket.
 */

const KEY_DEV = 'dev-key-0123456789abcdef0123456789abcdef';
const KEY_OTHER = 'other-key-0123456789abcdef0123456789abcd';
const KEY_DEV2 = 'dev2-key-0123456789abcdef0123456789abcdef';

function connect(url: URL, key: string): Promise<Client> {
  const client = new Client({ name: 'virtual-auth', version: '1.0.0' });
  return client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${key}` } } })).then(() => client);
}

describe('virtual server behind auth', () => {
  const marker = newMarker('virtual-auth');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway(
      {
        gateway: {
          auth: {
            apiKeys: [
              { name: 'dev', env: 'KEY_DEV', servers: ['dev'] },
              { name: 'other', env: 'KEY_OTHER', servers: ['crashy'] },
              { name: 'dev2', env: 'KEY_DEV2', servers: ['dev'] },
            ],
          },
        },
        servers: {
          memory: { command: process.execPath, args: [MEMORY_ENTRY, marker], pool: { min: 1, max: 1 } },
          crashy: { command: process.execPath, args: [CRASHY_ENTRY, marker], pool: { min: 1, max: 1 } },
        },
        virtualServers: { dev: { servers: { memory: {}, crashy: { tools: ['echo'] } } } },
      },
      { env: { KEY_DEV, KEY_OTHER, KEY_DEV2 } },
    );
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await waitFor(() => processesWithMarker(marker).length === 0, { what: 'children to exit' });
  });

  it('GIVEN no credentials WHEN a client posts to the virtual server THEN it gets 401, as at any server', async () => {
    const response = await fetch(gw.mcpUrl('dev'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
    expect(response.status).toBe(401);
  });

  it('GIVEN a key allowed on the virtual server only WHEN it calls a member tool through it THEN it works, and the member directly is refused', async () => {
    const client = await connect(gw.mcpUrl('dev'), KEY_DEV);
    try {
      const result = await client.callTool({ name: 'echo', arguments: { message: 'through dev' } });
      expect(result.content).toEqual([{ type: 'text', text: 'echo: through dev' }]);
    } finally {
      await client.close();
    }
    const direct = await fetch(gw.mcpUrl('crashy'), { method: 'POST', headers: { ...POST_HEADERS, authorization: `Bearer ${KEY_DEV}` }, body: initializeBody() });
    expect(direct.status).toBe(403);
  });

  it("GIVEN another key WHEN it uses the virtual server or a session of it THEN it is refused (403), its session unknown to others (404)", async () => {
    const refused = await fetch(gw.mcpUrl('dev'), { method: 'POST', headers: { ...POST_HEADERS, authorization: `Bearer ${KEY_OTHER}` }, body: initializeBody() });
    expect(refused.status).toBe(403);
    const opened = await fetch(gw.mcpUrl('dev'), { method: 'POST', headers: { ...POST_HEADERS, authorization: `Bearer ${KEY_DEV}` }, body: initializeBody() });
    expect(opened.status).toBe(200);
    const session = opened.headers.get('mcp-session-id');
    expect(session).toBeTruthy();
    await opened.body?.cancel();
    // Another key allowed on the virtual server cannot use this key's session.
    const stolen = await fetch(gw.mcpUrl('dev'), {
      method: 'POST',
      headers: { ...POST_HEADERS, authorization: `Bearer ${KEY_DEV2}`, 'mcp-session-id': session as string, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(stolen.status).toBe(404);
  });
});
