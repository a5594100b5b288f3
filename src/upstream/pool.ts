import type { Logger } from '../log.js';
import type { Channel, WireMessage } from './channel.js';
import type { Era, UpstreamServer } from './server.js';

/**
 * A warm pool of channels (children) of one server, shared by many callers:
 * 2026-07-28 requests, and legacy sessions under the `pool` and `shared`
 * policies. A call goes to the least-loaded ready child; a child is added while
 * every child is busy (calls in flight, the oldest kept waiting), up to `max`;
 * a dead child is replaced, with backoff when children keep failing to start.
 */

/** Options of a {@link ChannelPool}. */
export interface ChannelPoolOptions {
  /** Children kept warm. */
  readonly min: number;
  /** Most children. */
  readonly max: number;
  /**
   * Calls in flight on the least-loaded child before another child is started
   * (while under `max`), once the oldest of them has waited {@link BUSY_WAIT_MS}. @default 4
   */
  readonly spawnAtLoad?: number;
  /** Logger. */
  readonly logger: Logger;
  /**
   * Opens a member's channel (a child with a caller's own variables).
   * @default the probe's child when there is one, else `server.openChannel()`
   */
  readonly open?: () => Channel;
  /**
   * Stops a child beyond `min` once it has taken no call for this long and has
   * nothing in flight and no session attached (ms). @default never
   */
  readonly stopIdleAfterMs?: number;
}

/**
 * How long the gateway must have waited, idle, on the oldest call of a child with
 * `spawnAtLoad` calls in flight before the child counts as busy. A child that
 * answers at once serves many clients alone: a second one would cost memory, and
 * splitting the calls between two children costs CPU per call in the gateway and
 * in both children (about 12% and 40% at 8 clients calling a quick tool). A child
 * that keeps calls waiting (slow tools, or its own CPU saturated) reaches this in
 * a few calls. A quick tool's oldest call waits up to about 20 ms on a 2-core
 * machine with three more busy processes: 100 ms leaves room for a busier one.
 * Only the gateway's idle time counts: while it is too busy to read the answers,
 * they wait in the pipe, and a second child would not make it less busy.
 */
const BUSY_WAIT_MS = 100;

/** One child of a pool. */
interface Member {
  readonly channel: Channel;
  /** Resolves once the child can take calls (initialized, for a legacy child). */
  readonly ready: Promise<void>;
  started: boolean;
  /** When it was last chosen for a call or a session (ms since epoch). */
  lastUsed: number;
}

/** A pool of channels of one server. */
export class ChannelPool {
  private readonly members: Member[] = [];
  private readonly listChangeListeners = new Set<(text: string, message: WireMessage) => void>();
  private readonly channelListeners = new Set<(channel: Channel) => void>();
  private closed = false;
  private restartDelayMs = 500;
  private refillTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** The initialize result of a legacy child (what the server says of itself). */
  initializeResult: Record<string, unknown> | undefined;

  constructor(
    private readonly server: UpstreamServer,
    readonly era: Era,
    private readonly options: ChannelPoolOptions,
  ) {
    this.initializeResult = server.verdict?.initialize;
  }

  /** Starts the warm minimum. */
  warm(): void {
    while (!this.closed && this.members.length < this.options.min) this.add();
  }

  /** Live children. */
  get size(): number {
    return this.members.length;
  }

  /** The most calls that may be in flight on the pool at once (for the queue in front of it). */
  get maxChildren(): number {
    return this.options.max;
  }

  /** Every live channel (for fan-out such as resource subscriptions). */
  channels(): Channel[] {
    return this.members.filter((m) => m.started && m.channel.alive).map((m) => m.channel);
  }

  /** Subscribes to the list-change notifications of every child. */
  onListChanged(listener: (text: string, message: WireMessage) => void): () => void {
    this.listChangeListeners.add(listener);
    return () => this.listChangeListeners.delete(listener);
  }

  /** Calls `listener` with every child that becomes ready from now on. */
  onChannel(listener: (channel: Channel) => void): () => void {
    this.channelListeners.add(listener);
    return () => this.channelListeners.delete(listener);
  }

  /**
   * A ready channel for one call: the first child that is not busy, so calls
   * gather on as few children as they need (a later child takes calls only while
   * the ones before it keep calls waiting, and is idle otherwise); when all are
   * busy, another child, or the least loaded at the maximum.
   */
  async acquire(): Promise<Channel> {
    if (this.closed) throw new Error(`the pool of "${this.server.name}" is closed`);
    let least: Member | undefined;
    for (const m of this.members) {
      if (!m.channel.alive) continue;
      if (!this.busy(m)) return this.when(m);
      if (!least || m.channel.load < least.channel.load) least = m;
    }
    return this.when(!least || this.members.length < this.options.max ? this.add() : least);
  }

  /** A ready channel for a new legacy session: the one with the fewest sessions attached. */
  async acquireForSession(): Promise<Channel> {
    return this.take((m) => m.channel.callerCount * 1000 + m.channel.load);
  }

  /** Stops every child. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    await Promise.all(this.members.splice(0).map((m) => m.channel.close()));
  }

  private async take(weight: (m: Member) => number): Promise<Channel> {
    if (this.closed) throw new Error(`the pool of "${this.server.name}" is closed`);
    let best: Member | undefined;
    for (const m of this.members) if (m.channel.alive && (!best || weight(m) < weight(best))) best = m;
    if (!best || (this.members.length < this.options.max && this.busy(best))) best = this.add();
    return this.when(best);
  }

  /** Whether a child keeps calls waiting: `spawnAtLoad` in flight, the oldest for {@link BUSY_WAIT_MS} of the gateway's idle time. */
  private busy(m: Member): boolean {
    return m.channel.load >= (this.options.spawnAtLoad ?? 4) && m.channel.oldestIdleWaitMs() >= BUSY_WAIT_MS;
  }

  /** The member's channel once it can take calls. */
  private async when(m: Member): Promise<Channel> {
    m.lastUsed = Date.now();
    await m.ready;
    return m.channel;
  }

  /**
   * Stops the children beyond the warm minimum that have been idle for
   * `stopIdleAfterMs`: a child added for a burst does not hold its memory after it.
   */
  stopIdle(now = Date.now()): void {
    const after = this.options.stopIdleAfterMs;
    if (after === undefined) return;
    // The first `min` children stay: they are the warm pool.
    for (const m of this.members.slice(this.options.min)) {
      if (!m.started || m.channel.inFlight > 0 || m.channel.callerCount > 0 || now - m.lastUsed < after) continue;
      this.members.splice(this.members.indexOf(m), 1);
      this.options.logger.info('pool child stopped: idle beyond the warm minimum', { server: this.server.name, idleMs: now - m.lastUsed });
      void m.channel.close('it was idle beyond the warm minimum');
    }
    if (this.members.length <= this.options.min && this.idleTimer) {
      clearInterval(this.idleTimer);
      this.idleTimer = undefined;
    }
  }

  private add(): Member {
    const probed = this.options.open === undefined ? this.server.takeProbeChannel() : undefined;
    const channel = probed ?? (this.options.open ?? (() => this.server.openChannel()))();
    const member: Member = { channel, ready: probed ? Promise.resolve() : this.initialize(channel), started: false, lastUsed: Date.now() };
    channel.onListChanged = (text, message) => {
      for (const listener of this.listChangeListeners) listener(text, message);
    };
    channel.onGone((exit, description) => this.removed(member, exit.requested, description));
    member.ready.then(
      () => {
        member.started = true;
        this.restartDelayMs = 500;
        this.server.noteStart(true);
        for (const listener of this.channelListeners) listener(channel);
      },
      (error: Error) => {
        this.options.logger.warn('pool child failed to start', { server: this.server.name, error: error.message });
        this.server.noteStart(false, error.message);
        void channel.close('it failed to start');
      },
    );
    // A rejected start is reported by whoever awaits `ready`; this copy must not be an unhandled rejection.
    member.ready.catch(() => undefined);
    this.members.push(member);
    const after = this.options.stopIdleAfterMs;
    if (after !== undefined && this.members.length > this.options.min && !this.idleTimer) {
      this.idleTimer = setInterval(() => this.stopIdle(), Math.max(1000, after / 2));
      this.idleTimer.unref();
    }
    return member;
  }

  /** A legacy child is initialized by the gateway once; a modern child needs nothing. */
  private async initialize(channel: Channel): Promise<void> {
    if (this.era === 'modern') return;
    const answer = await channel.ask('initialize', this.server.initializeParams(), this.server.config.startupTimeoutSeconds * 1000);
    if (answer.result === undefined) {
      const message = (answer.error as { message?: string } | undefined)?.message ?? 'unknown error';
      throw new Error(`MCP server "${this.server.name}" refused initialize: ${message}`);
    }
    this.initializeResult = answer.result as Record<string, unknown>;
    channel.notify('notifications/initialized');
  }

  private removed(member: Member, requested: boolean, description: string): void {
    const index = this.members.indexOf(member);
    if (index !== -1) this.members.splice(index, 1);
    if (this.closed || requested) return;
    this.options.logger.warn('pool child ended; replacing it', { server: this.server.name, why: description, retryInMs: this.restartDelayMs });
    if (this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      if (this.server.state === 'ready') this.warm();
    }, this.restartDelayMs);
    this.refillTimer.unref();
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
  }
}
