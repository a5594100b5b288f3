import type { Logger } from '../../log.js';
import { ErrorCode, Meta, MODERN_PROTOCOL_VERSIONS, MODERN_VERSION } from '../../protocol.js';
import type { ChannelCaller, ChildAnswer, JsonRpcId, WireMessage } from '../../upstream/channel.js';
import { errorText, HttpError } from '../http/errors.js';
import { emptyReply, jsonReply, type Reply, type ReplyBody } from '../http/reply.js';
import { whenClientGone, type SignalSource } from '../http/request.js';
import { PendingReply, type SseSettings } from '../http/sse.js';
import type { AuditEra, AuditTicket } from '../audit/audit-log.js';
import type { CallerCredentials } from '../credentials/caller-credentials.js';
import type { ServedServer } from '../served-server.js';
import { BridgedCall, httpStatusOf, type AnswerSink, type BridgedCallHost, type Round } from './legacy-child.js';
import { ListenHub } from './listen.js';
import type { RequestStateSigner } from './mrtr.js';
import { ParamHeaderTable } from './param-headers.js';

/**
 * The 2026-07-28 (stateless) side of one server's MCP endpoint: dispatch of one
 * validated request to the server's warm pool. A modern child gets the request as
 * the client sent it (ids rewritten by the channel) and answers as it likes,
 * `input_required` included. A legacy child is bridged: discover is answered from
 * its initialize result, results gain `resultType`, its mid-call requests become
 * `input_required` (see `legacy-child.ts` and `mrtr.ts`), and listen streams are
 * served from its change notifications (`listen.ts`).
 */

/** Client-to-server methods of the 2026-07-28 revision. */
const MODERN_METHODS: ReadonlySet<string> = new Set([
  'server/discover',
  'subscriptions/listen',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'completion/complete',
]);

/** Keys of relayed calls among their child's callers (unique in this process). */
let relaySequence = 0;

/** Settings of a {@link ModernEndpoint}. */
export interface ModernEndpointSettings {
  /** SSE keep-alive and buffer limit. */
  readonly sse: SseSettings;
  /** Seals `requestState`. */
  readonly signer: RequestStateSigner;
  /** URL of this replica, sealed into `requestState` so a retry reaching another replica is forwarded here. */
  readonly owner?: string | undefined;
  /** Logger. */
  readonly logger: Logger;
}

/** Who sent a modern request, and how to tell it went away. */
export interface ModernContext {
  /** The principal's id (binds `requestState`). */
  readonly principal: string;
  /** The request, whose client going away (closing the stream) cancels the call. */
  readonly client: SignalSource | undefined;
  /** The caller's own variables, for a `fromRequest` server: the call goes to this caller's child. */
  readonly credentials?: CallerCredentials | undefined;
  /** How the caller came, for the audit log (a legacy session bridged here). @default a 2026-07-28 request */
  readonly audit?: { readonly era: AuditEra; readonly sessionId: string } | undefined;
}

/** An answer the endpoint is producing (an HTTP answer or the bridge's collector). */
export type ModernSink = AnswerSink & { onClientGone: (() => void) | undefined; toSse(): void };

/** The modern side of one server's endpoint. */
export class ModernEndpoint implements BridgedCallHost {
  /** What the gateway knows of the tools' `x-mcp-header` parameters. */
  readonly paramHeaders = new ParamHeaderTable();
  private readonly parked = new Map<string, BridgedCall>();
  private readonly expiries = new Map<BridgedCall, NodeJS.Timeout>();
  private readonly listens = new ListenHub();
  private readonly active = new Set<ModernSink>();
  private readonly logger: Logger;

  constructor(
    private readonly served: ServedServer,
    private readonly settings: ModernEndpointSettings,
  ) {
    this.logger = settings.logger.child({ server: served.name });
  }

  /** Requests being answered right now (listen streams excluded). */
  get busy(): number {
    return this.active.size;
  }

  /** Starts the warm pool once the server's era is known, and learns the tools' header annotations. */
  async warm(): Promise<void> {
    // A server whose callers bring their own variables starts children per caller only.
    if (this.served.callerChildren !== undefined) return;
    await this.served.pool();
    await this.learnTools();
  }

  /** Answers one validated modern request or notification over HTTP. */
  async handle(message: WireMessage, raw: Buffer | undefined, context: ModernContext): Promise<Reply> {
    if (message.id === undefined || message.id === null) return emptyReply(202);
    const reply = new PendingReply({}, this.settings.sse, { server: this.served.name, request: String(message.id) });
    await this.exchange(message, raw, context, reply);
    return reply.reply;
  }

  /**
   * Runs one modern request into `sink`. Throws an HttpError only before
   * anything went into the sink; every later failure is a JSON-RPC error in it.
   */
  async exchange(message: WireMessage, raw: Buffer | undefined, context: ModernContext, sink: ModernSink): Promise<void> {
    const method = message.method as string;
    const clientId = message.id as JsonRpcId;
    if (!MODERN_METHODS.has(method)) throw new HttpError(404, ErrorCode.MethodNotFound, `Method not found: ${method}`, { id: clientId });
    await this.served.ready(clientId);
    const era = this.served.upstream.verdict!.era;
    if (method === 'server/discover' && era === 'legacy') {
      sink.final(JSON.stringify(this.discoverResult(clientId)));
      return;
    }
    if (method === 'subscriptions/listen') {
      const pool = await this.served.pool(clientId);
      if (era === 'legacy') this.listens.serve(pool, message, sink);
      else this.listens.relay(await pool.acquire(), message, raw, sink);
      return;
    }
    this.track(sink);
    try {
      if (era === 'legacy') await this.bridged(message, raw, context, sink);
      else await this.relayed(message, raw, context, sink);
    } catch (error) {
      this.active.delete(sink);
      throw error;
    }
  }

  /** Ends listen streams gracefully, forgets parked calls. */
  close(): void {
    this.listens.closeAll();
    for (const call of [...this.parked.values()]) this.unpark(call);
  }

  /**
   * The replica holding the call a retry's requestState names, when it is
   * genuine and this principal's; undefined otherwise (then answered here).
   */
  async stateOwner(message: WireMessage, principal: string): Promise<string | undefined> {
    const params = (message.params ?? {}) as Record<string, unknown>;
    const state = params['requestState'];
    if (typeof state !== 'string') return undefined;
    const opened = await this.settings.signer.open(state, principal, message.method as string, nameOf(params));
    return opened?.owner ?? undefined;
  }

  // BridgedCallHost

  askForInput(call: BridgedCall, round: Round): void {
    const inputRequests: Record<string, unknown> = {};
    for (const [key, request] of call.pending) inputRequests[key] = { method: request.method, params: request.params ?? {} };
    call.round = undefined;
    this.parked.set(call.parkId, call);
    const previous = this.expiries.get(call);
    if (previous) clearTimeout(previous);
    const expiry = setTimeout(() => this.expire(call), 10 * 60 * 1000);
    expiry.unref();
    this.expiries.set(call, expiry);
    void this.settings.signer
      .mint({ parkId: call.parkId, method: call.method, name: call.name ?? null, owner: this.settings.owner ?? null }, call.principal)
      .then((requestState) =>
        round.sink.final(JSON.stringify({ jsonrpc: '2.0', id: round.clientId, result: { resultType: 'input_required', inputRequests, requestState } })),
      );
  }

  unpark(call: BridgedCall): void {
    if (!call.everParked) return;
    const expiry = this.expiries.get(call);
    if (expiry) clearTimeout(expiry);
    this.expiries.delete(call);
    this.parked.delete(call.parkId);
  }

  learned(method: string, answer: ChildAnswer): void {
    if (method === 'tools/list') this.paramHeaders.learn(answer.message.result);
  }

  /** Starts the audit record of one call (undefined when the audit log is off or the method is not audited). */
  private auditTicket(message: WireMessage, context: ModernContext): AuditTicket | undefined {
    return this.served.audit?.begin({
      principal: context.principal,
      server: this.served.name,
      method: message.method as string,
      params: message.params,
      requestId: message.id as JsonRpcId,
      sessionId: context.audit?.sessionId,
      era: context.audit?.era ?? '2026-07-28',
    });
  }

  private track(sink: ModernSink): void {
    this.active.add(sink);
    sink.onDone(() => this.active.delete(sink));
  }

  /** A request to a modern child: relayed as it is, ids aside. */
  private async relayed(message: WireMessage, raw: Buffer | undefined, context: ModernContext, sink: ModernSink): Promise<void> {
    const clientId = message.id as JsonRpcId;
    const { release, channel } = await this.served.enterPool(context.client, clientId, context.credentials);
    const ticket = this.auditTicket(message, context);
    const idJson = JSON.stringify(clientId);
    const caller: ChannelCaller = {
      key: `modern-relay:${++relaySequence}`,
      serverRequest: (request) =>
        request.answer({ error: { code: ErrorCode.MethodNotFound, message: `${request.method} is not available to a 2026-07-28 request` } }),
      notification: (text) => void sink.event(text),
    };
    let released = false;
    const done = (): void => {
      if (!released) release();
      released = true;
    };
    const call = channel.request(
      caller,
      { method: message.method as string, id: clientId, message, raw },
      {
        response: (answer) => {
          done();
          ticket?.answered(answer);
          if (message.method === 'tools/list') this.learned('tools/list', answer);
          sink.final(answer.withId(idJson) as ReplyBody, answer.isError ? httpStatusOf((answer.message.error as { code?: unknown } | undefined)?.code) : 200);
        },
        event: (text) => void sink.event(text),
        failed: (code, text) => {
          done();
          ticket?.failed(code);
          sink.final(errorText(clientId, code, code === ErrorCode.UpstreamUnavailable ? `${text}. Retry the request.` : text));
        },
      },
      { timeoutMs: this.served.requestTimeoutMs },
    );
    this.watchAbort(context.client, sink, () => {
      done();
      ticket?.cancelled();
      call.cancel('the client closed the request');
    });
  }

  /** A request to a legacy child: bridged, MRTR included. */
  private async bridged(message: WireMessage, raw: Buffer | undefined, context: ModernContext, sink: ModernSink): Promise<void> {
    const clientId = message.id as JsonRpcId;
    const method = message.method as string;
    const params = (message.params ?? {}) as Record<string, unknown>;
    const name = nameOf(params);
    const round: Round = {
      clientId,
      sink,
      capabilities: ((params['_meta'] as Record<string, unknown> | undefined)?.[Meta.clientCapabilities] as Record<string, unknown> | undefined) ?? {},
    };
    if (typeof params['requestState'] === 'string') {
      const state = await this.settings.signer.open(params['requestState'], context.principal, method, name);
      const call = state ? this.parked.get(state.parkId) : undefined;
      if (!call) {
        sink.final(
          errorText(clientId, ErrorCode.InvalidParams, 'requestState is unknown, expired or was issued for another request; send the original request again without requestState'),
        );
        return;
      }
      this.resume(call, round, (params['inputResponses'] ?? {}) as Record<string, unknown>);
      this.watchAbort(context.client, sink, () => this.abandon(call, round));
      return;
    }
    const { release, channel } = await this.served.enterPool(context.client, clientId, context.credentials);
    const ticket = this.auditTicket(message, context);
    const call = new BridgedCall(this, method, name, round, context.principal, ticket);
    let released = false;
    call.release = () => {
      if (!released) release();
      released = true;
    };
    call.call = channel.request(
      call,
      { method, id: clientId, message, raw },
      {
        response: (answer) => {
          ticket?.answered(answer);
          call.answered(answer);
        },
        event: (text) => call.event(text),
        failed: (code, text) => {
          ticket?.failed(code);
          call.failed(code, text);
        },
      },
      { timeoutMs: this.served.requestTimeoutMs },
    );
    this.watchAbort(context.client, sink, () => this.abandon(call, round));
  }

  /** A retry with input: the answers go to the child's waiting requests, and the call goes on. */
  private resume(call: BridgedCall, round: Round, responses: Record<string, unknown>): void {
    call.round = round;
    for (const [key, request] of [...call.pending]) {
      if (!(key in responses)) continue;
      request.answer({ result: responses[key] });
      call.pending.delete(key);
    }
    if (call.parkedAnswer) {
      call.deliver(round, call.parkedAnswer);
    } else if (call.parkedFailure) {
      round.sink.final(errorText(round.clientId, call.parkedFailure.code, call.parkedFailure.message));
    } else if (call.pending.size > 0) {
      this.askForInput(call, round);
    } else {
      this.unpark(call);
    }
  }

  /** The client closed the request: 2026-07-28's cancellation. */
  private abandon(call: BridgedCall, round: Round): void {
    if (call.round !== round) return;
    call.round = undefined;
    this.unpark(call);
    call.release();
    call.ticket?.cancelled();
    call.call?.cancel('the client closed the request');
    round.sink.abandon();
  }

  private expire(call: BridgedCall): void {
    this.unpark(call);
    for (const request of call.pending.values()) request.answer({ error: { code: ErrorCode.RequestTimeout, message: 'The client did not answer in time' } });
    call.release();
    call.ticket?.cancelled();
    call.call?.cancel('the client did not retry with the requested input in time');
  }

  private watchAbort(client: SignalSource | undefined, sink: ModernSink, onAbort: () => void): void {
    if (!client) return;
    whenClientGone(client, () => {
      if (!sink.finished) onAbort();
    });
  }

  private discoverResult(id: JsonRpcId): Record<string, unknown> {
    const init = this.served.currentPool?.initializeResult ?? this.served.upstream.verdict?.initialize ?? {};
    return {
      jsonrpc: '2.0',
      id,
      result: {
        resultType: 'complete',
        supportedVersions: [...MODERN_PROTOCOL_VERSIONS],
        capabilities: init['capabilities'] ?? {},
        ...(typeof init['instructions'] === 'string' ? { instructions: init['instructions'] } : {}),
        _meta: { [Meta.serverInfo]: init['serverInfo'] ?? { name: this.served.name, version: 'unknown' } },
        ttlMs: 0,
        cacheScope: 'public',
      },
    };
  }

  /** Lists the tools once on a pool child (all pages), for `Mcp-Param-*` validation. */
  private async learnTools(): Promise<void> {
    const pool = this.served.currentPool;
    if (!pool) return;
    const modern = pool.era === 'modern';
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const channel = await pool.acquire().catch(() => undefined);
      if (!channel) return;
      const params: Record<string, unknown> = {
        ...(cursor ? { cursor } : {}),
        ...(modern ? { _meta: { [Meta.protocolVersion]: MODERN_VERSION, [Meta.clientCapabilities]: {} } } : {}),
      };
      const answer = await channel.ask('tools/list', params, this.served.requestTimeoutMs).catch(() => undefined);
      const result = answer?.result as Record<string, unknown> | undefined;
      if (!result) return;
      this.paramHeaders.learn(result);
      cursor = typeof result['nextCursor'] === 'string' ? result['nextCursor'] : undefined;
      if (!cursor) return;
    }
  }

  /** Keeps the tool annotations fresh when a child says its tools changed. */
  watchToolChanges(): void {
    this.served.whenPool((pool) =>
      pool.onListChanged((_text, message) => {
        if (message.method === 'notifications/tools/list_changed') void this.learnTools();
      }),
    );
  }
}

/** The tool name or resource uri of a request's params. */
function nameOf(params: Record<string, unknown>): string | undefined {
  return typeof params['name'] === 'string' ? params['name'] : typeof params['uri'] === 'string' ? params['uri'] : undefined;
}

/** A JSON error answer for a modern request. */
export function modernError(id: JsonRpcId | null, code: number, message: string, status = 200): Reply {
  return jsonReply(errorText(id, code, message), status);
}
