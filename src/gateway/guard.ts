import type { FleetConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createAuthenticator, type Authenticator, type AuthTarget, type Principal } from './auth/index.js';
import { HttpError } from './http-error.js';
import { ErrorCode, type JsonRpcMessage } from './jsonrpc.js';
import {
  createInFlightQueue,
  createRateLimiter,
  QueueAbortedError,
  QueueFullError,
  SessionCounter,
  type InFlightQueue,
  type TokenBucketLimiter,
} from './limits.js';
import type { FleetMetrics } from './metrics.js';
import type { Route } from './routing.js';
import { withTraceparent } from './trace.js';

/**
 * The security and back-pressure checks in front of every MCP endpoint:
 * authentication, the per-principal rate limit, the per-principal session cap,
 * the owner of each legacy session, and the bounded queue in front of each child.
 * `app.ts` calls these at a few fixed points; the policies live here.
 */

/** A route to one server's MCP endpoint. */
export type ServerRoute = Extract<Route, { kind: 'server' }>;

/** The outcome of {@link RequestGuard.admit}: a principal, or the response to send instead. */
export type Admission = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly response: Response };

/** Options of {@link RequestGuard}. */
export interface RequestGuardOptions {
  /** Logger (refusals are logged with reason and principal id, never credentials). */
  readonly logger: Logger;
  /** Environment read by API keys given as `env`. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Metrics to count refusals in. @default none */
  readonly metrics?: FleetMetrics;
}

/**
 * The canonical URL of a server's MCP endpoint as a client reached it: the
 * audience its token must carry. `https://<host>/mcp` for a server on its own
 * host name (those sit behind TLS), `<scheme>://<host>/servers/<name>/mcp` for
 * path routing. `/sse` and `/messages` share the `/mcp` URL, so one token works
 * for every transport of a server. The scheme is `https` when the request URL is
 * https or a proxy says so in `X-Forwarded-Proto`.
 */
export function resourceUrlFor(request: Request, route: ServerRoute): string {
  const url = new URL(request.url);
  if (route.basePath === '') return `https://${url.host}/mcp`;
  const forwarded = request.headers.get('x-forwarded-proto')?.trim().toLowerCase();
  const scheme = forwarded === 'https' || forwarded === 'http' ? `${forwarded}:` : url.protocol;
  return `${scheme}//${url.host}/servers/${route.server}/mcp`;
}

/**
 * Which principal opened each legacy session. A request that presents a session
 * id with another principal is answered as if the session did not exist.
 */
export class SessionOwnerTable {
  private readonly owners = new Map<string, string>();

  /** Records that `principalId` opened `sessionId`. */
  bind(sessionId: string, principalId: string): void {
    this.owners.set(sessionId, principalId);
  }

  /** True unless `sessionId` is known and belongs to someone else. */
  allows(sessionId: string, principalId: string): boolean {
    const owner = this.owners.get(sessionId);
    return owner === undefined || owner === principalId;
  }

  /** Forgets a closed session. */
  forget(sessionId: string): void {
    this.owners.delete(sessionId);
  }

  /** Sessions tracked. */
  get size(): number {
    return this.owners.size;
  }
}

/** A session's claim on the per-principal cap. */
export interface SessionClaim {
  /** Records the session's owner once it has an id. */
  bind(sessionId: string): void;
  /** Returns the claim when the session ends; calling it twice is harmless. */
  release(): void;
}

/** Authentication, limits and queues of the gateway; one per gateway. */
export class RequestGuard {
  /** Checks credentials and serves the OAuth resource metadata. */
  readonly authenticator: Authenticator;
  /** Owners of legacy sessions. */
  readonly owners = new SessionOwnerTable();
  private readonly limiter: TokenBucketLimiter | undefined;
  private readonly sessionsPerKey: SessionCounter;
  private readonly queues = new Map<string, InFlightQueue>();
  private readonly principals = new WeakMap<Request, Principal>();
  private readonly logger: Logger;
  private readonly metrics: FleetMetrics | undefined;

  constructor(
    private readonly config: FleetConfig,
    options: RequestGuardOptions,
  ) {
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.authenticator = createAuthenticator(config.gateway.auth, {
      logger: options.logger,
      ...(options.env ? { env: { ...options.env } } : {}),
    });
    this.limiter = createRateLimiter(config.gateway.limits.rate);
    const max = config.gateway.limits.maxSessionsPerKey;
    this.sessionsPerKey = new SessionCounter(max === undefined ? {} : { maxPerKey: max });
  }

  /**
   * Authenticates a request for a server route and spends a token of its
   * principal's rate limit. Refusals: 401/403 (auth), 429 with Retry-After (rate).
   */
  async admit(request: Request, route: ServerRoute): Promise<Admission> {
    const target: AuthTarget = { server: route.server, resourceUrl: resourceUrlFor(request, route) };
    const outcome = await this.authenticator.authenticate(request, target);
    if (!outcome.ok) {
      this.metrics?.authFailures.inc({ server: route.server, reason: outcome.reason });
      return { ok: false, response: outcome.response };
    }
    const principal = outcome.principal;
    if (this.limiter) {
      const decision = this.limiter.take(principal.id);
      if (!decision.allowed) {
        this.metrics?.rateLimited.inc({ server: route.server, limit: 'rate' });
        this.logger.info('request refused by rate limit', { server: route.server, principal: principal.id });
        throw new HttpError(429, ErrorCode.ServerError, `Too Many Requests: over the rate limit of ${principal.kind === 'anonymous' ? 'anonymous callers' : 'this credential'}; retry after ${decision.retryAfterSeconds}s`, {
          headers: { 'retry-after': String(decision.retryAfterSeconds) },
        });
      }
    }
    this.principals.set(request, principal);
    return { ok: true, principal };
  }

  /** The principal {@link admit} found for `request` (anonymous when none). */
  principalOf(request: Request): Principal {
    return this.principals.get(request) ?? { id: 'anonymous', kind: 'anonymous', scopes: [] };
  }

  /** Refuses (404, as if unknown) a session id that belongs to another principal. */
  checkSessionOwner(sessionId: string | null, request: Request): void {
    if (sessionId === null || sessionId === '') return;
    if (!this.owners.allows(sessionId, this.principalOf(request).id)) {
      throw new HttpError(404, ErrorCode.SessionNotFound, 'Session not found');
    }
  }

  /** Claims a session for the request's principal, or throws 503 with Retry-After past `maxSessionsPerKey`. */
  claimSession(request: Request, server: string): SessionClaim {
    const principal = this.principalOf(request);
    const admission = this.sessionsPerKey.tryOpen(principal.id, server);
    if (!admission.ok) {
      this.metrics?.rateLimited.inc({ server, limit: 'sessions' });
      throw new HttpError(503, ErrorCode.ServerError, `Service Unavailable: this credential has its maximum of ${admission.max} open sessions; close one or retry later`, {
        headers: { 'retry-after': '5' },
      });
    }
    let id: string | undefined;
    return {
      bind: (sessionId) => {
        id = sessionId;
        this.owners.bind(sessionId, principal.id);
      },
      release: () => {
        admission.release();
        if (id !== undefined) {
          this.owners.forget(id);
          this.queues.delete(`session:${id}`);
        }
      },
    };
  }

  /**
   * Runs `handle` once a slot of the child's queue is free, and frees the slot
   * when the answer's body ends (or the client goes). `queueKey` is
   * `session:<id>` for a legacy session's child, `pool:<server>` for a server's
   * stateless pool (whose capacity is per child × the pool's maximum size).
   */
  async queued<T extends { response: Response }>(queueKey: string, server: string, request: Request, handle: () => Promise<T>): Promise<T> {
    const queue = this.queueFor(queueKey, server);
    const limits = this.config.gateway.limits;
    let release: () => void;
    try {
      release = await queue.acquire(AbortSignal.any([request.signal, AbortSignal.timeout(limits.queueTimeoutSeconds * 1000)]));
    } catch (error) {
      if (!(error instanceof QueueFullError) && !(error instanceof QueueAbortedError)) throw error;
      this.metrics?.rateLimited.inc({ server, limit: 'queue' });
      throw new HttpError(503, ErrorCode.ServerError, `Service Unavailable: too many requests are waiting for server "${server}"; retry shortly`, {
        headers: { 'retry-after': '1' },
        cause: error,
      });
    }
    try {
      const result = await handle();
      return { ...result, response: onBodyDone(result.response, release) };
    } catch (error) {
      release();
      throw error;
    }
  }

  private queueFor(key: string, server: string): InFlightQueue {
    let queue = this.queues.get(key);
    if (queue === undefined) {
      const limits = this.config.gateway.limits;
      const serverConfig = this.config.servers[server];
      const children = key.startsWith('pool:') ? (serverConfig?.policy === 'shared' ? 1 : (serverConfig?.pool.max ?? 1)) : 1;
      queue = createInFlightQueue({ maxInFlightPerChild: limits.maxInFlightPerChild * children, maxQueuedPerChild: limits.maxQueuedPerChild });
      this.queues.set(key, queue);
    }
    return queue;
  }
}

/**
 * The same response, with `done` called once when its body has been read to
 * the end, fails, or is cancelled (the client went away); at once when it has none.
 */
export function onBodyDone(response: Response, done: () => void): Response {
  // A response this function wrapped already takes one more callback: the body is
  // streamed through one wrapper, however many parties wait for its end.
  const waiting = bodyWatchers.get(response);
  if (waiting) {
    if (waiting.ended) done();
    else waiting.callbacks.push(done);
    return response;
  }
  if (response.body === null) {
    done();
    return response;
  }
  const watch = { callbacks: [done], ended: false };
  const finish = (): void => {
    if (watch.ended) return;
    watch.ended = true;
    for (const callback of watch.callbacks.splice(0)) callback();
  };
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read();
        if (ended) {
          controller.close();
          finish();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  const wrapped = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  bodyWatchers.set(wrapped, watch);
  return wrapped;
}

/** Responses {@link onBodyDone} wrapped, with who waits for their body's end. */
const bodyWatchers = new WeakMap<Response, { callbacks: (() => void)[]; ended: boolean }>();

/**
 * Puts the request's `traceparent` header into `params._meta.traceparent` of
 * each message, re-serializing the raw text only when there is a valid one (the
 * raw bytes are relayed untouched otherwise).
 */
export function applyTraceparent<T extends { messages: JsonRpcMessage[]; raw: string; batch: boolean }>(headers: Headers, read: T): T {
  const header = headers.get('traceparent');
  if (header === null) return read;
  const messages = withTraceparent(read.messages, header);
  if (messages.every((m, i) => m === read.messages[i])) return read;
  return { ...read, messages, raw: read.batch ? JSON.stringify(messages) : JSON.stringify(messages[0]) };
}
