import { randomUUID } from 'node:crypto';
import {
  createMcpHandler,
  Server,
  WebStandardStreamableHTTPServerTransport,
  type AuthInfo,
  type JSONRPCMessage,
  type McpHttpHandler,
  type ServerCapabilities,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { VirtualServerConfig } from '../../config/virtual-schema.js';
import type { Logger } from '../../log.js';
import { ErrorCode, GATEWAY_INFO, Header } from '../../protocol.js';
import type { Principal } from '../auth/index.js';
import { classifyPost } from '../era.js';
import { HttpError, methodNotAllowed, overloaded, requiredSessionId, sessionNotFound } from '../http/errors.js';
import { emptyReply, type Reply } from '../http/reply.js';
import { queryParam, readBody, readJsonBody, type InboundRequest } from '../http/request.js';
import { SseWriter, type SseSettings } from '../http/sse.js';
import { Composition, type CallContext, type ListKind, type RelayTarget } from './composition.js';
import type { MemberFetch } from './member-link.js';
import { SseSessionTransport } from './sse-transport.js';

/**
 * The HTTP face of one virtual server: 2025-era Streamable HTTP sessions (a
 * {@link Composition} per session, so each member sees one session per client
 * session), and 2026-07-28 stateless requests (a composition per principal,
 * reused across requests). The protocol is the SDK's own server and
 * transports; what is ours is the composition behind the handlers.
 */

/** Options of {@link VirtualEndpoint}. */
export interface VirtualEndpointOptions {
  /** The virtual server's name. */
  readonly name: string;
  /** Its config. */
  readonly config: VirtualServerConfig;
  /** In-process fetch of a member's endpoint as `principal` (after auth, before the member's own checks). */
  readonly fetchMember: (member: string, principal: Principal) => MemberFetch;
  /** Request timeout of a member, in ms. */
  readonly timeoutMsOf: (member: string) => number;
  /** Largest request body. */
  readonly maxBodyBytes: number;
  /** Idle time after which a session (or a principal's stateless composition) is ended. */
  readonly idleMs: number;
  /** Most open sessions. */
  readonly maxSessions: number;
  /** Mints a session id (replicas: one that names its owner, see `cluster/`). @default a random UUID */
  readonly mintSessionId?: () => string;
  /** Logger. */
  readonly logger: Logger;
}

interface VirtualSession {
  readonly id: string;
  readonly owner: string;
  /** Streamable HTTP (2025-era) or HTTP+SSE (2024-11-05). */
  readonly transport: WebStandardStreamableHTTPServerTransport | SseSessionTransport;
  readonly server: Server;
  readonly composition: Composition;
}

/** Client capabilities a member may be told about: only what the client can be asked through the virtual server. */
const RELAYED_CLIENT_CAPABILITIES = ['sampling', 'elicitation', 'roots'] as const;

/** One virtual server's endpoint. */
export class VirtualEndpoint {
  private readonly sessions = new Map<string, VirtualSession>();
  private readonly stateless = new Map<string, Composition>();
  /** HTTP+SSE streams opened by a GET whose client has not sent `initialize` yet. */
  private readonly sseOpening = new Map<string, { readonly owner: string; readonly stream: SseWriter; readonly openedAt: number }>();
  private readonly modern: McpHttpHandler;
  private readonly reaper: NodeJS.Timeout;
  private requestsInFlight = 0;

  constructor(private readonly options: VirtualEndpointOptions) {
    this.modern = createMcpHandler(
      async (ctx) => {
        const principal = ctx.authInfo?.clientId ?? 'anonymous';
        const composition = this.stateless.get(principal);
        if (composition === undefined) throw new Error(`virtual server "${options.name}": no composition for the request's principal`);
        await composition.connectAll();
        return this.buildServer(composition, undefined);
      },
      { legacy: 'reject', maxRequestBodySize: options.maxBodyBytes },
    );
    this.reaper = setInterval(() => void this.reap(), Math.min(options.idleMs, 30_000));
    this.reaper.unref();
  }

  /** Open 2025-era sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Requests being answered (for a drain). */
  get busy(): number {
    return this.requestsInFlight;
  }

  /** Serves one request of an authenticated principal at `/mcp`. */
  async handle(request: InboundRequest, principal: Principal): Promise<Response> {
    this.requestsInFlight++;
    try {
      return await this.dispatch(request, principal);
    } finally {
      this.requestsInFlight--;
    }
  }

  /** Ends every session and stateless composition. */
  async close(): Promise<void> {
    clearInterval(this.reaper);
    await this.modern.close().catch(() => undefined);
    for (const opening of this.sseOpening.values()) opening.stream.close();
    this.sseOpening.clear();
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((s) => this.endSession(s)));
    const compositions = [...this.stateless.values()];
    this.stateless.clear();
    await Promise.all(compositions.map((c) => c.close()));
  }

  private async dispatch(request: InboundRequest, principal: Principal): Promise<Response> {
    if (request.method === 'POST') {
      const { body, raw } = await readJsonBody(request, this.options.maxBodyBytes);
      const decision = classifyPost(request.headers, body);
      if (decision.era === 'modern') {
        let composition = this.stateless.get(principal.id);
        if (composition === undefined) {
          // Members may ask for input (relayed as input_required); roots are left out: members ask for them unprompted.
          composition = this.compose(principal, { elicitation: {}, sampling: {} });
          composition.relay = this.statelessRelay();
          this.stateless.set(principal.id, composition);
        }
        composition.lastUsed = Date.now();
        return this.modern.fetch(webRequest(request, raw), { authInfo: authInfoOf(principal) });
      }
      if (decision.initialize) {
        if (request.headers.get(Header.sessionId) !== null) {
          throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: initialize must be sent without Mcp-Session-Id to start a new session');
        }
        const params = (decision.messages[0]?.params ?? {}) as { capabilities?: ClientCapabilities };
        const session = await this.openSession(principal, params.capabilities ?? {});
        return (session.transport as WebStandardStreamableHTTPServerTransport).handleRequest(webRequest(request, raw), { parsedBody: body, authInfo: authInfoOf(principal) });
      }
      const session = this.findSession(request, principal);
      return session.transport.handleRequest(webRequest(request, raw), { parsedBody: body, authInfo: authInfoOf(principal) });
    }
    if (request.method === 'GET' || request.method === 'DELETE') {
      const session = this.findSession(request, principal);
      const response = await session.transport.handleRequest(webRequest(request, undefined), { authInfo: authInfoOf(principal) });
      if (request.method === 'DELETE') {
        this.sessions.delete(session.id);
        void this.endSession(session);
      }
      return response;
    }
    throw methodNotAllowed('GET, POST, DELETE');
  }

  private findSession(request: InboundRequest, principal: Principal): VirtualSession & { readonly transport: WebStandardStreamableHTTPServerTransport } {
    const session = this.sessions.get(requiredSessionId(request.headers.get(Header.sessionId)));
    // Another principal's session is as unknown as an ended one; an HTTP+SSE session is not served at /mcp.
    if (session === undefined || session.owner !== principal.id || session.transport instanceof SseSessionTransport) throw sessionNotFound();
    session.composition.lastUsed = Date.now();
    return session as VirtualSession & { readonly transport: WebStandardStreamableHTTPServerTransport };
  }

  /**
   * `GET /sse` of an HTTP+SSE (2024-11-05) client: the stream, whose first event
   * names where to POST. The session (and the member sessions behind it) opens
   * with the client's `initialize`, which tells which client capabilities to relay.
   */
  openSse(request: InboundRequest, principal: Principal, messagesPath: string, settings: SseSettings): Reply {
    const accept = request.headers.get('accept') ?? '';
    if (accept !== '' && !accept.includes('text/event-stream') && !accept.includes('*/*')) {
      throw new HttpError(406, ErrorCode.InvalidRequest, 'Not Acceptable: Accept must list text/event-stream');
    }
    if (this.sessions.size + this.sseOpening.size >= this.options.maxSessions) {
      throw overloaded(`Service Unavailable: virtual server "${this.options.name}" has its most sessions (${this.options.maxSessions}); retry later`, 5);
    }
    const id = this.options.mintSessionId?.() ?? randomUUID();
    const stream = new SseWriter(settings, { virtual: this.options.name, session: id, stream: 'HTTP+SSE' });
    this.sseOpening.set(id, { owner: principal.id, stream, openedAt: Date.now() });
    stream.onClose(() => {
      this.sseOpening.delete(id);
      const session = this.sessions.get(id);
      if (session !== undefined) {
        this.sessions.delete(id);
        void this.endSession(session);
      }
    });
    stream.send(`${messagesPath}?sessionId=${encodeURIComponent(id)}`, 'endpoint');
    return stream.reply(200, {});
  }

  /** `POST /messages?sessionId=...` of an HTTP+SSE session: the answers come on the stream; the POST gets 202. */
  async postSse(request: InboundRequest, principal: Principal): Promise<Reply> {
    const id = queryParam(request, 'sessionId');
    if (id === null || id === '') throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: the sessionId query parameter is required');
    const { body } = await readJsonBody(request, this.options.maxBodyBytes);
    const messages = (Array.isArray(body) ? body : [body]) as JSONRPCMessage[];
    if (messages.length === 0 || !messages.every((m) => typeof m === 'object' && m !== null && (m as { jsonrpc?: unknown }).jsonrpc === '2.0')) {
      throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
    }
    let session = this.sessions.get(id);
    if (session === undefined) {
      const opening = this.sseOpening.get(id);
      // Another principal's stream is as unknown as an ended one.
      if (opening === undefined || opening.owner !== principal.id) throw sessionNotFound();
      const first = messages[0] as { method?: unknown; params?: { capabilities?: ClientCapabilities } };
      if (first.method !== 'initialize') throw new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: the first message of an HTTP+SSE session must be initialize');
      this.sseOpening.delete(id);
      session = await this.openSession(principal, first.params?.capabilities ?? {}, {
        id,
        transport: () => new SseSessionTransport(opening.stream, id, authInfoOf(principal)),
      });
    } else if (session.owner !== principal.id || !(session.transport instanceof SseSessionTransport)) {
      throw sessionNotFound();
    }
    session.composition.lastUsed = Date.now();
    const transport = session.transport as SseSessionTransport;
    for (const message of messages) transport.receive(message);
    return emptyReply(202, { 'content-type': 'text/plain; charset=utf-8' });
  }

  private async openSession(
    principal: Principal,
    clientCapabilities: ClientCapabilities,
    sse?: { readonly id: string; readonly transport: () => SseSessionTransport },
  ): Promise<VirtualSession> {
    // An HTTP+SSE session was counted when its stream opened.
    if (sse === undefined && this.sessions.size + this.sseOpening.size >= this.options.maxSessions) {
      throw overloaded(`Service Unavailable: virtual server "${this.options.name}" has its most sessions (${this.options.maxSessions}); retry later`, 5);
    }
    const relayed: ClientCapabilities = {};
    for (const key of RELAYED_CLIENT_CAPABILITIES) if (clientCapabilities[key] !== undefined) Object.assign(relayed, { [key]: clientCapabilities[key] });
    const composition = this.compose(principal, relayed);
    await composition.connectAll();
    const inFlight = new Set<ServerContext>();
    const server = this.buildServer(composition, inFlight);
    const id = sse?.id ?? this.options.mintSessionId?.() ?? randomUUID();
    const transport = sse?.transport() ?? new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => id });
    const session: VirtualSession = { id, owner: principal.id, transport, server, composition };
    composition.relay = this.sessionRelay(server, inFlight);
    transport.onclose = () => {
      if (this.sessions.get(id) === session) {
        this.sessions.delete(id);
        void composition.close();
      }
    };
    await server.connect(transport);
    this.sessions.set(id, session);
    this.options.logger.info('virtual session opened', {
      virtual: this.options.name,
      session: id,
      missing: composition.missingMembers().map((m) => m.server),
    });
    return session;
  }

  private compose(principal: Principal, clientCapabilities: ClientCapabilities): Composition {
    return new Composition({
      name: this.options.name,
      config: this.options.config,
      fetchMember: (member) => this.options.fetchMember(member, principal),
      clientCapabilities,
      timeoutMsOf: this.options.timeoutMsOf,
      logger: this.options.logger,
    });
  }

  /** The SDK server of a composition: merged capabilities and instructions, and the handlers that route to members. */
  private buildServer(composition: Composition, inFlight: Set<ServerContext> | undefined): Server {
    const capabilities = composition.capabilities();
    const instructions = composition.instructions();
    const server = new Server(
      { name: `${GATEWAY_INFO.name}/${this.options.name}`, version: GATEWAY_INFO.version },
      { capabilities: capabilities as ServerCapabilities, ...(instructions === undefined ? {} : { instructions }) },
    );
    const on = (method: string, handler: (params: Record<string, unknown>, ctx: ServerContext) => Promise<Record<string, unknown>>): void => {
      const register = server.setRequestHandler as unknown as (
        this: Server,
        method: string,
        handler: (request: { params?: Record<string, unknown> }, ctx: ServerContext) => Promise<Record<string, unknown>>,
      ) => void;
      register.call(server, method, async (request, ctx) => {
        inFlight?.add(ctx);
        try {
          return await handler(request.params ?? {}, ctx);
        } finally {
          inFlight?.delete(ctx);
        }
      });
    };
    const list = (kind: ListKind) => async (params: Record<string, unknown>) =>
      composition.list(kind, typeof params['cursor'] === 'string' ? params['cursor'] : undefined);
    // 2026-07-28 (no session): a member's request to the client travels as input_required and its retry.
    const invoke = (kind: 'tools' | 'prompts') => (params: Record<string, unknown>, ctx: ServerContext) => {
      if (inFlight !== undefined) return composition.call(kind, params, callContext(params, ctx));
      const state = ctx.mcpReq.requestState();
      return composition.callModern(kind, params, {
        ...callContext(params, ctx),
        requestState: typeof state === 'string' ? state : undefined,
        inputResponses: ctx.mcpReq.inputResponses,
      });
    };
    if (capabilities['tools']) {
      on('tools/list', list('tools'));
      on('tools/call', invoke('tools'));
    }
    if (capabilities['prompts']) {
      on('prompts/list', list('prompts'));
      on('prompts/get', invoke('prompts'));
    }
    if (capabilities['resources']) {
      on('resources/list', list('resources'));
      on('resources/templates/list', list('resourceTemplates'));
      on('resources/read', (params, ctx) => composition.readResource(params, callContext(params, ctx)));
    }
    if (capabilities['logging']) {
      on('logging/setLevel', async (params) => {
        await composition.setLogLevel(params);
        return {};
      });
    }
    return server;
  }

  /** In a session, a member's request goes to the client on the stream of the one call in flight, or on the GET stream. */
  private sessionRelay(server: Server, inFlight: Set<ServerContext>): RelayTarget {
    const loose = server as unknown as {
      request(request: { method: string; params?: Record<string, unknown> }, options?: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
      notification(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
    };
    const only = (): ServerContext | undefined => (inFlight.size === 1 ? [...inFlight][0] : undefined);
    return {
      request: async (request, signal) => {
        const ctx = only();
        if (ctx !== undefined) return (await ctx.mcpReq.send(request as never, { signal })) as Record<string, unknown>;
        return loose.request(request, { signal });
      },
      notify: async (notification) => {
        const ctx = only();
        if (ctx !== undefined) return ctx.mcpReq.notify(notification as never);
        return loose.notification(notification);
      },
      listChanged: (kind) => {
        void loose.notification({ method: `notifications/${kind}/list_changed` }).catch(() => undefined);
      },
    };
  }

  /** 2026-07-28: no stream to push a request on; list changes go to the open `subscriptions/listen` streams. */
  private statelessRelay(): RelayTarget {
    return {
      listChanged: (kind) => {
        if (kind === 'tools') this.modern.notify.toolsChanged();
        else if (kind === 'prompts') this.modern.notify.promptsChanged();
        else this.modern.notify.resourcesChanged();
      },
    };
  }

  private async endSession(session: VirtualSession): Promise<void> {
    await session.transport.close().catch(() => undefined);
    await session.composition.close();
  }

  private async reap(): Promise<void> {
    const cutoff = Date.now() - this.options.idleMs;
    for (const [id, session] of this.sessions) {
      if (session.composition.lastUsed < cutoff) {
        this.sessions.delete(id);
        this.options.logger.info('virtual session ended', { virtual: this.options.name, session: id, reason: 'idle' });
        await this.endSession(session);
      }
    }
    for (const [id, opening] of this.sseOpening) {
      if (opening.openedAt < cutoff) {
        this.sseOpening.delete(id);
        opening.stream.close();
      }
    }
    for (const [principal, composition] of this.stateless) {
      if (composition.lastUsed < cutoff) {
        this.stateless.delete(principal);
        await composition.close();
      }
    }
  }
}

/** What a member call takes from the handler's context: cancellation, and progress when the client asked for it. */
function callContext(params: Record<string, unknown>, ctx: ServerContext): CallContext {
  const token = (params['_meta'] as { progressToken?: unknown } | undefined)?.progressToken ?? (ctx.mcpReq._meta as { progressToken?: unknown } | undefined)?.progressToken;
  if (typeof token !== 'string' && typeof token !== 'number') return { signal: ctx.mcpReq.signal };
  return {
    signal: ctx.mcpReq.signal,
    onProgress: (progress) => {
      void ctx.mcpReq
        .notify({ method: 'notifications/progress', params: { ...progress, progressToken: token } } as never)
        .catch(() => undefined);
    },
  };
}

/** The principal as the SDK's pass-through auth info (its id only: the credential stays with the gateway). */
function authInfoOf(principal: Principal): AuthInfo {
  return { token: principal.id, clientId: principal.id, scopes: [...principal.scopes] };
}

/** The web Request the SDK transports read, from the gateway's lighter one (the body already read). */
function webRequest(request: InboundRequest, body: Buffer | undefined): Request {
  if (request instanceof Request && body === undefined) return request;
  const headers = new Headers();
  request.headers.forEach((value, key) => headers.append(key, value));
  return new Request(request.url, {
    method: request.method,
    headers,
    signal: request.signal,
    ...(body === undefined ? {} : { body: new Uint8Array(body) }),
  });
}
