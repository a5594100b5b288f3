import { validateHostHeader } from '@modelcontextprotocol/server';
import type { FleetConfig } from '../config/schema.js';
import { isAuthorizationServerPath } from './auth/server/paths.js';

/** Which MCP endpoint a request is for. */
export type Endpoint = 'mcp' | 'sse' | 'messages';

/** Where a request goes. */
export type Route =
  | { readonly kind: 'health' }
  /** `/ready`, or `/ready/<server>` for one server (a load balancer's per-server health check). */
  | { readonly kind: 'ready'; readonly server?: string; readonly virtual?: true }
  /** A server's endpoint; `virtual` when the name is a virtual server's (see `virtual/endpoint.ts`). */
  | { readonly kind: 'server'; readonly server: string; readonly endpoint: Endpoint; readonly basePath: string; readonly virtual?: true }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'host-denied' }
  /** A Host header that is not a host name at all. */
  | { readonly kind: 'bad-host' }
  /** `/.well-known/oauth-protected-resource[/...]`: public OAuth metadata. */
  | { readonly kind: 'resource-metadata' }
  /** `/oauth/...`, `/.well-known/oauth-authorization-server` and the 2025-03-26 default OAuth endpoints: the authorization server. */
  | { readonly kind: 'authorization-server' }
  /** `gateway.metrics.path` when metrics are served on the gateway's own port. */
  | { readonly kind: 'metrics' }
  /** `gateway.console.path` and below, on hosts allowed for path routing: the web console. */
  | { readonly kind: 'console' };

/** How many (Host, path) routes the router remembers. */
const RECENT_ROUTES = 512;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The host name of a `Host` header, lower-case, without port (`[::1]` keeps its brackets). */
export function hostOf(header: string | null): string {
  if (!header) return '';
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/** True for an `Origin` served from this machine (`http://localhost:3000`, `http://127.0.0.1`). */
export function isLoopbackOrigin(origin: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(origin).hostname.toLowerCase());
  } catch {
    return false;
  }
}

/**
 * Routes requests by host name and path:
 * - a server's own host name: `/mcp`, `/sse`, `/messages`;
 * - loopback and `gateway.allowedHosts`: `/servers/<name>/mcp|sse|messages`;
 * - any other host: `403 Hostname not allowed` (DNS-rebinding protection).
 * `/health` and `/ready` answer on every host (load-balancer checks use the task IP).
 */
export class Router {
  private readonly byHost = new Map<string, string>();
  private readonly pathHosts: Set<string>;
  private readonly anyHost: boolean;
  private readonly servers: Set<string>;
  private readonly virtualServers: Set<string>;
  private readonly metricsPath: string | undefined;
  private readonly consolePath: string | undefined;

  constructor(config: FleetConfig, extraAllowedHosts: readonly string[] = []) {
    const metrics = config.gateway.metrics;
    this.metricsPath = metrics.enabled && metrics.port === config.gateway.port ? metrics.path : undefined;
    for (const [name, server] of Object.entries(config.servers)) {
      for (const host of server.hostnames) this.byHost.set(host, name);
    }
    for (const [name, virtual] of Object.entries(config.virtualServers)) {
      for (const host of virtual.hostnames) this.byHost.set(host, name);
    }
    this.virtualServers = new Set(Object.keys(config.virtualServers));
    const allowed = [...config.gateway.allowedHosts, ...extraAllowedHosts].map((h) => hostOf(h));
    this.anyHost = allowed.includes('*');
    this.pathHosts = new Set([...LOOPBACK_HOSTS, ...allowed]);
    this.servers = new Set(Object.keys(config.servers));
    this.consolePath = config.gateway.console?.enabled === true ? config.gateway.console.path : undefined;
  }

  /**
   * Routes seen lately, by Host header and path: a route depends on nothing else,
   * and a client sends the same pair again and again. Bounded: emptied when full.
   */
  private readonly recent = new Map<string, Route>();

  /** Routes one request by its `Host` header and path. */
  route(hostHeader: string | null, pathname: string): Route {
    // No header value holds a newline: it marks a missing Host.
    const key = `${hostHeader ?? '\n'} ${pathname}`;
    let route = this.recent.get(key);
    if (route === undefined) {
      route = this.decide(hostHeader, pathname);
      if (this.recent.size >= RECENT_ROUTES) this.recent.clear();
      this.recent.set(key, route);
    }
    return route;
  }

  private decide(hostHeader: string | null, pathname: string): Route {
    if (pathname === '/health') return { kind: 'health' };
    if (pathname === '/ready') return { kind: 'ready' };
    if (pathname.startsWith('/ready/')) {
      const server = pathname.slice('/ready/'.length);
      if (this.virtualServers.has(server)) return { kind: 'ready', server, virtual: true };
      return this.servers.has(server) ? { kind: 'ready', server } : { kind: 'not-found' };
    }
    if (pathname === this.metricsPath) return { kind: 'metrics' };
    if (pathname === '/.well-known/oauth-protected-resource' || pathname.startsWith('/.well-known/oauth-protected-resource/')) {
      return { kind: 'resource-metadata' };
    }
    if (isAuthorizationServerPath(pathname)) return { kind: 'authorization-server' };
    const parsed = validateHostHeader(hostHeader, []);
    if (parsed.ok === false && parsed.errorCode !== 'invalid_host') return { kind: 'bad-host' };
    const host = parsed.ok ? parsed.hostname : (parsed.hostname ?? '');
    const owner = this.byHost.get(host);
    if (owner !== undefined) {
      const endpoint = pathname.slice(1);
      if (endpoint === 'mcp' || endpoint === 'sse' || endpoint === 'messages') {
        return { kind: 'server', server: owner, endpoint, basePath: '', ...(this.virtualServers.has(owner) ? { virtual: true as const } : {}) };
      }
      return { kind: 'not-found' };
    }
    if (!this.anyHost && !this.pathHosts.has(host)) return { kind: 'host-denied' };
    // After the host check: the console answers only on hosts allowed for path routing (DNS-rebinding protection).
    if (this.consolePath !== undefined && (pathname === this.consolePath || pathname.startsWith(`${this.consolePath}/`))) return { kind: 'console' };
    const match = /^\/servers\/([^/]+)\/(mcp|sse|messages)$/.exec(pathname);
    if (match && this.servers.has(match[1] as string)) {
      return { kind: 'server', server: match[1] as string, endpoint: match[2] as Endpoint, basePath: `/servers/${match[1]}` };
    }
    if (match && this.virtualServers.has(match[1] as string)) {
      return { kind: 'server', server: match[1] as string, endpoint: match[2] as Endpoint, basePath: `/servers/${match[1]}`, virtual: true };
    }
    return { kind: 'not-found' };
  }
}
