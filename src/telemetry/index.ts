import type { TelemetryConfig } from '../config/telemetry-schema.js';
import type { Reply } from '../gateway/http/reply.js';
import type { InboundRequest } from '../gateway/http/request.js';
import type { Logger } from '../log.js';
import type { WireMessage } from '../upstream/channel.js';

/**
 * OpenTelemetry for the gateway, behind a door: this module has no OpenTelemetry
 * import, and {@link startTelemetry} loads the SDK (`./otel.js`) with a dynamic
 * import only when `gateway.telemetry.enabled` is set, so a gateway with telemetry
 * off loads and runs none of it.
 */

/** How a POST reached the gateway: a 2026-07-28 request, a Streamable HTTP session, or an HTTP+SSE session. */
export type TelemetryEra = 'modern' | 'streamable' | 'sse';

/** What the gateway knows of a POST when its messages are read. */
export interface ServerSpanInfo {
  /** The server it is for. */
  readonly server: string;
  /** How it came. */
  readonly era: TelemetryEra;
  /** When the gateway began handling it (`performance.now()`). */
  readonly startedAt: number;
}

/** The SERVER span of one POST, ended with its reply. */
export interface RequestSpan {
  /** Ends the span when the reply is over (at once for a body, when the stream closes for a stream). */
  end(reply: Reply): void;
}

/** Tracing of the gateway's requests, once started. */
export interface GatewayTelemetry {
  /**
   * Starts the SERVER span of a POST's messages (its parent: the first message's
   * `_meta.traceparent`, else the `traceparent` header) and returns the messages
   * to relay, each carrying the span's context in `params._meta.traceparent`.
   * No span for a POST of responses only.
   */
  serverSpan(request: InboundRequest, messages: readonly WireMessage[], info: ServerSpanInfo): { readonly messages: readonly WireMessage[]; readonly span: RequestSpan | undefined };
  /** Exports what is buffered and stops exporting (a drain calls it last). */
  shutdown(): Promise<void>;
}

/** Options of {@link startTelemetry}. */
export interface StartTelemetryOptions {
  /** Where the start is logged (endpoint and service, never headers). */
  readonly logger: Logger;
  /** Where the OTEL_* defaults are read. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Loads the OpenTelemetry SDK and starts exporting as `settings` say (call only when enabled). */
export async function startTelemetry(settings: TelemetryConfig, options: StartTelemetryOptions): Promise<GatewayTelemetry> {
  const { startOtelTelemetry } = await import('./otel.js');
  return startOtelTelemetry(settings, options);
}
