import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../log.js';
import { ChildPool, type CallSink, type PooledChild, type UpstreamMessage } from '../../upstream/pool.js';
import type { Era, UpstreamServer } from '../../upstream/server.js';
import { HttpError } from '../http-error.js';
import { ErrorCode, errorText, type JsonRpcId, type JsonRpcMessage } from '../jsonrpc.js';
import { LazyResponse } from '../lazy-response.js';
import { MODERN_PROTOCOL_VERSIONS, MODERN_VERSION } from '../../protocol.js';
import { ParamHeaderTable } from './param-headers.js';
import {
  META_CLIENT_CAPABILITIES,
  META_PROTOCOL_VERSION,
  META_SERVER_INFO,
  META_SUBSCRIPTION_ID,
  metaOf,
} from './headers.js';

/**
 * The 2026-07-28 (stateless) side of one server's MCP endpoint. Requests run on
 * a warm pool of children. For a legacy stdio server it bridges: discover is
 * answered from the child's initialize result, results gain `resultType`, the
 * child's sampling/elicitation/roots requests become `input_required` results
 * with a gateway-minted `requestState`, and change notifications reach
 * `subscriptions/listen` streams. For a modern stdio server it relays, with ids,
 * progress tokens and subscription ids rewritten.
 */

/** Client-to-server methods of the 2026-07-28 revision. */
const MODERN_METHODS = new Set([
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

/** Results that carry caching hints in 2026-07-28. */
const CACHEABLE = new Set(['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list', 'resources/read']);

/** Which client capability a server-to-client request needs. */
const CAPABILITY_FOR: Readonly<Record<string, string>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** How long a parked call waits for the client's retry with input. */
const PARKED_TTL_MS = 10 * 60 * 1000;

/** Settings of a {@link ModernEndpoint}. */
export interface ModernEndpointSettings {
  /** Interval of SSE keep-alives (and of the JSON-to-SSE switch). */
  readonly keepAliveMs: number;
  /** Key that signs `requestState` (MRTR). */
  readonly stateKey: Buffer;
  /** URL of this replica, signed into `requestState` so a retry reaching another replica is forwarded here. */
  readonly owner?: string | undefined;
  /** Logger. */
  readonly logger: Logger;
}

/** One HTTP request being answered. */
interface Exchange {
  readonly clientId: JsonRpcId;
  readonly method: string;
  readonly capabilities: Record<string, unknown>;
  readonly reply: LazyResponse;
  /** The client's answers to a previous round's input requests (MRTR retry). */
  readonly inputResponses: Record<string, unknown>;
}

interface Subscriber {
  readonly clientId: JsonRpcId;
  readonly filter: {
    toolsListChanged?: boolean;
    promptsListChanged?: boolean;
    resourcesListChanged?: boolean;
    resourceSubscriptions?: string[];
  };
  readonly reply: LazyResponse;
  /** For a modern child: the child and its id of the listen request. */
  readonly upstream?: { child: PooledChild; id: number };
}

/** A call on a child, possibly across several client requests (MRTR rounds). */
class BridgedCall implements CallSink {
  /** The child running it. */
  child: PooledChild | undefined;
  /** Upstream id of the call. */
  upstreamId = 0;
  /** The client request currently waiting for it; undefined while parked. */
  exchange: Exchange | undefined;
  /** Child requests waiting for the client's input, by input key. */
  readonly pending = new Map<string, UpstreamMessage>();
  /** The final response, when it came while parked. */
  finalMessage: UpstreamMessage | undefined;
  /** Key of this call in the parked table. */
  readonly parkId = randomUUID();
  expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly endpoint: ModernEndpoint,
    exchange: Exchange,
    readonly name: string | undefined,
  ) {
    this.exchange = exchange;
  }

  onResponse(message: UpstreamMessage, line: string): void {
    if (this.exchange) this.endpoint.deliverFinal(this, this.exchange, message, line);
    else this.finalMessage = message;
  }

  onProgress(message: UpstreamMessage): void {
    this.exchange?.reply.event(JSON.stringify(message));
  }

  onServerRequest(message: UpstreamMessage, child: PooledChild): void {
    const needed = CAPABILITY_FOR[message.method as string];
    const declared = this.exchange?.capabilities ?? {};
    if (needed === undefined) {
      child.answer(message.id as string | number, { error: { code: ErrorCode.MethodNotFound, message: `${message.method} is not supported` } });
      return;
    }
    if (declared[needed] === undefined) {
      // The call cannot go on without it: the client learns which capability, the child is told and stopped.
      child.answer(message.id as string | number, { error: { code: ErrorCode.MethodNotFound, message: `The client did not declare the ${needed} capability` } });
      const exchange = this.exchange;
      this.exchange = undefined;
      child.cancel(this.upstreamId, `the client did not declare the ${needed} capability`);
      this.endpoint.unpark(this);
      exchange?.reply.final(
        errorText(
          exchange.clientId,
          ErrorCode.MissingRequiredClientCapability,
          `This request needs the client capability "${needed}", which the request's _meta did not declare`,
          { requiredCapabilities: { [needed]: {} } },
        ),
        400,
      );
      return;
    }
    this.pending.set(`input-${String(message.id)}`, message);
    if (this.exchange) this.endpoint.askForInput(this, this.exchange);
  }

  onChildGone(reason: string): void {
    const exchange = this.exchange;
    this.endpoint.unpark(this);
    if (exchange) exchange.reply.final(errorText(exchange.clientId, ErrorCode.ServerError, `${reason}. Retry the request.`));
  }
}

/** The modern side of one server's endpoint. */
export class ModernEndpoint {
  private pool: ChildPool | undefined;
  private era: Era | undefined;
  private readonly parked = new Map<string, BridgedCall>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly logger: Logger;
  private inFlight = 0;

  constructor(
    private readonly server: UpstreamServer,
    private readonly settings: ModernEndpointSettings,
  ) {
    this.logger = settings.logger.child({ server: server.name });
  }

  /** Requests being answered right now (listen streams excluded). */
  get busy(): number {
    return this.inFlight;
  }

  /** What the gateway knows of the tools' `x-mcp-header` parameters. */
  readonly paramHeaders = new ParamHeaderTable();

  /** Starts the warm pool once the server's era is known, and learns the tools' header annotations. */
  async warm(): Promise<void> {
    await this.ensurePool();
    await this.learnTools();
  }

  /** Lists the tools once on a pool child (all pages), for `Mcp-Param-*` validation. */
  private async learnTools(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    const meta = {
      [META_PROTOCOL_VERSION]: MODERN_VERSION,
      [META_CLIENT_CAPABILITIES]: {},
    };
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const child = await pool.acquire().catch(() => undefined);
      if (!child) return;
      const result = await new Promise<Record<string, unknown> | undefined>((resolve) => {
        const params: Record<string, unknown> = { ...(cursor ? { cursor } : {}), ...(this.era === 'modern' ? { _meta: meta } : {}) };
        child.call('tools/list', params, {
          onResponse: (m) => resolve(m.result),
          onProgress: () => {},
          onServerRequest: (m, c) => c.answer(m.id as string | number, { error: { code: ErrorCode.MethodNotFound, message: 'Not available' } }),
          onChildGone: () => resolve(undefined),
        });
      });
      if (!result) return;
      this.paramHeaders.learn(result);
      cursor = typeof result['nextCursor'] === 'string' ? result['nextCursor'] : undefined;
      if (!cursor) return;
    }
  }

  /** Answers one validated modern request or notification. */
  async handle(message: JsonRpcMessage, signal: AbortSignal | undefined): Promise<Response> {
    if (message.id === undefined || message.id === null) return new Response(null, { status: 202 });
    const method = message.method as string;
    const clientId = message.id;
    if (!MODERN_METHODS.has(method)) {
      return jsonRpcError(404, clientId, ErrorCode.MethodNotFound, `Method not found: ${method}`);
    }
    const pool = await this.ensurePool();
    const reply = new LazyResponse({}, this.settings.keepAliveMs);
    const exchange: Exchange = {
      clientId,
      method,
      capabilities: (metaOf(message)?.[META_CLIENT_CAPABILITIES] as Record<string, unknown> | undefined) ?? {},
      reply,
      inputResponses: ((message.params as { inputResponses?: Record<string, unknown> } | undefined)?.inputResponses ?? {}),
    };
    if (method === 'server/discover' && this.era === 'legacy') return Response.json(this.discoverResult(clientId));
    if (method === 'subscriptions/listen') return this.listen(message, exchange, pool);

    const params = (message.params ?? {}) as Record<string, unknown>;
    const name = typeof params['name'] === 'string' ? params['name'] : typeof params['uri'] === 'string' ? params['uri'] : undefined;
    this.inFlight++;
    const done = (): void => {
      this.inFlight--;
    };
    if (this.era === 'legacy' && typeof params['requestState'] === 'string') {
      const call = this.resume(params['requestState'], method, name, exchange);
      if (call === undefined) {
        done();
        return jsonRpcError(
          200,
          clientId,
          ErrorCode.InvalidParams,
          'requestState is unknown, expired or was issued for another request; send the original request again without requestState',
        );
      }
      this.watchAbort(signal, call, exchange);
      return reply.response.finally(done);
    }
    const call = new BridgedCall(this, exchange, name);
    let child: PooledChild;
    try {
      child = await pool.acquire();
    } catch (error) {
      done();
      throw new HttpError(503, ErrorCode.ServerError, `MCP server "${this.server.name}" is not available: ${(error as Error).message}`, {
        id: clientId,
        headers: { 'retry-after': '5' },
      });
    }
    call.child = child;
    call.upstreamId = child.call(method, this.era === 'legacy' ? toLegacyParams(params) : params, call);
    this.watchAbort(signal, call, exchange);
    return reply.response.finally(done);
  }

  /** Ends listen streams gracefully and stops the pool. */
  async close(): Promise<void> {
    for (const subscriber of [...this.subscribers]) {
      subscriber.reply.final(
        JSON.stringify({
          jsonrpc: '2.0',
          id: subscriber.clientId,
          result: { resultType: 'complete', _meta: { [META_SUBSCRIPTION_ID]: subscriber.clientId } },
        }),
      );
    }
    this.subscribers.clear();
    for (const call of [...this.parked.values()]) this.unpark(call);
    await this.pool?.close();
  }

  /** Sends the child's final answer to the client, in 2026-07-28 shape. */
  deliverFinal(call: BridgedCall, exchange: Exchange, message: UpstreamMessage, line?: string): void {
    this.unpark(call);
    if (message.error) {
      const status = httpStatusOf(message.error.code);
      exchange.reply.final(JSON.stringify({ jsonrpc: '2.0', id: exchange.clientId, error: message.error }), status);
      return;
    }
    let result = message.result ?? {};
    if (exchange.method === 'tools/list') this.paramHeaders.learn(result);
    const spliced = line === undefined ? undefined : spliceResult(line, message, exchange.clientId, this.era === 'legacy', CACHEABLE.has(exchange.method));
    if (spliced !== undefined) {
      exchange.reply.final(spliced);
      return;
    }
    if (this.era === 'legacy') {
      result = { ...result, resultType: 'complete' };
      if (CACHEABLE.has(exchange.method)) result = { ttlMs: 0, cacheScope: 'private', ...result };
    }
    exchange.reply.final(JSON.stringify({ jsonrpc: '2.0', id: exchange.clientId, result }));
  }

  /** Answers the client with `input_required` for the call's pending child requests, and parks the call. */
  askForInput(call: BridgedCall, exchange: Exchange): void {
    const inputRequests: Record<string, unknown> = {};
    for (const [key, request] of call.pending) inputRequests[key] = { method: request.method, params: request.params ?? {} };
    call.exchange = undefined;
    this.parked.set(call.parkId, call);
    if (call.expiry) clearTimeout(call.expiry);
    call.expiry = setTimeout(() => this.expire(call), PARKED_TTL_MS);
    call.expiry.unref();
    exchange.reply.final(
      JSON.stringify({
        jsonrpc: '2.0',
        id: exchange.clientId,
        result: {
          resultType: 'input_required',
          inputRequests,
          requestState: this.sign(call.parkId, exchange.method, call.name),
        },
      }),
    );
  }

  /** Forgets a parked call. */
  unpark(call: BridgedCall): void {
    if (call.expiry) clearTimeout(call.expiry);
    this.parked.delete(call.parkId);
  }

  private resume(state: string, method: string, name: string | undefined, exchange: Exchange): BridgedCall | undefined {
    const parkId = this.verify(state, method, name);
    const call = parkId === undefined ? undefined : this.parked.get(parkId);
    if (!call || !call.child) return undefined;
    return this.continueCall(call, exchange);
  }

  private continueCall(call: BridgedCall, exchange: Exchange): BridgedCall {
    call.exchange = exchange;
    const responses = exchange.inputResponses;
    for (const [key, request] of [...call.pending]) {
      if (!(key in responses)) continue;
      call.child?.answer(request.id as string | number, { result: responses[key] });
      call.pending.delete(key);
    }
    if (call.finalMessage) {
      this.deliverFinal(call, exchange, call.finalMessage);
    } else if (call.pending.size > 0) {
      this.askForInput(call, exchange);
    } else {
      if (call.expiry) clearTimeout(call.expiry);
      this.parked.delete(call.parkId);
    }
    return call;
  }

  private expire(call: BridgedCall): void {
    this.unpark(call);
    for (const request of call.pending.values()) {
      call.child?.answer(request.id as string | number, { error: { code: ErrorCode.ServerError, message: 'The client did not answer in time' } });
    }
    call.child?.cancel(call.upstreamId, 'the client did not retry with the requested input in time');
  }

  private watchAbort(signal: AbortSignal | undefined, call: BridgedCall, exchange: Exchange): void {
    if (!signal) return;
    const onAbort = (): void => {
      if (exchange.reply.finished || call.exchange !== exchange) return;
      // Closing the response stream is the 2026-07-28 cancellation signal.
      call.exchange = undefined;
      this.unpark(call);
      call.child?.cancel(call.upstreamId, 'the client closed the request');
      exchange.reply.abandon();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }

  private listen(message: JsonRpcMessage, exchange: Exchange, pool: ChildPool): Response | Promise<Response> {
    const requested = ((message.params as { notifications?: Subscriber['filter'] } | undefined)?.notifications ?? {}) as Subscriber['filter'];
    const reply = exchange.reply;
    if (this.era === 'modern') {
      return pool.acquire().then((child) => {
        const subscriber: Subscriber = { clientId: exchange.clientId, filter: requested, reply, upstream: { child, id: 0 } };
        const sink: CallSink = {
          onResponse: (m) => {
            this.subscribers.delete(subscriber);
            reply.final(JSON.stringify({ ...m, id: exchange.clientId, result: withSubscription(m.result, exchange.clientId) }));
          },
          onProgress: () => {},
          onServerRequest: (m, c) => c.answer(m.id as string | number, { error: { code: ErrorCode.MethodNotFound, message: 'Not supported' } }),
          onChildGone: () => {
            this.subscribers.delete(subscriber);
            reply.end();
          },
        };
        reply.toSse();
        (subscriber.upstream as { id: number }).id = child.call('subscriptions/listen', message.params as Record<string, unknown>, sink);
        this.subscribers.add(subscriber);
        reply.onClientGone = () => {
          this.subscribers.delete(subscriber);
          child.cancel(subscriber.upstream?.id ?? 0, 'the client closed the listen stream');
        };
        return reply.response;
      });
    }
    const capabilities = (pool.initializeResult?.['capabilities'] ?? {}) as Record<string, { listChanged?: boolean; subscribe?: boolean }>;
    const honored: Subscriber['filter'] = {};
    if (requested.toolsListChanged && capabilities['tools']?.listChanged) honored.toolsListChanged = true;
    if (requested.promptsListChanged && capabilities['prompts']?.listChanged) honored.promptsListChanged = true;
    if (requested.resourcesListChanged && capabilities['resources']?.listChanged) honored.resourcesListChanged = true;
    if (requested.resourceSubscriptions?.length && capabilities['resources']?.subscribe) {
      honored.resourceSubscriptions = [...requested.resourceSubscriptions];
      for (const child of pool.all()) {
        for (const uri of honored.resourceSubscriptions) child.call('resources/subscribe', { uri }, IGNORE);
      }
    }
    const subscriber: Subscriber = { clientId: exchange.clientId, filter: honored, reply };
    this.subscribers.add(subscriber);
    reply.onClientGone = () => void this.subscribers.delete(subscriber);
    reply.event(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'notifications/subscriptions/acknowledged',
        params: { notifications: honored, _meta: { [META_SUBSCRIPTION_ID]: exchange.clientId } },
      }),
    );
    return reply.response;
  }

  /** Fans a child's change notification out to the listen streams that opted in. */
  private onChildNotification(message: UpstreamMessage, from: PooledChild): void {
    if (message.method === 'notifications/tools/list_changed') void this.learnTools();
    if (this.era === 'modern') {
      const upstreamId = message.params?.['_meta'] as Record<string, unknown> | undefined;
      const target = upstreamId?.[META_SUBSCRIPTION_ID];
      for (const subscriber of this.subscribers) {
        if (subscriber.upstream?.child === from && subscriber.upstream.id === target) {
          subscriber.reply.event(JSON.stringify(withSubscriptionParams(message, subscriber.clientId)));
        }
      }
      return;
    }
    for (const subscriber of this.subscribers) {
      const f = subscriber.filter;
      const wanted =
        (message.method === 'notifications/tools/list_changed' && f.toolsListChanged) ||
        (message.method === 'notifications/prompts/list_changed' && f.promptsListChanged) ||
        (message.method === 'notifications/resources/list_changed' && f.resourcesListChanged) ||
        (message.method === 'notifications/resources/updated' &&
          typeof message.params?.['uri'] === 'string' &&
          f.resourceSubscriptions?.includes(message.params['uri']));
      if (wanted) subscriber.reply.event(JSON.stringify(withSubscriptionParams(message, subscriber.clientId)));
    }
  }

  private discoverResult(id: JsonRpcId): Record<string, unknown> {
    const init = this.pool?.initializeResult ?? this.server.verdict?.initialize ?? {};
    return {
      jsonrpc: '2.0',
      id,
      result: {
        resultType: 'complete',
        supportedVersions: [...MODERN_PROTOCOL_VERSIONS],
        capabilities: init['capabilities'] ?? {},
        ...(typeof init['instructions'] === 'string' ? { instructions: init['instructions'] } : {}),
        _meta: { [META_SERVER_INFO]: init['serverInfo'] ?? { name: this.server.name, version: 'unknown' } },
        ttlMs: 0,
        cacheScope: 'public',
      },
    };
  }

  private async ensurePool(): Promise<ChildPool> {
    if (this.pool) return this.pool;
    if (!this.server.verdict) await this.server.probe();
    const verdict = this.server.verdict;
    if (!verdict) {
      throw new HttpError(503, ErrorCode.ServerError, `MCP server "${this.server.name}" cannot start: ${this.server.reason ?? 'unknown reason'}`, {
        headers: { 'retry-after': '5' },
      });
    }
    if (this.pool) return this.pool;
    this.era = verdict.era;
    const policy = this.server.config.policy ?? 'pool';
    const size = policy === 'shared' ? { min: 1, max: 1 } : this.server.config.pool;
    this.pool = new ChildPool(this.server, verdict.era, { ...size, logger: this.logger });
    this.pool.onNotification((message, from) => this.onChildNotification(message, from));
    this.pool.warm();
    return this.pool;
  }

  private sign(parkId: string, method: string, name: string | undefined): string {
    const payload = Buffer.from(JSON.stringify({ p: parkId, m: method, n: name ?? null, o: this.settings.owner ?? null })).toString('base64url');
    const mac = createHmac('sha256', this.settings.stateKey).update(payload).digest('base64url');
    return `${payload}.${mac}`;
  }

  /**
   * The replica that parked the call a retry names, when its requestState is
   * genuine and issued for this request; undefined otherwise (answered here).
   */
  stateOwner(message: JsonRpcMessage): string | undefined {
    const params = (message.params ?? {}) as Record<string, unknown>;
    const state = params['requestState'];
    if (typeof state !== 'string') return undefined;
    const name = typeof params['name'] === 'string' ? params['name'] : typeof params['uri'] === 'string' ? params['uri'] : undefined;
    return this.verifyPayload(state, message.method as string, name)?.o ?? undefined;
  }

  private verify(state: string, method: string, name: string | undefined): string | undefined {
    return this.verifyPayload(state, method, name)?.p;
  }

  private verifyPayload(
    state: string,
    method: string,
    name: string | undefined,
  ): { p?: string; o?: string | null } | undefined {
    const [payload, mac] = state.split('.');
    if (!payload || !mac) return undefined;
    const expected = createHmac('sha256', this.settings.stateKey).update(payload).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { p?: string; m?: string; n?: string | null; o?: string | null };
      if (decoded.m !== method || (decoded.n ?? undefined) !== name) return undefined;
      return decoded;
    } catch {
      return undefined;
    }
  }
}

const IGNORE: CallSink = { onResponse: () => {}, onProgress: () => {}, onServerRequest: () => {}, onChildGone: () => {} };

/** A fresh random key for signing `requestState`. */
export function newStateKey(): Buffer {
  return randomBytes(32);
}

function toLegacyParams(params: Record<string, unknown>): Record<string, unknown> {
  const { inputResponses: _inputs, requestState: _state, _meta, ...rest } = params;
  if (!_meta || typeof _meta !== 'object') return rest;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(_meta)) if (!key.startsWith('io.modelcontextprotocol/')) kept[key] = value;
  return Object.keys(kept).length > 0 ? { ...rest, _meta: kept } : rest;
}

function withSubscription(result: Record<string, unknown> | undefined, id: JsonRpcId): Record<string, unknown> {
  const meta = (result?.['_meta'] ?? {}) as Record<string, unknown>;
  return { ...result, _meta: { ...meta, [META_SUBSCRIPTION_ID]: id } };
}

function withSubscriptionParams(message: UpstreamMessage, id: JsonRpcId): UpstreamMessage {
  const meta = (message.params?.['_meta'] ?? {}) as Record<string, unknown>;
  return { jsonrpc: '2.0', method: message.method as string, params: { ...message.params, _meta: { ...meta, [META_SUBSCRIPTION_ID]: id } } };
}

/**
 * The client's response built from the child's wire text without serializing the
 * result again (large results are most of the cost): the result's text is cut out
 * of the line and the 2026-07-28 fields are put in front of its members. Returns
 * undefined when the line does not have the plain shape this relies on.
 */
export function spliceResult(
  line: string,
  message: UpstreamMessage,
  clientId: JsonRpcId,
  addResultType: boolean,
  addCaching: boolean,
): string | undefined {
  const result = message.result;
  if (result === undefined || message.error !== undefined || result === null || typeof result !== 'object') return undefined;
  const keys = Object.keys(message);
  if (keys.length !== 3) return undefined;
  const id = JSON.stringify(message.id);
  let text: string | undefined;
  const tail = `,"jsonrpc":"2.0","id":${id}}`;
  if (keys[0] === 'result' && line.startsWith('{"result":') && line.endsWith(tail)) {
    text = line.slice(10, line.length - tail.length);
  } else {
    const head = keys[0] === 'jsonrpc' ? `{"jsonrpc":"2.0","id":${id},"result":` : `{"id":${id},"jsonrpc":"2.0","result":`;
    if (keys[2] === 'result' && line.startsWith(head) && line.endsWith('}')) text = line.slice(head.length, -1);
  }
  if (text === undefined || !text.startsWith('{') || !text.endsWith('}')) return undefined;
  const extra: string[] = [];
  if (addResultType && !('resultType' in result)) extra.push('"resultType":"complete"');
  if (addResultType && addCaching && !('ttlMs' in result)) extra.push('"ttlMs":0');
  if (addResultType && addCaching && !('cacheScope' in result)) extra.push('"cacheScope":"private"');
  const body = extra.length === 0 ? text : text === '{}' ? `{${extra.join(',')}}` : `{${extra.join(',')},${text.slice(1)}`;
  return `{"jsonrpc":"2.0","id":${JSON.stringify(clientId)},"result":${body}}`;
}

/** HTTP status of a 2026-07-28 error: -32601 is 404; header, capability and version errors are 400. */
function httpStatusOf(code: number): number {
  if (code === ErrorCode.MethodNotFound) return 404;
  if (code === ErrorCode.HeaderMismatch || code === ErrorCode.MissingRequiredClientCapability || code === ErrorCode.UnsupportedProtocolVersion) return 400;
  return 200;
}

function jsonRpcError(status: number, id: JsonRpcId | null, code: number, message: string): Response {
  return new Response(errorText(id, code, message), { status, headers: { 'content-type': 'application/json' } });
}

/** The protocol version a modern request asked for. */
export function requestedVersion(message: JsonRpcMessage): string | undefined {
  const v = metaOf(message)?.[META_PROTOCOL_VERSION];
  return typeof v === 'string' ? v : undefined;
}
