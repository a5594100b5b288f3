import { randomUUID } from 'node:crypto';
import { HttpError } from '../http-error.js';
import { ErrorCode, isRequest, type JsonRpcMessage } from '../jsonrpc.js';
import { SSE_HEADERS, SseStream } from '../sse.js';
import type { ModernEndpoint } from './endpoint.js';
import { GATEWAY_INFO, isLegacyVersion, MODERN_VERSION, NEWEST_LEGACY_VERSION } from '../../protocol.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO } from './headers.js';

/**
 * Legacy clients (Streamable HTTP 2025-era and HTTP+SSE 2024-11-05) of a modern
 * (2026-07-28) stdio server: `initialize` is answered from the server's
 * `server/discover` result, and every later request of the session is sent on as a
 * 2026-07-28 request, carrying the client identity and capabilities the session
 * declared, through the same warm pool modern clients use. No child is spawned per
 * session, so servers that refuse `initialize` serve old clients too. A server's
 * `input_required` result becomes the 2025-era exchange: server-to-client requests
 * to the client, whose answers feed the retry.
 */

/** Most input rounds one call may take before the bridge gives up. */
const MAX_INPUT_ROUNDS = 8;
/** How long the client has to answer a server-to-client request. */
const INPUT_TIMEOUT_MS = 10 * 60 * 1000;

interface BridgedSession {
  clientInfo: unknown;
  capabilities: Record<string, unknown>;
  lastActivity: number;
  /** Server-to-client requests sent to the client, waiting for its responses, by id. */
  readonly waiting: Map<string, (message: JsonRpcMessage) => void>;
  /** The HTTP+SSE stream, for a 2024-11-05 session. */
  stream?: SseStream;
  /** Aborted when that stream ends: its calls are cancelled. */
  streamGone?: AbortController;
}

/** An `input_required` result: what the server asks for, and the state to send back. */
interface InputRound {
  readonly inputRequests?: Record<string, { method: string; params?: unknown }>;
  readonly requestState?: string;
}

/** The bridged legacy sessions of one modern server. */
export class LegacyBridge {
  private readonly sessions = new Map<string, BridgedSession>();

  constructor(
    private readonly endpoint: ModernEndpoint,
    private readonly discover: () => Record<string, unknown> | undefined,
    private readonly mintId: () => string = randomUUID,
    private readonly keepAliveMs = 15_000,
  ) {}

  /** True when `id` is one of this bridge's sessions. */
  has(id: string | null): id is string {
    return id !== null && this.sessions.has(id);
  }

  /** Answers a Streamable HTTP `initialize` from the discover result and opens a session. */
  initialize(message: JsonRpcMessage): Response {
    const id = this.mintId();
    const session: BridgedSession = { clientInfo: undefined, capabilities: {}, lastActivity: Date.now(), waiting: new Map() };
    this.sessions.set(id, session);
    return new Response(JSON.stringify(this.initializeAnswer(session, message)), {
      status: 200,
      headers: { 'content-type': 'application/json', 'mcp-session-id': id },
    });
  }

  /** Opens an HTTP+SSE (2024-11-05) session: the `endpoint` event, then every answer on the stream. */
  openSse(endpointFor: (sessionId: string) => string): Response {
    const id = this.mintId();
    const streamGone = new AbortController();
    const stream = new SseStream({
      keepAliveMs: this.keepAliveMs,
      onClose: () => {
        this.sessions.delete(id);
        streamGone.abort();
      },
    });
    this.sessions.set(id, { clientInfo: undefined, capabilities: {}, lastActivity: Date.now(), waiting: new Map(), stream, streamGone });
    stream.send(endpointFor(id), 'endpoint');
    return new Response(stream.body, { status: 200, headers: { ...SSE_HEADERS } });
  }

  /** Takes one `POST /messages` of an HTTP+SSE session: answers go on its stream, and live as long as it. */
  postSse(sessionId: string, messages: readonly JsonRpcMessage[]): Response {
    const session = this.sessions.get(sessionId) as BridgedSession;
    const signal = (session.streamGone as AbortController).signal;
    const stream = session.stream as SseStream;
    const send = (message: unknown): void => void stream.send(JSON.stringify(message), 'message');
    for (const message of this.accept(session, messages)) {
      if (message.method === 'initialize') send(this.initializeAnswer(session, message));
      else void this.complete(session, message, signal, send);
    }
    return new Response('Accepted', { status: 202 });
  }

  /** Takes one Streamable HTTP POST of a bridged session. */
  async post(sessionId: string, messages: readonly JsonRpcMessage[], batch: boolean, signal: AbortSignal): Promise<Response> {
    const session = this.sessions.get(sessionId) as BridgedSession;
    const requests = this.accept(session, messages);
    const headers = { 'mcp-session-id': sessionId };
    if (requests.length === 0) return new Response(null, { status: 202, headers });
    if (batch || requests.length > 1) {
      throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: send one request per POST to this server');
    }
    const request = requests[0] as JsonRpcMessage;
    const first = await this.ask(session, request, signal);
    if (first.kind === 'response') return first.response(headers);
    // The server needs input: the 2025-era way is server-to-client requests on an SSE stream.
    const stream = new SseStream({ keepAliveMs: this.keepAliveMs });
    void this.complete(session, request, signal, (message) => void stream.send(JSON.stringify(message)), first.round).finally(() =>
      stream.close(),
    );
    return new Response(stream.body, { status: 200, headers: { ...SSE_HEADERS, ...headers } });
  }

  /** Ends a session (DELETE). */
  end(sessionId: string): void {
    this.sessions.get(sessionId)?.stream?.close();
    this.sessions.delete(sessionId);
  }

  /** Forgets sessions idle for longer than `idleMs` (an HTTP+SSE session lives as long as its stream). */
  reap(idleMs: number): void {
    const cutoff = Date.now() - idleMs;
    for (const [id, session] of this.sessions) if (!session.stream && session.lastActivity < cutoff) this.sessions.delete(id);
  }

  /** Notes activity, hands the client's answers to waiting input requests, and returns the requests. */
  private accept(session: BridgedSession, messages: readonly JsonRpcMessage[]): JsonRpcMessage[] {
    session.lastActivity = Date.now();
    for (const message of messages) {
      if (message.method === undefined && message.id !== undefined && message.id !== null) session.waiting.get(String(message.id))?.(message);
    }
    return messages.filter((m) => isRequest(m));
  }

  private initializeAnswer(session: BridgedSession, message: JsonRpcMessage): Record<string, unknown> {
    const discover = this.discover() ?? {};
    const params = (message.params ?? {}) as { protocolVersion?: string; clientInfo?: unknown; capabilities?: Record<string, unknown> };
    session.clientInfo = params.clientInfo;
    session.capabilities = params.capabilities ?? {};
    const requested = params.protocolVersion ?? NEWEST_LEGACY_VERSION;
    const meta = (discover['_meta'] ?? {}) as Record<string, unknown>;
    return {
      jsonrpc: '2.0',
      id: message.id,
      result: {
        protocolVersion: isLegacyVersion(requested) ? requested : NEWEST_LEGACY_VERSION,
        capabilities: discover['capabilities'] ?? {},
        serverInfo: meta[META_SERVER_INFO] ?? GATEWAY_INFO,
        ...(typeof discover['instructions'] === 'string' ? { instructions: discover['instructions'] } : {}),
      },
    };
  }

  /** The request as 2026-07-28 sees it: the session's identity and capabilities in `_meta`. */
  private modernRequest(session: BridgedSession, request: JsonRpcMessage, extra: Record<string, unknown> = {}): JsonRpcMessage {
    const params = (request.params ?? {}) as Record<string, unknown>;
    const meta = (params['_meta'] ?? {}) as Record<string, unknown>;
    return {
      ...request,
      params: {
        ...params,
        ...extra,
        _meta: {
          ...meta,
          [META_PROTOCOL_VERSION]: MODERN_VERSION,
          [META_CLIENT_INFO]: session.clientInfo,
          [META_CLIENT_CAPABILITIES]: session.capabilities,
        },
      },
    };
  }

  /** Sends one request on; an `input_required` answer comes back as a round to ask the client for. */
  private async ask(
    session: BridgedSession,
    request: JsonRpcMessage,
    signal: AbortSignal,
    extra?: Record<string, unknown>,
  ): Promise<{ kind: 'response'; response: (headers: Record<string, string>) => Response; body?: unknown } | { kind: 'input'; round: InputRound }> {
    if (request.method === 'ping') {
      const body = { jsonrpc: '2.0', id: request.id, result: {} };
      return { kind: 'response', body, response: (headers) => Response.json(body, { headers }) };
    }
    const response = await this.endpoint.handle(this.modernRequest(session, request, extra), signal);
    const status = response.status === 404 ? 200 : response.status;
    if (!response.headers.get('content-type')?.startsWith('application/json')) {
      return {
        kind: 'response',
        response: (headers) => {
          const out = new Headers(response.headers);
          for (const [k, v] of Object.entries(headers)) out.set(k, v);
          return new Response(response.body, { status, headers: out });
        },
      };
    }
    const text = await response.text();
    const body = JSON.parse(text) as { result?: InputRound & { resultType?: string } };
    if (body.result?.resultType === 'input_required') return { kind: 'input', round: body.result };
    return {
      kind: 'response',
      body,
      response: (headers) => new Response(text, { status, headers: { 'content-type': 'application/json', ...headers } }),
    };
  }

  /**
   * Runs a call to its end through `send`: input rounds go to the client as
   * server-to-client requests, and the call is retried with its answers.
   */
  private async complete(
    session: BridgedSession,
    request: JsonRpcMessage,
    signal: AbortSignal,
    send: (message: unknown) => void,
    firstRound?: InputRound,
  ): Promise<void> {
    try {
      let round = firstRound;
      if (round === undefined) {
        const first = await this.ask(session, request, signal);
        if (first.kind === 'response') {
          send(first.body ?? (await first.response({}).json()));
          return;
        }
        round = first.round;
      }
      for (let i = 0; i < MAX_INPUT_ROUNDS; i++) {
        const inputResponses = await this.askClient(session, round, send);
        const next = await this.ask(session, request, signal, {
          inputResponses,
          ...(round.requestState ? { requestState: round.requestState } : {}),
        });
        if (next.kind === 'response') {
          send(next.body ?? (await next.response({}).json()));
          return;
        }
        round = next.round;
      }
      throw new Error(`the server asked for input more than ${MAX_INPUT_ROUNDS} times`);
    } catch (error) {
      send({ jsonrpc: '2.0', id: request.id, error: { code: ErrorCode.ServerError, message: (error as Error).message } });
    }
  }

  /** Sends a round's input requests to the client and collects its answers. */
  private async askClient(session: BridgedSession, round: InputRound, send: (message: unknown) => void): Promise<Record<string, unknown>> {
    const responses: Record<string, unknown> = {};
    await Promise.all(
      Object.entries(round.inputRequests ?? {}).map(
        ([key, input]) =>
          new Promise<void>((resolve, reject) => {
            const id = `mcp-fleet-input-${randomUUID()}`;
            const timer = setTimeout(() => reject(new Error('the client did not answer an input request in time')), INPUT_TIMEOUT_MS);
            timer.unref();
            session.waiting.set(id, (answer) => {
              clearTimeout(timer);
              session.waiting.delete(id);
              if (answer.error !== undefined) reject(new Error(`the client refused ${input.method}`));
              responses[key] = answer.result;
              resolve();
            });
            send({ jsonrpc: '2.0', id, method: input.method, params: input.params ?? {} });
          }),
      ),
    );
    return responses;
  }
}
