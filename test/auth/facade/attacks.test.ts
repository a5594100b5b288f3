import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browse } from '../../fixtures/scripted-browser.mjs';
import { MODERN_HEADERS, MODERN_TOOLS_LIST, startFacadeFleet, startHttpsServer, type FacadeFleet } from './helpers.js';

/**
 * The attacks an authorization server must stand, each against the real gateway
 * and a real OpenID provider on 127.0.0.1. Every test fails if its defence is removed.
 */

let fleet: FacadeFleet;
let skewMs = 0;
const REDIRECT = 'http://127.0.0.1:40111/callback';

beforeAll(async () => {
  fleet = await startFacadeFleet({
    authorizationServer: {
      registration: { perMinute: 40 },
      clients: [{ clientId: 'static-app', name: 'Static App', redirectUris: [REDIRECT], secret: { env: 'STATIC_APP_SECRET' } }],
    },
    env: { STATIC_APP_SECRET: 'static-app-secret-for-tests' },
    users: { bob: { sub: 'bob', groups: ['admins'] } },
    gatewayOptions: { authorizationServer: { now: () => Date.now() + skewMs } },
  });
}, 60_000);
afterAll(async () => {
  await fleet?.close();
});

interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function register(metadata: Record<string, unknown>): Promise<Response> {
  return fetch(`${fleet.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
}

async function publicClient(redirectUris: string[] = [REDIRECT]): Promise<string> {
  const response = await register({ client_name: 'attack test', redirect_uris: redirectUris, token_endpoint_auth_method: 'none' });
  expect(response.status).toBe(201);
  return ((await response.json()) as { client_id: string }).client_id;
}

function authorizeUrl(params: Record<string, string | undefined>): URL {
  const url = new URL(`${fleet.url}/oauth/authorize`);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url;
}

function standardParams(clientId: string, p: Pkce, overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    state: 'st-123',
    resource: fleet.mcpUrl('everything').href,
    ...overrides,
  };
}

/** Signs in (scripted browser) and returns the redirect back to the client. */
async function signIn(clientId: string, p: Pkce, overrides: Record<string, string | undefined> = {}): Promise<URL> {
  const end = await browse(authorizeUrl(standardParams(clientId, p, overrides)), { stopAt: overrides['redirect_uri'] ?? REDIRECT });
  return end.url;
}

async function token(form: Record<string, string | undefined>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, string> }> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
  const response = await fetch(`${fleet.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

async function exchange(clientId: string, code: string, verifier: string | undefined): Promise<{ status: number; body: Record<string, string> }> {
  return token({ grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT });
}

async function callTools(server: string, accessToken: string): Promise<Response> {
  return fetch(fleet.mcpUrl(server), {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, ...MODERN_HEADERS },
    body: MODERN_TOOLS_LIST,
  });
}

async function tokensFor(clientId: string, overrides: Record<string, string | undefined> = {}): Promise<Record<string, string>> {
  const p = pkce();
  const back = await signIn(clientId, p, overrides);
  const code = back.searchParams.get('code') as string;
  const answer = await exchange(clientId, code, p.verifier);
  expect(answer.status).toBe(200);
  return answer.body;
}

describe('authorization requests', () => {
  it('GIVEN a redirect URI that differs from the registered one by one character THEN an error page, never a redirect', async () => {
    const clientId = await publicClient([REDIRECT, 'https://app.example.com/cb']);
    for (const uri of ['http://127.0.0.1:40111/callbacK', 'http://127.0.0.1:40111/callback/', 'http://127.0.0.1:40111/callbac', 'https://app.example.com/cc', 'https://app.example.co/cb', 'https://app.example.com/cb#x']) {
      const response = await fetch(authorizeUrl(standardParams(clientId, pkce(), { redirect_uri: uri })), { redirect: 'manual' });
      expect(response.status, uri).toBe(400);
      expect(response.headers.get('location'), uri).toBeNull();
      expect(await response.text()).toContain('Invalid redirect URI');
    }
    // RFC 8252: a loopback redirect URI may come back on another port; nothing else may differ.
    const otherPort = await fetch(authorizeUrl(standardParams(clientId, pkce(), { redirect_uri: 'http://127.0.0.1:40999/callback' })), { redirect: 'manual' });
    expect(otherPort.status).toBe(200);
  });

  it('GIVEN no PKCE challenge, or the plain method THEN the client gets invalid_request (with state and iss) and no consent page', async () => {
    const clientId = await publicClient();
    for (const overrides of [{ code_challenge: undefined, code_challenge_method: undefined }, { code_challenge_method: 'plain' }, { code_challenge: 'short' }]) {
      const response = await fetch(authorizeUrl(standardParams(clientId, pkce(), overrides)), { redirect: 'manual' });
      expect(response.status).toBe(303);
      const location = new URL(response.headers.get('location') as string);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('st-123');
      expect(location.searchParams.get('iss')).toBe(fleet.url);
    }
  });

  it('GIVEN a resource that is not a server of this fleet THEN invalid_target', async () => {
    const clientId = await publicClient();
    for (const resource of ['https://evil.example.com/mcp', `${fleet.url}/servers/nope/mcp`, undefined]) {
      const response = await fetch(authorizeUrl(standardParams(clientId, pkce(), { resource })), { redirect: 'manual' });
      expect(new URL(response.headers.get('location') as string).searchParams.get('error'), String(resource)).toBe('invalid_target');
    }
  });

  it('GIVEN an unknown client THEN an error page, not a redirect', async () => {
    const response = await fetch(authorizeUrl(standardParams('mcpf-client-made-up', pkce())), { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('GIVEN the consent form posted without the browser cookie of the sign-in (CSRF) THEN it is refused', async () => {
    const clientId = await publicClient();
    const page = await fetch(authorizeUrl(standardParams(clientId, pkce())));
    const requestId = /name="request" value="([^"]+)"/.exec(await page.text())?.[1] as string;
    const forged = await fetch(`${fleet.url}/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request: requestId, decision: 'approve' }),
    });
    expect(forged.status).toBe(400);
    expect(forged.headers.get('location')).toBeNull();
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('GIVEN the user cancels on the consent page THEN the client gets access_denied and the provider is never asked', async () => {
    const clientId = await publicClient();
    const logins = fleet.idp.logins;
    const end = await browse(authorizeUrl(standardParams(clientId, pkce())), { stopAt: REDIRECT, decision: 'deny' });
    expect(end.url.searchParams.get('error')).toBe('access_denied');
    expect(end.url.searchParams.get('state')).toBe('st-123');
    expect(fleet.idp.logins).toBe(logins);
  });
});

describe('token requests', () => {
  it('GIVEN a sign-in THEN the code comes back with state and iss (RFC 9207), and redeems once', async () => {
    const clientId = await publicClient();
    const p = pkce();
    const back = await signIn(clientId, p);
    expect(back.searchParams.get('state')).toBe('st-123');
    expect(back.searchParams.get('iss')).toBe(fleet.url);
    const answer = await exchange(clientId, back.searchParams.get('code') as string, p.verifier);
    expect(answer.body).toMatchObject({ token_type: 'Bearer', scope: 'mcp:tools' });
    expect((await callTools('everything', answer.body['access_token'] as string)).status).toBe(200);
  }, 30_000);

  it('GIVEN an authorization code used twice THEN the second use fails and the tokens of the first are revoked', async () => {
    const clientId = await publicClient();
    const p = pkce();
    const code = (await signIn(clientId, p)).searchParams.get('code') as string;
    const first = await exchange(clientId, code, p.verifier);
    expect(first.status).toBe(200);
    expect((await callTools('everything', first.body['access_token'] as string)).status).toBe(200);
    const second = await exchange(clientId, code, p.verifier);
    expect(second).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await callTools('everything', first.body['access_token'] as string)).status).toBe(401);
    expect((await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: first.body['refresh_token'] })).body['error']).toBe('invalid_grant');
  }, 30_000);

  it('GIVEN a missing or wrong PKCE verifier THEN invalid_grant, and the code is spent', async () => {
    const clientId = await publicClient();
    for (const verifier of [undefined, pkce().verifier, 'a'.repeat(43)]) {
      const p = pkce();
      const code = (await signIn(clientId, p)).searchParams.get('code') as string;
      expect(await exchange(clientId, code, verifier)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect((await exchange(clientId, code, p.verifier)).status).toBe(400);
    }
  }, 60_000);

  it('GIVEN a code of another client THEN invalid_grant', async () => {
    const victim = await publicClient();
    const attacker = await publicClient();
    const p = pkce();
    const code = (await signIn(victim, p)).searchParams.get('code') as string;
    expect(await exchange(attacker, code, p.verifier)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  }, 30_000);

  it('GIVEN a refresh token used twice (stolen and replayed) THEN the grant is revoked, the rotated token too', async () => {
    const clientId = await publicClient();
    const first = await tokensFor(clientId);
    const rotated = await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: first['refresh_token'] });
    expect(rotated.status).toBe(200);
    expect(rotated.body['refresh_token']).not.toBe(first['refresh_token']);
    const replay = await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: first['refresh_token'] });
    expect(replay.body['error']).toBe('invalid_grant');
    expect((await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: rotated.body['refresh_token'] })).body['error']).toBe('invalid_grant');
    expect((await callTools('everything', rotated.body['access_token'] as string)).status).toBe(401);
  }, 30_000);

  it('GIVEN a confidential client WHEN it presents a wrong secret or none THEN 401 invalid_client', async () => {
    const registered = (await (await register({ client_name: 'confidential', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' })).json()) as { client_id: string; client_secret: string };
    expect(registered.client_secret).toBeDefined();
    const basic = (secret: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${registered.client_id}:${secret}`).toString('base64')}` });
    expect(await token({ grant_type: 'refresh_token', refresh_token: 'x.y' }, basic(`${registered.client_secret}x`))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await token({ grant_type: 'refresh_token', refresh_token: 'x.y', client_id: registered.client_id })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await token({ grant_type: 'refresh_token', refresh_token: 'x.y' }, basic(registered.client_secret))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});

describe('clients registered in the config', () => {
  it('GIVEN a confidential client from the config THEN it signs in and redeems its code with its secret, and not without', async () => {
    const p = pkce();
    const code = (await signIn('static-app', p)).searchParams.get('code') as string;
    const form = { grant_type: 'authorization_code', code, code_verifier: p.verifier, redirect_uri: REDIRECT };
    expect(await token({ ...form, client_id: 'static-app' })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const code2 = (await signIn('static-app', p)).searchParams.get('code') as string;
    const answer = await token({ ...form, code: code2 }, { authorization: `Basic ${Buffer.from('static-app:static-app-secret-for-tests').toString('base64')}` });
    expect(answer.status).toBe(200);
    expect((await callTools('everything', answer.body['access_token'] as string)).status).toBe(200);
  }, 30_000);
});

describe('access tokens at the gateway', () => {
  it('GIVEN a token for one server THEN it is refused on another (audience), and a refresh cannot move it', async () => {
    const clientId = await publicClient();
    const tokens = await tokensFor(clientId);
    expect((await callTools('everything', tokens['access_token'] as string)).status).toBe(200);
    const elsewhere = await callTools('echo', tokens['access_token'] as string);
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const moved = await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens['refresh_token'], resource: fleet.mcpUrl('echo').href });
    expect(moved.body['error']).toBe('invalid_target');
  }, 30_000);

  it('GIVEN an expired token THEN 401 invalid_token', async () => {
    const tokens = await tokensFor(await publicClient());
    expect((await callTools('everything', tokens['access_token'] as string)).status).toBe(200);
    skewMs = 11 * 60_000;
    try {
      const late = await callTools('everything', tokens['access_token'] as string);
      expect(late.status).toBe(401);
      expect(late.headers.get('www-authenticate')).toContain('expired');
    } finally {
      skewMs = 0;
    }
  }, 30_000);

  it('GIVEN a server for the admins group THEN a user outside it gets 403 and is never granted its scope; a member gets in', async () => {
    const clientId = await publicClient();
    fleet.idp.nextUser = { sub: 'alice', groups: ['engineers'] };
    const alice = await tokensFor(clientId, { resource: fleet.mcpUrl('admin').href, scope: 'mcp:tools mcp:admin' });
    expect(alice['scope']).toBe('mcp:tools');
    const refused = await callTools('admin', alice['access_token'] as string);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(refused.headers.get('www-authenticate')).toContain(`resource_metadata="${fleet.url}/.well-known/oauth-protected-resource/servers/admin/mcp"`);
    // Every era: a 2025 session's initialize and the 2024-11-05 SSE stream are refused the same way.
    const bearer = { authorization: `Bearer ${alice['access_token'] as string}` };
    const legacy = await fetch(fleet.mcpUrl('admin'), {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    expect(legacy.status).toBe(403);
    const sse = await fetch(`${fleet.url}/servers/admin/sse`, { headers: { ...bearer, accept: 'text/event-stream' } });
    expect(sse.status).toBe(403);
    fleet.idp.nextUser = { sub: 'bob', groups: ['admins'] };
    try {
      const bob = await tokensFor(await publicClient(), { resource: fleet.mcpUrl('admin').href, scope: 'mcp:tools mcp:admin' });
      expect(bob['scope']).toBe('mcp:tools mcp:admin');
      expect((await callTools('admin', bob['access_token'] as string)).status).toBe(200);
    } finally {
      fleet.idp.nextUser = { sub: 'alice', groups: ['engineers'] };
    }
  }, 60_000);
});

describe('client registration', () => {
  it('GIVEN redirect URIs that are not https or loopback THEN invalid_redirect_uri', async () => {
    for (const uri of ['http://app.example.com/cb', 'javascript:alert(1)', 'https://app.example.com/cb#frag']) {
      const response = await register({ client_name: 'x', redirect_uris: [uri], token_endpoint_auth_method: 'none' });
      expect(response.status, uri).toBe(400);
      expect(((await response.json()) as { error: string }).error, uri).toMatch(/invalid_redirect_uri|invalid_client_metadata/);
    }
  });

  it('GIVEN a registration flood THEN registrations past the rate get 429 with Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 60 }, () => register({ client_name: 'flood', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' })));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(20);
    expect(answers.filter((a) => a.status === 201).length).toBeLessThanOrEqual(40);
    expect(Number(refused[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('client ID metadata documents', () => {
  it('GIVEN a metadata document URL on a private or loopback address THEN it is refused before any connection', async () => {
    const docs = await startHttpsServer(() => ({ status: 200, body: '{}' }));
    try {
      const port = new URL(docs.url).port;
      for (const clientId of [`${docs.url}/client.json`, `https://localhost:${port}/client.json`, `https://[::ffff:127.0.0.1]:${port}/client.json`]) {
        const response = await fetch(authorizeUrl(standardParams(clientId, pkce())), { redirect: 'manual' });
        expect(response.status, clientId).toBe(400);
        expect(await response.text(), clientId).toMatch(/private or reserved address/);
      }
      expect(docs.requests).toEqual([]);
    } finally {
      await docs.close();
    }
  });
});
