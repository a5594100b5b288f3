import type { ServedServer } from './served-server.js';
import { jsonReply, type BytesReply } from './http/reply.js';

/**
 * `/health` (the process runs) and `/ready` (every server starts and answers),
 * plus `/ready/<server>` for a load balancer that checks one server of a task.
 * They are unauthenticated, so they say a server's state and a short cause (the
 * command and its exit code or OS error), never what a child wrote to stderr.
 */

/** How long after a child's unexpected exit `/ready` shows its server as `degraded`. */
export const DEGRADED_WINDOW_MS = 60_000;

/** `/health`. */
export function healthReply(): BytesReply {
  return jsonReply('{"status":"ok"}');
}

/** One server's entry in `/ready`. */
function serverReadiness(served: ServedServer, sessions: number): { ready: boolean; entry: Record<string, unknown> } {
  const upstream = served.upstream;
  // Ready but with children dying lately: still serving (200), flagged for operators.
  const crashes = upstream.state === 'ready' ? upstream.recentUnexpectedExits(DEGRADED_WINDOW_MS) : 0;
  const reason =
    crashes > 0 ? `${crashes} child process${crashes === 1 ? '' : 'es'} exited unexpectedly in the last ${DEGRADED_WINDOW_MS / 1000}s` : upstream.reason;
  return {
    ready: upstream.state === 'ready',
    entry: {
      state: crashes > 0 ? 'degraded' : upstream.state,
      ...(upstream.verdict ? { era: upstream.verdict.era } : {}),
      ...(reason ? { reason } : {}),
      ...(upstream.state === 'failing' ? { retryInSeconds: upstream.retryAfterSeconds() } : {}),
      sessions,
    },
  };
}

/** `/ready`: 200 when every server is ready and the gateway is not draining; 503 with each server's state otherwise. */
export function readinessReply(servers: Iterable<ServedServer>, sessionsOf: (server: string) => number, draining: boolean): BytesReply {
  const entries: Record<string, unknown> = {};
  let ready = !draining;
  for (const served of servers) {
    const { ready: one, entry } = serverReadiness(served, sessionsOf(served.name));
    if (!one) ready = false;
    entries[served.name] = entry;
  }
  return jsonReply(JSON.stringify({ status: draining ? 'draining' : ready ? 'ready' : 'not-ready', servers: entries }), ready ? 200 : 503);
}

/** `/ready/<server>`: one server's readiness (503 while draining too, so a load balancer moves traffic away). */
export function serverReadinessReply(served: ServedServer, sessions: number, draining: boolean): BytesReply {
  const { ready, entry } = serverReadiness(served, sessions);
  const ok = ready && !draining;
  return jsonReply(JSON.stringify({ server: served.name, ...entry, ...(draining ? { state: 'draining' } : {}) }), ok ? 200 : 503);
}
