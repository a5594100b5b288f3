import { randomUUID } from 'node:crypto';
import { HttpError } from '../http-error.js';
import { ErrorCode, isRequest, type JsonRpcMessage } from '../jsonrpc.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO, MODERN_PROTOCOL_VERSIONS } from './headers.js';
import type { ModernEndpoint } from './endpoint.js';

/**
 * Legacy Streamable HTTP clients of a modern (2026-07-28) stdio server: the
 * `initialize` handshake is answered from the server's `server/discover` result,
 * and every later request of the session is sent on as a 2026-07-28 request,
 * carrying the client identity and capabilities the session declared, through the
 * same warm pool modern clients use. No child is spawned per session, so servers
 * that refuse `initialize` serve old clients too.
 */

/** Newest legacy revision the bridge agrees to. */
const NEWEST_LEGACY = '2025-11-25';
const LEGACY_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];

interface BridgedSession {
  readonly clientInfo: unknown;
  readonly capabilities: Record<string, unknown>;
  lastActivity: number;
  /** Server-to-client requests sent to the client, waiting for its responses, by id. */
  readonly waiting: Map<string, (message: JsonRpcMessage) => void>;
}

/** An `input_required` result: what the server asks for, and the state to send back. */
interface InputRound {
  readonly inputRequests?: Record<string, { method: string; params?: unknown }>;
  readonly requestState?: string;
}

/** Most input rounds one call may take before the bridge gives up. */
const MAX_INPUT_ROUNDS = 8;
/** How long the client has to answer a server-to-client request. */
const INPUT_TIMEOUT_MS = 10 * 60 * 1000;
const encoder = new TextEncoder();

/** The bridged legacy sessions of one modern server. */
export class LegacyBridge {
  private readonly sessions = new Map<string, BridgedSession>();

  constructor(
    private readonly endpoint: ModernEndpoint,
    private readonly discover: () => Record<string, unknown> | undefined,
    private readonly mintId: () => string = randomUUID,
  ) {}

  /** True when `id` is one of this bridge's sessions. */
  has(id: string | null): id is string {
    return id !== null && this.sessions.has(id);
  }

  /** Answers `initialize` from the discover result and opens a session. */
  initialize(message: JsonRpcMessage): Response {
    const discover = this.discover() ?? {};
    const params = (message.params ?? {}) as { protocolVersion?: string; clientInfo?: unknown; capabilities?: Record<string, unknown> };
    const requested = params.protocolVersion ?? NEWEST_LEGACY;
    const id = this.mintId();
    this.sessions.set(id, { clientInfo: params.clientInfo, capabilities: params.capabilities ?? {}, lastActivity: Date.now(), waiting: new Map() });
    const meta = (discover['_meta'] ?? {}) as Record<string, unknown>;
    const result = {
      protocolVersion: LEGACY_VERSIONS.includes(requested) ? requested : NEWEST_LEGACY,
      capabilities: discover['capabilities'] ?? {},
      serverInfo: meta[META_SERVER_INFO] ?? { name: 'mcp-fleet', version: '0.1.0' },
      ...(typeof discover['instructions'] === 'string' ? { instructions: discover['instructions'] } : {}),
    };
    return new Response(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }), {
      status: 200,
      headers: { 'content-type': 'application/json', 'mcp-session-id': id },
    });
  }

  /** Sends one POST of a bridged session on as 2026-07-28 requests. */
  async post(sessionId: string, messages: readonly JsonRpcMessage[], batch: boolean, signal: AbortSignal): Promise<Response> {
    const session = this.sessions.get(sessionId) as BridgedSession;
    session.lastActivity = Date.now();
    for (const message of messages) {
      // The client's answers to input requests the bridge sent it.
      if (message.method === undefined && message.id !== undefined && message.id !== null) {
        session.waiting.get(String(message.id))?.(message);
      }
    }
    const requests = messages.filter((m) => isRequest(m));
    if (requests.length === 0) return new Response(null, { status: 202, headers: { 'mcp-session-id': sessionId } });
    if (batch || requests.length > 1) {
      throw new HttpError(400, ErrorCode.InvalidRequest, 'Invalid Request: send one request per POST to this server');
    }
    const request = requests[0] as JsonRpcMessage;
    if (request.method === 'ping') {
      return Response.json({ jsonrpc: '2.0', id: request.id, result: {} }, { headers: { 'mcp-session-id': sessionId } });
    }
    const params = (request.params ?? {}) as Record<string, unknown>;
    const meta = (params['_meta'] ?? {}) as Record<string, unknown>;
    const modern: JsonRpcMessage = {
      ...request,
      params: {
        ...params,
        _meta: {
          ...meta,
          [META_PROTOCOL_VERSION]: MODERN_PROTOCOL_VERSIONS[0],
          [META_CLIENT_INFO]: session.clientInfo,
          [META_CLIENT_CAPABILITIES]: session.capabilities,
        },
      },
    };
    const response = await this.endpoint.handle(modern, signal);
    const headers = new Headers(response.headers);
    headers.set('mcp-session-id', sessionId);
    if (headers.get('content-type')?.startsWith('application/json')) {
      const text = await response.text();
      const answer = JSON.parse(text) as { result?: { resultType?: string } };
      if (answer.result?.resultType === 'input_required') {
        return this.askClient(sessionId, session, modern, answer.result as InputRound, signal);
      }
      return new Response(text, { status: response.status === 404 ? 200 : response.status, headers });
    }
    return new Response(response.body, { status: response.status === 404 ? 200 : response.status, headers });
  }

  /**
   * Turns an `input_required` result into the 2025-era exchange the client knows:
   * the input requests go to it as server-to-client requests on the POST's SSE
   * stream, its responses come back as POSTs, and the bridge retries the call with
   * `inputResponses` and `requestState` until the server completes it.
   */
  private askClient(
    sessionId: string,
    session: BridgedSession,
    request: JsonRpcMessage,
    first: InputRound,
    signal: AbortSignal,
  ): Response {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const send = (message: unknown): void => controller.enqueue(encoder.encode(`data: ${JSON.stringify(message)}\n\n`));
    const run = async (): Promise<void> => {
      let round = first;
      for (let i = 0; i < MAX_INPUT_ROUNDS; i++) {
        const responses: Record<string, unknown> = {};
        await Promise.all(
          Object.entries(round.inputRequests ?? {}).map(
            ([key, input]) =>
              new Promise<void>((resolve, reject) => {
                const id = `mcp-fleet-input-${randomUUID()}`;
                const timer = setTimeout(() => reject(new Error('the client did not answer an input request in time')), INPUT_TIMEOUT_MS);
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
        const params = (request.params ?? {}) as Record<string, unknown>;
        const retry: JsonRpcMessage = {
          ...request,
          params: { ...params, inputResponses: responses, ...(round.requestState ? { requestState: round.requestState } : {}) },
        };
        const answer = (await (await this.endpoint.handle(retry, signal)).json()) as { result?: InputRound & { resultType?: string } };
        if (answer.result?.resultType !== 'input_required') {
          send({ ...answer, id: request.id });
          return;
        }
        round = answer.result;
      }
      throw new Error(`the server asked for input more than ${MAX_INPUT_ROUNDS} times`);
    };
    run()
      .catch((error: Error) => send({ jsonrpc: '2.0', id: request.id, error: { code: ErrorCode.ServerError, message: error.message } }))
      .finally(() => {
        try {
          controller.close();
        } catch {
          // the client left
        }
      });
    return new Response(body, {
      status: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no', 'mcp-session-id': sessionId },
    });
  }

  /** Ends a session (DELETE). */
  end(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /** Forgets sessions idle for longer than `idleMs`. */
  reap(idleMs: number): void {
    const cutoff = Date.now() - idleMs;
    for (const [id, session] of this.sessions) if (session.lastActivity < cutoff) this.sessions.delete(id);
  }
}
