import type { FleetConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ErrorCode } from '../protocol.js';
import { createAuthenticator, type Authenticator, type AuthenticatorOptions, type AuthTarget, type Principal } from './auth/index.js';
import { HttpError } from './http/errors.js';
import type { Reply } from './http/reply.js';
import type { InboundRequest } from './http/request.js';
import { createRateLimiter, type TokenBucketLimiter } from './limits.js';
import type { FleetMetrics } from './metrics.js';
import type { Route } from './routing.js';

/**
 * Who may call an MCP endpoint, and how often: authentication and the
 * per-principal rate limit, in front of every server route. (Sessions belong to
 * their principal in the session registry; the queue in front of each child is
 * in `served-server.ts`.)
 */

/** A route to one server's MCP endpoint. */
export type ServerRoute = Extract<Route, { kind: 'server' }>;

/** The outcome of {@link RequestGuard.admit}: a principal, or the answer to send instead. */
export type Admission = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reply: Reply };

/** Options of {@link RequestGuard}. */
export interface RequestGuardOptions {
  /** Logger (refusals are logged with reason and principal id, never credentials). */
  readonly logger: Logger;
  /** Environment read by API keys given as `env`. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Metrics to count refusals in. @default none */
  readonly metrics?: FleetMetrics;
  /** Options of the built-in authorization server, for tests. @default from the config */
  readonly authorizationServer?: AuthenticatorOptions['authorizationServer'];
}

/**
 * The canonical URL of a server's MCP endpoint as a client reached it: the
 * audience its token must carry. `https://<host>/mcp` for a server on its own
 * host name (those sit behind TLS), `<scheme>://<host>/servers/<name>/mcp` for
 * path routing. `/sse` and `/messages` share the `/mcp` URL, so one token works
 * for every transport of a server. The scheme is `https` when the request URL is
 * https or a proxy says so in `X-Forwarded-Proto`.
 */
export function resourceUrlFor(request: InboundRequest, route: ServerRoute): string {
  const host = request.headers.get('host') ?? 'localhost';
  if (route.basePath === '') return `https://${host}/mcp`;
  const forwarded = request.headers.get('x-forwarded-proto')?.trim().toLowerCase();
  const scheme = forwarded === 'https' || forwarded === 'http' ? forwarded : request.url.startsWith('https:') ? 'https' : 'http';
  return `${scheme}://${host}/servers/${route.server}/mcp`;
}

const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', kind: 'anonymous', scopes: Object.freeze([]) as readonly string[] });

/** Authentication and the rate limit of the gateway; one per gateway. */
export class RequestGuard {
  /** Checks credentials and serves the OAuth resource metadata. */
  readonly authenticator: Authenticator;
  private readonly open: boolean;
  private readonly limiter: TokenBucketLimiter | undefined;
  private readonly logger: Logger;
  private readonly metrics: FleetMetrics | undefined;

  constructor(config: FleetConfig, options: RequestGuardOptions) {
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.open = config.gateway.auth === undefined;
    this.authenticator = createAuthenticator(config.gateway.auth, {
      logger: options.logger,
      ...(options.env ? { env: { ...options.env } } : {}),
      ...(options.authorizationServer ? { authorizationServer: options.authorizationServer } : {}),
    });
    this.limiter = createRateLimiter(config.gateway.limits.rate);
  }

  /**
   * Authenticates a request for a server route and spends a token of its
   * principal's rate limit. Refusals: 401/403 (auth), 429 with Retry-After (rate).
   */
  admit(request: InboundRequest, route: ServerRoute): Admission | Promise<Admission> {
    // With no auth configured the answer is known at once: no promise on the hot path.
    if (this.open) return this.limit(ANONYMOUS, route);
    const target: AuthTarget = { server: route.server, resourceUrl: resourceUrlFor(request, route) };
    return this.authenticator.authenticate(request, target).then((outcome) => {
      if (!outcome.ok) {
        this.metrics?.authFailures.inc({ server: route.server, reason: outcome.reason });
        return { ok: false, reply: outcome.response };
      }
      return this.limit(outcome.principal, route);
    });
  }

  /** Spends a token of the principal's rate limit (429 with Retry-After when none is left). */
  private limit(principal: Principal, route: ServerRoute): Admission {
    if (this.limiter) {
      const decision = this.limiter.take(principal.id);
      if (!decision.allowed) {
        this.metrics?.rateLimited.inc({ server: route.server, limit: 'rate' });
        this.logger.info('request refused by rate limit', { server: route.server, principal: principal.id });
        throw new HttpError(
          429,
          ErrorCode.Overloaded,
          `Too Many Requests: over the rate limit of ${principal.kind === 'anonymous' ? 'anonymous callers' : 'this credential'}; retry after ${decision.retryAfterSeconds}s`,
          { headers: { 'retry-after': String(decision.retryAfterSeconds) } },
        );
      }
    }
    return { ok: true, principal };
  }
}
