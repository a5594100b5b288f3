import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthSchema } from '../../src/config/auth-schema.js';
import { createAuthenticator, generateApiKey, type Authenticator, type AuthOutcome } from '../../src/gateway/auth/index.js';
import { silentLogger } from '../../src/log.js';
import { ErrorCode } from '../../src/protocol.js';
import { deadUrl, startIssuer, type TestIssuer } from './issuer-fixture.js';

const RESOURCE = 'https://fetch.example.com/mcp';
const TARGET = { server: 'fetch', resourceUrl: RESOURCE };
const METADATA_URL = 'https://fetch.example.com/.well-known/oauth-protected-resource/mcp';

function request(token?: string): Request {
  return new Request(RESOURCE, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
}

async function refusal(outcome: AuthOutcome): Promise<{ status: number; reason: string; challenge: string; text: string }> {
  if (outcome.ok) throw new Error(`expected a refusal, got principal ${outcome.principal.id}`);
  return {
    status: outcome.response.status,
    reason: outcome.reason,
    challenge: outcome.response.headers.get('www-authenticate') ?? '',
    text: await outcome.response.text(),
  };
}

describe.each(['ES256', 'RS256'] as const)('OAuth resource server with %s keys', (alg) => {
  let issuer: TestIssuer;
  let auth: Authenticator;

  beforeAll(async () => {
    issuer = await startIssuer(alg);
    auth = createAuthenticator(
      AuthSchema.parse({
        oauth: {
          issuer: issuer.issuer,
          jwksUri: issuer.jwksUri,
          requiredScopes: ['mcp:tools'],
          clockToleranceSeconds: 0,
          jwksCooldownSeconds: 0,
        },
      }),
      { logger: silentLogger },
    );
  });
  afterAll(async () => {
    auth.close();
    await issuer.close();
  });

  it('GIVEN a valid token for this resource THEN the principal is the subject with its scopes', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools profile' });
    const outcome = await auth.authenticate(request(token), TARGET);
    // The token's claims ride along for servers whose fromRequest values come from a claim.
    expect(outcome).toEqual({
      ok: true,
      principal: { id: 'oauth:alice', kind: 'oauth', scopes: ['mcp:tools', 'profile'], groups: [], claims: expect.objectContaining({ sub: 'alice', scope: 'mcp:tools profile' }) },
    });
  });

  it('GIVEN no token THEN 401 points to the path-inserted resource metadata and names the scope', async () => {
    const r = await refusal(await auth.authenticate(request(), TARGET));
    expect(r.status).toBe(401);
    expect(r.challenge).toBe(`Bearer scope="mcp:tools", resource_metadata="${METADATA_URL}"`);
    expect(JSON.parse(r.text)).toEqual({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.Unauthorized, message: expect.any(String) } });
  });

  it('GIVEN an expired token THEN 401 invalid_token', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools' }, { expiresAt: Math.floor(Date.now() / 1000) - 60 });
    const r = await refusal(await auth.authenticate(request(token), TARGET));
    expect(r).toMatchObject({ status: 401, reason: 'token-expired' });
    expect(r.challenge).toContain('error="invalid_token"');
    expect(r.challenge).toContain(`resource_metadata="${METADATA_URL}"`);
  });

  it('GIVEN a token that is not valid yet THEN 401', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools', nbf: Math.floor(Date.now() / 1000) + 3600 });
    expect(await refusal(await auth.authenticate(request(token), TARGET))).toMatchObject({ status: 401, reason: 'token-not-yet-valid' });
  });

  it('GIVEN a token of another issuer THEN 401 wrong-issuer', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools' }, { issuer: 'https://evil.example.com' });
    expect(await refusal(await auth.authenticate(request(token), TARGET))).toMatchObject({ status: 401, reason: 'wrong-issuer' });
  });

  it('GIVEN a token for another MCP server, or with no audience THEN 401 wrong-audience (no token passthrough)', async () => {
    for (const aud of ['https://memory.example.com/mcp', ['https://api.example.com'], undefined]) {
      const token = await issuer.sign({ sub: 'alice', scope: 'mcp:tools', ...(aud === undefined ? {} : { aud }) });
      expect(await refusal(await auth.authenticate(request(token), TARGET))).toMatchObject({ status: 401, reason: 'wrong-audience' });
    }
  });

  it('GIVEN an audience differing only in host case or a trailing slash THEN it is the same resource', async () => {
    for (const aud of ['https://FETCH.example.com/mcp', 'https://fetch.example.com/mcp/', ['x', 'https://fetch.example.com:443/mcp']]) {
      const token = await issuer.sign({ sub: 'alice', aud, scope: 'mcp:tools' });
      expect((await auth.authenticate(request(token), TARGET)).ok).toBe(true);
    }
  });

  it('GIVEN a token without the required scope THEN 403 insufficient_scope naming the scope', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: RESOURCE, scope: 'profile' });
    const r = await refusal(await auth.authenticate(request(token), TARGET));
    expect(r).toMatchObject({ status: 403, reason: 'insufficient-scope' });
    expect(r.challenge).toContain('error="insufficient_scope"');
    expect(r.challenge).toContain('scope="mcp:tools"');
    expect(r.challenge).toContain(`resource_metadata="${METADATA_URL}"`);
  });

  it('accepts scopes given as an scp array', async () => {
    const token = await issuer.sign({ sub: 'bob', aud: RESOURCE, scp: ['mcp:tools'] });
    expect((await auth.authenticate(request(token), TARGET)).ok).toBe(true);
  });

  it('GIVEN malformed tokens THEN 401, never a crash', async () => {
    for (const token of ['abc', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      const r = await refusal(await auth.authenticate(request(token), TARGET));
      expect(r.status).toBe(401);
      expect(r.reason).toBe('malformed-token');
    }
  });

  it('GIVEN an HS256 token signed with a made-up secret THEN it is refused (asymmetric algorithms only)', async () => {
    const token = await new SignJWT({ sub: 'mallory', aud: RESOURCE, scope: 'mcp:tools' })
      .setProtectedHeader({ alg: 'HS256', kid: 'key-1' })
      .setIssuer(issuer.issuer)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await refusal(await auth.authenticate(request(token), TARGET))).status).toBe(401);
  });

  it('GIVEN a refused token THEN neither body nor headers contain it', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: 'https://other.example.com', scope: 'mcp:tools' });
    const outcome = await auth.authenticate(request(token), TARGET);
    if (outcome.ok) throw new Error('expected a refusal');
    const text = `${await outcome.response.text()} ${JSON.stringify([...outcome.response.headers])}`;
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.split('.')[2]);
  });

  it('GIVEN the issuer rotates its key THEN new tokens validate and tokens of the old key fail', async () => {
    const old = await issuer.sign({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools' });
    expect((await auth.authenticate(request(old), TARGET)).ok).toBe(true);
    await issuer.rotate();
    const fresh = await issuer.sign({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools' });
    expect((await auth.authenticate(request(fresh), TARGET)).ok).toBe(true);
    const stale = await issuer.sign({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools' }, { previousKey: true });
    expect(await refusal(await auth.authenticate(request(stale), TARGET))).toMatchObject({ status: 401, reason: 'unknown-key' });
  });

  it('GIVEN a token claiming the current kid but signed by another key THEN 401 bad-signature', async () => {
    await issuer.rotate();
    const fresh = await issuer.sign({ sub: 'x', aud: RESOURCE, scope: 'mcp:tools' });
    const kid = (JSON.parse(Buffer.from(fresh.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;
    const forged = await issuer.sign({ sub: 'x', aud: RESOURCE, scope: 'mcp:tools' }, { previousKey: true, kid });
    expect(await refusal(await auth.authenticate(request(forged), TARGET))).toMatchObject({ status: 401, reason: 'bad-signature' });
  });
});

describe('OAuth: JWKS fetching', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer();
  });
  afterAll(async () => {
    await issuer.close();
  });

  it('GIVEN no jwksUri THEN the JWKS is found through RFC 8414 metadata of the issuer', async () => {
    const auth = createAuthenticator(AuthSchema.parse({ oauth: { issuer: issuer.issuer } }), { logger: silentLogger });
    const token = await issuer.sign({ sub: 'alice', aud: RESOURCE });
    expect((await auth.authenticate(request(token), TARGET)).ok).toBe(true);
  });

  it('GIVEN the default cooldown WHEN tokens with made-up kids flood in THEN the JWKS is fetched once', async () => {
    const auth = createAuthenticator(AuthSchema.parse({ oauth: { issuer: issuer.issuer, jwksUri: issuer.jwksUri } }), { logger: silentLogger });
    const before = issuer.jwksFetches;
    for (let i = 0; i < 5; i++) {
      const token = await issuer.sign({ sub: 'x', aud: RESOURCE }, { kid: `forged-${i}` });
      expect((await auth.authenticate(request(token), TARGET)).ok).toBe(false);
    }
    expect(issuer.jwksFetches - before).toBe(1);
  });

  it('GIVEN tokenType at+jwt THEN an ID token of the same issuer (typ JWT) is refused', async () => {
    const auth = createAuthenticator(AuthSchema.parse({ oauth: { issuer: issuer.issuer, jwksUri: issuer.jwksUri, tokenType: 'at+jwt' } }), {
      logger: silentLogger,
    });
    expect((await auth.authenticate(request(await issuer.sign({ sub: 'a', aud: RESOURCE })), TARGET)).ok).toBe(true);
    const idToken = await issuer.sign({ sub: 'a', aud: RESOURCE }, { typ: 'JWT' });
    expect(await refusal(await auth.authenticate(request(idToken), TARGET))).toMatchObject({ status: 401, reason: 'wrong-token-type' });
  });

  it('GIVEN an unreachable issuer THEN 503 with Retry-After, not 401 (the client token may be fine)', async () => {
    const dead = await deadUrl();
    const auth = createAuthenticator(AuthSchema.parse({ oauth: { issuer: dead, jwksTimeoutSeconds: 2 } }), { logger: silentLogger });
    const token = await issuer.sign({ sub: 'alice', aud: RESOURCE });
    const r = await refusal(await auth.authenticate(request(token), TARGET));
    expect(r).toMatchObject({ status: 503, reason: 'issuer-unavailable' });
  });
});

describe('API keys and OAuth together', () => {
  let issuer: TestIssuer;
  let auth: Authenticator;
  const ci = generateApiKey();
  beforeAll(async () => {
    issuer = await startIssuer();
    auth = createAuthenticator(
      AuthSchema.parse({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }], oauth: { issuer: issuer.issuer, jwksUri: issuer.jwksUri } }),
      { logger: silentLogger },
    );
  });
  afterAll(async () => {
    await issuer.close();
  });

  it('accepts the API key without asking the issuer', async () => {
    const before = issuer.jwksFetches;
    const outcome = await auth.authenticate(request(ci.key), TARGET);
    expect(outcome.ok && outcome.principal.id).toBe('key:ci');
    expect(issuer.jwksFetches).toBe(before);
  });

  it('refuses an unknown mcpf_ key as an API key, without asking the issuer', async () => {
    const before = issuer.jwksFetches;
    const r = await refusal(await auth.authenticate(request(generateApiKey().key), TARGET));
    expect(r).toMatchObject({ status: 401, reason: 'invalid-api-key' });
    expect(r.challenge).toContain(`resource_metadata="${METADATA_URL}"`);
    expect(issuer.jwksFetches).toBe(before);
  });

  it('accepts a JWT', async () => {
    const token = await issuer.sign({ sub: 'alice', aud: RESOURCE });
    const outcome = await auth.authenticate(request(token), TARGET);
    expect(outcome.ok && outcome.principal.kind).toBe('oauth');
  });
});

describe('Protected Resource Metadata', () => {
  const config = AuthSchema.parse({
    oauth: {
      issuer: 'https://auth.example.com',
      jwksUri: 'https://auth.example.com/jwks',
      requiredScopes: ['mcp:tools'],
      serverScopes: { memory: ['mcp:memory'] },
      resourceName: 'Example fleet',
    },
  });
  const auth = createAuthenticator(config, { logger: silentLogger });
  const resolve = (path: string): { server: string; resourceUrl: string } | undefined => {
    const m = /^\/servers\/([a-z0-9-]+)\/mcp$/.exec(path);
    return m?.[1] === undefined ? undefined : { server: m[1], resourceUrl: `http://127.0.0.1:8808/servers/${m[1]}/mcp` };
  };

  it('GIVEN a path-inserted metadata URL THEN it answers the RFC 9728 document of that endpoint', async () => {
    const response = auth.metadata(new Request('http://127.0.0.1:8808/.well-known/oauth-protected-resource/servers/memory/mcp'), resolve);
    expect(response?.status).toBe(200);
    expect(response?.headers.get('content-type')).toBe('application/json');
    expect(await response?.json()).toEqual({
      resource: 'http://127.0.0.1:8808/servers/memory/mcp',
      authorization_servers: ['https://auth.example.com'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:memory'],
      resource_name: 'Example fleet',
    });
  });

  it('answers undefined for other paths and unknown resources', () => {
    expect(auth.metadata(new Request('http://127.0.0.1:8808/servers/fetch/mcp'), resolve)).toBeUndefined();
    expect(auth.metadata(new Request('http://127.0.0.1:8808/.well-known/oauth-protected-resource/nope'), resolve)).toBeUndefined();
    expect(auth.metadata(new Request('http://127.0.0.1:8808/.well-known/oauth-protected-resource-x'), resolve)).toBeUndefined();
  });

  it('answers a CORS preflight and refuses POST', () => {
    const url = 'http://127.0.0.1:8808/.well-known/oauth-protected-resource/servers/fetch/mcp';
    expect(auth.metadata(new Request(url, { method: 'OPTIONS' }), resolve)?.status).toBe(204);
    expect(auth.metadata(new Request(url, { method: 'POST' }), resolve)?.status).toBe(405);
  });

  it('GIVEN no OAuth THEN the metadata paths answer 404 saying an API key is expected (not a bare Not found)', async () => {
    const keysOnly = createAuthenticator(AuthSchema.parse({ apiKeys: [{ name: 'ci', sha256: 'a'.repeat(64) }] }), { logger: silentLogger });
    const answer = keysOnly.metadata(new Request('http://h/.well-known/oauth-protected-resource/servers/fetch/mcp'), resolve);
    expect(answer?.status).toBe(404);
    expect(((await answer?.json()) as { error_description: string }).error_description).toMatch(/does not use OAuth: this gateway expects an API key: send Authorization: Bearer <key>/);
    const open = createAuthenticator(undefined, { logger: silentLogger }).metadata(new Request('http://h/.well-known/oauth-protected-resource'), resolve);
    expect(((await open?.json()) as { error_description: string }).error_description).toMatch(/need no credentials/);
    expect(keysOnly.metadata(new Request('http://h/servers/fetch/mcp'), resolve)).toBeUndefined();
  });
});
