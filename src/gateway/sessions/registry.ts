import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import { draining, overloaded, sessionNotFound } from '../http/errors.js';
import { SessionCounter } from '../limits.js';

/**
 * Every legacy client session of the gateway, whatever serves it (a child of its
 * own, a shared child, or the bridge to a modern server), in one table: who owns
 * it, how many each server and each principal has, and when it went idle. A
 * session id presented by anyone but its owner, for another server or over
 * another transport is answered as if it did not exist (404).
 */

/** Which legacy transport a session uses. */
export type LegacyTransport = 'streamable' | 'sse';

/** What the registry needs of a session. */
export interface RegisteredSession {
  /** The session id (`Mcp-Session-Id`, or `sessionId` of HTTP+SSE). */
  readonly id: string;
  /** The server it belongs to. */
  readonly server: string;
  /** Its transport. */
  readonly transport: LegacyTransport;
  /** The principal that opened it. */
  readonly owner: string;
  /** When it opened (ms since epoch). */
  readonly openedAt: number;
  /** Last client activity (ms since epoch). */
  readonly lastActivity: number;
  /** True while a request or a stream is open: not idle. */
  readonly busy: boolean;
  /** Requests waiting for their answers. */
  readonly inFlight: number;
  /** How it is served: `own-child`, `shared-child` or `bridge`. */
  readonly servedBy: 'own-child' | 'shared-child' | 'bridge';
  /** Ends the session (pending requests get an error, streams close, its own child stops). */
  close(reason: string): Promise<void>;
}

/** Options of {@link SessionRegistry}. */
export interface SessionRegistryOptions {
  /** Most sessions per server (`servers.<name>.maxSessions`). */
  readonly maxSessionsOf: (server: string) => number;
  /** Most sessions per principal (`gateway.limits.maxSessionsPerKey`). */
  readonly maxSessionsPerKey?: number | undefined;
  /** Mints session ids (a cluster signs its owner into them). @default a random UUID */
  readonly mintId?: () => string;
  /** Called when a cap refuses a session (for metrics). */
  readonly onRefused?: (server: string, limit: 'key' | 'server') => void;
  /** Logger. */
  readonly logger: Logger;
}

/** A place in the registry, held while a session is being made. */
export interface SessionPlace {
  /** The id the session will have. */
  readonly id: string;
  /** Enters the session once made. */
  register(session: RegisteredSession): void;
  /** Gives the place back when making the session failed. */
  cancel(): void;
}

/** The sessions of one gateway. */
export class SessionRegistry {
  private readonly sessions = new Map<string, RegisteredSession>();
  private readonly releases = new Map<string, () => void>();
  private readonly counter: SessionCounter;
  /** True once the gateway drains: new sessions are refused. */
  draining = false;

  constructor(private readonly options: SessionRegistryOptions) {
    this.counter = new SessionCounter({
      ...(options.maxSessionsPerKey !== undefined ? { maxPerKey: options.maxSessionsPerKey } : {}),
      maxPerServer: options.maxSessionsOf,
    });
  }

  /** Open sessions, all or of one server. */
  count(server?: string): number {
    return server === undefined ? this.sessions.size : this.counter.countForServer(server);
  }

  /** Every open session (diagnostics, drain). */
  all(): readonly RegisteredSession[] {
    return [...this.sessions.values()];
  }

  /**
   * Claims a place for a new session of `owner` on `server`, or throws 503 with
   * Retry-After past the server's or the principal's cap, or while draining.
   */
  claim(server: string, owner: string): SessionPlace {
    if (this.draining) throw draining();
    const admission = this.counter.tryOpen(owner, server);
    if (!admission.ok) {
      this.options.onRefused?.(server, admission.limit);
      throw admission.limit === 'server'
        ? overloaded(`server "${server}" has its maximum of ${admission.max} sessions; retry later`, 5)
        : overloaded(`this credential has its maximum of ${admission.max} open sessions; close one or retry later`, 5);
    }
    const id = this.options.mintId?.() ?? randomUUID();
    let settled = false;
    return {
      id,
      register: (session) => {
        if (settled) return;
        settled = true;
        this.sessions.set(id, session);
        this.releases.set(id, admission.release);
      },
      cancel: () => {
        if (settled) return;
        settled = true;
        admission.release();
      },
    };
  }

  /**
   * The session `id` names, when it is `owner`'s, of `server`, over `transport`;
   * 404 otherwise (an unknown, ended or foreign id looks the same).
   */
  find(id: string | null, server: string, transport: LegacyTransport, owner: string): RegisteredSession {
    const session = id === null ? undefined : this.sessions.get(id);
    if (!session || session.server !== server || session.transport !== transport || session.owner !== owner) throw sessionNotFound();
    return session;
  }

  /** Whether `id` is a session of this gateway at all (for cluster placement). */
  has(id: string): boolean {
    return this.sessions.has(id);
  }

  /** Forgets a session that ended. Idempotent. */
  remove(id: string): void {
    if (!this.sessions.delete(id)) return;
    this.releases.get(id)?.();
    this.releases.delete(id);
  }

  /** Ends sessions idle for longer than `idleMs`. */
  reap(idleMs: number, now = Date.now()): void {
    const cutoff = now - idleMs;
    for (const session of [...this.sessions.values()]) {
      if (!session.busy && session.lastActivity < cutoff) void session.close(`idle for ${idleMs / 1000}s`);
    }
  }

  /** Requests waiting for answers, over every session. */
  get inFlight(): number {
    let n = 0;
    for (const session of this.sessions.values()) n += session.inFlight;
    return n;
  }

  /** Ends every session. */
  async closeAll(reason: string): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.close(reason)));
  }
}
