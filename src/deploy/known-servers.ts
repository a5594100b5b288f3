import type { ServerConfig } from '../config/schema.js';
import { serverInstall } from './image.js';

/** What mcp-fleet knows of a published MCP server package, used where the config says nothing. */
export interface KnownServer {
  /** It fetches from the internet (web pages, a search engine, public documentation). */
  readonly internetEgress: boolean;
}

/**
 * Packages whose needs are known, by npm or PyPI name. A server not listed is
 * assumed to need the internet (the safe guess for egress); say otherwise with
 * `servers.<name>.deploy.internetEgress: false`.
 */
export const KNOWN_SERVERS: Readonly<Record<string, KnownServer>> = {
  // Reference servers (examples/aws-reference.yaml).
  'mcp-server-fetch': { internetEgress: true },
  'awslabs.aws-documentation-mcp-server': { internetEgress: true },
  'mcp-searxng': { internetEgress: true },
  // Servers that work on local state only.
  '@modelcontextprotocol/server-memory': { internetEgress: false },
  '@modelcontextprotocol/server-everything': { internetEgress: false },
  '@modelcontextprotocol/server-filesystem': { internetEgress: false },
  '@modelcontextprotocol/server-sequential-thinking': { internetEgress: false },
  'mcp-server-time': { internetEgress: false },
  'mcp-server-git': { internetEgress: false },
};

/** The package a server runs (`npx pkg` / `uvx pkg`), or undefined for any other command. */
export function packageOf(name: string, server: ServerConfig): string | undefined {
  const install = serverInstall(name, server);
  return install.kind === 'as-is' ? undefined : install.name;
}

/** Whether a server needs internet egress: its config, else what is known of its package, else yes. */
export function needsInternet(name: string, server: ServerConfig): { needs: boolean; why: string } {
  const declared = server.deploy?.internetEgress;
  if (declared !== undefined) return { needs: declared, why: `servers.${name}.deploy.internetEgress is ${declared}` };
  const pkg = packageOf(name, server);
  const known = pkg === undefined ? undefined : KNOWN_SERVERS[pkg];
  if (known !== undefined) return { needs: known.internetEgress, why: `${pkg} ${known.internetEgress ? 'fetches from the internet' : 'works offline'}` };
  return { needs: true, why: `mcp-fleet does not know whether ${pkg ?? server.command} reaches the internet, so it assumes it does` };
}
