import { createRequire } from 'node:module';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BytesReply } from './http/reply.js';

/**
 * The Prometheus metrics of mcp-fleet, on prom-client: a registry of its own per
 * gateway (no default process metrics unless asked), updated on the hot path,
 * rendered only when scraped.
 */

/** Content type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Latency buckets in seconds, from 5 ms to the default request timeout of 300 s. */
export const DEFAULT_LATENCY_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** JSON-RPC methods of every MCP era; any other method is counted as `other` so clients cannot blow up cardinality. */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'server/discover',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'subscriptions/listen',
  'tasks/get',
  'tasks/list',
  'tasks/cancel',
  'tasks/result',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/message',
  'notifications/roots/list_changed',
]);

/** The `method` label of a JSON-RPC method: itself when MCP defines it, else `other` (and `none` for responses, GET, DELETE). */
export function methodLabel(method: string | undefined): string {
  if (method === undefined) return 'none';
  return KNOWN_METHODS.has(method) ? method : 'other';
}

/** The metric set of mcp-fleet. The gateway updates these; nothing here reads the gateway. */
export interface FleetMetrics {
  /** The registry to render on `/metrics`. */
  readonly registry: Registry;
  /** `mcp_fleet_requests_total{server,method,status}`: requests answered; status is the HTTP status code. */
  readonly requests: Counter<'server' | 'method' | 'status'>;
  /** `mcp_fleet_request_duration_seconds{server,method}`: time from request to the end of its answer. */
  readonly requestDuration: Histogram<'server' | 'method'>;
  /** `mcp_fleet_sessions_open{server}`: client sessions open now. */
  readonly sessionsOpen: Gauge<'server'>;
  /** `mcp_fleet_children_running{server}`: stdio child processes running now. */
  readonly childrenRunning: Gauge<'server'>;
  /** `mcp_fleet_child_restarts_total{server}`: children that exited unexpectedly and were replaced. */
  readonly childRestarts: Counter<'server'>;
  /** `mcp_fleet_auth_failures_total{server,reason}`: refused credentials, by `AuthOutcome.reason`. */
  readonly authFailures: Counter<'server' | 'reason'>;
  /** `mcp_fleet_rate_limited_total{server,limit}`: requests refused by a limit (`rate`, `sessions` or `queue`). */
  readonly rateLimited: Counter<'server' | 'limit'>;
  /** Runs `collect` before each scrape, so gauges can mirror state kept elsewhere. */
  onCollect(collect: () => void): void;
}

/** Registers the mcp-fleet metrics in a registry of their own. */
export function createFleetMetrics(): FleetMetrics {
  // Loaded only when metrics are on (they are off by default): prom-client is 70 ms of a gateway's start.
  const { Counter, Gauge, Histogram, Registry } = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  const registry = new Registry();
  const collectors: (() => void)[] = [];
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'mcp_fleet_requests_total',
      help: 'HTTP requests answered by the gateway, by server, JSON-RPC method and HTTP status.',
      labelNames: ['server', 'method', 'status'],
      registers,
    }),
    requestDuration: new Histogram({
      name: 'mcp_fleet_request_duration_seconds',
      help: 'Seconds from receiving a request to the end of its answer.',
      labelNames: ['server', 'method'],
      buckets: [...DEFAULT_LATENCY_BUCKETS_SECONDS],
      registers,
    }),
    sessionsOpen: new Gauge({
      name: 'mcp_fleet_sessions_open',
      help: 'Client sessions open.',
      labelNames: ['server'],
      registers,
      // The first gauge runs the gateway's collectors, once per scrape.
      collect: () => {
        for (const collect of collectors) collect();
      },
    }),
    childrenRunning: new Gauge({ name: 'mcp_fleet_children_running', help: 'Stdio child processes running.', labelNames: ['server'], registers }),
    childRestarts: new Counter({
      name: 'mcp_fleet_child_restarts_total',
      help: 'Child processes that exited unexpectedly and were replaced.',
      labelNames: ['server'],
      registers,
    }),
    authFailures: new Counter({
      name: 'mcp_fleet_auth_failures_total',
      help: 'Requests refused by authentication or authorization, by reason.',
      labelNames: ['server', 'reason'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'mcp_fleet_rate_limited_total',
      help: 'Requests refused by a limit: rate (per key), sessions (per key or server) or queue (per child).',
      labelNames: ['server', 'limit'],
      registers,
    }),
    onCollect: (collect) => void collectors.push(collect),
  };
}

/** The text of a scrape. */
export function renderMetrics(registry: Registry): Promise<string> {
  return registry.metrics();
}

/** The answer to a scrape. */
export async function metricsReply(registry: Registry): Promise<BytesReply> {
  return new BytesReply(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }, await registry.metrics());
}
