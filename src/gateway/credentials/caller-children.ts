import { MIN_SCRUBBED_LENGTH } from '../../log-scrub.js';
import type { Logger } from '../../log.js';
import { ErrorCode } from '../../protocol.js';
import type { Channel } from '../../upstream/channel.js';
import { ChannelPool } from '../../upstream/pool.js';
import type { UpstreamServer } from '../../upstream/server.js';
import { HttpError, overloaded, type ErrorId } from '../http/errors.js';
import type { CallerCredentials } from './caller-credentials.js';

/**
 * The children of a `fromRequest` server that serve requests without a session
 * (2026-07-28, and legacy sessions bridged to a modern-only server): one per
 * caller, keyed by {@link CallerCredentials.key} (the principal and a keyed hash
 * of its values), started with that caller's variables, stopped after the
 * gateway's session idle timeout. Legacy sessions of such a server have a child of
 * their own per session instead (`per-session`), started with the same values.
 */

/** One caller's child. */
interface CallerEntry {
  readonly pool: ChannelPool;
  lastUsed: number;
  /** Acquisitions waiting for the child (starting): such an entry is never reaped. */
  acquiring: number;
}

/** Settings of {@link CallerChildren}. */
export interface CallerChildrenSettings {
  /** Most callers with a child at once (the server's `maxSessions`). */
  readonly maxCallers: number;
  /** A caller's child with no call for this long is stopped. */
  readonly idleMs: number;
  /** Logger. */
  readonly logger: Logger;
}

/** One child per caller of a server, for requests without a session. */
export class CallerChildren {
  private readonly entries = new Map<string, CallerEntry>();
  private reaper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly server: UpstreamServer,
    private readonly settings: CallerChildrenSettings,
  ) {}

  /** Callers with a child now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The ready channel of this caller's child, started with its variables on the
   * first call (503 when `maxCallers` callers already have one that is busy).
   */
  async acquire(credentials: CallerCredentials, id: ErrorId): Promise<Channel> {
    if (this.closed) throw overloaded('the gateway is shutting down', 1, {}, id);
    let entry = this.entries.get(credentials.key);
    if (entry === undefined) {
      if (this.entries.size >= this.settings.maxCallers) this.reap(0);
      if (this.entries.size >= this.settings.maxCallers) {
        throw overloaded(`server "${this.server.name}" already runs a child for each of ${this.settings.maxCallers} callers (servers.${this.server.name}.maxSessions)`, 5, {}, id);
      }
      const era = this.server.verdict?.era ?? 'legacy';
      const open = (): Channel => this.server.openChannel({ env: credentials.env, secrets: credentials.secrets });
      entry = { pool: new ChannelPool(this.server, era, { min: 0, max: 1, logger: this.settings.logger, open }), lastUsed: Date.now(), acquiring: 0 };
      this.entries.set(credentials.key, entry);
      this.startReaper();
    }
    entry.lastUsed = Date.now();
    entry.acquiring++;
    try {
      return await entry.pool.acquire();
    } catch (error) {
      // A child that could not start is forgotten, so the next call tries a fresh one.
      if (this.entries.get(credentials.key) === entry) {
        this.entries.delete(credentials.key);
        void entry.pool.close();
      }
      const reason = error instanceof Error ? error.message : String(error);
      const scrubbed = credentials.secrets.reduce((text, secret) => (secret.length >= MIN_SCRUBBED_LENGTH ? text.split(secret).join('[redacted]') : text), reason);
      throw new HttpError(503, ErrorCode.UpstreamUnavailable, `${scrubbed}; retry the request`, { id, headers: { 'retry-after': '1' } });
    } finally {
      entry.acquiring--;
    }
  }

  /** Stops the children idle for at least `idleMs` (none with a call in flight). */
  reap(idleMs = this.settings.idleMs, now = Date.now()): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.lastUsed < idleMs || entry.acquiring > 0) continue;
      if (entry.pool.channels().some((c) => c.load > 0)) continue;
      this.entries.delete(key);
      void entry.pool.close();
    }
  }

  /** Stops every caller's child. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reaper) clearInterval(this.reaper);
    await Promise.all([...this.entries.values()].map((e) => e.pool.close()));
    this.entries.clear();
  }

  private startReaper(): void {
    if (this.reaper) return;
    this.reaper = setInterval(() => this.reap(), Math.max(1000, Math.min(this.settings.idleMs, 30_000)));
    this.reaper.unref();
  }
}
