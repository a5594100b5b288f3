import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesWithMarker, textOf, within } from '../../gateway/helpers.js';
import { freePort, MODERN_HEADERS, MODERN_TOOLS_LIST, startFacadeFleet, type FacadeFleet } from './helpers.js';

/**
 * `mcp-remote` (npm), the stdio bridge many desktop clients use, signs in through
 * mcp-fleet's authorization server: dynamic registration, a browser (the scripted
 * one, given as BROWSER), a tool call, a refresh, and a refusal after revocation.
 */

const require = createRequire(import.meta.url);
const MCP_REMOTE = join(dirname(require.resolve('mcp-remote/package.json')), 'dist', 'proxy.js');
const BROWSER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'scripted-browser.mjs');

let fleet: FacadeFleet;
let configDir: string;
let decisionFile: string;
let callbackPort: number;
const stderr: string[] = [];

beforeAll(async () => {
  fleet = await startFacadeFleet();
  configDir = mkdtempSync(join(tmpdir(), 'mcp-remote-'));
  decisionFile = join(configDir, 'decision');
  writeFileSync(decisionFile, 'approve');
  callbackPort = await freePort();
}, 60_000);
afterAll(async () => {
  await fleet?.close();
  rmSync(configDir, { recursive: true, force: true });
});

/**
 * Starts mcp-remote for the `everything` server and connects an SDK client to it over stdio;
 * rejects when it has not connected in `connectTimeoutMs` (a refused mcp-remote never says so).
 */
async function throughMcpRemote(connectTimeoutMs = 60_000): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCP_REMOTE, fleet.mcpUrl('everything').href, String(callbackPort), '--allow-http'],
    env: {
      ...(process.env as Record<string, string>),
      BROWSER,
      MCP_REMOTE_CONFIG_DIR: configDir,
      SCRIPTED_BROWSER_DECISION_FILE: decisionFile,
    },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const client = new Client({ name: 'through-mcp-remote', version: '1.0.0' });
  try {
    await within(client.connect(transport), connectTimeoutMs, 'mcp-remote to connect');
  } catch (error) {
    // Refused, mcp-remote waits for a sign-in that never comes; the test stops it.
    await transport.close();
    throw error;
  }
  return client;
}

function stored(name: string): Record<string, unknown> {
  const dir = join(configDir, 'mcp-remote-v1');
  const file = readdirSync(dir).find((f) => f.endsWith(`_${name}`));
  if (file === undefined) throw new Error(`mcp-remote stored no ${name}; its log:\n${stderr.join('')}`);
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
}

function store(name: string, value: Record<string, unknown>): void {
  const dir = join(configDir, 'mcp-remote-v1');
  const file = readdirSync(dir).find((f) => f.endsWith(`_${name}`)) as string;
  writeFileSync(join(dir, file), JSON.stringify(value));
}

describe('mcp-remote through the authorization server', () => {
  it('GIVEN a fleet with OAuth WHEN mcp-remote connects THEN it registers, the user signs in in the browser, and a tool call goes through', async () => {
    const logins = fleet.idp.logins;
    const client = await throughMcpRemote();
    try {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'via mcp-remote' } }))).toContain('via mcp-remote');
    } finally {
      await client.close();
    }
    expect(fleet.idp.logins).toBe(logins + 1);
    expect(stored('client_info.json')['client_id']).toMatch(/^mcpf-client-/);
  }, 120_000);

  it('GIVEN an access token that no longer works WHEN mcp-remote starts again THEN it refreshes without a new sign-in', async () => {
    const before = stored('tokens.json');
    // What mcp-remote finds after its token expired: the server refuses it, the refresh token is still good.
    store('tokens.json', { ...before, access_token: 'expired-token' });
    const logins = fleet.idp.logins;
    const client = await throughMcpRemote();
    try {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'refreshed' } }))).toContain('refreshed');
    } finally {
      await client.close();
    }
    const after = stored('tokens.json');
    expect(after['refresh_token']).not.toBe(before['refresh_token']);
    expect(fleet.idp.logins).toBe(logins);
  }, 120_000);

  it('GIVEN its grant is revoked WHEN mcp-remote starts again and the user does not approve a new sign-in THEN it is refused', async () => {
    const tokens = stored('tokens.json');
    const info = stored('client_info.json');
    const revoked = await fetch(`${fleet.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: String(tokens['refresh_token']), client_id: String(info['client_id']) }),
    });
    expect(revoked.status).toBe(200);
    const direct = await fetch(fleet.mcpUrl('everything'), { method: 'POST', headers: { authorization: `Bearer ${String(tokens['access_token'])}`, ...MODERN_HEADERS }, body: MODERN_TOOLS_LIST });
    expect(direct.status).toBe(401);
    writeFileSync(decisionFile, 'deny');
    // A sign-in that is approved connects in about 1 s; refused, mcp-remote waits for good, so 20 s is the verdict.
    await expect(throughMcpRemote(20_000)).rejects.toThrow();
    // The refused mcp-remote is stopped, not left behind (orphaned) waiting for a sign-in.
    expect(processesWithMarker(fleet.mcpUrl('everything').href)).toEqual([]);
  }, 120_000);
});
