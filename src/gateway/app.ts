import type { FleetConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../log.js';
import { UpstreamServer } from '../upstream/server.js';
import { HttpError } from './http-error.js';
import { ErrorCode, isJsonRpcMessage, isRequest, type JsonRpcMessage } from './jsonrpc.js';
import { LegacySession } from './legacy-session.js';
import { isLegacyVersion, isModernVersion, LEGACY_PROTOCOL_VERSIONS } from '../protocol.js';
import { isModernRequest, validateModernRequest } from './modern/headers.js';
import { ModernEndpoint, newStateKey } from './modern/endpoint.js';
import { LegacyBridge } from './modern/legacy-bridge.js';
import { Cluster, type ClusterSettings } from './cluster/cluster.js';
import { isLoopbackOrigin, Router, type Route } from './routing.js';
import type { AuthTarget } from './auth/index.js';
import { CorsPolicy } from './cors.js';
import { applyTraceparent, onBodyDone, RequestGuard, resourceUrlFor } from './guard.js';
import { createFleetMetrics, methodLabel, metricsResponse, type FleetMetrics } from './metrics.js';

/**
 * The gateway as a web-standard `Request -> Response` function, plus its
 * lifecycle. The Node HTTP server in `node-server.ts` is only an adapter, so tests
 * can call {@link Gateway.fetch} in-process.
 */

/** How long after a child's unexpected exit `/ready` shows its server as `degraded`. */
export const DEGRADED_WINDOW_MS = 60_000;

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  /** Logger for requests, sessions and children. @default silent */
  readonly logger?: Logger;
  /** Environment children inherit from (through the allow-list). @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Replicas: session ownership and forwarding (see `cluster/cluster.ts`). @default a single replica */
  readonly cluster?: ClusterSettings;
  /** Host names allowed for path routing on top of the config's (e.g. `MCP_FLEET_ALLOWED_HOSTS`). */
  readonly extraAllowedHosts?: readonly string[];
}

/** A running gateway. */
export interface Gateway {
  /** Handles one HTTP request. Never throws. */
  fetch(request: Request): Promise<Response>;
  /** Probes every server once (era and readiness); resolves when all probes finished. */
  start(): Promise<void>;
  /**
   * Drains: `/ready` answers 503 at once, new sessions are refused. Requests in
   * flight, and with `waitForSessions` the open sessions too (a replica leaving a
   * fleet keeps serving its own until they end), get the grace period less the time
   * children need to stop; then every session ends and every child is stopped.
   */
  drain(graceMs: number, options?: { readonly waitForSessions?: boolean }): Promise<void>;
  /** The configured servers. */
  readonly servers: ReadonlyMap<string, UpstreamServer>;
  /** Number of open client sessions, per server. */
  sessionCount(server?: string): number;
  /** True once draining started. */
  readonly draining: boolean;
  /** The Prometheus metrics, when `gateway.metrics.enabled`. */
  readonly metrics: FleetMetrics | undefined;
}

/** Creates a gateway for a validated config. */
export function createGateway(config: FleetConfig, options: GatewayOptions = {}): Gateway {
  return new FleetGateway(config, options);
}

class FleetGateway implements Gateway {
  readonly servers = new Map<string, UpstreamServer>();
  draining = false;
  private readonly sessions = new Map<string, LegacySession>();
  private readonly modern = new Map<string, ModernEndpoint>();
  private readonly bridges = new Map<string, LegacyBridge>();
  private readonly cluster: Cluster | undefined;
  private readonly perServer = new Map<string, number>();
  private readonly router: Router;
  private readonly logger: Logger;
  private readonly allowedOrigins: Set<string>;
  private readonly anyOrigin: boolean;
  private readonly reaper: NodeJS.Timeout;
  readonly metrics: FleetMetrics | undefined;
  private readonly guard: RequestGuard;
  private readonly cors: CorsPolicy;

  constructor(
    private readonly config: FleetConfig,
    options: GatewayOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.router = new Router(config, options.extraAllowedHosts);
    this.metrics = config.gateway.metrics.enabled ? createFleetMetrics() : undefined;
    this.guard = new RequestGuard(config, { logger: this.logger, ...(options.env ? { env: options.env } : {}), ...(this.metrics ? { metrics: this.metrics } : {}) });
    this.cors = new CorsPolicy(config.gateway);
    for (const [name, server] of Object.entries(config.servers)) {
      this.servers.set(name, new UpstreamServer(name, server, { logger: this.logger, ...(options.env ? { env: options.env } : {}) }));
      this.perServer.set(name, 0);
    }
    this.cluster = options.cluster ? new Cluster(options.cluster, this.logger) : undefined;
    const stateKey = this.cluster?.stateKey ?? newStateKey();
    for (const [name, server] of this.servers) {
      this.modern.set(name, new ModernEndpoint(server, { keepAliveMs: config.gateway.sseKeepAliveSeconds * 1000, stateKey, owner: this.cluster?.self, logger: this.logger }));
    }
    if (this.metrics) this.collectGauges(this.metrics);
    this.allowedOrigins = new Set(config.gateway.allowedOrigins.map((o) => o.replace(/\/$/, '').toLowerCase()));
    this.anyOrigin = this.allowedOrigins.has('*');
    const idleMs = config.gateway.sessionIdleTimeoutSeconds * 1000;
    this.reaper = setInterval(() => this.reapIdle(idleMs), Math.min(idleMs, 30_000));
    this.reaper.unref();
  }

  sessionCount(server?: string): number {
    return server === undefined ? this.sessions.size : (this.perServer.get(server) ?? 0);
  }

  async start(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => s.probe()));
    await this.cluster?.start();
    // Warm pools for stateless (2026-07-28) traffic, so the first modern request spawns nothing.
    await Promise.all(
      [...this.servers.values()].filter((s) => s.state === 'ready').map((s) => this.modern.get(s.name)?.warm()),
    );
  }

  async fetch(request: Request): Promise<Response> {
    const started = performance.now();
    const url = new URL(request.url);
    const route = this.router.route(request.headers.get('host'), url.pathname);
    let response: Response;
    let method: string | undefined;
    try {
      ({ response, method } = await this.dispatch(request, url, route));
    } catch (error) {
      response = this.errorResponse(error, route);
    }
    response = this.cors.decorate(request, response);
    if (route.kind === 'server' && this.metrics) {
      const labels = { server: route.server, method: methodLabel(method) };
      this.metrics.requests.inc({ ...labels, status: String(response.status) });
      const metrics = this.metrics;
      response = onBodyDone(response, () => metrics.requestDuration.observe(labels, (performance.now() - started) / 1000));
    }
    if (route.kind === 'server') {
      this.logger.info('request', {
        server: route.server,
        session: request.headers.get('mcp-session-id') ?? url.searchParams.get('sessionId') ?? undefined,
        http: request.method,
        endpoint: route.endpoint,
        method,
        status: response.status,
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
      });
    }
    return response;
  }

  async drain(graceMs: number, options: { readonly waitForSessions?: boolean } = {}): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.logger.info('draining', { graceMs, sessions: this.sessions.size, waitForSessions: options.waitForSessions ?? false });
    // Children need up to 4 s to stop (stdin end, SIGTERM, SIGKILL): keep that out of the wait.
    const deadline = Date.now() + Math.max(graceMs - 5000, graceMs / 2);
    const busy = (): boolean =>
      (options.waitForSessions === true && this.sessions.size > 0) ||
      [...this.sessions.values()].some((s) => s.inFlight > 0) ||
      [...this.modern.values()].some((m) => m.busy > 0);
    while (Date.now() < deadline && busy()) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearInterval(this.reaper);
    await Promise.all([
      ...[...this.sessions.values()].map((s) => s.close('gateway shutting down')),
      ...[...this.servers.values()].map((s) => s.close()),
      ...[...this.modern.values()].map((m) => m.close()),
    ]);
    this.cluster?.stop();
  }

  private async dispatch(request: Request, url: URL, route: Route): Promise<{ response: Response; method?: string }> {
    switch (route.kind) {
      case 'health':
        return { response: Response.json({ status: 'ok' }) };
      case 'ready':
        return { response: this.readiness() };
      case 'host-denied':
        throw new HttpError(403, ErrorCode.InvalidRequest, 'Hostname not allowed', { plain: true });
      case 'not-found':
        throw new HttpError(404, ErrorCode.InvalidRequest, `Not found: ${url.pathname}`);
      case 'metrics':
        if (!this.metrics) throw new HttpError(404, ErrorCode.InvalidRequest, `Not found: ${url.pathname}`);
        return { response: metricsResponse(this.metrics.registry) };
      case 'resource-metadata': {
        const metadata = this.guard.authenticator.metadata(request, (path) => this.resourceTarget(request, path));
        if (!metadata) throw new HttpError(404, ErrorCode.InvalidRequest, `Not found: ${url.pathname}`);
        return { response: metadata };
      }
      case 'server':
        break;
    }
    const preflight = this.cors.preflight(request);
    if (preflight) return { response: preflight };
    this.checkOrigin(request);
    const admission = await this.guard.admit(request, route);
    if (!admission.ok) return { response: admission.response };
    if (this.cluster) {
      // A session owned by another replica is served there, streams included.
      const id = route.endpoint === 'messages' ? url.searchParams.get('sessionId') : request.headers.get('mcp-session-id');
      const placement = await this.cluster.place(id, request);
      if (placement.kind === 'remote') return { response: await this.cluster.forward(request, placement.owner, undefined) };
    }
    // A session id of another principal is answered as if it did not exist.
    this.guard.checkSessionOwner(route.endpoint === 'messages' ? url.searchParams.get('sessionId') : request.headers.get('mcp-session-id'), request);
    const server = this.servers.get(route.server) as UpstreamServer;
    if (route.endpoint === 'mcp') {
      if (request.method === 'POST') {
        // One queue per child: a legacy session's own child, or the server's stateless pool.
        const sessionId = request.headers.get('mcp-session-id');
        const queueKey = sessionId !== null && this.sessions.has(sessionId) ? `session:${sessionId}` : `pool:${server.name}`;
        return this.guard.queued(queueKey, server.name, request, () => this.streamablePost(request, server));
      }
      if (request.method === 'GET') return { response: this.streamableGet(request, server) };
      if (request.method === 'DELETE') return { response: await this.streamableDelete(request, server) };
      throw methodNotAllowed('GET, POST, DELETE');
    }
    if (route.endpoint === 'sse') {
      if (request.method === 'GET') return { response: this.legacySseOpen(request, server, route.basePath) };
      throw methodNotAllowed('GET');
    }
    if (request.method === 'POST') return this.legacySsePost(request, url, server);
    throw methodNotAllowed('POST');
  }

  /** The server and canonical URL behind a metadata path (`/servers/x/mcp`, `/mcp`, or `''` on a server's own host). */
  private resourceTarget(request: Request, path: string): AuthTarget | undefined {
    const host = request.headers.get('host');
    const route = this.router.route(host, path === '' ? '/mcp' : path);
    if (route.kind !== 'server' || route.endpoint !== 'mcp' || (path === '' && route.basePath !== '')) return undefined;
    return { server: route.server, resourceUrl: resourceUrlFor(request, route) };
  }

  private checkOrigin(request: Request): void {
    const origin = request.headers.get('origin');
    if (origin === null || this.anyOrigin || isLoopbackOrigin(origin)) return;
    if (this.allowedOrigins.has(origin.replace(/\/$/, '').toLowerCase())) return;
    throw new HttpError(403, ErrorCode.InvalidRequest, 'Forbidden: Origin not allowed');
  }

  /** Sets the gauges (and the restart counter) from the servers' own counts at each scrape. */
  private collectGauges(metrics: FleetMetrics): void {
    const seenExits = new Map<string, number>();
    metrics.registry.onCollect(() => {
      for (const [name, server] of this.servers) {
        metrics.sessionsOpen.set({ server: name }, this.perServer.get(name) ?? 0);
        metrics.childrenRunning.set({ server: name }, server.runningChildren);
        const exits = server.unexpectedExits;
        const delta = exits - (seenExits.get(name) ?? 0);
        if (delta > 0) metrics.childRestarts.inc({ server: name }, delta);
        seenExits.set(name, exits);
      }
    });
  }

  private readiness(): Response {
    const servers: Record<string, unknown> = {};
    let ready = !this.draining;
    for (const [name, server] of this.servers) {
      if (server.state !== 'ready') ready = false;
      // Ready but with children dying lately: still serving (200), flagged for operators.
      const crashes = server.state === 'ready' ? server.recentUnexpectedExits(DEGRADED_WINDOW_MS) : 0;
      servers[name] = {
        state: crashes > 0 ? 'degraded' : server.state,
        ...(server.verdict ? { era: server.verdict.era } : {}),
        ...(server.reason ? { reason: server.reason } : {}),
        ...(crashes > 0 ? { reason: `${crashes} child process${crashes === 1 ? '' : 'es'} exited unexpectedly in the last ${DEGRADED_WINDOW_MS / 1000}s` } : {}),
        sessions: this.perServer.get(name) ?? 0,
      };
    }
    return Response.json(
      { status: this.draining ? 'draining' : ready ? 'ready' : 'not-ready', servers },
      { status: ready ? 200 : 503 },
    );
  }

  /** Reads and parses a JSON-RPC POST body: one message or a batch. */
  private async readMessages(request: Request): Promise<{ messages: JsonRpcMessage[]; raw: string; batch: boolean; method: string }> {
    const type = request.headers.get('content-type') ?? '';
    if (!/^application\/json\b/i.test(type.trim())) {
      throw new HttpError(415, ErrorCode.InvalidRequest, 'Unsupported Media Type: Content-Type must be application/json');
    }
    const limit = this.config.gateway.maxBodyBytes;
    const declared = Number(request.headers.get('content-length') ?? '0');
    if (declared > limit) throw tooLarge(limit);
    const raw = await request.text();
    if (Buffer.byteLength(raw) > limit) throw tooLarge(limit);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new HttpError(400, ErrorCode.ParseError, `Parse error: ${(error as Error).message}`);
    }
    const batch = Array.isArray(parsed);
    const messages = batch ? (parsed as unknown[]) : [parsed];
    if (messages.length === 0) throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: empty batch');
    for (const m of messages) {
      if (!isJsonRpcMessage(m)) {
        throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
      }
    }
    // The label logs and metrics use: the method, or what the POST carried instead.
    const first = (messages as JsonRpcMessage[])[0];
    const method = batch ? 'batch' : typeof first?.method === 'string' ? first.method : 'response';
    return applyTraceparent(request.headers, { messages: messages as JsonRpcMessage[], raw, batch, method });
  }

  private async streamablePost(request: Request, server: UpstreamServer): Promise<{ response: Response; method?: string }> {
    const accept = request.headers.get('accept') ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      throw new HttpError(406, ErrorCode.InvalidRequest, 'Not Acceptable: Accept must list both application/json and text/event-stream');
    }
    const { messages, raw, batch, method } = await this.readMessages(request);
    if (isModernRequest(request.headers, messages[0])) {
      // 2026-07-28: stateless; an Mcp-Session-Id header is ignored, as the spec says.
      const message = messages[0] as JsonRpcMessage;
      if (batch || message.method === undefined) {
        throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: the body must be one JSON-RPC request or notification');
      }
      if (this.draining) {
        throw new HttpError(503, ErrorCode.ServerError, 'Service Unavailable: the gateway is shutting down; retry', {
          id: message.id ?? null,
          headers: { 'retry-after': '1', connection: 'close' },
        });
      }
      validateModernRequest(request.headers, message);
      const endpoint = this.modern.get(server.name) as ModernEndpoint;
      endpoint.paramHeaders.check(request.headers, message);
      if (this.cluster) {
        // An MRTR retry goes to the replica holding the parked call.
        const placement = await this.cluster.placeOwner(endpoint.stateOwner(message), request);
        if (placement.kind === 'remote') return { response: await this.cluster.forward(request, placement.owner, raw), method };
      }
      return { response: await endpoint.handle(message, request.signal), method };
    }
    const sessionId = request.headers.get('mcp-session-id');
    const initialize = messages.find((m) => m.method === 'initialize' && isRequest(m));
    if (initialize) {
      if (messages.length > 1) {
        throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: initialize must be the only message in its POST', {
          id: initialize.id ?? null,
        });
      }
      if (sessionId !== null) {
        throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: initialize must be sent without Mcp-Session-Id to start a new session', {
          id: initialize.id ?? null,
        });
      }
      if (needsBridge(server)) return { response: this.bridgeFor(server).initialize(initialize), method };
      const session = this.openSession('streamable', server, request);
      return { response: await session.post(messages, raw, false), method };
    }
    const bridge = this.bridges.get(server.name);
    if (bridge?.has(sessionId)) {
      this.checkProtocolVersion(request);
      return { response: await bridge.post(sessionId, messages, batch, request.signal), method };
    }
    const session = this.findSession(sessionId, server, 'streamable');
    this.checkProtocolVersion(request);
    if (batch && session.protocolVersion !== undefined && session.protocolVersion >= '2025-06-18') {
      throw new HttpError(400, ErrorCode.InvalidRequest, `Invalid Request: JSON-RPC batches are not allowed in protocol revision ${session.protocolVersion}`);
    }
    return { response: await session.post(messages, batch ? undefined : raw, batch), method };
  }

  private streamableGet(request: Request, server: UpstreamServer): Response {
    rejectModernStreamMethod(request);
    const accept = request.headers.get('accept') ?? '';
    if (!accept.includes('text/event-stream')) {
      throw new HttpError(406, ErrorCode.InvalidRequest, 'Not Acceptable: Accept must list text/event-stream');
    }
    if (this.bridges.get(server.name)?.has(request.headers.get('mcp-session-id'))) {
      // A bridged session has no server-initiated stream (2026-07-28 servers push nothing unasked).
      throw methodNotAllowed('POST, DELETE');
    }
    const session = this.findSession(request.headers.get('mcp-session-id'), server, 'streamable');
    this.checkProtocolVersion(request);
    return session.openGetStream();
  }

  private async streamableDelete(request: Request, server: UpstreamServer): Promise<Response> {
    rejectModernStreamMethod(request);
    const bridge = this.bridges.get(server.name);
    const bridgedId = request.headers.get('mcp-session-id');
    if (bridge?.has(bridgedId)) {
      bridge.end(bridgedId);
      return new Response(null, { status: 200 });
    }
    const session = this.findSession(request.headers.get('mcp-session-id'), server, 'streamable');
    this.checkProtocolVersion(request);
    // The session is gone at once; its child may take the whole stop sequence
    // (stdin end, SIGTERM, SIGKILL: seconds) and the client need not wait for it.
    void session.close('client ended the session (DELETE)');
    return new Response(null, { status: 200 });
  }

  private legacySseOpen(request: Request, server: UpstreamServer, basePath: string): Response {
    const accept = request.headers.get('accept') ?? '';
    if (accept !== '' && !accept.includes('text/event-stream') && !accept.includes('*/*')) {
      throw new HttpError(406, ErrorCode.InvalidRequest, 'Not Acceptable: Accept must list text/event-stream');
    }
    if (needsBridge(server)) {
      if (this.draining) {
        throw new HttpError(503, ErrorCode.ServerError, 'Service Unavailable: the gateway is shutting down; retry on another replica', {
          headers: { 'retry-after': '1', connection: 'close' },
        });
      }
      return this.bridgeFor(server).openSse((id) => `${basePath}/messages?sessionId=${id}`);
    }
    const session = this.openSession('sse', server, request);
    return session.openLegacySseStream(`${basePath}/messages?sessionId=${session.id}`);
  }

  private async legacySsePost(request: Request, url: URL, server: UpstreamServer): Promise<{ response: Response; method?: string }> {
    const sessionId = url.searchParams.get('sessionId');
    if (sessionId === null || sessionId === '') {
      throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: the sessionId query parameter is required');
    }
    const bridge = this.bridges.get(server.name);
    if (bridge?.has(sessionId)) {
      const { messages, method } = await this.readMessages(request);
      return { response: bridge.postSse(sessionId, messages), method };
    }
    const session = this.findSession(sessionId, server, 'sse');
    const { messages, raw, batch, method } = await this.readMessages(request);
    if (!session.deliverToChild(messages, batch ? undefined : raw)) {
      throw new HttpError(503, ErrorCode.ServerError, `MCP server "${server.name}" is not running; reconnect to start a new session`);
    }
    return { response: new Response('Accepted', { status: 202 }), method };
  }

  private checkProtocolVersion(request: Request): void {
    const version = request.headers.get('mcp-protocol-version');
    if (version === null) return;
    if (!isLegacyVersion(version)) {
      throw new HttpError(
        400,
        ErrorCode.InvalidRequest,
        `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(version)}; supported: ${LEGACY_PROTOCOL_VERSIONS.join(', ')}`,
      );
    }
  }

  private openSession(kind: 'streamable' | 'sse', server: UpstreamServer, request: Request): LegacySession {
    if (this.draining) {
      throw new HttpError(503, ErrorCode.ServerError, 'Service Unavailable: the gateway is shutting down; retry on another replica', {
        headers: { 'retry-after': '1', connection: 'close' },
      });
    }
    const count = this.perServer.get(server.name) ?? 0;
    if (count >= server.config.maxSessions) {
      throw new HttpError(503, ErrorCode.ServerError, `Service Unavailable: server "${server.name}" has its maximum of ${server.config.maxSessions} sessions; retry later`, {
        headers: { 'retry-after': '5' },
      });
    }
    const claim = this.guard.claimSession(request, server.name);
    const cluster = this.cluster;
    const session = new LegacySession(kind, server, {
      keepAliveMs: this.config.gateway.sseKeepAliveSeconds * 1000,
      logger: this.logger,
      ...(cluster ? { mintId: () => cluster.mintSessionId() } : {}),
    });
    this.sessions.set(session.id, session);
    claim.bind(session.id);
    this.perServer.set(server.name, count + 1);
    session.onClosed = (s) => {
      claim.release();
      if (this.sessions.delete(s.id)) this.perServer.set(s.server.name, (this.perServer.get(s.server.name) ?? 1) - 1);
    };
    this.logger.info('session opened', { server: server.name, session: session.id, transport: kind, pid: session.childPid });
    return session;
  }

  private findSession(id: string | null, server: UpstreamServer, kind: 'streamable' | 'sse'): LegacySession {
    if (id === null || id === '') {
      throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: Mcp-Session-Id header is required (send initialize first)');
    }
    const session = this.sessions.get(id);
    if (!session || session.closed || session.server !== server || session.kind !== kind) {
      throw new HttpError(404, ErrorCode.SessionNotFound, 'Session not found');
    }
    return session;
  }

  /** The bridge that serves legacy Streamable HTTP clients of a modern stdio server. */
  private bridgeFor(server: UpstreamServer): LegacyBridge {
    let bridge = this.bridges.get(server.name);
    if (!bridge) {
      const cluster = this.cluster;
      bridge = new LegacyBridge(
        this.modern.get(server.name) as ModernEndpoint,
        () => advertisementOf(server),
        cluster ? () => cluster.mintSessionId() : undefined,
        this.config.gateway.sseKeepAliveSeconds * 1000,
      );
      this.bridges.set(server.name, bridge);
    }
    return bridge;
  }

  private reapIdle(idleMs: number): void {
    for (const bridge of this.bridges.values()) bridge.reap(idleMs);
    const cutoff = Date.now() - idleMs;
    for (const session of this.sessions.values()) {
      if (!session.busy && session.lastActivity < cutoff) void session.close(`idle for ${idleMs / 1000}s`);
    }
  }

  /** The one central error handler: known errors map to their status; unknown ones are logged and get a generic 500. */
  private errorResponse(error: unknown, route: Route): Response {
    if (error instanceof HttpError) return error.toResponse();
    this.logger.error('unexpected error while handling a request', {
      server: route.kind === 'server' ? route.server : undefined,
      error: error instanceof Error ? error.message : String(error),
      stack: error instanceof Error ? error.stack : undefined,
    });
    return new HttpError(500, ErrorCode.InternalError, 'Internal error').toResponse();
  }
}

/**
 * Whether legacy sessions of a server run on the shared pool (through the bridge)
 * instead of a child each: when `policy` is `pool` or `shared`, and for a modern
 * server that refuses `initialize`. A dual-era or legacy server under the default
 * policy gives each legacy session its own child, so its push-style (2025)
 * features keep working.
 */
function needsBridge(server: UpstreamServer): boolean {
  const policy = server.config.policy;
  if (server.verdict === undefined) return false;
  if (policy === 'pool' || policy === 'shared') return true;
  return server.verdict.era === 'modern' && server.verdict.acceptsLegacy !== true;
}

/** A discover-shaped advertisement from a legacy server's initialize result. */
function advertisementOf(server: UpstreamServer): Record<string, unknown> | undefined {
  const verdict = server.verdict;
  if (verdict?.discover) return verdict.discover;
  const init = verdict?.initialize;
  if (!init) return undefined;
  return {
    capabilities: init['capabilities'] ?? {},
    ...(typeof init['instructions'] === 'string' ? { instructions: init['instructions'] } : {}),
    _meta: { 'io.modelcontextprotocol/serverInfo': init['serverInfo'] },
  };
}

/** 2026-07-28 has no GET stream and no sessions: a modern client's GET or DELETE gets 405. */
function rejectModernStreamMethod(request: Request): void {
  const version = request.headers.get('mcp-protocol-version');
  if (version !== null && isModernVersion(version) && !request.headers.has('mcp-session-id')) {
    throw methodNotAllowed('POST');
  }
}

function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, ErrorCode.InvalidRequest, `Method Not Allowed; use ${allow}`, { headers: { allow } });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, ErrorCode.InvalidRequest, `Payload Too Large: the body exceeds ${limit} bytes (gateway.maxBodyBytes)`);
}
