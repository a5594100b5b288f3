import type { FleetConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../log.js';
import { DEFAULT_MAX_STREAM_BUFFER_BYTES, ErrorCode, Header, isLegacyVersion, isModernVersion, LEGACY_PROTOCOL_VERSIONS } from '../protocol.js';
import type { WireMessage } from '../upstream/channel.js';
import { UpstreamServer } from '../upstream/server.js';
import { startTelemetry, type GatewayTelemetry, type RequestSpan, type TelemetryEra } from '../telemetry/index.js';
import type { AuthTarget, Principal } from './auth/index.js';
import { Cluster, type ClusterSettings } from './cluster/cluster.js';
import { AuditLog } from './audit/audit-log.js';
import { createConsole, type ConsoleParts } from './console/index.js';
import { CorsPolicy } from './cors.js';
import { checkSessionCredentials, resolveCallerCredentials, type CallerCredentials } from './credentials/caller-credentials.js';
import { classifyPost } from './era.js';
import { RequestGuard, resourceUrlFor, type RequestGuardOptions, type ServerRoute } from './guard.js';
import { healthReply, readinessReply, serverReadinessReply } from './health.js';
import { draining, errorReply, HttpError, methodNotAllowed, requiredSessionId } from './http/errors.js';
import { emptyReply, StreamReply, toResponse, type Reply } from './http/reply.js';
import { pathOf, queryParam, readBody, readJsonBody, type InboundRequest } from './http/request.js';
import type { SseSettings } from './http/sse.js';
import { createFleetMetrics, methodLabel, metricsReply, type FleetMetrics } from './metrics.js';
import { ModernEndpoint } from './modern/endpoint.js';
import { newStateKey, RequestStateSigner } from './modern/mrtr.js';
import { isLoopbackOrigin, Router, type Route } from './routing.js';
import { CallGate, ServedServer } from './served-server.js';
import { BridgeBackend } from './sessions/bridge-backend.js';
import { ChannelBackend } from './sessions/channel-backend.js';
import { LegacySession } from './sessions/legacy-session.js';
import { SessionRegistry, type LegacyTransport } from './sessions/registry.js';
import { traceMessages } from './trace.js';
import { VirtualEndpoint } from './virtual/endpoint.js';
import { virtualReadinessReply } from './virtual/readiness.js';

/**
 * The gateway: routing, the checks in front of every MCP endpoint, the era
 * decision, and the transports, answering each request with a {@link Reply}.
 * `fetch` is the same as a web-standard `Request -> Response` function, so tests
 * and embedders call it in-process; `http/node.ts` adapts it to Node once.
 */

export { DEGRADED_WINDOW_MS } from './health.js';

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
  /** Options of the built-in authorization server (store, trusted CAs, clock), for tests. @default from the config */
  readonly authorizationServer?: RequestGuardOptions['authorizationServer'];
  /**
   * The config's servers, made by the caller, which may have started probing them
   * already (`serve` does, so children boot while the gateway's modules load).
   * @default made here
   */
  readonly upstreams?: ReadonlyMap<string, UpstreamServer>;
  /** Where audit lines go instead of `gateway.audit.destination` (embedders; a CloudWatch Logs writer). @default the destination */
  readonly auditWrite?: (chunk: string) => Promise<void>;
}

/** A running gateway. */
export interface Gateway {
  /** Handles one HTTP request as a web-standard Request. Never throws. */
  fetch(request: Request): Promise<Response>;
  /** Handles one request (the Node adapter's entry: no web objects on the hot path). Never throws. */
  handle(request: InboundRequest): Promise<Reply>;
  /** Probes every server once (era and readiness) and warms their pools; resolves when all finished. */
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
  /** The audit log, when `gateway.audit.enabled` (its `dropped` and `written` counts). */
  readonly audit: AuditLog | undefined;
}

/** Creates a gateway for a validated config. */
export function createGateway(config: FleetConfig, options: GatewayOptions = {}): Gateway {
  return new FleetGateway(config, options);
}

const ANONYMOUS_ID = 'anonymous';

/** What the handling of one request learns on the way: its JSON-RPC method, and its span when telemetry is on. */
interface RequestLabel {
  method?: string;
  span?: RequestSpan | undefined;
  /** `performance.now()` when the gateway took the request. */
  readonly started: number;
}

class FleetGateway implements Gateway {
  readonly servers = new Map<string, UpstreamServer>();
  readonly metrics: FleetMetrics | undefined;
  draining = false;
  private readonly served = new Map<string, ServedServer>();
  private readonly modern = new Map<string, ModernEndpoint>();
  private readonly virtual = new Map<string, VirtualEndpoint>();
  private readonly registry: SessionRegistry;
  private readonly cluster: Cluster | undefined;
  private readonly router: Router;
  private readonly logger: Logger;
  private readonly guard: RequestGuard;
  private readonly cors: CorsPolicy;
  private readonly allowedOrigins: Set<string>;
  private readonly anyOrigin: boolean;
  private readonly sse: SseSettings;
  private readonly reaper: NodeJS.Timeout;
  /** The audit log, when `gateway.audit.enabled`. */
  readonly audit: AuditLog | undefined;
  private telemetry: GatewayTelemetry | undefined;
  /** The web console and its request statistics, when `gateway.console.enabled`. */
  private readonly console: ConsoleParts | undefined;
  /** Requests the console sends through the pipeline on behalf of its signed-in principal (already authenticated). */
  private readonly consoleAdmitted = new WeakMap<InboundRequest, Principal>();

  constructor(
    private readonly config: FleetConfig,
    options: GatewayOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.router = new Router(config, options.extraAllowedHosts);
    this.metrics = config.gateway.metrics.enabled ? createFleetMetrics() : undefined;
    this.guard = new RequestGuard(config, {
      logger: this.logger,
      ...(options.env ? { env: options.env } : {}),
      ...(this.metrics ? { metrics: this.metrics } : {}),
      ...(options.authorizationServer ? { authorizationServer: options.authorizationServer } : {}),
    });
    this.cors = new CorsPolicy(config.gateway);
    this.sse = {
      keepAliveMs: config.gateway.sseKeepAliveSeconds * 1000,
      maxBufferBytes: config.gateway.limits.maxStreamBufferBytes ?? DEFAULT_MAX_STREAM_BUFFER_BYTES,
      logger: this.logger,
    };
    this.cluster = options.cluster ? new Cluster(options.cluster, this.logger) : undefined;
    const cluster = this.cluster;
    this.registry = new SessionRegistry({
      maxSessionsOf: (server) => config.servers[server]?.maxSessions ?? 100,
      maxSessionsPerKey: config.gateway.limits.maxSessionsPerKey,
      ...(cluster ? { mintId: () => cluster.mintSessionId() } : {}),
      onRefused: (server) => this.metrics?.rateLimited.inc({ server, limit: 'sessions' }),
      logger: this.logger,
    });
    this.audit = AuditLog.create(config.gateway.audit, {
      logger: this.logger,
      ...(options.env ? { env: options.env } : {}),
      ...(options.auditWrite ? { write: options.auditWrite } : {}),
    });
    const signer = new RequestStateSigner(this.cluster?.stateKey ?? newStateKey());
    for (const [name, server] of Object.entries(config.servers)) {
      const made = options.upstreams?.get(name);
      if (made !== undefined && made.config !== server) throw new Error(`createGateway: the upstream given for server "${name}" was made from another config`);
      const upstream = made ?? new UpstreamServer(name, server, { logger: this.logger, ...(options.env ? { env: options.env } : {}) });
      this.servers.set(name, upstream);
      const served = new ServedServer(upstream, {
        limits: config.gateway.limits,
        metrics: this.metrics,
        logger: this.logger,
        callerIdleMs: config.gateway.sessionIdleTimeoutSeconds * 1000,
        audit: this.audit,
      });
      this.served.set(name, served);
      const endpoint = new ModernEndpoint(served, { sse: this.sse, signer, owner: this.cluster?.self, logger: this.logger });
      endpoint.watchToolChanges();
      this.modern.set(name, endpoint);
    }
    for (const [name, virtual] of Object.entries(config.virtualServers)) {
      this.virtual.set(
        name,
        new VirtualEndpoint({
          name,
          config: virtual,
          fetchMember: (member, principal) => (request) => this.serveMember(member, request, principal),
          // A second more than the member's own timeout, so the member's timeout error is what the client reads.
          timeoutMsOf: (member) => ((config.servers[member]?.requestTimeoutSeconds ?? 300) + 1) * 1000,
          maxBodyBytes: config.gateway.maxBodyBytes,
          idleMs: config.gateway.sessionIdleTimeoutSeconds * 1000,
          maxSessions: Math.min(...Object.keys(virtual.servers).map((m) => config.servers[m]?.maxSessions ?? 100)),
          ...(this.cluster ? { mintSessionId: () => (this.cluster as Cluster).mintSessionId() } : {}),
          logger: this.logger.child({ virtual: name }),
        }),
      );
    }
    if (this.metrics) this.collectGauges(this.metrics);
    this.allowedOrigins = new Set(config.gateway.allowedOrigins.map((o) => o.replace(/\/$/, '').toLowerCase()));
    this.anyOrigin = this.allowedOrigins.has('*');
    // Before any timer starts: a console that would be open beyond this machine stops the start here.
    this.console = createConsole(config, {
      served: this.served,
      sessions: () => this.registry.all(),
      modernInFlight: (server) => this.modern.get(server)?.busy ?? 0,
      virtualServers: () =>
        Object.entries(config.virtualServers).map(([name, virtual]) => ({ name, members: Object.keys(virtual.servers), sessions: this.virtual.get(name)?.sessionCount ?? 0 })),
      handleAs: (request, principal) => {
        this.consoleAdmitted.set(request, principal);
        return this.handle(request);
      },
      authenticate: (request, target) => this.guard.authenticator.authenticate(request, target),
    }, { logger: this.logger, ...(options.env ? { env: options.env } : {}) });
    const idleMs = config.gateway.sessionIdleTimeoutSeconds * 1000;
    this.reaper = setInterval(() => this.registry.reap(idleMs), Math.min(idleMs, 30_000));
    this.reaper.unref();
  }

  sessionCount(server?: string): number {
    return this.registry.count(server);
  }

  async start(): Promise<void> {
    await this.guard.authenticator.ready();
    await this.audit?.ready();
    // The OpenTelemetry SDK is loaded here, and only when asked for: zero cost when off.
    if (this.config.gateway.telemetry.enabled && !this.telemetry) this.telemetry = await startTelemetry(this.config.gateway.telemetry, { logger: this.logger });
    await Promise.all([...this.servers.values()].map((s) => s.probe({ keepChild: true })));
    await this.cluster?.start();
    // Warm pools for stateless (2026-07-28) traffic and shared sessions, so the first request spawns nothing.
    await Promise.all(
      [...this.served.values()].filter((s) => s.upstream.state === 'ready').map((s) => this.modern.get(s.name)?.warm().catch(() => undefined)),
    );
  }

  async fetch(request: Request): Promise<Response> {
    return toResponse(await this.handle(request));
  }

  async handle(request: InboundRequest): Promise<Reply> {
    const started = performance.now();
    const path = pathOf(request);
    const route = this.router.route(request.headers.get('host'), path);
    let reply: Reply;
    const label: RequestLabel = { started };
    try {
      reply = await this.dispatch(request, path, route, label);
    } catch (error) {
      reply = errorReply(error, this.logger, route.kind === 'server' ? { server: route.server } : {});
    }
    // The console is for its own page only: never a CORS answer that would let another site read it.
    if (route.kind !== 'console') reply = this.cors.decorate(request, reply);
    if (route.kind === 'server') this.observe(request, route, reply, label.method, started);
    if (label.span !== undefined) label.span.end(reply);
    return reply;
  }

  async drain(graceMs: number, options: { readonly waitForSessions?: boolean } = {}): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.registry.draining = true;
    this.logger.info('draining', { graceMs, sessions: this.registry.count(), waitForSessions: options.waitForSessions ?? false });
    // Children need up to 4 s to stop (stdin end, SIGTERM, SIGKILL): keep that out of the wait.
    const deadline = Date.now() + Math.max(graceMs - 5000, graceMs / 2);
    const busy = (): boolean =>
      (options.waitForSessions === true && this.registry.count() > 0) ||
      this.registry.inFlight > 0 ||
      [...this.modern.values()].some((m) => m.busy > 0) ||
      [...this.virtual.values()].some((v) => v.busy > 0);
    while (Date.now() < deadline && busy()) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearInterval(this.reaper);
    for (const endpoint of this.modern.values()) endpoint.close();
    await Promise.all([...this.virtual.values()].map((v) => v.close()));
    await this.registry.closeAll('gateway shutting down');
    await Promise.all([...this.served.values()].map((s) => s.close()));
    await Promise.all([...this.servers.values()].map((s) => s.close()));
    await Promise.all([...this.servers.values()].map((s) => s.stopAll()));
    this.cluster?.stop();
    await this.guard.authenticator.close();
    // Last: the records of the calls that ended while draining are written too.
    await this.audit?.close();
    await this.telemetry?.shutdown();
  }

  /** The answer to a routed request (not async itself: the hot route returns its promise without another turn). */
  private dispatch(request: InboundRequest, path: string, route: Route, label: RequestLabel): Reply | Promise<Reply> {
    switch (route.kind) {
      case 'health':
        return healthReply();
      case 'ready': {
        if (route.server === undefined) return readinessReply(this.served.values(), (s) => this.registry.count(s), this.draining);
        if (route.virtual) {
          const members = Object.keys(this.config.virtualServers[route.server]?.servers ?? {}).flatMap((m) => this.served.get(m) ?? []);
          return virtualReadinessReply(route.server, members, this.draining);
        }
        return serverReadinessReply(this.served.get(route.server) as ServedServer, this.registry.count(route.server), this.draining);
      }
      case 'bad-host':
        throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: the Host header is not a host name');
      case 'host-denied':
        throw new HttpError(403, ErrorCode.Unauthorized, 'Hostname not allowed', { plain: true });
      case 'not-found':
        throw new HttpError(404, ErrorCode.InvalidRequest, `Not found: ${path}`);
      case 'metrics':
        if (!this.metrics) throw new HttpError(404, ErrorCode.InvalidRequest, `Not found: ${path}`);
        return metricsReply(this.metrics.registry);
      case 'resource-metadata': {
        const metadata = this.guard.authenticator.metadata(request, (resourcePath) => this.resourceTarget(request, resourcePath));
        if (!metadata) throw new HttpError(404, ErrorCode.InvalidRequest, `Not found: ${path}`);
        return metadata;
      }
      case 'authorization-server':
        return this.guard.authenticator.authorizationServer(request, (resource) => this.serverOfResource(resource));
      case 'server':
        return this.serve(request, route, label);
      case 'console':
        if (!this.console) throw new HttpError(404, ErrorCode.InvalidRequest, `Not found: ${path}`);
        return this.console.console.handle(request, path);
    }
  }

  private async serve(request: InboundRequest, route: ServerRoute, label: RequestLabel): Promise<Reply> {
    const preflight = this.cors.preflight(request);
    if (preflight) return preflight;
    this.checkOrigin(request);
    const preadmitted = this.consoleAdmitted.get(request);
    let admission = preadmitted ? ({ ok: true, principal: preadmitted } as const) : this.guard.admit(request, route);
    if (admission instanceof Promise) admission = await admission;
    if (!admission.ok) return admission.reply;
    if (route.virtual) return this.serveVirtual(request, route, admission.principal);
    return this.serveAdmitted(request, route, admission.principal, label);
  }

  /** A virtual server's endpoint (Streamable HTTP, both eras); its members are called through {@link serveMember}. */
  private async serveVirtual(request: InboundRequest, route: ServerRoute, principal: Principal): Promise<Reply> {
    if (this.draining && (request.method === 'POST' || route.endpoint === 'sse')) throw draining();
    // A virtual session lives on the replica that opened it, with its member sessions: served there.
    const forwarded = await this.forwardToOwner(request, route);
    if (forwarded !== undefined) return forwarded;
    const endpoint = this.virtual.get(route.server) as VirtualEndpoint;
    switch (route.endpoint) {
      case 'mcp':
        return endpoint.handle(request, principal);
      case 'sse':
        if (request.method === 'GET') return endpoint.openSse(request, principal, `${route.basePath}/messages`, this.sse);
        throw methodNotAllowed('GET');
      case 'messages':
        if (request.method === 'POST') return endpoint.postSse(request, principal);
        throw methodNotAllowed('POST');
    }
  }

  /**
   * A virtual server's request to one of its members, in process: the caller was
   * authenticated (and rate-limited) once at the virtual server, so the member's
   * endpoint is entered after that, with the same principal owning the session.
   */
  private async serveMember(member: string, request: Request, principal: Principal): Promise<Response> {
    const route: ServerRoute = { kind: 'server', server: member, endpoint: 'mcp', basePath: `/servers/${member}` };
    try {
      return toResponse(await this.serveAdmitted(request, route, principal, { started: performance.now() }));
    } catch (error) {
      return toResponse(errorReply(error, this.logger, { server: member }));
    }
  }

  /** With replicas: the answer of the replica that owns the request's session (`Mcp-Session-Id`, or `?sessionId=` of HTTP+SSE), when that is another one. */
  private async forwardToOwner(request: InboundRequest, route: ServerRoute): Promise<Reply | undefined> {
    const sessionId = route.endpoint === 'messages' ? queryParam(request, 'sessionId') : request.headers.get(Header.sessionId);
    if (!this.cluster || !sessionId) return undefined;
    const placement = await this.cluster.place(sessionId, request);
    if (placement.kind !== 'remote') return undefined;
    const body = request.method === 'POST' ? await readBody(request, this.config.gateway.maxBodyBytes) : undefined;
    return this.cluster.forward(request, placement.owner, body);
  }

  private async serveAdmitted(request: InboundRequest, route: ServerRoute, principal: Principal, label: RequestLabel): Promise<Reply> {
    if (this.cluster) {
      // A session owned by another replica is served there, streams included.
      const forwarded = await this.forwardToOwner(request, route);
      if (forwarded !== undefined) return forwarded;
    }
    const served = this.served.get(route.server) as ServedServer;
    // A fromRequest server's values, read once per request (the header goes no further than this).
    const fromRequest = served.upstream.config.fromRequest;
    const credentials =
      fromRequest === undefined || request.method === 'DELETE' ? undefined : resolveCallerCredentials(served.name, fromRequest, request.headers, principal);
    switch (route.endpoint) {
      case 'mcp':
        if (request.method === 'POST') return this.post(request, served, principal, label, credentials);
        if (request.method === 'GET') return this.getStream(request, served, principal, credentials);
        if (request.method === 'DELETE') return this.endSession(request, served, principal);
        throw methodNotAllowed('GET, POST, DELETE');
      case 'sse':
        if (request.method === 'GET') return this.openSse(request, served, principal, route.basePath, credentials);
        throw methodNotAllowed('GET');
      case 'messages':
        if (request.method === 'POST') return this.postMessages(request, served, principal, label, credentials);
        throw methodNotAllowed('POST');
    }
  }

  /** A Streamable HTTP POST: a 2026-07-28 request, or a message of a legacy session (or the initialize that opens one). */
  private async post(
    request: InboundRequest,
    served: ServedServer,
    principal: Principal,
    label: RequestLabel,
    credentials: CallerCredentials | undefined,
  ): Promise<Reply> {
    const accept = request.headers.get('accept') ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      throw new HttpError(406, ErrorCode.InvalidRequest, 'Not Acceptable: Accept must list both application/json and text/event-stream');
    }
    const { body, raw } = await this.readJson(request);
    const decision = classifyPost(request.headers, body);
    if (decision.era === 'modern') {
      // 2026-07-28: stateless; an Mcp-Session-Id header is ignored, as the spec says.
      const message = this.traced(request, [decision.message], served.name, 'modern', label)[0] as WireMessage;
      label.method = typeof message.method === 'string' ? message.method : 'response';
      if (this.draining) throw draining(message.id ?? null);
      const endpoint = this.modern.get(served.name) as ModernEndpoint;
      endpoint.paramHeaders.check(request.headers, message);
      if (this.cluster && typeof (message.params as { requestState?: unknown } | undefined)?.requestState === 'string') {
        // An MRTR retry goes to the replica holding the parked call.
        const placement = await this.cluster.placeOwner(await endpoint.stateOwner(message, principal.id), request);
        if (placement.kind === 'remote') return this.cluster.forward(request, placement.owner, raw);
      }
      return endpoint.handle(message, message === decision.message ? raw : undefined, { principal: principal.id, client: request, credentials });
    }
    const messages = this.traced(request, decision.messages, served.name, 'streamable', label);
    const first = messages[0] as WireMessage;
    label.method = decision.batch ? 'batch' : typeof first.method === 'string' ? first.method : 'response';
    const relayRaw = messages === decision.messages ? raw : undefined;
    const sessionId = request.headers.get(Header.sessionId);
    if (decision.initialize) {
      if (messages.length > 1) {
        throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: initialize must be the only message in its POST', { id: first.id ?? null });
      }
      if (sessionId !== null) {
        throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: initialize must be sent without Mcp-Session-Id to start a new session', { id: first.id ?? null });
      }
      const session = await this.openSession(served, 'streamable', principal, first.id ?? null, credentials);
      return session.post(messages, relayRaw, false, request);
    }
    const session = this.registry.find(requiredSessionId(sessionId), served.name, 'streamable', principal.id) as LegacySession;
    checkSessionCredentials(served.name, session.credentials, credentials, first.id ?? null);
    this.checkProtocolVersion(request);
    return session.post(messages, relayRaw, decision.batch, request);
  }

  private getStream(request: InboundRequest, served: ServedServer, principal: Principal, credentials: CallerCredentials | undefined): Reply {
    rejectModernStreamMethod(request);
    const accept = request.headers.get('accept') ?? '';
    if (!accept.includes('text/event-stream')) throw new HttpError(406, ErrorCode.InvalidRequest, 'Not Acceptable: Accept must list text/event-stream');
    const session = this.registry.find(requiredSessionId(request.headers.get(Header.sessionId)), served.name, 'streamable', principal.id) as LegacySession;
    checkSessionCredentials(served.name, session.credentials, credentials);
    this.checkProtocolVersion(request);
    if (session.servedBy === 'bridge') throw methodNotAllowed('POST, DELETE');
    return session.openGetStream();
  }

  private endSession(request: InboundRequest, served: ServedServer, principal: Principal): Reply {
    rejectModernStreamMethod(request);
    const session = this.registry.find(requiredSessionId(request.headers.get(Header.sessionId)), served.name, 'streamable', principal.id);
    this.checkProtocolVersion(request);
    // The session is gone at once; its child may take the whole stop sequence and the client need not wait for it.
    void session.close('the client ended the session (DELETE)');
    return emptyReply(200);
  }

  private async openSse(
    request: InboundRequest,
    served: ServedServer,
    principal: Principal,
    basePath: string,
    credentials: CallerCredentials | undefined,
  ): Promise<Reply> {
    const accept = request.headers.get('accept') ?? '';
    if (accept !== '' && !accept.includes('text/event-stream') && !accept.includes('*/*')) {
      throw new HttpError(406, ErrorCode.InvalidRequest, 'Not Acceptable: Accept must list text/event-stream');
    }
    const session = await this.openSession(served, 'sse', principal, null, credentials);
    return session.openSseStream(`${basePath}/messages?sessionId=${session.id}`);
  }

  private async postMessages(
    request: InboundRequest,
    served: ServedServer,
    principal: Principal,
    label: RequestLabel,
    credentials: CallerCredentials | undefined,
  ): Promise<Reply> {
    const sessionId = queryParam(request, 'sessionId');
    if (sessionId === null || sessionId === '') throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: the sessionId query parameter is required');
    const session = this.registry.find(sessionId, served.name, 'sse', principal.id) as LegacySession;
    checkSessionCredentials(served.name, session.credentials, credentials);
    const { body, raw } = await this.readJson(request);
    const list = (Array.isArray(body) ? body : [body]) as unknown[];
    if (list.length === 0 || !list.every(isJsonRpcMessage)) throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
    const messages = this.traced(request, list as WireMessage[], served.name, 'sse', label);
    const first = messages[0] as WireMessage;
    label.method = Array.isArray(body) ? 'batch' : typeof first.method === 'string' ? first.method : 'response';
    return session.postMessages(messages, messages === list ? raw : undefined);
  }

  /** A new legacy session of `principal` on `served`, served as the server's policy says. */
  private async openSession(
    served: ServedServer,
    transport: LegacyTransport,
    principal: Principal,
    id: string | number | null,
    credentials?: CallerCredentials,
  ): Promise<LegacySession> {
    if (this.draining) throw draining(id);
    // A server that cannot start is answered at once with the cause; no child is started for the attempt.
    await served.ready(id);
    const place = this.registry.claim(served.name, principal.id);
    try {
      const session = new LegacySession({
        id: place.id,
        server: served.name,
        transport,
        owner: principal.id,
        sse: this.sse,
        logger: this.logger.child({ server: served.name }),
        onClosed: (s) => this.registry.remove(s.id),
        credentials,
      });
      const serving = served.legacyServing();
      if (serving === 'bridge') session.use(new BridgeBackend(session, served, this.modern.get(served.name) as ModernEndpoint));
      else {
        const ownGate = serving === 'own-child' ? new CallGate(served.name, this.config.gateway.limits, 1, this.metrics) : undefined;
        session.use(new ChannelBackend(session, served, serving, ownGate));
      }
      place.register(session);
      this.logger.info('session opened', { server: served.name, session: session.id, transport, servedBy: serving, principal: principal.id === ANONYMOUS_ID ? undefined : principal.id });
      return session;
    } catch (error) {
      place.cancel();
      throw error;
    }
  }

  /** Reads and parses a JSON body (415 for another type, 413 past the limit, 400 -32700 for bad JSON). */
  private async readJson(request: InboundRequest): Promise<{ body: unknown; raw: Buffer }> {
    const type = request.headers.get('content-type') ?? '';
    if (type !== 'application/json' && !/^\s*application\/json\b/i.test(type)) {
      throw new HttpError(415, ErrorCode.InvalidRequest, 'Unsupported Media Type: Content-Type must be application/json');
    }
    return readJsonBody(request, this.config.gateway.maxBodyBytes);
  }

  /**
   * The messages with the request's `traceparent` in their `_meta` (the same array
   * when there is none to add); with telemetry on, the context of the POST's SERVER
   * span, which `label` keeps to end with the reply.
   */
  private traced(request: InboundRequest, messages: readonly WireMessage[], server: string, era: TelemetryEra, label: RequestLabel): readonly WireMessage[] {
    if (this.telemetry === undefined) return traceMessages(request.headers, messages);
    const traced = this.telemetry.serverSpan(request, messages, { server, era, startedAt: label.started });
    label.span = traced.span;
    return traced.span === undefined ? traceMessages(request.headers, messages) : traced.messages;
  }

  private checkProtocolVersion(request: InboundRequest): void {
    const version = request.headers.get(Header.protocolVersion);
    if (version === null || isLegacyVersion(version)) return;
    throw new HttpError(400, ErrorCode.InvalidRequest, `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(version)}; supported: ${LEGACY_PROTOCOL_VERSIONS.join(', ')}`);
  }

  private checkOrigin(request: InboundRequest): void {
    const origin = request.headers.get('origin');
    if (origin === null || this.anyOrigin || isLoopbackOrigin(origin)) return;
    if (this.allowedOrigins.has(origin.replace(/\/$/, '').toLowerCase())) return;
    throw new HttpError(403, ErrorCode.Unauthorized, 'Forbidden: Origin not allowed');
  }

  /** The server and canonical URL behind a metadata path (`/servers/x/mcp`, `/mcp`, or `''` on a server's own host). */
  private resourceTarget(request: InboundRequest, path: string): AuthTarget | undefined {
    const route = this.router.route(request.headers.get('host'), path === '' ? '/mcp' : path);
    if (route.kind !== 'server' || route.endpoint !== 'mcp' || (path === '' && route.basePath !== '')) return undefined;
    return { server: route.server, resourceUrl: resourceUrlFor(request, route) };
  }

  /** The server whose `/mcp` endpoint `resource` is (the URL a client asks a token for), routed like a request to it. */
  private serverOfResource(resource: URL): { server: string } | undefined {
    const route = this.router.route(resource.host, resource.pathname);
    return route.kind === 'server' && route.endpoint === 'mcp' ? { server: route.server } : undefined;
  }

  /** Logs one request and counts it (when the answer is over, for a stream). */
  private observe(request: InboundRequest, route: ServerRoute, reply: Reply, method: string | undefined, started: number): void {
    const metrics = this.metrics;
    // One record per request is debug: at info the log stays quiet on the hot path.
    const log = this.logger.enabled('debug');
    // A GET stream's life is not a latency: the console's statistics count the requests that carry messages.
    const stats = request.method === 'POST' ? this.console?.stats : undefined;
    if (!metrics && !log && !stats) return;
    const finish = (): void => {
      const seconds = (performance.now() - started) / 1000;
      stats?.record(route.server, reply.status, seconds * 1000, method);
      if (metrics) {
        const labels = { server: route.server, method: methodLabel(method) };
        metrics.requests.inc({ ...labels, status: String(reply.status) });
        metrics.requestDuration.observe(labels, seconds);
      }
      if (log) {
        this.logger.debug('request', {
          server: route.server,
          session: request.headers.get(Header.sessionId) ?? undefined,
          http: request.method,
          endpoint: route.endpoint,
          method,
          status: reply.status,
          latencyMs: Math.round(seconds * 100_000) / 100,
        });
      }
    };
    if (reply instanceof StreamReply) {
      const start = reply.start.bind(reply);
      reply.start = (sink) => {
        sink.onClose(finish);
        start(sink);
      };
    } else finish();
  }

  /** Sets the gauges (and the restart counter) from the servers' own counts at each scrape. */
  private collectGauges(metrics: FleetMetrics): void {
    const seenExits = new Map<string, number>();
    metrics.onCollect(() => {
      for (const [name, server] of this.servers) {
        metrics.sessionsOpen.set({ server: name }, this.registry.count(name));
        metrics.childrenRunning.set({ server: name }, server.runningChildren);
        const exits = server.unexpectedExits;
        const delta = exits - (seenExits.get(name) ?? 0);
        if (delta > 0) metrics.childRestarts.inc({ server: name }, delta);
        seenExits.set(name, exits);
      }
    });
  }
}

/** 2026-07-28 has no GET stream and no sessions: a modern client's GET or DELETE gets 405. */
function rejectModernStreamMethod(request: InboundRequest): void {
  const version = request.headers.get(Header.protocolVersion);
  if (version !== null && isModernVersion(version) && !request.headers.has(Header.sessionId)) throw methodNotAllowed('POST');
}

/** True when a parsed value has the shape of one JSON-RPC 2.0 message. */
function isJsonRpcMessage(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const m = value as WireMessage;
  if (m.jsonrpc !== '2.0') return false;
  if (m.id !== undefined && m.id !== null && typeof m.id !== 'string' && typeof m.id !== 'number') return false;
  if (typeof m.method === 'string') return true;
  return m.id !== undefined && (m.result !== undefined || m.error !== undefined);
}
