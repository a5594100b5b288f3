import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthSchema, authServerReferenceIssues, type AuthConfig } from '../../src/config/auth-schema.js';
import { FleetError } from '../../src/errors.js';
import { createAuthenticator, generateApiKey, sha256Hex, type AuthOutcome } from '../../src/gateway/auth/index.js';
import { silentLogger } from '../../src/log.js';
import { ErrorCode } from '../../src/protocol.js';

const TARGET = { server: 'fetch', resourceUrl: 'http://127.0.0.1:8808/servers/fetch/mcp' };

function request(authorization?: string): Request {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  return new Request(TARGET.resourceUrl, { method: 'POST', headers });
}

function config(input: unknown): AuthConfig {
  return AuthSchema.parse(input);
}

async function refusal(outcome: AuthOutcome): Promise<{ status: number; body: unknown; challenge: string | null; reason: string }> {
  if (outcome.ok) throw new Error('expected a refusal');
  return {
    status: outcome.response.status,
    body: await outcome.response.json(),
    challenge: outcome.response.headers.get('www-authenticate'),
    reason: outcome.reason,
  };
}

describe('API keys', () => {
  const ci = generateApiKey();
  const ops = generateApiKey();

  it('GIVEN no auth config WHEN a request has no credentials THEN the caller is anonymous', async () => {
    const auth = createAuthenticator(undefined, { logger: silentLogger });
    const outcome = await auth.authenticate(request(), TARGET);
    expect(outcome).toEqual({ ok: true, principal: { id: 'anonymous', kind: 'anonymous', scopes: [] } });
  });

  it('GIVEN a key by digest WHEN the key is presented THEN the principal is the key name', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }] }), { logger: silentLogger });
    const outcome = await auth.authenticate(request(`Bearer ${ci.key}`), TARGET);
    expect(outcome).toEqual({ ok: true, principal: { id: 'key:ci', kind: 'api-key', scopes: [] } });
  });

  it('GIVEN a key from an environment variable (ECS secrets) WHEN presented THEN it is accepted', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', env: 'FLEET_KEY' }] }), {
      logger: silentLogger,
      env: { FLEET_KEY: `${ci.key}\n` },
    });
    expect((await auth.authenticate(request(`Bearer ${ci.key}`), TARGET)).ok).toBe(true);
  });

  it('GIVEN a key from a file WHEN presented THEN it is accepted', async () => {
    const read: string[] = [];
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', file: '/run/secrets/key' }] }), {
      logger: silentLogger,
      readFile: (p) => {
        read.push(p);
        return ` ${ci.key}\n`;
      },
    });
    expect(read).toEqual(['/run/secrets/key']);
    expect((await auth.authenticate(request(`Bearer ${ci.key}`), TARGET)).ok).toBe(true);
  });

  it('GIVEN a key from an unset environment variable WHEN the authenticator is built THEN a FleetError names the variable', () => {
    const build = (): unknown => createAuthenticator(config({ apiKeys: [{ name: 'ci', env: 'NOPE' }] }), { logger: silentLogger, env: {} });
    expect(build).toThrow(FleetError);
    expect(build).toThrow(/NOPE/);
  });

  it('GIVEN a config built in code with a bad digest WHEN the authenticator is built THEN it fails at once, not per request', () => {
    const handMade: AuthConfig = { apiKeys: [{ name: 'ci', sha256: 'abc' }] };
    expect(() => createAuthenticator(handMade, { logger: silentLogger })).toThrow(/64 hex digits/);
  });

  it('GIVEN an unreadable key file WHEN the authenticator is built THEN a FleetError names the file', () => {
    const build = (): unknown =>
      createAuthenticator(config({ apiKeys: [{ name: 'ci', file: '/missing' }] }), {
        logger: silentLogger,
        readFile: () => {
          throw new Error('ENOENT');
        },
      });
    expect(build).toThrow(/cannot read key file \/missing/);
  });

  it('GIVEN a key WHEN a wrong key of the same length is presented THEN it gets 401 invalid_token', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }] }), { logger: silentLogger });
    const wrong = `${ci.key.slice(0, -1)}${ci.key.endsWith('A') ? 'B' : 'A'}`;
    expect(wrong).toHaveLength(ci.key.length);
    const r = await refusal(await auth.authenticate(request(`Bearer ${wrong}`), TARGET));
    expect(r.status).toBe(401);
    expect(r.reason).toBe('invalid-api-key');
    expect(r.challenge).toContain('error="invalid_token"');
    expect(r.body).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: ErrorCode.Unauthorized, message: 'Invalid API key: this gateway expects an API key: send Authorization: Bearer <key> (an operator makes one with `mcp-fleet keys new`)' },
    });
  });

  it('GIVEN API keys only WHEN a request has no credentials THEN the 401 carries WWW-Authenticate and says an API key is expected', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }] }), { logger: silentLogger });
    const r = await refusal(await auth.authenticate(request(undefined), TARGET));
    expect(r.status).toBe(401);
    expect(r.challenge).toBe('Bearer realm="mcp-fleet"');
    expect(r.body).toMatchObject({ error: { message: expect.stringMatching(/expects an API key: send Authorization: Bearer <key>/) } });
  });

  it('GIVEN a key WHEN a wrong key of another length is presented THEN it gets 401', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }] }), { logger: silentLogger });
    for (const wrong of [`${ci.key}x`, ci.key.slice(0, 10), 'x']) {
      expect((await auth.authenticate(request(`Bearer ${wrong}`), TARGET)).ok).toBe(false);
    }
  });

  it('GIVEN keys WHEN any other token is presented THEN it is refused (property)', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }] }), { logger: silentLogger });
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9_-]{1,80}$/), async (token) => {
        fc.pre(token !== ci.key);
        expect((await auth.authenticate(request(`Bearer ${token}`), TARGET)).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('GIVEN keys WHEN no credentials are sent THEN 401 with a Bearer challenge and a JSON-RPC body', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }] }), { logger: silentLogger });
    for (const header of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer']) {
      const r = await refusal(await auth.authenticate(request(header), TARGET));
      expect(r.status).toBe(401);
      expect(r.challenge).toMatch(/^Bearer /);
      expect(r.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.Unauthorized } });
    }
  });

  it('GIVEN a header with characters no token may hold WHEN presented THEN 401 malformed', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }] }), { logger: silentLogger });
    const r = await refusal(await auth.authenticate(request('Bearer a"b c'), TARGET));
    expect(r.status).toBe(401);
    expect(r.reason).toBe('malformed-token');
  });

  it('GIVEN a key restricted to some servers WHEN it calls another server THEN 403, and its own server works', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256, servers: ['memory'] }] }), { logger: silentLogger });
    const r = await refusal(await auth.authenticate(request(`Bearer ${ci.key}`), TARGET));
    expect(r.status).toBe(403);
    expect(r.reason).toBe('server-not-allowed');
    const own = await auth.authenticate(request(`Bearer ${ci.key}`), { server: 'memory', resourceUrl: 'http://127.0.0.1:8808/servers/memory/mcp' });
    expect(own.ok).toBe(true);
  });

  it('GIVEN two keys WHEN each is presented THEN each maps to its own name', async () => {
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256 }, { name: 'ops', sha256: ops.sha256.toUpperCase() }] }), {
      logger: silentLogger,
    });
    const a = await auth.authenticate(request(`Bearer ${ci.key}`), TARGET);
    const b = await auth.authenticate(request(`bearer  ${ops.key}`), TARGET);
    expect(a.ok && a.principal.id).toBe('key:ci');
    expect(b.ok && b.principal.id).toBe('key:ops');
  });

  it('GIVEN any refusal WHEN the response and log are read THEN the presented token appears in neither', async () => {
    const lines: string[] = [];
    const logger = { ...silentLogger, info: (msg: string, fields?: object) => void lines.push(JSON.stringify([msg, fields])) };
    const auth = createAuthenticator(config({ apiKeys: [{ name: 'ci', sha256: ci.sha256, servers: ['memory'] }] }), { logger });
    const secret = `mcpf_${'s'.repeat(43)}`;
    for (const token of [secret, ci.key]) {
      const outcome = await auth.authenticate(request(`Bearer ${token}`), TARGET);
      if (outcome.ok) throw new Error('expected a refusal');
      const text = `${await outcome.response.text()} ${JSON.stringify([...outcome.response.headers])} ${lines.join()}`;
      expect(text).not.toContain(token);
    }
  });

  it('GIVEN a generated key THEN it is mcpf_ and 43 base64url characters, and its digest is SHA-256 hex', () => {
    const { key, sha256 } = generateApiKey();
    expect(key).toMatch(/^mcpf_[A-Za-z0-9_-]{43}$/);
    expect(sha256).toBe(sha256Hex(key));
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(generateApiKey().key).not.toBe(key);
  });
});

describe('AuthSchema', () => {
  it('rejects a key with no source', () => {
    expect(() => AuthSchema.parse({ apiKeys: [{ name: 'ci' }] })).toThrow(/exactly one of sha256, env or file/);
  });
  it('rejects a key with two sources', () => {
    expect(() => AuthSchema.parse({ apiKeys: [{ name: 'ci', sha256: 'a'.repeat(64), env: 'X' }] })).toThrow(/exactly one/);
  });
  it('rejects a sha256 that is not a digest (such as the key itself)', () => {
    expect(() => AuthSchema.parse({ apiKeys: [{ name: 'ci', sha256: generateApiKey().key }] })).toThrow(/64 hex digits/);
  });
  it('rejects two keys with one name', () => {
    const k = { name: 'ci', sha256: 'a'.repeat(64) };
    expect(() => AuthSchema.parse({ apiKeys: [k, k] })).toThrow(/used twice/);
  });
  it('rejects an empty auth section', () => {
    expect(() => AuthSchema.parse({})).toThrow(/at least one entry under apiKeys, an oauth section or an authorizationServer section/);
  });
  it('rejects a plain-http issuer that is not loopback', () => {
    expect(() => AuthSchema.parse({ oauth: { issuer: 'http://auth.example.com' } })).toThrow(/https/);
  });
  it('accepts an https issuer and fills defaults', () => {
    const parsed = AuthSchema.parse({ oauth: { issuer: 'https://auth.example.com' } });
    expect(parsed.oauth).toMatchObject({ requiredScopes: [], audiences: [], clockToleranceSeconds: 30 });
  });
  it('reports server names in apiKeys and serverScopes that the config does not define', () => {
    const auth = AuthSchema.parse({
      apiKeys: [{ name: 'ci', sha256: 'a'.repeat(64), servers: ['fetch', 'fecth'] }],
      oauth: { issuer: 'https://auth.example.com', serverScopes: { memroy: ['x'] } },
    });
    expect(authServerReferenceIssues(auth, ['fetch', 'memory'])).toEqual([
      { path: ['apiKeys', 0, 'servers', 1], input: 'fecth', message: expect.stringContaining('"fecth", which is not defined') },
      { path: ['oauth', 'serverScopes', 'memroy'], input: 'memroy', message: expect.stringContaining('"memroy"') },
    ]);
    expect(authServerReferenceIssues(auth, ['fetch', 'fecth', 'memroy'])).toEqual([]);
  });
});
