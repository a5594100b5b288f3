import { auth, Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browse } from '../../fixtures/scripted-browser.mjs';
import { textOf } from '../../gateway/helpers.js';
import { MODERN_HEADERS, MODERN_TOOLS_LIST, startFacadeFleet, TestOAuthProvider, type FacadeFleet } from './helpers.js';

/**
 * The official SDK v2 client signs in through mcp-fleet's authorization server
 * (dynamic registration, PKCE, consent, login at a real OpenID provider), calls a
 * tool of server-everything through the gateway, refreshes its token, and is
 * refused after revoking it.
 */

let fleet: FacadeFleet;
const REDIRECT = 'http://127.0.0.1:51789/callback';

beforeAll(async () => {
  fleet = await startFacadeFleet();
}, 60_000);
afterAll(async () => {
  await fleet?.close();
});

async function signIn(provider: TestOAuthProvider, server = 'everything'): Promise<void> {
  const transport = new StreamableHTTPClientTransport(fleet.mcpUrl(server), { authProvider: provider });
  const client = new Client({ name: 'sign-in-test', version: '1.0.0' });
  await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.authorizationUrl?.origin).toBe(fleet.url);
  const end = await browse(provider.authorizationUrl as URL, { stopAt: REDIRECT });
  expect(end.consentPages).toBe(1);
  await transport.finishAuth(end.url.searchParams);
  await client.close().catch(() => {});
}

async function connected(provider: TestOAuthProvider, server = 'everything'): Promise<Client> {
  const client = new Client({ name: 'sign-in-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(fleet.mcpUrl(server), { authProvider: provider }));
  return client;
}

describe('SDK v2 client through the authorization server', () => {
  const provider = new TestOAuthProvider(REDIRECT);

  it('GIVEN a client the server never saw WHEN it connects THEN it registers, the user signs in, and it calls a tool', async () => {
    await signIn(provider);
    expect(provider.information?.client_id).toMatch(/^mcpf-client-/);
    expect(provider.savedTokens?.refresh_token).toBeDefined();
    expect(provider.savedTokens?.scope).toBe('mcp:tools');
    const client = await connected(provider);
    const result = await client.callTool({ name: 'echo', arguments: { message: 'signed in' } });
    expect(textOf(result)).toContain('signed in');
    await client.close();
  }, 60_000);

  it('GIVEN a signed-in client WHEN it refreshes THEN it gets a new token pair, the old refresh token is dead, and the new token works', async () => {
    const before = provider.savedTokens;
    const logins = fleet.idp.logins;
    expect(await auth(provider, { serverUrl: fleet.mcpUrl('everything') })).toBe('AUTHORIZED');
    const after = provider.savedTokens;
    expect(after?.access_token).not.toBe(before?.access_token);
    expect(after?.refresh_token).not.toBe(before?.refresh_token);
    expect(fleet.idp.logins).toBe(logins);
    const client = await connected(provider);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'refreshed' } }))).toContain('refreshed');
    await client.close();
  }, 60_000);

  it('GIVEN a signed-in client WHEN its refresh token is revoked THEN its access token and refresh token are refused', async () => {
    const tokens = provider.savedTokens;
    const clientId = provider.information?.client_id as string;
    const revoked = await fetch(`${fleet.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens?.refresh_token as string, client_id: clientId }),
    });
    expect(revoked.status).toBe(200);
    const call = await fetch(fleet.mcpUrl('everything'), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens?.access_token}`, ...MODERN_HEADERS },
      body: MODERN_TOOLS_LIST,
    });
    expect(call.status).toBe(401);
    expect(call.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const client = new Client({ name: 'sign-in-test', version: '1.0.0' });
    // The SDK tries its refresh token, which the server refuses: the client cannot go on without a new sign-in.
    await expect(client.connect(new StreamableHTTPClientTransport(fleet.mcpUrl('everything'), { authProvider: provider }))).rejects.toMatchObject({ code: 'invalid_grant' });
  }, 60_000);
});
