/**
 * A dependency-free Prometheus registry (text exposition format 0.0.4) and the
 * metric set of mcp-fleet. Metric objects are cheap to update on the hot path;
 * the text is built only when scraped.
 */

/** Content type of the Prometheus text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label values of one series, by label name. */
export type LabelValues<L extends string> = Readonly<Record<L, string>>;

/** Definition shared by every metric kind. */
export interface MetricOptions<L extends string> {
  /** Metric name, such as `mcp_fleet_requests_total`. */
  readonly name: string;
  /** One line saying what is measured, and in what unit. */
  readonly help: string;
  /** Label names, in output order. @default none */
  readonly labelNames?: readonly L[];
}

/** Options of a histogram. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds of the buckets, increasing; `+Inf` is added. @default {@link DEFAULT_LATENCY_BUCKETS_SECONDS} */
  readonly buckets?: readonly number[];
}

/** A value that only goes up (resets only when the process restarts). */
export interface Counter<L extends string = never> {
  /** Adds `value` (default 1, never negative) to the series of `labels`. */
  inc(labels?: LabelValues<L>, value?: number): void;
  /** Current value of a series (0 when never touched). */
  get(labels?: LabelValues<L>): number;
}

/** A value that goes up and down. */
export interface Gauge<L extends string = never> {
  /** Sets the series of `labels` to `value`. */
  set(labels: LabelValues<L> | undefined, value: number): void;
  /** Adds `value` (default 1). */
  inc(labels?: LabelValues<L>, value?: number): void;
  /** Subtracts `value` (default 1). */
  dec(labels?: LabelValues<L>, value?: number): void;
  /** Current value of a series (0 when never touched). */
  get(labels?: LabelValues<L>): number;
  /** Drops a series, e.g. for a server that was removed. */
  remove(labels?: LabelValues<L>): void;
}

/** A distribution of observed values in buckets, with their sum and count. */
export interface Histogram<L extends string = never> {
  /** Records one observation. */
  observe(labels: LabelValues<L> | undefined, value: number): void;
  /** Starts a timer; calling the result observes the seconds elapsed and returns them. */
  startTimer(labels?: LabelValues<L>): () => number;
  /** Count and sum of a series. */
  get(labels?: LabelValues<L>): { readonly count: number; readonly sum: number };
}

/** Latency buckets in seconds, from 5 ms to the default request timeout of 300 s. */
export const DEFAULT_LATENCY_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatLabels(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

interface Collectable {
  readonly name: string;
  render(): string;
}

/** Validates names and turns label objects into stable series keys. */
class LabelSet<L extends string> {
  constructor(
    readonly metric: string,
    readonly names: readonly L[],
  ) {
    for (const n of names) {
      if (!LABEL_NAME.test(n) || n.startsWith('__') || n === 'le') throw new Error(`metric ${metric}: invalid label name "${n}"`);
    }
  }

  values(labels: LabelValues<L> | undefined): string[] {
    const given = (labels ?? {}) as Record<string, unknown>;
    const keys = Object.keys(given);
    if (keys.length !== this.names.length || keys.some((k) => !(this.names as readonly string[]).includes(k))) {
      throw new Error(`metric ${this.metric}: expected labels [${this.names.join(', ')}], got [${keys.join(', ')}]`);
    }
    return this.names.map((n) => String(given[n]));
  }

  key(values: readonly string[]): string {
    return values.join('\u0000');
  }

  pairs(values: readonly string[]): [string, string][] {
    return this.names.map((n, i) => [n, values[i] ?? '']);
  }
}

class ScalarMetric<L extends string> implements Collectable {
  private readonly series = new Map<string, { values: string[]; value: number }>();
  private readonly labels: LabelSet<L>;

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly type: 'counter' | 'gauge',
    labelNames: readonly L[],
  ) {
    this.labels = new LabelSet(name, labelNames);
  }

  add(labels: LabelValues<L> | undefined, delta: number): void {
    const values = this.labels.values(labels);
    const key = this.labels.key(values);
    const entry = this.series.get(key);
    if (entry === undefined) this.series.set(key, { values, value: delta });
    else entry.value += delta;
  }

  set(labels: LabelValues<L> | undefined, value: number): void {
    const values = this.labels.values(labels);
    this.series.set(this.labels.key(values), { values, value });
  }

  get(labels: LabelValues<L> | undefined): number {
    return this.series.get(this.labels.key(this.labels.values(labels)))?.value ?? 0;
  }

  remove(labels: LabelValues<L> | undefined): void {
    this.series.delete(this.labels.key(this.labels.values(labels)));
  }

  render(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    for (const { values, value } of this.series.values()) {
      out += `${this.name}${formatLabels(this.labels.pairs(values))} ${formatValue(value)}\n`;
    }
    return out;
  }
}

class HistogramMetric<L extends string> implements Collectable {
  private readonly series = new Map<string, { values: string[]; buckets: number[]; sum: number; count: number }>();
  private readonly labels: LabelSet<L>;

  constructor(
    readonly name: string,
    private readonly help: string,
    labelNames: readonly L[],
    private readonly bounds: readonly number[],
    private readonly now: () => number,
  ) {
    this.labels = new LabelSet(name, labelNames);
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] ?? -Infinity)))) {
      throw new Error(`histogram ${name}: buckets must be finite and strictly increasing`);
    }
  }

  observe(labels: LabelValues<L> | undefined, value: number): void {
    const values = this.labels.values(labels);
    const key = this.labels.key(values);
    let entry = this.series.get(key);
    if (entry === undefined) {
      entry = { values, buckets: new Array<number>(this.bounds.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, entry);
    }
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) entry.buckets[i] = (entry.buckets[i] ?? 0) + 1;
    entry.sum += value;
    entry.count += 1;
  }

  get(labels: LabelValues<L> | undefined): { count: number; sum: number } {
    const entry = this.series.get(this.labels.key(this.labels.values(labels)));
    return { count: entry?.count ?? 0, sum: entry?.sum ?? 0 };
  }

  startTimer(labels: LabelValues<L> | undefined): () => number {
    this.labels.values(labels); // fail now, not when the request ends
    const start = this.now();
    return () => {
      const seconds = (this.now() - start) / 1000;
      this.observe(labels, seconds);
      return seconds;
    };
  }

  render(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} histogram\n`;
    for (const { values, buckets, sum, count } of this.series.values()) {
      const pairs = this.labels.pairs(values);
      let cumulative = 0;
      for (const [i, bound] of this.bounds.entries()) {
        cumulative += buckets[i] ?? 0;
        out += `${this.name}_bucket${formatLabels([...pairs, ['le', formatValue(bound)]])} ${cumulative}\n`;
      }
      out += `${this.name}_bucket${formatLabels([...pairs, ['le', '+Inf']])} ${count}\n`;
      out += `${this.name}_sum${formatLabels(pairs)} ${formatValue(sum)}\n`;
      out += `${this.name}_count${formatLabels(pairs)} ${count}\n`;
    }
    return out;
  }
}

/** Options of a {@link MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** Clock in milliseconds for histogram timers. @default performance.now */
  readonly now?: () => number;
}

/** Holds metrics and renders them in the Prometheus text format. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Collectable>();
  private readonly collectors: (() => void)[] = [];
  private readonly now: () => number;

  constructor(options: MetricsRegistryOptions = {}) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Registers a counter. Names end in `_total` by convention. */
  counter<const L extends string = never>(options: MetricOptions<L>): Counter<L> {
    const metric = this.register(new ScalarMetric<L>(options.name, options.help, 'counter', options.labelNames ?? []));
    return {
      inc: (labels, value = 1) => {
        if (!(value >= 0)) throw new Error(`counter ${options.name}: cannot add ${value}`);
        metric.add(labels, value);
      },
      get: (labels) => metric.get(labels),
    };
  }

  /** Registers a gauge. */
  gauge<const L extends string = never>(options: MetricOptions<L>): Gauge<L> {
    const metric = this.register(new ScalarMetric<L>(options.name, options.help, 'gauge', options.labelNames ?? []));
    return {
      set: (labels, value) => metric.set(labels, value),
      inc: (labels, value = 1) => metric.add(labels, value),
      dec: (labels, value = 1) => metric.add(labels, -value),
      get: (labels) => metric.get(labels),
      remove: (labels) => metric.remove(labels),
    };
  }

  /** Registers a histogram. Names carry their unit, e.g. `_seconds`. */
  histogram<const L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
    const metric = this.register(
      new HistogramMetric<L>(options.name, options.help, options.labelNames ?? [], options.buckets ?? DEFAULT_LATENCY_BUCKETS_SECONDS, this.now),
    );
    return {
      observe: (labels, value) => metric.observe(labels, value),
      startTimer: (labels) => metric.startTimer(labels),
      get: (labels) => metric.get(labels),
    };
  }

  /** Runs `collect` before every render, to set gauges whose truth lives elsewhere. */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  /** The whole registry in the Prometheus text format. */
  render(): string {
    for (const collect of this.collectors) collect();
    return [...this.metrics.values()].map((m) => m.render()).join('');
  }

  private register<M extends Collectable>(metric: M): M {
    if (!METRIC_NAME.test(metric.name)) throw new Error(`invalid metric name "${metric.name}"`);
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }
}

/** The HTTP answer to a scrape of `registry`. */
export function metricsResponse(registry: MetricsRegistry): Response {
  return new Response(registry.render(), { status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' } });
}

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
  readonly registry: MetricsRegistry;
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
}

/** Registers the mcp-fleet metrics in `registry` (a fresh one by default). */
export function createFleetMetrics(registry: MetricsRegistry = new MetricsRegistry()): FleetMetrics {
  return {
    registry,
    requests: registry.counter({
      name: 'mcp_fleet_requests_total',
      help: 'HTTP requests answered by the gateway, by server, JSON-RPC method and HTTP status.',
      labelNames: ['server', 'method', 'status'],
    }),
    requestDuration: registry.histogram({
      name: 'mcp_fleet_request_duration_seconds',
      help: 'Seconds from receiving a request to the end of its answer.',
      labelNames: ['server', 'method'],
    }),
    sessionsOpen: registry.gauge({ name: 'mcp_fleet_sessions_open', help: 'Client sessions open.', labelNames: ['server'] }),
    childrenRunning: registry.gauge({ name: 'mcp_fleet_children_running', help: 'Stdio child processes running.', labelNames: ['server'] }),
    childRestarts: registry.counter({
      name: 'mcp_fleet_child_restarts_total',
      help: 'Child processes that exited unexpectedly and were replaced.',
      labelNames: ['server'],
    }),
    authFailures: registry.counter({
      name: 'mcp_fleet_auth_failures_total',
      help: 'Requests refused by authentication or authorization, by reason.',
      labelNames: ['server', 'reason'],
    }),
    rateLimited: registry.counter({
      name: 'mcp_fleet_rate_limited_total',
      help: 'Requests refused by a limit: rate (per key), sessions (per key or server) or queue (per child).',
      labelNames: ['server', 'limit'],
    }),
  };
}
