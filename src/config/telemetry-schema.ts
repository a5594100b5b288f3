import { z } from 'zod';

/**
 * `gateway.telemetry`: OpenTelemetry export of traces and metrics over OTLP
 * (HTTP/protobuf). Off by default; when off, no OpenTelemetry SDK module is loaded.
 */

/** Header names an OTLP endpoint may be sent (HTTP token characters). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Settings of the OTLP export (`gateway.telemetry`). */
export const TelemetrySchema = z
  .object({
    /** Export traces and metrics. @default false */
    enabled: z.boolean().default(false),
    /**
     * Base URL of the OTLP HTTP receiver; `/v1/traces` and `/v1/metrics` are appended.
     * @default OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (used as they are),
     * else OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318 (a collector beside the gateway)
     */
    endpoint: z
      .string()
      .url({ message: 'telemetry.endpoint is the base URL of an OTLP HTTP receiver, such as http://localhost:4318' })
      .refine((u) => /^https?:\/\//i.test(u), { message: 'telemetry.endpoint must be an http:// or https:// URL (OTLP over HTTP)' })
      .optional(),
    /** `service.name` of the exported data. @default OTEL_SERVICE_NAME, else mcp-fleet */
    serviceName: z.string().min(1).optional(),
    /**
     * Share of new traces recorded (0..1). A request whose caller sent a sampled
     * `traceparent` follows the caller's decision (parent-based sampling).
     */
    samplingRatio: z.number().min(0, { message: 'samplingRatio is a share between 0 and 1' }).max(1, { message: 'samplingRatio is a share between 0 and 1' }).default(1),
    /** Export the `mcp.server.operation.duration` and `mcp.client.operation.duration` histograms too. */
    metrics: z.boolean().default(true),
    /** Interval between two metric exports. */
    metricsIntervalSeconds: z.number().int().min(1).max(3600).default(60),
    /**
     * Headers sent with every export (an API key of a hosted backend). Write the
     * value as `${NAME}` so the secret stays in the environment; headers are never
     * logged. OTEL_EXPORTER_OTLP_HEADERS is honoured too.
     */
    headers: z
      .record(z.string().regex(HEADER_NAME, { message: 'a header name is an HTTP token, such as x-api-key' }), z.string())
      .default({}),
  })
  .strict();

/** Parsed `gateway.telemetry`. */
export type TelemetryConfig = z.infer<typeof TelemetrySchema>;

/** The ADOT collector image the sidecar runs by default (a pinned release tag). */
export const DEFAULT_ADOT_IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0';

/** `deploy.telemetry`: where a deployed fleet's traces and metrics go. */
export const DeployTelemetrySchema = z
  .object({
    /**
     * Run the AWS Distro for OpenTelemetry collector as a sidecar of every task: the
     * gateway exports to it on localhost, and it sends traces to AWS X-Ray and the
     * duration histograms to CloudWatch (embedded metric format). Needs
     * `gateway.telemetry.enabled: true`. @default false
     */
    adot: z.boolean().default(false),
    /** The collector image, pinned by tag or digest. */
    adotImage: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._\-/]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$/, { message: 'an image reference such as public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0' })
      .refine((i) => !i.endsWith(':latest') && (i.includes('@sha256:') || /:[A-Za-z0-9._-]+$/.test(i.slice(i.lastIndexOf('/')))), {
        message: 'pin the collector image to a release tag or a digest (not latest), such as public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0',
      })
      .default(DEFAULT_ADOT_IMAGE),
    /** CloudWatch namespace of the metrics the collector publishes. */
    metricsNamespace: z.string().regex(/^[A-Za-z0-9._/#:-]{1,255}$/, { message: 'a CloudWatch namespace such as McpFleet' }).default('McpFleet'),
  })
  .strict();

/** Parsed `deploy.telemetry`. */
export type DeployTelemetryConfig = z.infer<typeof DeployTelemetrySchema>;
