import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthClientProvider, OAuthTokens } from '@modelcontextprotocol/client';
import { FleetConfigSchema, type FleetConfigInput } from '../../../src/config/schema.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../../src/gateway/app.js';
import { listen } from '../../../src/gateway/http/node.js';
import { CRASHY_ENTRY, EVERYTHING_ENTRY } from '../../gateway/helpers.js';
import { deadUrl } from '../issuer-fixture.js';
import { startIdp, type TestIdp, type TestUser } from './idp.js';

/**
 * A fleet with the built-in authorization server on a real 127.0.0.1 socket, in
 * front of a real OpenID provider (`oidc-provider`), and an OAuth client provider
 * for the official SDK v2 client.
 */

/** The secret of the test fleet's authorization server (40 characters). */
export const AUTH_SECRET = 'test-only-authorization-server-secret-40';

/** Headers of a 2026-07-28 `tools/list` request (no session: every request is authenticated on its own). */
export const MODERN_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'tools/list',
};

/** The body of that request. */
export const MODERN_TOOLS_LIST = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/list',
  params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
});

/** A free port on 127.0.0.1 (released before it is returned). */
export async function freePort(): Promise<number> {
  return Number(new URL(await deadUrl()).port);
}

/** A fleet and its provider. */
export interface FacadeFleet {
  readonly gateway: Gateway;
  /** `http://127.0.0.1:<port>`: also the issuer. */
  readonly url: string;
  readonly idp: TestIdp;
  /** The auth store file. */
  readonly storePath: string;
  /** `<url>/servers/<name>/mcp` */
  mcpUrl(server: string): URL;
  close(): Promise<void>;
}

/** Options of {@link startFacadeFleet}. */
export interface FacadeFleetOptions {
  /** Merged into `gateway.auth.authorizationServer`. */
  readonly authorizationServer?: Record<string, unknown>;
  /** `gateway.auth.oauth`. @default requiredScopes [mcp:tools], serverGroups {admin: [admins]} */
  readonly oauth?: Record<string, unknown>;
  /** Users the provider knows. */
  readonly users?: Record<string, TestUser>;
  /** Options for the gateway (a clock, extra CAs). */
  readonly gatewayOptions?: GatewayOptions;
  /** Extra environment of the gateway (secrets named by the config). */
  readonly env?: Record<string, string>;
}

/**
 * Starts the provider and a gateway with servers `everything` (server-everything),
 * `echo` and `admin` (the crashy fixture's echo tool; `admin` is for the `admins` group).
 */
export async function startFacadeFleet(options: FacadeFleetOptions = {}): Promise<FacadeFleet> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startIdp(`${url}/oauth/callback`, options.users);
  const dir = mkdtempSync(join(tmpdir(), 'mcp-fleet-facade-'));
  const storePath = join(dir, 'auth-store.json');
  const input: FleetConfigInput = {
    gateway: {
      port,
      auth: {
        authorizationServer: {
          issuer: url,
          upstream: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: { env: 'UPSTREAM_SECRET' }, scopes: ['openid', 'email', 'groups'] },
          scopes: { 'mcp:tools': {}, 'mcp:admin': { groups: ['admins'] } },
          store: { type: 'file', path: storePath },
          revocationCheckSeconds: 0,
          ...options.authorizationServer,
        },
        oauth: options.oauth ?? { requiredScopes: ['mcp:tools'], serverGroups: { admin: ['admins'] } },
      },
    },
    servers: {
      everything: { command: process.execPath, args: [EVERYTHING_ENTRY] },
      echo: { command: process.execPath, args: [CRASHY_ENTRY] },
      admin: { command: process.execPath, args: [CRASHY_ENTRY] },
    },
  } as FleetConfigInput;
  const config = FleetConfigSchema.parse(input);
  const gateway = createGateway(config, {
    env: { ...process.env, MCP_FLEET_AUTH_SECRET: AUTH_SECRET, UPSTREAM_SECRET: idp.clientSecret, ...options.env },
    ...options.gatewayOptions,
  });
  const listening = await listen(gateway, { host: '127.0.0.1', port, keepAliveTimeoutMs: 5_000, maxBodyBytes: config.gateway.maxBodyBytes });
  await gateway.start();
  return {
    gateway,
    url,
    idp,
    storePath,
    mcpUrl: (server) => new URL(`${url}/servers/${server}/mcp`),
    close: async () => {
      await gateway.drain(2_000);
      await listening.close();
      await idp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The SDK's OAuth client provider, kept in memory as the SDK's own example does;
 * `redirectToAuthorization` records the URL for the scripted browser.
 */
export class TestOAuthProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  savedTokens: OAuthTokens | undefined;
  information: OAuthClientInformationMixed | undefined;
  private verifier: string | undefined;

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
    private readonly name = 'mcp-fleet sign-in test',
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.name, redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.information;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.information = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.savedTokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (this.verifier === undefined) throw new Error('no code verifier saved');
    return this.verifier;
  }
}

/** An https server on 127.0.0.1 with a fresh self-signed certificate (for `localhost` and 127.0.0.1), made with openssl. */
export async function startHttpsServer(handler: (path: string) => { status: number; body: string; headers?: Record<string, string> }): Promise<{ url: string; ca: string; requests: string[]; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-fleet-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const key = readFileSync(join(dir, 'key.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const requests: string[] = [];
  const server: HttpsServer = createHttpsServer({ cert, key }, (req, res) => {
    requests.push(req.url ?? '');
    const answer = handler(req.url ?? '/');
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(answer.body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: cert,
    requests,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
