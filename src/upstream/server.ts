import { DEFAULT_CHILD_POLICY, type ServerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { scrubbingLogger } from '../log-scrub.js';
import { DEFAULT_MAX_MESSAGE_BYTES, GATEWAY_INFO, MODERN_VERSION, NEWEST_LEGACY_VERSION, Meta } from '../protocol.js';
import { Channel, type WireMessage } from './channel.js';
import { childEnvironment, describeExit, StdioProcess, type ChildExit, type ProcessEvents } from './process.js';

/**
 * One configured stdio MCP server: it starts channels (children) for its policy,
 * keeps spares started ahead of need, probes which MCP era the server speaks, and
 * knows whether it can start at all. A server that cannot start is retried with
 * exponential backoff; meanwhile its clients are answered at once with the cause.
 */

/** Which MCP era a stdio server speaks: `legacy` (initialize handshake) or `modern` (2026-07-28, server/discover). */
export type Era = 'legacy' | 'modern';

/** Readiness of one upstream server, as `/ready` shows it. */
export type ServerState = 'starting' | 'ready' | 'failing';

/** What the probe learnt about a server. */
export interface ProbeVerdict {
  /** The era it speaks. */
  readonly era: Era;
  /** Its `server/discover` result, for a modern server. */
  readonly discover?: Record<string, unknown>;
  /** Its `initialize` result, for a legacy server (and a dual-era one). */
  readonly initialize?: Record<string, unknown>;
  /** For a modern server: whether it also answers `initialize` (dual-era), so legacy clients can have their own child. */
  readonly acceptsLegacy?: boolean;
}

/** Options of {@link UpstreamServer}. */
export interface UpstreamServerOptions {
  /** Logger; records carry `server`. */
  readonly logger: Logger;
  /** The gateway's environment, filtered by the allow-list for children. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The value of each `fromRequest` variable in a child that serves no caller (the
 * era probe): set, so a server that refuses to start without it starts, and
 * plainly not a credential.
 */
export const CALLER_VALUE_PLACEHOLDER = 'mcp-fleet-probe-no-caller';

/** Options of {@link UpstreamServer.openChannel}. */
export interface OpenChannelOptions {
  /** A caller's own variables, on top of the server's environment (`fromRequest`); such a channel never takes a spare. */
  readonly env?: Readonly<Record<string, string>>;
  /** Values scrubbed from what the channel and its process log (the caller's). @default none */
  readonly secrets?: readonly string[];
}

/** First wait before a server that failed to start is tried again; it doubles up to {@link MAX_RETRY_MS}. */
const FIRST_RETRY_MS = 1000;
/** Longest wait between two tries of a server that fails to start. */
const MAX_RETRY_MS = 60_000;
/** Children of a ready server that may fail to start in a row before the server counts as failing. */
const START_FAILURES_BEFORE_FAILING = 3;

/** One configured stdio MCP server. */
export class UpstreamServer {
  /** Server name from the config. */
  readonly name: string;
  /** Its config. */
  readonly config: ServerConfig;
  /** Readiness. */
  state: ServerState = 'starting';
  /** Why it is failing, when it is: the command and the exit code or OS error, never stderr. */
  reason: string | undefined;
  /** The last time the server failed to start and why (kept after it recovers, for operators: the console). */
  lastFailure: { readonly reason: string; readonly at: number } | undefined;
  /** The probe's verdict, once known. */
  verdict: ProbeVerdict | undefined;
  /** Processes started over the server's life (probes, spares, channels). */
  spawned = 0;
  /** When the next try of a failing server is due (ms since epoch). */
  retryAt: number | undefined;
  private readonly logger: Logger;
  private readonly childEnv: Record<string, string>;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = FIRST_RETRY_MS;
  private closed = false;
  private probing: Promise<Channel | undefined> | undefined;
  private readonly spares: StdioProcess[] = [];
  private readonly live = new Set<StdioProcess>();
  private readonly crashes: number[] = [];
  private olderCrashes = 0;
  private startFailures = 0;
  /** A probe child kept for the first pool that wants one (saves a start). */
  private handover: Channel | undefined;

  constructor(name: string, config: ServerConfig, options: UpstreamServerOptions) {
    this.name = name;
    this.config = config;
    this.logger = options.logger.child({ server: name });
    // Children that serve no caller (probes) get a placeholder for each per-caller variable, so a server that checks it is set at start still starts.
    const placeholders = Object.fromEntries(Object.keys(config.fromRequest ?? {}).map((name) => [name, CALLER_VALUE_PLACEHOLDER]));
    this.childEnv = childEnvironment(options.env ?? process.env, { ...placeholders, ...config.env });
  }

  /** Longest line a child may write. */
  get maxMessageBytes(): number {
    return this.config.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Children of this server running now (sessions, pool members, spares and probes). */
  get runningChildren(): number {
    return this.live.size;
  }

  /** Processes of this server running now, for diagnostics (the console). */
  get processes(): readonly StdioProcess[] {
    return [...this.live];
  }

  /** Children that exited without being asked to, over the server's life. */
  get unexpectedExits(): number {
    return this.crashes.length + this.olderCrashes;
  }

  /** Unexpected exits within the last `windowMs` (for the `degraded` readiness state). */
  recentUnexpectedExits(windowMs: number, now = Date.now()): number {
    return this.crashes.filter((t) => t >= now - windowMs).length;
  }

  /** Pids of the children started ahead for new sessions (diagnostics, tests). */
  get sparePids(): number[] {
    return this.spares.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Seconds until the next try of a failing server (for Retry-After). */
  retryAfterSeconds(now = Date.now()): number {
    return this.retryAt === undefined ? 5 : Math.max(1, Math.ceil((this.retryAt - now) / 1000));
  }

  /**
   * A new channel on a child of this server: a spare when one is waiting, else a
   * fresh process. The caller initializes it if its era needs that.
   */
  openChannel(options: OpenChannelOptions = {}): Channel {
    if (options.env !== undefined) {
      // A caller's own variables: always a fresh process (a spare started with none cannot gain them).
      const env = options.env;
      const logger = scrubbingLogger(this.logger, options.secrets ?? []);
      return new Channel({ server: this.name, command: this.config.command, logger }, (events) => this.startProcess(events, env, logger));
    }
    return new Channel({ server: this.name, command: this.config.command, logger: this.logger }, (events) => this.takeProcess(events));
  }

  /**
   * The child the last probe started, when it still runs: initialized already (a
   * legacy child) or ready as it is (a modern one). A pool takes it as its first
   * member, so a server's first request does not wait for another start.
   */
  takeProbeChannel(): Channel | undefined {
    const handed = this.handover;
    this.handover = undefined;
    if (handed?.alive) return handed;
    if (handed) void handed.close('stale probe child');
    return undefined;
  }

  /**
   * Probes the server once: `server/discover` first (a modern server answers it),
   * falling back to `initialize` on any other answer, silence or exit, as the
   * 2026-07-28 stdio backward-compatibility rules say. A failure marks the server
   * `failing` and schedules another try with backoff.
   */
  probe(options: { readonly keepChild?: boolean } = {}): Promise<void> {
    this.probing ??= this.runProbe(options.keepChild === true).finally(() => (this.probing = undefined));
    return this.probing.then(() => undefined);
  }

  /**
   * Notes that a child of this ready server failed to start (a pool member or a
   * session's own child). A few in a row mark the server failing and start the
   * backoff; a child that starts resets the count.
   */
  noteStart(ok: boolean, description?: string): void {
    if (ok) {
      this.startFailures = 0;
      return;
    }
    this.startFailures++;
    if (this.state === 'ready' && this.startFailures >= START_FAILURES_BEFORE_FAILING) {
      this.setFailing(description ?? `MCP server "${this.name}" fails to start`);
    }
  }

  /** Stops probing, the spares and any probe child. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const handed = this.handover;
    this.handover = undefined;
    await Promise.all([...this.spares.splice(0).map((c) => c.stop(500)), handed?.close()]);
  }

  /** Stops every process of the server still running (after the sessions and pools closed theirs). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((p) => p.stop(500)));
  }

  private takeProcess(events: ProcessEvents): StdioProcess {
    const spare = this.spares.shift();
    if (spare?.running) {
      spare.events = this.tracked(spare, events);
      setImmediate(() => this.refillSpares());
      return spare;
    }
    return this.startProcess(events);
  }

  private startProcess(events: ProcessEvents, callerEnv?: Readonly<Record<string, string>>, logger: Logger = this.logger): StdioProcess {
    const process = new StdioProcess(
      {
        server: this.name,
        command: this.config.command,
        args: this.config.args,
        env: callerEnv === undefined ? this.childEnv : { ...this.childEnv, ...callerEnv },
        cwd: this.config.cwd,
        maxMessageBytes: this.maxMessageBytes,
        logger,
      },
      { line: () => {}, overflow: () => {}, exit: () => {} },
    );
    process.events = this.tracked(process, events);
    this.spawned++;
    this.live.add(process);
    process.start();
    return process;
  }

  /** Wraps a process's events to count its end (crash statistics). */
  private tracked(process: StdioProcess, events: ProcessEvents): ProcessEvents {
    return {
      line: (bytes) => events.line(bytes),
      overflow: (seen) => events.overflow(seen),
      exit: (exit) => {
        this.live.delete(process);
        if (!exit.requested) {
          this.crashes.push(Date.now());
          // Keep the recent window small: older crashes only count in the total.
          if (this.crashes.length > 100) {
            this.crashes.shift();
            this.olderCrashes++;
          }
        }
        events.exit(exit);
      },
    };
  }

  /**
   * Keeps `servers.<name>.spares` children started ahead, so a new session's
   * first request does not wait for a process to start (`per-session` servers
   * only). Only while the server is ready: a server that cannot start gets no
   * spares to burn.
   */
  private refillSpares(): void {
    // Spares serve sessions that get a child of their own; pooled servers keep their pool warm instead.
    if ((this.config.policy ?? DEFAULT_CHILD_POLICY) !== 'per-session') return;
    // A server whose callers bring their own variables starts each child with them: a spare would never be used.
    if (this.config.fromRequest !== undefined) return;
    while (!this.closed && this.state === 'ready' && this.spares.length < this.config.spares) {
      const spare: StdioProcess = this.startProcess({
        line: () => {},
        overflow: () => {},
        exit: () => {
          const index = this.spares.indexOf(spare);
          if (index !== -1) this.spares.splice(index, 1);
        },
      });
      this.spares.push(spare);
    }
  }

  private async runProbe(keepChild: boolean): Promise<Channel | undefined> {
    const startupMs = this.config.startupTimeoutSeconds * 1000;
    const discoverMs = Math.min(startupMs, 10_000);
    let channel = this.openProbeChannel();
    try {
      const discover = await channel
        .ask(
          'server/discover',
          { _meta: { [Meta.protocolVersion]: MODERN_VERSION, [Meta.clientInfo]: GATEWAY_INFO, [Meta.clientCapabilities]: {} } },
          discoverMs,
        )
        .catch((error: Error) => ({ error: { message: error.message } }) as WireMessage);
      const discovered = discover.result as Record<string, unknown> | undefined;
      if (discovered && Array.isArray(discovered['supportedVersions'])) {
        // A modern server may serve legacy openings too (the SDK v2 default): ask a fresh process.
        const legacy = this.openProbeChannel();
        const initialize = await legacy.ask('initialize', this.initializeParams(), discoverMs).catch(() => undefined);
        void legacy.close('probe done');
        this.setReady({ era: 'modern', discover: discovered, acceptsLegacy: initialize?.result !== undefined });
        this.keep(channel, keepChild);
        return channel;
      }
      if (!channel.alive) channel = this.openProbeChannel();
      const initialize = await channel.ask('initialize', this.initializeParams(), startupMs);
      if (initialize.result === undefined) {
        const message = (initialize.error as { message?: string } | undefined)?.message ?? 'unknown error';
        throw new Error(`MCP server "${this.name}" (${this.config.command}) refused initialize: ${message}`);
      }
      channel.notify('notifications/initialized');
      this.setReady({ era: 'legacy', initialize: initialize.result as Record<string, unknown> });
      this.keep(channel, keepChild);
      return channel;
    } catch (error) {
      void channel.close('probe failed');
      this.setFailing(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  private openProbeChannel(): Channel {
    const channel = new Channel({ server: this.name, command: this.config.command, logger: this.logger }, (events) => this.startProcess(events));
    return channel;
  }

  /** Keeps the probe's child for the first pool (legacy: already initialized), when one is about to be made. */
  private keep(channel: Channel, wanted: boolean): void {
    // No pool of a server with per-caller variables takes a child started without them.
    if (this.closed || !wanted || this.config.fromRequest !== undefined) {
      void channel.close('gateway closing');
      return;
    }
    const previous = this.handover;
    this.handover = channel;
    if (previous) void previous.close('replaced by a newer probe child');
  }

  /** The gateway's initialize params when it initializes a child itself. */
  initializeParams(): Record<string, unknown> {
    // The gateway relays sampling and elicitation to its clients (and turns them into input requests for modern ones).
    return { protocolVersion: NEWEST_LEGACY_VERSION, capabilities: { sampling: {}, elicitation: {} }, clientInfo: GATEWAY_INFO };
  }

  private setReady(verdict: ProbeVerdict): void {
    this.verdict = verdict;
    this.state = 'ready';
    this.reason = undefined;
    this.retryAt = undefined;
    this.retryDelayMs = FIRST_RETRY_MS;
    this.startFailures = 0;
    this.refillSpares();
    const info = (verdict.initialize?.['serverInfo'] ??
      (verdict.discover?.['_meta'] as Record<string, unknown> | undefined)?.[Meta.serverInfo]) as { name?: string; version?: string } | undefined;
    this.logger.info('server ready', {
      era: verdict.era,
      ...(verdict.era === 'modern' ? { acceptsLegacy: verdict.acceptsLegacy } : {}),
      upstream: info?.name,
      upstreamVersion: info?.version,
    });
  }

  private setFailing(reason: string): void {
    const first = this.state !== 'failing' || this.reason !== reason;
    this.state = 'failing';
    this.reason = reason;
    this.lastFailure = { reason, at: Date.now() };
    for (const spare of this.spares.splice(0)) void spare.stop(500);
    if (this.closed) return;
    this.retryAt = Date.now() + this.retryDelayMs;
    // Said once per cause; the retries that fail the same way are debug records.
    this.logger[first ? 'error' : 'debug']('server failing', { reason, command: this.config.command, retryInMs: this.retryDelayMs });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.probe({ keepChild: true }), this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_MS);
  }

  /** Why a child ended, in one line fit for a client (no stderr). */
  describe(exit: ChildExit): string {
    return describeExit(this.name, this.config.command, exit);
  }
}
