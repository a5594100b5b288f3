import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browse } from '../../fixtures/scripted-browser.mjs';
import { textOf } from '../../gateway/helpers.js';
import { startFacadeFleet, startHttpsServer, TestOAuthProvider, type FacadeFleet } from './helpers.js';

/**
 * Client ID Metadata Documents: the SDK v2 client uses an https URL as its client
 * id; the authorization server fetches and checks the document. The documents are
 * served on 127.0.0.1 with a test CA, so this fleet allows private addresses (the
 * default refuses them: see attacks.test.ts).
 */

const REDIRECT = 'http://127.0.0.1:40222/callback';
let fleet: FacadeFleet;
let docs: Awaited<ReturnType<typeof startHttpsServer>>;
let documents: Record<string, { status: number; body: string; headers?: Record<string, string> }> = {};

beforeAll(async () => {
  docs = await startHttpsServer((path) => documents[path] ?? { status: 404, body: '{}' });
  fleet = await startFacadeFleet({
    authorizationServer: { registration: { enabled: false }, clientIdMetadataDocuments: { allowPrivateAddresses: true, maxBytes: 2048 } },
    gatewayOptions: { authorizationServer: { metadataDocumentCa: docs.ca } },
  });
}, 60_000);
afterAll(async () => {
  await fleet?.close();
  await docs?.close();
});

function document(path: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ client_id: `${docs.url}${path}`, client_name: 'Metadata Document Client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', ...extra });
}

describe('Client ID Metadata Documents', () => {
  it('GIVEN the metadata advertises CIMD WHEN the SDK client uses a URL client id THEN it signs in without registering and calls a tool', async () => {
    documents['/client.json'] = { status: 200, body: document('/client.json'), headers: { 'cache-control': 'max-age=60' } };
    const metadata = (await (await fetch(`${fleet.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata['client_id_metadata_document_supported']).toBe(true);
    expect(metadata['registration_endpoint']).toBeUndefined();
    const provider = new TestOAuthProvider(REDIRECT, `${docs.url}/client.json`);
    const transport = new StreamableHTTPClientTransport(fleet.mcpUrl('everything'), { authProvider: provider });
    await expect(new Client({ name: 'cimd', version: '1.0.0' }).connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrl?.searchParams.get('client_id')).toBe(`${docs.url}/client.json`);
    let consent = '';
    const end = await browse(provider.authorizationUrl as URL, { stopAt: REDIRECT, onPage: (_url, html) => (consent += html) });
    expect(consent).toContain('Metadata Document Client');
    await transport.finishAuth(end.url.searchParams);
    const client = new Client({ name: 'cimd', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(fleet.mcpUrl('everything'), { authProvider: provider }));
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'by document' } }))).toContain('by document');
    await client.close();
  }, 60_000);

  it.each([
    ['an oversized document', '/big.json', () => ({ status: 200, body: document('/big.json', { padding: 'x'.repeat(4000) }) }), /larger than 2048 bytes/],
    ['a document naming another client_id', '/liar.json', () => ({ status: 200, body: document('/other.json') }), /must name its own URL/],
    ['a redirect to another document', '/moved.json', () => ({ status: 302, body: '', headers: { location: `${docs.url}/client.json` } }), /HTTP 302/],
    ['a document with a secret-based auth method', '/secret.json', () => ({ status: 200, body: document('/secret.json', { token_endpoint_auth_method: 'client_secret_basic' }) }), /not supported/],
    ['a document with an http redirect URI off loopback', '/http.json', () => ({ status: 200, body: document('/http.json', { redirect_uris: ['http://evil.example.com/cb'] }) }), /not loopback/],
  ])('GIVEN %s THEN the authorization request gets an error page', async (_what, path, make, message) => {
    documents[path] = make();
    const url = new URL(`${fleet.url}/oauth/authorize`);
    url.search = new URLSearchParams({
      client_id: `${docs.url}${path}`,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      resource: fleet.mcpUrl('everything').href,
    }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toMatch(message);
  });

  it('GIVEN a document that failed WHEN it is asked for again at once THEN it is not fetched again (no fetch amplification)', async () => {
    documents['/flaky.json'] = { status: 500, body: '{}' };
    const ask = (): Promise<Response> =>
      fetch(`${fleet.url}/oauth/authorize?client_id=${encodeURIComponent(`${docs.url}/flaky.json`)}&redirect_uri=${encodeURIComponent(REDIRECT)}`, { redirect: 'manual' });
    await ask();
    await ask();
    await ask();
    expect(docs.requests.filter((r) => r === '/flaky.json')).toHaveLength(1);
  });
});
