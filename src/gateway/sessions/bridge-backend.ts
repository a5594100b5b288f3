import { randomUUID } from 'node:crypto';
import { ErrorCode, GATEWAY_INFO, isLegacyVersion, Meta, MODERN_VERSION, NEWEST_LEGACY_VERSION } from '../../protocol.js';
import type { JsonRpcId, WireMessage } from '../../upstream/channel.js';
import { HttpError } from '../http/errors.js';
import type { ReplyBody } from '../http/reply.js';
import type { SignalSource } from '../http/request.js';
import type { ModernEndpoint, ModernSink } from '../modern/endpoint.js';
import type { ServedServer } from '../served-server.js';
import type { Delivery, LegacySession, SessionBackend } from './legacy-session.js';

/**
 * Legacy clients (Streamable HTTP 2025-era and HTTP+SSE 2024-11-05) of a modern
 * (2026-07-28) stdio server that does not take their handshake, or that the
 * policy shares: `initialize` is answered from the server's `server/discover`
 * result, and every later request is sent on as a 2026-07-28 request carrying the
 * identity and capabilities the session declared, through the server's warm pool.
 * A server's `input_required` answer becomes the 2025-era exchange: requests to
 * the client, whose answers feed the retry.
 */

/** Most input rounds one call may take before the bridge gives up. */
const MAX_INPUT_ROUNDS = 8;

/** One answer of the modern endpoint, collected for the session. */
class Collector implements ModernSink {
  onClientGone: (() => void) | undefined;
  finished = false;
  readonly done: Promise<{ body: ReplyBody; status: number } | undefined>;
  private resolve!: (value: { body: ReplyBody; status: number } | undefined) => void;
  private readonly doneListeners: (() => void)[] = [];

  constructor(private readonly delivery: Delivery) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }

  event(data: ReplyBody): boolean {
    if (this.finished) return false;
    this.delivery.event(data as string | readonly Buffer[]);
    return true;
  }

  final(body: ReplyBody, status = 200): void {
    if (this.finished) return;
    this.finish();
    this.resolve({ body, status });
  }

  toSse(): void {}

  abandon(): void {
    if (this.finished) return;
    this.finish();
    this.resolve(undefined);
  }

  onDone(listener: () => void): void {
    if (this.finished) listener();
    else this.doneListeners.push(listener);
  }

  private finish(): void {
    this.finished = true;
    for (const listener of this.doneListeners.splice(0)) listener();
  }
}

function textOf(body: ReplyBody): string {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  return Buffer.concat(body as Buffer[]).toString('utf8');
}

/** A legacy session bridged to a modern server. */
export class BridgeBackend implements SessionBackend {
  readonly servedBy = 'bridge' as const;
  private readonly aborts = new Set<AbortController>();

  constructor(
    private readonly session: LegacySession,
    private readonly served: ServedServer,
    private readonly endpoint: ModernEndpoint,
  ) {}

  async request(message: WireMessage, _raw: Buffer | undefined, delivery: Delivery, source: SignalSource | undefined): Promise<void> {
    if (message.method === 'initialize') {
      await this.served.ready(message.id as JsonRpcId);
      delivery.response(JSON.stringify(this.initializeAnswer(message)));
      return;
    }
    if (message.method === 'ping') {
      delivery.response(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: {} }));
      return;
    }
    const abort = new AbortController();
    this.aborts.add(abort);
    const stop = (): void => abort.abort();
    const signal = source?.signal;
    signal?.addEventListener('abort', stop, { once: true });
    delivery.cancel = () => abort.abort();
    // Not awaited: the answer may need the client's input first, which it sends only once it has this POST's stream.
    void this.complete(message, delivery, abort.signal)
      .catch((error: unknown) => delivery.failed(ErrorCode.InternalError, error instanceof Error ? error.message : String(error)))
      .finally(() => {
        this.aborts.delete(abort);
        signal?.removeEventListener('abort', stop);
      });
  }

  clientNotification(): void {
    // A modern server takes no notifications from clients (cancellation is handled as an abort).
  }

  async close(): Promise<void> {
    for (const abort of this.aborts) abort.abort();
    this.aborts.clear();
  }

  private initializeAnswer(message: WireMessage): Record<string, unknown> {
    const discover = this.served.upstream.verdict?.discover ?? {};
    const requested = (message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    const protocolVersion = typeof requested === 'string' && isLegacyVersion(requested) ? requested : NEWEST_LEGACY_VERSION;
    this.session.agreedVersion(protocolVersion);
    const meta = (discover['_meta'] ?? {}) as Record<string, unknown>;
    return {
      jsonrpc: '2.0',
      id: message.id,
      result: {
        protocolVersion,
        capabilities: discover['capabilities'] ?? {},
        serverInfo: meta[Meta.serverInfo] ?? GATEWAY_INFO,
        ...(typeof discover['instructions'] === 'string' ? { instructions: discover['instructions'] } : {}),
      },
    };
  }

  /** The request as 2026-07-28 sees it: the session's identity and capabilities in `_meta`. */
  private modern(message: WireMessage, extra: Record<string, unknown> = {}): WireMessage {
    const params = (message.params ?? {}) as Record<string, unknown>;
    const meta = (params['_meta'] ?? {}) as Record<string, unknown>;
    return {
      jsonrpc: '2.0',
      id: message.id as JsonRpcId,
      method: message.method,
      params: {
        ...params,
        ...extra,
        _meta: {
          ...meta,
          [Meta.protocolVersion]: MODERN_VERSION,
          [Meta.clientInfo]: this.session.clientInfo,
          [Meta.clientCapabilities]: this.session.capabilities,
        },
      },
    };
  }

  /** Runs a call to its end: input rounds go to the client as requests, and the call is retried with its answers. */
  private async complete(message: WireMessage, delivery: Delivery, signal: AbortSignal): Promise<void> {
    let extra: Record<string, unknown> = {};
    for (let round = 0; round <= MAX_INPUT_ROUNDS; round++) {
      const collector = new Collector(delivery);
      try {
        await this.endpoint.exchange(this.modern(message, extra), undefined, {
            principal: this.session.owner,
            client: { signal },
            credentials: this.session.credentials,
            audit: { era: this.session.transport === 'sse' ? 'http+sse' : 'streamable-http', sessionId: this.session.id },
          }, collector);
      } catch (error) {
        if (error instanceof HttpError) {
          delivery.failed(error.rpcCode, error.message);
          return;
        }
        throw error;
      }
      const answer = await collector.done;
      if (answer === undefined) return;
      const text = textOf(answer.body);
      const parsed = JSON.parse(text) as { result?: { resultType?: string; inputRequests?: Record<string, { method: string; params?: unknown }>; requestState?: string } };
      if (parsed.result?.resultType !== 'input_required') {
        delivery.response(typeof answer.body === 'string' || Buffer.isBuffer(answer.body) ? text : (answer.body as readonly Buffer[]));
        return;
      }
      if (round === MAX_INPUT_ROUNDS) break;
      let inputResponses: Record<string, unknown>;
      try {
        inputResponses = await this.askClient(parsed.result.inputRequests ?? {}, delivery, signal);
      } catch (error) {
        delivery.failed(ErrorCode.UpstreamUnavailable, (error as Error).message);
        return;
      }
      extra = { inputResponses, ...(parsed.result.requestState ? { requestState: parsed.result.requestState } : {}) };
    }
    delivery.failed(ErrorCode.UpstreamUnavailable, `the server asked for input more than ${MAX_INPUT_ROUNDS} times`);
  }

  /** Sends a round's input requests to the client and collects its answers. */
  private async askClient(
    inputRequests: Record<string, { method: string; params?: unknown }>,
    delivery: Delivery,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const responses: Record<string, unknown> = {};
    await Promise.all(
      Object.entries(inputRequests).map(
        ([key, input]) =>
          new Promise<void>((resolve, reject) => {
            const id = `mcpf-input-${randomUUID()}`;
            signal.addEventListener('abort', () => reject(new Error('the request was cancelled')), { once: true });
            this.session.serverRequest(id, input.method, JSON.stringify({ jsonrpc: '2.0', id, method: input.method, params: input.params ?? {} }), delivery, {
              answer: (answer) => {
                if (answer.error !== undefined) {
                  reject(new Error(`the client refused ${input.method}`));
                  return;
                }
                responses[key] = answer.result;
                resolve();
              },
            });
          }),
      ),
    );
    return responses;
  }
}
