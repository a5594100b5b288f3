import type { FleetConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';
import type { ClientKind } from './client-kinds.js';

/** A server's MCP endpoint. */
export interface ServerEndpoint {
  readonly server: string;
  /** Streamable HTTP URL, ending in `/mcp`. */
  readonly url: string;
}

/** Where the endpoints live. */
export type EndpointSource =
  /** The gateway on this machine (`mcp-fleet serve`). */
  | { readonly kind: 'local'; readonly port?: number }
  /** The deployed fleet; `baseUrl` (load balancer or domain) serves path-routed servers. */
  | { readonly kind: 'deployed'; readonly baseUrl?: string; readonly urlsFromStack?: Readonly<Record<string, string>> };

/**
 * The endpoint of each server: `https://<hostname>/mcp` with host routing,
 * `<base>/servers/<name>/mcp` with path routing, `http://127.0.0.1:<port>/servers/<name>/mcp` locally.
 */
export function serverEndpoints(config: FleetConfig, source: EndpointSource): ServerEndpoint[] {
  // A virtual server is one entry, like a server: clients see one endpoint for all its members.
  const all: [string, { readonly hostnames: readonly string[] }][] = [...Object.entries(config.servers), ...Object.entries(config.virtualServers)];
  return all.map(([server, s]) => {
    if (source.kind === 'local') return { server, url: `http://127.0.0.1:${source.port ?? config.gateway.port}/servers/${server}/mcp` };
    const fromStack = source.urlsFromStack?.[server];
    if (fromStack !== undefined) return { server, url: fromStack };
    if (s.hostnames[0] !== undefined) return { server, url: `https://${s.hostnames[0]}/mcp` };
    const domain = config.deploy?.domain?.name;
    const base = source.baseUrl ?? (domain === undefined ? undefined : `https://${domain}`);
    if (base === undefined) {
      throw new FleetError('CLIENT_CONFIG_NO_URL', `server ${server} is path-routed on the load balancer, whose address is not known here`, {
        hint: 'run it after `mcp-fleet deploy` (it reads the stack outputs), or pass --url http://<load-balancer-dns-name>',
      });
    }
    return { server, url: `${base.replace(/\/$/, '')}/servers/${server}/mcp` };
  });
}

/**
 * True when the fleet's clients sign in with OAuth by themselves (the built-in
 * authorization server, or an external issuer): their config then carries no key.
 */
export function signsInWithOAuth(config: FleetConfig): boolean {
  const auth = config.gateway.auth;
  return auth?.authorizationServer !== undefined || auth?.oauth !== undefined;
}

/** Whether the client config carries an API key: only when the fleet has keys and does not sign clients in with OAuth (unless asked). */
export function apiKeyRequired(config: FleetConfig, preferApiKey = false): boolean {
  return (config.gateway.auth?.apiKeys.length ?? 0) > 0 && (preferApiKey || !signsInWithOAuth(config));
}

/** How the bearer token appears in the output. */
export interface TokenOptions {
  /** Whether the gateway wants a bearer token at all. */
  readonly required: boolean;
  /** Environment variable the client reads the token from. @default MCP_FLEET_TOKEN */
  readonly env?: string;
  /** The token itself, written in only when the user asks for it (`--show-token`). */
  readonly value?: string;
}

/** A rendered client config: JSON to paste into a file, or shell commands to run. */
export interface RenderedClientConfig {
  readonly format: 'json' | 'shell';
  /** Where the JSON goes, for the CLI to say. */
  readonly target: string;
  readonly text: string;
}

/**
 * Renders ready-to-paste client config for the given endpoints. The token is a
 * reference to an environment variable (or a VS Code prompt) unless `token.value` is given.
 */
export function renderClientConfig(kind: ClientKind, endpoints: readonly ServerEndpoint[], token: TokenOptions, options: { readonly json?: boolean } = {}): RenderedClientConfig {
  const env = token.env ?? 'MCP_FLEET_TOKEN';
  const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
  switch (kind) {
    case 'claude-code': {
      const header = token.value ?? `\${${env}}`;
      if (options.json) {
        return {
          format: 'json',
          target: '.mcp.json in your project',
          text: json({
            mcpServers: Object.fromEntries(endpoints.map((e) => [e.server, { type: 'http', url: e.url, ...(token.required ? { headers: { Authorization: `Bearer ${header}` } } : {}) }])),
          }),
        };
      }
      const quote = token.value === undefined ? (s: string) => `"${s}"` : (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const lines = endpoints.map((e) => `claude mcp add --transport http ${e.server} ${e.url}${token.required ? ` --header ${quote(`Authorization: Bearer ${header}`)}` : ''}`);
      return { format: 'shell', target: 'your shell', text: `${lines.join('\n')}\n` };
    }
    case 'claude-desktop': {
      // Claude Desktop's config file speaks stdio only, so mcp-remote bridges to HTTP.
      return {
        format: 'json',
        target: 'claude_desktop_config.json',
        text: json({
          mcpServers: Object.fromEntries(
            endpoints.map((e) => [
              e.server,
              {
                command: 'npx',
                args: ['-y', 'mcp-remote', e.url, ...(token.required ? ['--header', 'Authorization:${AUTH_HEADER}'] : [])],
                ...(token.required ? { env: { AUTH_HEADER: `Bearer ${token.value ?? `<your ${env}>`}` } } : {}),
              },
            ]),
          ),
        }),
      };
    }
    case 'cursor':
      return {
        format: 'json',
        target: '~/.cursor/mcp.json or .cursor/mcp.json',
        text: json({
          mcpServers: Object.fromEntries(endpoints.map((e) => [e.server, { url: e.url, ...(token.required ? { headers: { Authorization: `Bearer ${token.value ?? `\${env:${env}}`}` } } : {}) }])),
        }),
      };
    case 'vscode':
      return {
        format: 'json',
        target: '.vscode/mcp.json',
        text: json({
          ...(token.required && token.value === undefined ? { inputs: [{ type: 'promptString', id: 'mcp-fleet-token', description: 'mcp-fleet API key', password: true }] } : {}),
          servers: Object.fromEntries(
            endpoints.map((e) => [e.server, { type: 'http', url: e.url, ...(token.required ? { headers: { Authorization: `Bearer ${token.value ?? '${input:mcp-fleet-token}'}` } } : {}) }]),
          ),
        }),
      };
  }
}
