import type { ServerConfig } from '../config/schema.js';
import { GATEWAY_INFO, MODERN_VERSION, NEWEST_LEGACY_VERSION } from '../protocol.js';
import type { Logger } from '../log.js';
import { childEnvironment, describeExit, StdioChild, type ChildExit } from './child.js';

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
  /** Its `initialize` result, for a legacy server. */
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

/** Handlers a spawned child reports to. */
export interface ChildHandlers {
  /** A line from the child's stdout (parsed as JSON). */
  readonly onMessage: (line: string, message: unknown) => void;
  /** The child is gone. */
  readonly onExit: (exit: ChildExit) => void;
}

/**
 * One configured stdio MCP server: spawns its children and knows whether it
 * starts and which era it speaks (probed once, cached).
 */
export class UpstreamServer {
  /** Server name from the config. */
  readonly name: string;
  /** Its config. */
  readonly config: ServerConfig;
  /** Readiness. */
  state: ServerState = 'starting';
  /** Why it is failing, when it is. */
  reason: string | undefined;
  /** The probe's verdict, once known. */
  verdict: ProbeVerdict | undefined;
  private readonly logger: Logger;
  private readonly childEnv: Record<string, string>;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 2000;
  private closed = false;
  private probing: Promise<void> | undefined;
  private readonly probeChildren = new Set<StdioChild>();
  private readonly spares: StdioChild[] = [];
  private readonly routes = new WeakMap<StdioChild, { onMessage: ChildHandlers['onMessage']; onExit: ChildHandlers['onExit'] }>();
  private running = 0;
  private readonly crashes: number[] = [];
  private olderCrashes = 0;

  constructor(name: string, config: ServerConfig, options: UpstreamServerOptions) {
    this.name = name;
    this.config = config;
    this.logger = options.logger.child({ server: name });
    this.childEnv = childEnvironment(options.env ?? process.env, config.env);
  }

  /** Children of this server running now (sessions, pool members and probes). */
  get runningChildren(): number {
    return this.running;
  }

  /** Children that exited without being asked to, over the server's life. */
  get unexpectedExits(): number {
    return this.crashes.length + this.olderCrashes;
  }

  /** Unexpected exits within the last `windowMs` (for the `degraded` readiness state). */
  recentUnexpectedExits(windowMs: number, now = Date.now()): number {
    return this.crashes.filter((t) => t >= now - windowMs).length;
  }

  /** Spawns and starts a child of this server. */
  spawn(handlers: ChildHandlers): StdioChild {
    const spare = this.spares.shift();
    if (spare) {
      // A child started ahead of need: hand it over, start the next one.
      const route = this.routes.get(spare) as { -readonly [K in keyof ChildHandlers]: ChildHandlers[K] };
      route.onMessage = handlers.onMessage;
      route.onExit = handlers.onExit;
      this.routes.delete(spare);
      setImmediate(() => this.refillSpares());
      return spare;
    }
    return this.spawnFresh(handlers).child;
  }

  /** Pids of the children started ahead for new sessions (diagnostics, tests). */
  get sparePids(): number[] {
    return this.spares.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
  }

  private spawnFresh(handlers: ChildHandlers): { child: StdioChild; route: { onMessage: ChildHandlers['onMessage']; onExit: ChildHandlers['onExit'] } } {
    const route = { onMessage: handlers.onMessage, onExit: handlers.onExit };
    this.running++;
    const onExit = (exit: ChildExit): void => {
      this.running--;
      if (!exit.requested) {
        this.crashes.push(Date.now());
        // Keep the recent window small: older crashes only count in the total.
        if (this.crashes.length > 100) {
          this.crashes.shift();
          this.olderCrashes++;
        }
      }
      route.onExit(exit);
    };
    const child = new StdioChild({
      server: this.name,
      command: this.config.command,
      args: this.config.args,
      env: this.childEnv,
      cwd: this.config.cwd,
      logger: this.logger,
      onMessage: (line, message) => route.onMessage(line, message),
      onExit,
    });
    child.start();
    return { child, route };
  }

  /**
   * Keeps `servers.<name>.spares` children started ahead, so a new session's
   * first request does not wait for a process to start. Only while the server is
   * ready: a server that cannot start gets no spares to burn.
   */
  private refillSpares(): void {
    while (!this.closed && this.state === 'ready' && this.spares.length < this.config.spares) {
      const { child, route } = this.spawnFresh({
        onMessage: () => {},
        onExit: () => {
          const index = this.spares.indexOf(child);
          if (index !== -1) this.spares.splice(index, 1);
          this.routes.delete(child);
        },
      });
      this.routes.set(child, route);
      this.spares.push(child);
    }
  }

  /**
   * Probes the server once: `server/discover` first (a modern server answers it),
   * falling back to `initialize` on any other answer, silence or exit, as the
   * 2026-07-28 stdio backward-compatibility rules say. A failure marks the server
   * `failing` and schedules another try with backoff.
   */
  probe(): Promise<void> {
    this.probing ??= this.runProbe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  /** Stops probing, the spares and any probe child. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await Promise.all([...this.probeChildren, ...this.spares.splice(0)].map((c) => c.stop(500)));
  }

  private async runProbe(): Promise<void> {
    const startupMs = this.config.startupTimeoutSeconds * 1000;
    try {
      const discover = await this.ask(
        'server/discover',
        {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
            'io.modelcontextprotocol/clientInfo': GATEWAY_INFO,
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
        Math.min(startupMs, 10_000),
        { keepAliveForInitialize: true },
      );
      if (discover.kind === 'result' && Array.isArray(discover.value['supportedVersions'])) {
        // A modern server may serve legacy openings too (the SDK v2 default): ask a fresh process.
        if (discover.child) void discover.child.stop(500);
        const legacy = await this.ask(
          'initialize',
          { protocolVersion: NEWEST_LEGACY_VERSION, capabilities: {}, clientInfo: GATEWAY_INFO },
          Math.min(startupMs, 10_000),
          {},
        );
        this.setReady({ era: 'modern', discover: discover.value, acceptsLegacy: legacy.kind === 'result' });
        return;
      }
      const initialize = await this.ask(
        'initialize',
        { protocolVersion: NEWEST_LEGACY_VERSION, capabilities: {}, clientInfo: GATEWAY_INFO },
        startupMs,
        { reuse: discover.child },
      );
      if (initialize.kind === 'result') {
        this.setReady({ era: 'legacy', initialize: initialize.value });
        return;
      }
      this.setFailing(initialize.kind === 'error' ? `initialize failed: ${initialize.message}` : initialize.message);
    } catch (error) {
      this.setFailing(error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * Sends one request to a probe child and waits for its answer. With
   * `keepAliveForInitialize` the child is handed back for the follow-up request.
   */
  private ask(
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    options: { keepAliveForInitialize?: boolean; reuse?: StdioChild | undefined },
  ): Promise<
    | { kind: 'result'; value: Record<string, unknown>; child: StdioChild | undefined }
    | { kind: 'error'; message: string; child: StdioChild | undefined }
    | { kind: 'gone'; message: string; child: undefined }
  > {
    return new Promise((resolve) => {
      const id = `mcp-fleet-probe-${method}`;
      let settled = false;
      let child: StdioChild;
      const done = (
        value:
          | { kind: 'result'; value: Record<string, unknown> }
          | { kind: 'error'; message: string }
          | { kind: 'gone'; message: string },
      ): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const keep = options.keepAliveForInitialize && value.kind !== 'result' && child.running;
        if (value.kind === 'gone' || !keep) {
          this.probeChildren.delete(child);
          void child.stop(500);
        }
        resolve(
          value.kind === 'gone' ? { ...value, child: undefined } : { ...value, child: keep ? child : undefined },
        );
      };
      const onMessage = (_line: string, message: unknown): void => {
        const m = message as { id?: unknown; result?: Record<string, unknown>; error?: { message?: string } };
        if (m.id !== id) return;
        if (m.result !== undefined) done({ kind: 'result', value: m.result });
        else done({ kind: 'error', message: m.error?.message ?? 'unknown error' });
      };
      const onExit = (exit: ChildExit): void => done({ kind: 'gone', message: describeExit(this.name, exit) });
      if (options.reuse?.running) {
        child = options.reuse;
        child.onMessage = onMessage;
        child.onExit = onExit;
      } else {
        child = this.spawnFresh({ onMessage, onExit }).child;
        this.probeChildren.add(child);
      }
      const timer = setTimeout(
        () =>
          done(
            method === 'server/discover'
              ? { kind: 'error', message: 'no answer to server/discover' }
              : { kind: 'gone', message: `MCP server "${this.name}" did not answer ${method} within ${timeoutMs / 1000}s` },
          ),
        timeoutMs,
      );
      timer.unref();
      child.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  private setReady(verdict: ProbeVerdict): void {
    this.verdict = verdict;
    this.state = 'ready';
    this.reason = undefined;
    this.refillSpares();
    this.retryDelayMs = 2000;
    const info = (verdict.initialize?.['serverInfo'] ??
      (verdict.discover?.['_meta'] as Record<string, unknown> | undefined)?.['io.modelcontextprotocol/serverInfo']) as
      | { name?: string; version?: string }
      | undefined;
    this.logger.info('server ready', { era: verdict.era, ...(verdict.era === 'modern' ? { acceptsLegacy: verdict.acceptsLegacy } : {}), upstream: info?.name, upstreamVersion: info?.version });
  }

  private setFailing(reason: string): void {
    this.state = 'failing';
    this.reason = reason;
    this.logger.error('server failing', { reason, retryInMs: this.retryDelayMs });
    if (this.closed) return;
    this.retryTimer = setTimeout(() => void this.probe(), this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 60_000);
  }
}
