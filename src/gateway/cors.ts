import type { GatewayConfig } from '../config/schema.js';
import { ErrorCode } from '../protocol.js';
import { HttpError } from './http/errors.js';
import { emptyReply, withHeaders, type Reply } from './http/reply.js';
import type { InboundRequest } from './http/request.js';
import { isLoopbackOrigin } from './routing.js';

/**
 * CORS for browser-based MCP clients (`gateway.cors`, off by default): preflights
 * of allowed origins are answered, and answers to them carry
 * `Access-Control-Allow-Origin` and the MCP headers a client must read.
 */

/** Request headers a browser MCP client may send, besides `Mcp-Param-*`. */
export const CORS_ALLOWED_HEADERS: readonly string[] = [
  'authorization',
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
  'traceparent',
  'tracestate',
];

/** Response headers a browser MCP client may read. */
export const CORS_EXPOSED_HEADERS = 'Mcp-Session-Id, WWW-Authenticate, Mcp-Protocol-Version';

/** An HTTP token (RFC 9110 section 5.6.2), the syntax of a header name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** CORS policy of one gateway. */
export class CorsPolicy {
  private readonly enabled: boolean;
  private readonly origins: Set<string>;
  private readonly anyOrigin: boolean;
  private readonly maxAge: string;

  constructor(gateway: Pick<GatewayConfig, 'cors' | 'allowedOrigins'>) {
    this.enabled = gateway.cors.enabled;
    this.origins = new Set((gateway.cors.allowedOrigins ?? gateway.allowedOrigins).map(normalizeOrigin));
    this.anyOrigin = this.origins.has('*');
    this.maxAge = String(gateway.cors.maxAgeSeconds);
  }

  /** True when CORS is on and `origin` may read answers (loopback origins always may). */
  allows(origin: string | null): origin is string {
    if (!this.enabled || origin === null || origin === 'null') return false;
    return this.anyOrigin || isLoopbackOrigin(origin) || this.origins.has(normalizeOrigin(origin));
  }

  /**
   * The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`),
   * or undefined when CORS is off or the request is not a preflight. An origin
   * that is not allowed gets 403.
   */
  preflight(request: InboundRequest): Reply | undefined {
    if (!this.enabled || request.method !== 'OPTIONS') return undefined;
    const method = request.headers.get('access-control-request-method');
    const origin = request.headers.get('origin');
    if (method === null || origin === null) return undefined;
    if (!this.allows(origin)) throw new HttpError(403, ErrorCode.InvalidRequest, 'Forbidden: Origin not allowed');
    return emptyReply(204, {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
      'access-control-allow-headers': allowedRequestHeaders(request.headers.get('access-control-request-headers')),
      'access-control-max-age': this.maxAge,
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    });
  }

  /** Adds the CORS headers to an answer for an allowed origin; other answers are returned as they are. */
  decorate(request: InboundRequest, reply: Reply): Reply {
    if (!this.enabled) return reply;
    const origin = request.headers.get('origin');
    if (!this.allows(origin)) return reply;
    return withHeaders(reply, { 'access-control-allow-origin': origin, 'access-control-expose-headers': CORS_EXPOSED_HEADERS, vary: 'Origin' });
  }
}

/**
 * The `Access-Control-Allow-Headers` value for a preflight: the fixed list plus
 * each requested `Mcp-Param-*` name that is a valid header token (anything else
 * requested is left out, so the browser refuses it).
 */
export function allowedRequestHeaders(requested: string | null): string {
  const names = new Set(CORS_ALLOWED_HEADERS);
  for (const raw of (requested ?? '').split(',')) {
    const name = raw.trim().toLowerCase();
    if (name.startsWith('mcp-param-') && name.length > 'mcp-param-'.length && name.length <= 128 && TOKEN.test(name)) names.add(name);
  }
  return [...names].join(', ');
}

function normalizeOrigin(origin: string): string {
  return origin.replace(/\/$/, '').toLowerCase();
}
