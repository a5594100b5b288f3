import { FARGATE_SIZES } from '../config/deploy-schema.js';
import { DEFAULT_CHILD_POLICY, type ServerConfig } from '../config/schema.js';

/**
 * How much memory a task needs and how many sessions it may accept.
 *
 * A task holds the gateway and, per server, its children:
 * - fixed children: the warm pool for stateless (2026-07-28) requests, up to
 *   `pool.max`, plus `spares` for a `per-session` server;
 * - one child per legacy session of a `per-session` server.
 *
 *   need(sessions) = GATEWAY_MEMORY_MIB + Σ fixed(s) × child(s) + Σ sessions(s) × child(s)
 *
 * With `memoryMiB` given, each per-session server gets an equal share of what is
 * left after the gateway and the fixed children, so its session cap in the task is
 *
 *   cap(s) = floor((memoryMiB − GATEWAY_MEMORY_MIB − Σ fixed × child) / perSessionServers / child(s))
 *
 * and the task's config carries `maxSessions = min(servers.<s>.maxSessions, cap(s))`:
 * past it a new session gets 503 + Retry-After instead of the task running out
 * of memory. Without `memoryMiB`, the task gets the smallest size Fargate offers
 * for its CPU that holds {@link MIN_SESSIONS_PER_TASK} sessions of each
 * per-session server (or just the fixed children).
 */

/** Memory of the gateway process itself (about 80 MiB measured idle on Node 20, plus headroom for buffers). */
export const GATEWAY_MEMORY_MIB = 128;
/** Memory of one child when the config does not say (Node.js MCP servers measured at 67-90 MiB idle). */
export const DEFAULT_CHILD_MEMORY_MIB = 96;
/** Sessions per per-session server that a derived task size holds. */
export const MIN_SESSIONS_PER_TASK = 4;

/** The memory of one task. */
export interface TaskMemory {
  readonly memoryMiB: number;
  /** Session cap per per-session server in one task. */
  readonly sessionCaps: Readonly<Record<string, number>>;
}

interface ServerNeed {
  readonly name: string;
  readonly childMiB: number;
  readonly fixedChildren: number;
  readonly perSession: boolean;
}

function needOf(name: string, server: ServerConfig): ServerNeed {
  const perSession = (server.policy ?? DEFAULT_CHILD_POLICY) === 'per-session';
  return {
    name,
    childMiB: server.deploy?.childMemoryMiB ?? DEFAULT_CHILD_MEMORY_MIB,
    fixedChildren: server.pool.max + (perSession ? server.spares : 0),
    perSession,
  };
}

function capsFor(needs: readonly ServerNeed[], memoryMiB: number, sidecarMiB: number): Record<string, number> | undefined {
  const fixed = needs.reduce((t, n) => t + n.fixedChildren * n.childMiB, 0);
  const left = memoryMiB - GATEWAY_MEMORY_MIB - sidecarMiB - fixed;
  if (left < 0) return undefined;
  const perSession = needs.filter((n) => n.perSession);
  const caps: Record<string, number> = {};
  for (const n of perSession) {
    const cap = Math.floor(left / perSession.length / n.childMiB);
    if (cap < 1) return undefined;
    caps[n.name] = cap;
  }
  return caps;
}

/** Memory needed for `sessions` sessions of each per-session server (plus `sidecarMiB` for containers beside the gateway). */
export function memoryNeededMiB(servers: Readonly<Record<string, ServerConfig>>, names: readonly string[], sessions: number, sidecarMiB = 0): number {
  return names
    .map((n) => needOf(n, servers[n]!))
    .reduce((t, n) => t + (n.fixedChildren + (n.perSession ? sessions : 0)) * n.childMiB, GATEWAY_MEMORY_MIB + sidecarMiB);
}

/**
 * Sizes one task of the given servers. Returns the memory and the session caps,
 * or a problem (without the field path) saying what to change. `sidecarMiB` is
 * memory reserved for containers beside the gateway (the ADOT collector).
 */
export function planTaskMemory(
  servers: Readonly<Record<string, ServerConfig>>,
  names: readonly string[],
  cpu: number,
  memoryMiB: number | undefined,
  sidecarMiB = 0,
): { ok: true; memory: TaskMemory } | { ok: false; problem: string } {
  const needs = names.map((n) => needOf(n, servers[n]!));
  const minimal = memoryNeededMiB(servers, names, needs.some((n) => n.perSession) ? 1 : 0, sidecarMiB);
  const gateway = sidecarMiB > 0 ? `the gateway (${GATEWAY_MEMORY_MIB} MiB), the telemetry collector (${sidecarMiB} MiB)` : `the gateway (${GATEWAY_MEMORY_MIB} MiB)`;
  if (memoryMiB !== undefined) {
    const caps = capsFor(needs, memoryMiB, sidecarMiB);
    if (caps !== undefined) return { ok: true, memory: { memoryMiB, sessionCaps: caps } };
    return {
      ok: false,
      problem: `is ${memoryMiB} MiB, but ${gateway} and the children of ${names.join(', ')} need at least ${minimal} MiB (${breakdown(needs)}); raise memoryMiB, or lower pool.max or spares, or use policy: pool`,
    };
  }
  const sizes = FARGATE_SIZES[cpu] ?? [];
  const wanted = memoryNeededMiB(servers, names, MIN_SESSIONS_PER_TASK, sidecarMiB);
  const fit = sizes.find((m) => m >= wanted) ?? sizes.find((m) => capsFor(needs, m, sidecarMiB) !== undefined);
  if (fit === undefined) {
    return {
      ok: false,
      problem: `no memory size Fargate offers with cpu ${cpu} (up to ${sizes.at(-1)} MiB) holds ${gateway.replace(/ \(\d+ MiB\)/g, '')} and the children of ${names.join(', ')} (at least ${minimal} MiB: ${breakdown(needs)}); raise cpu, or lower pool.max or spares`,
    };
  }
  return { ok: true, memory: { memoryMiB: fit, sessionCaps: capsFor(needs, fit, sidecarMiB)! } };
}

function breakdown(needs: readonly ServerNeed[]): string {
  return needs.map((n) => `${n.name}: ${n.fixedChildren} fixed child${n.fixedChildren === 1 ? '' : 'ren'}${n.perSession ? ' + 1 per session' : ''} × ${n.childMiB} MiB`).join('; ');
}
