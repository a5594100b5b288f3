import {
  createTraceState,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Histogram,
  type Span,
  type TraceState,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { ATTR_ERROR_TYPE, ATTR_NETWORK_PROTOCOL_NAME, ATTR_NETWORK_TRANSPORT, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TelemetryConfig } from '../config/telemetry-schema.js';
import { BytesReply, StreamReply, type Reply } from '../gateway/http/reply.js';
import type { InboundRequest } from '../gateway/http/request.js';
import { parseTraceparent, type TraceContext } from '../gateway/trace.js';
import { Header } from '../protocol.js';
import { setUpstreamCallTracer, type UpstreamCallTracer } from '../upstream/call-tracing.js';
import type { CallSink, ChildAnswer, OutboundRequest, WireMessage } from '../upstream/channel.js';
import type { GatewayTelemetry, RequestSpan, ServerSpanInfo, StartTelemetryOptions } from './index.js';

/**
 * The OpenTelemetry SDK wired for the gateway (loaded only when telemetry is on):
 * a SERVER span per client POST, a CLIENT span per call to a child, both named and
 * attributed per the OpenTelemetry semantic conventions for MCP, the W3C trace
 * context carried in `params._meta`, and the `mcp.server.operation.duration` /
 * `mcp.client.operation.duration` histograms; exported over OTLP HTTP/protobuf.
 */

/** Attribute names of the MCP semantic conventions (development status; not in the stable package entry point). */
export const McpAttr = {
  methodName: 'mcp.method.name',
  sessionId: 'mcp.session.id',
  protocolVersion: 'mcp.protocol.version',
  resourceUri: 'mcp.resource.uri',
  toolName: 'gen_ai.tool.name',
  promptName: 'gen_ai.prompt.name',
  operationName: 'gen_ai.operation.name',
  requestId: 'jsonrpc.request.id',
  jsonrpcVersion: 'jsonrpc.protocol.version',
  statusCode: 'rpc.response.status_code',
  server: 'mcp_fleet.server',
  era: 'mcp_fleet.era',
} as const;

/** Bucket boundaries the MCP conventions advise for the operation duration histograms (seconds). */
const DURATION_BUCKETS_SECONDS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** A JSON body is looked into for its JSON-RPC outcome only up to this size. */
const OUTCOME_PEEK_BYTES = 64 * 1024;

const INSTRUMENTATION = 'mcp-fleet';

/** The OTLP URLs and service name `settings` and the OTEL_* variables give. */
export function resolveExport(
  settings: TelemetryConfig,
  env: Readonly<Record<string, string | undefined>>,
): { readonly tracesUrl: string; readonly metricsUrl: string; readonly serviceName: string } {
  const base = (settings.endpoint ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? 'http://localhost:4318').replace(/\/+$/, '');
  return {
    // The per-signal variables are full URLs (the spec says they are used as they are).
    tracesUrl: settings.endpoint === undefined && env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ? env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] : `${base}/v1/traces`,
    metricsUrl: settings.endpoint === undefined && env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] ? env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] : `${base}/v1/metrics`,
    serviceName: settings.serviceName ?? env['OTEL_SERVICE_NAME'] ?? 'mcp-fleet',
  };
}

/** A URL as it may be logged: no user, password, query or fragment. */
function loggableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Starts the SDK: exporters, providers, the channel hook. Called through `startTelemetry`. */
export function startOtelTelemetry(settings: TelemetryConfig, options: StartTelemetryOptions): GatewayTelemetry {
  const env = options.env ?? process.env;
  const target = resolveExport(settings, env);
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: target.serviceName });
  // Headers given in the config go as they are; without them the exporter reads OTEL_EXPORTER_OTLP_HEADERS itself.
  const headers = Object.keys(settings.headers).length > 0 ? { ...settings.headers } : undefined;
  const tracerProvider = new BasicTracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplingRatio) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: target.tracesUrl, ...(headers ? { headers } : {}) }))],
  });
  const meterProvider = settings.metrics
    ? new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter({ url: target.metricsUrl, ...(headers ? { headers } : {}) }),
            exportIntervalMillis: settings.metricsIntervalSeconds * 1000,
            exportTimeoutMillis: Math.min(30_000, settings.metricsIntervalSeconds * 1000),
          }),
        ],
      })
    : undefined;
  // The SDK reports failed exports through its diagnostic logger: warnings and errors go to the log, by their message only
  // (the extra arguments may hold a response body or the exporter's options).
  const warn = (message: string): void => options.logger.warn('telemetry export problem', { problem: message.slice(0, 300) });
  diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  const telemetry = new OtelTelemetry(tracerProvider, meterProvider);
  options.logger.info('telemetry on', {
    traces: loggableUrl(target.tracesUrl),
    metrics: meterProvider ? loggableUrl(target.metricsUrl) : undefined,
    serviceName: target.serviceName,
    samplingRatio: settings.samplingRatio,
  });
  return telemetry;
}

/** The gateway's tracing: SERVER spans here, CLIENT spans through the channel hook. */
class OtelTelemetry implements GatewayTelemetry, UpstreamCallTracer {
  private readonly tracer: Tracer;
  private readonly serverDuration: Histogram | undefined;
  private readonly clientDuration: Histogram | undefined;
  private readonly unhook: () => void;

  constructor(
    private readonly tracerProvider: BasicTracerProvider,
    private readonly meterProvider: MeterProvider | undefined,
  ) {
    this.tracer = tracerProvider.getTracer(INSTRUMENTATION);
    const meter = meterProvider?.getMeter(INSTRUMENTATION);
    this.serverDuration = meter?.createHistogram('mcp.server.operation.duration', {
      unit: 's',
      description: 'MCP request or notification duration as observed on the receiver from the time it was received until the result or ack is sent.',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS },
    });
    this.clientDuration = meter?.createHistogram('mcp.client.operation.duration', {
      unit: 's',
      description: 'The duration of the MCP request or notification as observed on the sender from the time it was sent until the response or ack is received.',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS },
    });
    this.unhook = setUpstreamCallTracer(this);
  }

  serverSpan(request: InboundRequest, messages: readonly WireMessage[], info: ServerSpanInfo): { readonly messages: readonly WireMessage[]; readonly span: RequestSpan | undefined } {
    const first = messages.find((m) => typeof m.method === 'string');
    if (first === undefined) return { messages, span: undefined };
    const method = first.method as string;
    const params = recordOf(first.params);
    const meta = recordOf(params?.['_meta']);
    // The message's own context is the more specific one (an MCP client instrumented per the conventions); else the HTTP header's.
    const fromMeta = parseTraceparent(stringOf(meta?.['traceparent']));
    const parent = fromMeta ?? parseTraceparent(request.headers.get('traceparent'));
    const tracestate = fromMeta ? stringOf(meta?.['tracestate']) : request.headers.get('tracestate');
    const attributes: Attributes = {
      ...operationAttributes(method, params),
      [ATTR_NETWORK_TRANSPORT]: 'tcp',
      [ATTR_NETWORK_PROTOCOL_NAME]: 'http',
      [McpAttr.server]: info.server,
      [McpAttr.era]: info.era,
    };
    if (first.id !== undefined && first.id !== null) attributes[McpAttr.requestId] = String(first.id);
    const session = info.era === 'streamable' ? request.headers.get(Header.sessionId) : info.era === 'sse' ? sessionQuery(request.url) : null;
    if (session) attributes[McpAttr.sessionId] = session;
    const version = request.headers.get(Header.protocolVersion) ?? (method === 'initialize' ? stringOf(params?.['protocolVersion']) : undefined);
    if (version) attributes[McpAttr.protocolVersion] = version;
    const span = this.tracer.startSpan(
      spanName(method, params),
      { kind: SpanKind.SERVER, attributes, startTime: performance.timeOrigin + info.startedAt },
      parent ? remoteContext(parent, tracestate) : ROOT_CONTEXT,
    );
    const traceparent = traceparentOf(span);
    const state = span.spanContext().traceState?.serialize();
    const traced = messages.map((m) => withContext(m, traceparent, state));
    return { messages: traced, span: new ServerSpan(span, this.serverDuration, info.startedAt, metricAttributes(attributes)) };
  }

  trace(server: string, request: OutboundRequest, sink: CallSink): { readonly request: OutboundRequest; readonly sink: CallSink } {
    const params = recordOf(request.message.params);
    const meta = recordOf(params?.['_meta']);
    const parent = parseTraceparent(stringOf(meta?.['traceparent']));
    // Only calls made for a client's request carry a context; the gateway's own calls (probes, pool warm-up) are not traced.
    if (parent === undefined) return { request, sink };
    const attributes: Attributes = {
      ...operationAttributes(request.method, params),
      [ATTR_NETWORK_TRANSPORT]: 'pipe',
      [McpAttr.server]: server,
      [McpAttr.requestId]: String(request.id),
    };
    const span = this.tracer.startSpan(spanName(request.method, params), { kind: SpanKind.CLIENT, attributes }, remoteContext(parent, stringOf(meta?.['tracestate'])));
    const message = withContext(request.message, traceparentOf(span), span.spanContext().traceState?.serialize());
    const started = performance.now();
    const histogram = this.clientDuration;
    const done = (errorType: string | undefined, code: number | undefined, description?: string): void => {
      if (code !== undefined) span.setAttribute(McpAttr.statusCode, String(code));
      if (errorType !== undefined) {
        span.setAttribute(ATTR_ERROR_TYPE, errorType);
        span.setStatus(description === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message: description });
      }
      span.end();
      histogram?.record((performance.now() - started) / 1000, { ...metricAttributes(attributes), ...(errorType !== undefined ? { [ATTR_ERROR_TYPE]: errorType } : {}) });
    };
    return {
      // The bytes change (a new traceparent), so the client's raw bytes cannot be relayed as they are.
      request: { method: request.method, id: request.id, message },
      sink: {
        response: (answer) => {
          const outcome = answerOutcome(answer);
          done(outcome.errorType, outcome.code, outcome.message);
          sink.response(answer);
        },
        event: (text, event) => sink.event(text, event),
        failed: (code, text) => {
          done(String(code), code, text);
          sink.failed(code, text);
        },
      },
    };
  }

  async shutdown(): Promise<void> {
    this.unhook();
    await Promise.allSettled([this.tracerProvider.shutdown(), this.meterProvider?.shutdown()]);
    diag.disable();
  }
}

/** The SERVER span of one POST. */
class ServerSpan implements RequestSpan {
  private ended = false;

  constructor(
    private readonly span: Span,
    private readonly histogram: Histogram | undefined,
    private readonly startedAt: number,
    private readonly metricAttrs: Attributes,
  ) {}

  end(reply: Reply): void {
    if (reply instanceof StreamReply) {
      const start = reply.start.bind(reply);
      reply.start = (sink) => {
        sink.onClose(() => this.finish(reply, undefined));
        start(sink);
      };
      return;
    }
    this.finish(reply, reply instanceof BytesReply ? bodyOutcome(reply) : undefined);
  }

  private finish(reply: Reply, outcome: Outcome | undefined): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    const session = reply instanceof Response ? reply.headers.get(Header.sessionId) : reply.headers[Header.sessionId.toLowerCase()];
    if (session) span.setAttribute(McpAttr.sessionId, session);
    let errorType = outcome?.errorType;
    if (outcome?.code !== undefined) span.setAttribute(McpAttr.statusCode, String(outcome.code));
    if (errorType === undefined && reply.status >= 400) errorType = String(reply.status);
    span.setAttribute('http.response.status_code', reply.status);
    if (errorType !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType);
      span.setStatus(outcome?.message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message: outcome.message });
    }
    span.end();
    this.histogram?.record((performance.now() - this.startedAt) / 1000, { ...this.metricAttrs, ...(errorType !== undefined ? { [ATTR_ERROR_TYPE]: errorType } : {}) });
  }
}

/** What an answer says: a JSON-RPC error (its code), or a tool's own error (`isError: true`). */
interface Outcome {
  readonly errorType?: string | undefined;
  readonly code?: number | undefined;
  readonly message?: string | undefined;
}

function answerOutcome(answer: ChildAnswer): Outcome {
  if (answer.isError) {
    const error = recordOf(answer.message.error);
    const code = typeof error?.['code'] === 'number' ? error['code'] : undefined;
    return { errorType: code === undefined ? '_OTHER' : String(code), code, message: stringOf(error?.['message']) };
  }
  // A tool that failed says so in its result; the bytes tell without a parse.
  return answer.line.includes('"isError":true') ? { errorType: 'tool_error' } : {};
}

function bodyOutcome(reply: BytesReply): Outcome | undefined {
  const body = reply.body;
  if (body === null) return undefined;
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : Buffer.concat(body as Buffer[]).toString('utf8');
  if (text.length > OUTCOME_PEEK_BYTES) return undefined;
  if (text.includes('"isError":true')) return { errorType: 'tool_error' };
  if (!text.includes('"error"')) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    const message = Array.isArray(parsed) ? parsed.find((m) => recordOf(recordOf(m)?.['error']) !== undefined) : parsed;
    const error = recordOf(recordOf(message)?.['error']);
    const code = typeof error?.['code'] === 'number' ? error['code'] : undefined;
    return code === undefined ? undefined : { errorType: String(code), code, message: stringOf(error?.['message']) };
  } catch {
    return undefined;
  }
}

/** The attributes that name an operation: method, and tool, prompt or resource where the method has one. */
function operationAttributes(method: string, params: Record<string, unknown> | undefined): Attributes {
  const attributes: Attributes = { [McpAttr.methodName]: method, [McpAttr.jsonrpcVersion]: '2.0' };
  const name = stringOf(params?.['name']);
  if (method === 'tools/call') {
    attributes[McpAttr.operationName] = 'execute_tool';
    if (name !== undefined) attributes[McpAttr.toolName] = name;
  } else if (method === 'prompts/get' && name !== undefined) attributes[McpAttr.promptName] = name;
  else if (method.startsWith('resources/')) {
    const uri = stringOf(params?.['uri']);
    if (uri !== undefined) attributes[McpAttr.resourceUri] = uri;
  }
  return attributes;
}

/** The low-cardinality attributes a duration is recorded with (no ids, no URIs). */
function metricAttributes(attributes: Attributes): Attributes {
  const out: Attributes = {};
  for (const key of [McpAttr.methodName, McpAttr.toolName, McpAttr.promptName, McpAttr.protocolVersion, McpAttr.server, McpAttr.era, ATTR_NETWORK_TRANSPORT]) {
    const value = attributes[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** `{mcp.method.name} {target}`: the tool or prompt name as target where there is one. */
function spanName(method: string, params: Record<string, unknown> | undefined): string {
  const name = method === 'tools/call' || method === 'prompts/get' ? stringOf(params?.['name']) : undefined;
  return name === undefined ? method : `${method} ${name}`;
}

function remoteContext(parent: TraceContext, tracestate: string | null | undefined): Context {
  let traceState: TraceState | undefined;
  if (typeof tracestate === 'string' && tracestate.trim() !== '') {
    try {
      traceState = createTraceState(tracestate);
    } catch {
      traceState = undefined; // an invalid tracestate is dropped, as the spec says
    }
  }
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.parentId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    ...(traceState ? { traceState } : {}),
  });
}

function traceparentOf(span: Span): string {
  const context = span.spanContext();
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The message with `params._meta.traceparent` (and `tracestate`) set; responses and positional params as they are. */
function withContext<T extends WireMessage>(message: T, traceparent: string, tracestate: string | undefined): T {
  if (typeof message.method !== 'string') return message;
  const params = message.params;
  if (params !== undefined && recordOf(params) === undefined) return message;
  const meta = recordOf((params as Record<string, unknown> | undefined)?.['_meta']);
  if ((params as Record<string, unknown> | undefined)?.['_meta'] !== undefined && meta === undefined) return message;
  const nextMeta: Record<string, unknown> = { ...meta, traceparent };
  if (tracestate) nextMeta['tracestate'] = tracestate;
  else delete nextMeta['tracestate'];
  return { ...message, params: { ...(params as Record<string, unknown> | undefined), _meta: nextMeta } } as T;
}

function sessionQuery(url: string): string | null {
  const query = url.indexOf('?');
  return query === -1 ? null : new URLSearchParams(url.slice(query + 1)).get('sessionId');
}

function recordOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
