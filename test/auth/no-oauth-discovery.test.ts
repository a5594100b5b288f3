import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/gateway/auth/index.js';
import { CRASHY_ENTRY, initializeBody, POST_HEADERS, startGateway, within, type TestGateway } from '../gateway/helpers.js';

/**
 * A gateway with API keys and no OAuth, met by a client that tries OAuth discovery
 * on any 401 (as mcp-remote does): every answer says an API key is expected,
 * instead of `Not found: /register`.
 */

const require = createRequire(import.meta.url);
const key = generateApiKey();
let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startGateway({
    gateway: { auth: { apiKeys: [{ name: 'ci', sha256: key.sha256 }] } },
    servers: { echo: { command: process.execPath, args: [CRASHY_ENTRY] } },
  });
}, 60_000);
afterAll(async () => {
  await gateway?.close();
});

describe('a gateway that uses API keys, asked for OAuth', () => {
  it('GIVEN no credentials THEN 401 with WWW-Authenticate and a body that says an API key is expected', async () => {
    const response = await fetch(gateway.mcpUrl('echo'), { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="mcp-fleet"');
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/expects an API key: send Authorization: Bearer <key>/);
  });

  it.each([
    ['GET', '/.well-known/oauth-protected-resource/servers/echo/mcp'],
    ['GET', '/.well-known/oauth-protected-resource'],
    ['GET', '/.well-known/oauth-authorization-server'],
    ['GET', '/.well-known/openid-configuration'],
    ['POST', '/register'],
    ['GET', '/authorize'],
    ['POST', '/token'],
  ])('GIVEN %s %s THEN 404 with a JSON answer that says an API key is expected', async (method, path) => {
    const response = await fetch(`${gateway.url}${path}`, { method, ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}) });
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error_description).toMatch(/does not use OAuth: this gateway expects an API key/);
    expect(body.error_description).not.toMatch(/Not found/);
  });

  it('GIVEN mcp-remote without a key THEN it stops with the gateway\'s explanation instead of "Not found: /register"', async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'mcp-remote-nokey-'));
    const stderr: string[] = [];
    try {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [join(dirname(require.resolve('mcp-remote/package.json')), 'dist', 'proxy.js'), gateway.mcpUrl('echo').href, '--allow-http'],
        env: { ...(process.env as Record<string, string>), MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: '/bin/false' },
        stderr: 'pipe',
      });
      transport.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
      await expect(within(new Client({ name: 'no-key', version: '1.0.0' }).connect(transport), 60_000, 'mcp-remote to give up')).rejects.toThrow();
      const log = stderr.join('');
      expect(log).not.toContain('Not found: /register');
      expect(log).toMatch(/expects an API key/);
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
  }, 90_000);
});
