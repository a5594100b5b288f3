import type { CallSink, OutboundRequest } from './channel.js';

/**
 * The one hook through which tracing sees the calls a channel sends to its child.
 * Nothing is registered unless `gateway.telemetry` is on, so with telemetry off a
 * call costs one load of an unset variable; the hook lives here, free of any
 * OpenTelemetry import, so the channel never loads the SDK.
 */

/** Traces calls to children (a CLIENT span each). */
export interface UpstreamCallTracer {
  /**
   * Called as a request of a client is about to be written to the child of
   * `server`. Returns the request to send (its `_meta.traceparent` naming the new
   * span) and the sink to give the answer to (ending the span); the same objects
   * when the call is not traced.
   */
  trace(server: string, request: OutboundRequest, sink: CallSink): { readonly request: OutboundRequest; readonly sink: CallSink };
}

let current: UpstreamCallTracer | undefined;

/** The registered tracer, if any. */
export function upstreamCallTracer(): UpstreamCallTracer | undefined {
  return current;
}

/**
 * Registers the process's tracer (one per process: the last registration wins);
 * `undefined` removes it. Returns a function that removes this registration only
 * if it is still the current one.
 */
export function setUpstreamCallTracer(tracer: UpstreamCallTracer | undefined): () => void {
  current = tracer;
  return () => {
    if (current === tracer) current = undefined;
  };
}
