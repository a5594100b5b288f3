import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { AuthSchema } from '../../../src/config/auth-schema.js';
import { FleetError } from '../../../src/errors.js';
import { createAuthenticator } from '../../../src/gateway/auth/index.js';
import { silentLogger } from '../../../src/log.js';

/** The authorization server's config: strict, with errors that name the field and the fix. */

const upstream = { issuer: 'https://idp.example.com', clientId: 'gw', clientSecret: { env: 'UPSTREAM_SECRET' } };

function problems(auth: unknown): string {
  try {
    parseConfig({ gateway: { auth }, servers: { fetch: { command: 'uvx' } } }, 'fleet.yaml');
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

describe('gateway.auth.authorizationServer', () => {
  it('GIVEN a minimal section THEN the defaults are safe ones', () => {
    const parsed = AuthSchema.parse({ authorizationServer: { issuer: 'https://mcp.example.com', upstream } });
    expect(parsed.authorizationServer).toMatchObject({
      accessTokenTtlSeconds: 600,
      registration: { enabled: true, perMinute: 30 },
      clientIdMetadataDocuments: { enabled: true, allowPrivateAddresses: false, maxBytes: 5120 },
      secret: { env: 'MCP_FLEET_AUTH_SECRET' },
      store: { type: 'file' },
      upstream: { scopes: ['openid', 'email', 'profile'], groupsClaim: 'groups' },
    });
  });

  it.each([
    [{ issuer: 'https://mcp.example.com/auth', upstream }, /issuer must be an origin such as https:\/\/mcp.example.com/],
    [{ issuer: 'http://mcp.example.com', upstream }, /must be an https:\/\/ URL/],
    [{ issuer: 'https://mcp.example.com', upstream: { ...upstream, clientSecret: 'hunter2' } }, /clientSecret/],
    [{ issuer: 'https://mcp.example.com', upstream: { ...upstream, clientSecret: { env: 'A', file: '/b' } } }, /exactly one of env/],
    [{ issuer: 'https://mcp.example.com', upstream, tokenTtl: 5 }, /tokenTtl/],
    [{ issuer: 'https://mcp.example.com', upstream, store: { type: 'redis' } }, /store/],
  ])('GIVEN %j THEN the error names the field', (section, message) => {
    expect(problems({ authorizationServer: section })).toMatch(message);
  });

  it('GIVEN a required scope the server cannot grant THEN the error says to list it', () => {
    expect(problems({ authorizationServer: { issuer: 'https://mcp.example.com', upstream }, oauth: { serverScopes: { fetch: ['mcp:admin'] } } })).toMatch(
      /scope "mcp:admin" is required but authorizationServer.scopes does not list it/,
    );
  });

  it('GIVEN oauth.issuer of another server next to the built-in one THEN the error says to leave it out', () => {
    expect(problems({ authorizationServer: { issuer: 'https://mcp.example.com', upstream }, oauth: { issuer: 'https://other.example.com' } })).toMatch(/leave oauth.issuer out/);
  });

  it('GIVEN serverGroups naming an unknown server THEN the error lists the servers', () => {
    expect(problems({ oauth: { issuer: 'https://a.example.com', serverGroups: { fecth: ['admins'] } } })).toMatch(/oauth.serverGroups names server "fecth", which is not defined \(servers: fetch\)/);
  });

  it('GIVEN the secret is not in the environment THEN the gateway does not start, and the error names the variable, never a value', () => {
    const auth = AuthSchema.parse({ authorizationServer: { issuer: 'https://mcp.example.com', upstream } });
    const build = (env: Record<string, string>) => () => createAuthenticator(auth, { logger: silentLogger, env });
    expect(build({ UPSTREAM_SECRET: 'x' })).toThrow(/MCP_FLEET_AUTH_SECRET is not set/);
    expect(build({ MCP_FLEET_AUTH_SECRET: 'short', UPSTREAM_SECRET: 'x' })).toThrow(FleetError);
    expect(build({ MCP_FLEET_AUTH_SECRET: 'short', UPSTREAM_SECRET: 'x' })).toThrow(/at least 32 characters/);
    expect(build({ MCP_FLEET_AUTH_SECRET: 'k'.repeat(40) })).toThrow(/UPSTREAM_SECRET is not set/);
  });
});
