import { createHash } from 'node:crypto';
import type { ConsoleConfig } from '../../config/console-schema.js';
import type { Logger } from '../../log.js';
import { Header, Meta, MODERN_VERSION } from '../../protocol.js';
import type { AuthOutcome, AuthTarget, Principal } from '../auth/index.js';
import { BytesReply, toResponse, type Reply } from '../http/reply.js';
import { readBody, type InboundRequest } from '../http/request.js';
import type { ServedServer } from '../served-server.js';
import type { RegisteredSession } from '../sessions/registry.js';
import { ConsoleAccess } from './access.js';
import { ConsoleAssets, CONSOLE_SECURITY_HEADERS } from './assets.js';
import { groupRss } from './process-info.js';
import { maskEnv, redactArgs, redactLine } from './redact.js';
import { RequestStats, STATS_WINDOW_SECONDS } from './stats.js';

/**
 * The web console's server side: its page and files, and a JSON API under
 * `<path>/api` for the fleet overview, a server's details, sessions, child
 * actions and the tool playground. Every API call needs an admin (see
 * `access.ts`); actions need the console's own origin and header too. Tool
 * calls go through the gateway's own MCP path as the signed-in principal.
 * No secret value is ever put in an answer: env values are masked, stderr and
 * arguments redacted, session ids replaced by a digest.
 */

/** What the console needs of the gateway (implemented in `app.ts`). */
export interface ConsoleHost {
  /** The configured servers as served. */
  readonly served: ReadonlyMap<string, ServedServer>;
  /** The open legacy sessions. */
  sessions(): readonly RegisteredSession[];
  /** 2026-07-28 requests in flight on a server. */
  modernInFlight(server: string): number;
  /** The virtual servers: their members and open sessions (2025 Streamable HTTP and 2024 HTTP+SSE together). */
  virtualServers(): readonly { readonly name: string; readonly members: readonly string[]; readonly sessions: number }[];
  /** Handles a request through the gateway's own pipeline as `principal` (authentication already done). */
  handleAs(request: InboundRequest, principal: Principal): Promise<Reply>;
  /** Checks an OAuth token the way the gateway does (for `adminScope`). */
  authenticate(request: InboundRequest, target: AuthTarget): Promise<AuthOutcome>;
}

/** Options of {@link FleetConsole}. */
export interface FleetConsoleOptions {
  /** The console settings. */
  readonly config: ConsoleConfig;
  /** The gateway. */
  readonly host: ConsoleHost;
  /** Whether the gateway has `gateway.auth`. */
  readonly gatewayAuth: boolean;
  /** Environment read by admin keys given as `env`. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Logger (console actions are logged with the principal, for audit). */
  readonly logger: Logger;
  /** The request statistics the gateway feeds. */
  readonly stats: RequestStats;
  /** Version shown on the page. */
  readonly version?: string;
}

/** Methods the playground may send (reads and tool calls; nothing that changes a session). */
const PLAYGROUND_METHODS = new Set(['tools/list', 'tools/call', 'prompts/list', 'prompts/get', 'resources/list', 'resources/templates/list', 'resources/read']);
/** Largest playground request body. */
const MAX_RPC_BODY = 1024 * 1024;
/** Time a playground call may take. */
const RPC_TIMEOUT_MS = 60_000;

class ConsoleHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function json(status: number, body: unknown): BytesReply {
  return new BytesReply(status, { ...CONSOLE_SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, JSON.stringify(body));
}

/** A stable handle of a session for the console: a digest, because a session id is a credential of sorts. */
export function sessionHandle(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 16);
}

/** What a legacy session knows of its client once initialized (`LegacySession` has both). */
type SessionDetails = RegisteredSession & { readonly protocolVersion?: unknown; readonly clientInfo?: unknown };

function eraOf(session: SessionDetails): string {
  const version = typeof session.protocolVersion === 'string' ? session.protocolVersion : undefined;
  return session.transport === 'sse' ? `${version ?? '2024-11-05'} (HTTP+SSE)` : `${version ?? '2025'} (Streamable HTTP)`;
}

/** The client's own name and version, as it said in initialize (plain text, cut short). */
function clientOf(session: SessionDetails): string | null {
  const info = session.clientInfo as { name?: unknown; version?: unknown } | undefined;
  if (info === null || typeof info !== 'object' || typeof info.name !== 'string') return null;
  const label = typeof info.version === 'string' ? `${info.name} ${info.version}` : info.name;
  return label.length > 80 ? `${label.slice(0, 79)}…` : label;
}

/** An MCP header value: plain when it is visible ASCII, else the Base64 sentinel form. */
function headerValue(value: string): string {
  return /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** The console of one gateway. */
export class FleetConsole {
  /** How the console is protected. */
  readonly access: ConsoleAccess;
  private readonly assets = new ConsoleAssets();
  private readonly path: string;
  private nextId = 1;

  constructor(private readonly options: FleetConsoleOptions) {
    this.path = options.config.path;
    this.access = new ConsoleAccess(options.config, {
      authenticate: (request, target) => options.host.authenticate(request, target),
      gatewayAuth: options.gatewayAuth,
      ...(options.env ? { env: options.env } : {}),
    });
  }

  /** Answers one request for the console's path (page, files, API). Never throws. */
  async handle(request: InboundRequest, pathname: string): Promise<Reply> {
    const rest = pathname.slice(this.path.length);
    try {
      if (rest === '' && request.method === 'GET') return new BytesReply(308, { location: `${this.path}/` }, null);
      if (!rest.startsWith('/api/')) {
        if (request.method !== 'GET' && request.method !== 'HEAD') throw new ConsoleHttpError(405, 'Method Not Allowed');
        const name = rest === '/' ? 'index.html' : rest.slice(1);
        const file = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) ? await this.assets.file(name) : undefined;
        if (file) return file;
        if (name === 'index.html') return ConsoleAssets.missing();
        throw new ConsoleHttpError(404, `Not found: ${pathname}`);
      }
      const refusal = request.method === 'GET' || request.method === 'HEAD' ? this.access.checkNotCrossSite(request) : this.access.checkSameOrigin(request);
      if (refusal !== undefined) return json(403, { error: refusal });
      const admission = await this.access.admit(request);
      if (!admission.ok) return json(admission.status, { error: admission.message });
      return await this.api(request, rest.slice('/api'.length), admission.principal);
    } catch (error) {
      if (error instanceof ConsoleHttpError) return json(error.status, { error: error.message });
      this.options.logger.error('console request failed', { path: pathname, error: (error as Error).message });
      return json(500, { error: 'Internal error of the console; see the gateway log' });
    }
  }

  private async api(request: InboundRequest, route: string, principal: Principal): Promise<Reply> {
    const method = request.method;
    const parts = route.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
    const [head, name, sub, arg, action] = parts;
    if (head === 'whoami' && parts.length === 1 && method === 'GET') {
      return json(200, {
        principal: principal.id,
        mode: this.access.mode,
        notice: this.access.mode === 'open-local' ? 'Open locally: the gateway has no auth and listens on a loopback address, so anyone on this machine can use this console.' : undefined,
        version: this.options.version,
        windowSeconds: STATS_WINDOW_SECONDS,
      });
    }
    if (head === 'overview' && parts.length === 1 && method === 'GET') return json(200, this.overview(this.secondsParam(request)));
    if (head === 'sessions' && parts.length === 1 && method === 'GET') return json(200, { sessions: this.sessionList() });
    if (head === 'sessions' && parts.length === 2 && method === 'DELETE') return this.endSession(name as string, principal);
    if (head === 'servers' && name !== undefined) {
      const served = this.options.host.served.get(name);
      if (!served) throw new ConsoleHttpError(404, `No server "${name}"`);
      if (parts.length === 2 && method === 'GET') return json(200, await this.serverDetail(served, this.secondsParam(request)));
      if (sub === 'capabilities' && parts.length === 3 && method === 'GET') return json(200, await this.capabilities(served, principal));
      if (sub === 'rpc' && parts.length === 3 && method === 'POST') return this.playground(request, served, principal);
      if (sub === 'children' && arg !== undefined && parts.length === 5 && method === 'POST' && (action === 'stop' || action === 'restart')) {
        return this.childAction(served, Number(arg), action, principal);
      }
    }
    throw new ConsoleHttpError(404, `No console API ${method} ${route}`);
  }

  private secondsParam(request: InboundRequest): number {
    const query = request.url.indexOf('?');
    const value = query === -1 ? null : new URLSearchParams(request.url.slice(query + 1)).get('seconds');
    const seconds = value === null ? 60 : Number(value);
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, STATS_WINDOW_SECONDS) : 60;
  }

  private knownSecrets(served: ServedServer): string[] {
    return Object.values(served.upstream.config.env);
  }

  /** One server's line of the overview. */
  private serverSummary(served: ServedServer, seconds: number, sessions: readonly RegisteredSession[]) {
    const upstream = served.upstream;
    const own = sessions.filter((s) => s.server === served.name);
    const stats = this.options.stats.summary(served.name, seconds);
    return {
      name: served.name,
      state: upstream.state,
      era: upstream.verdict?.era ?? null,
      policy: served.policy,
      children: upstream.runningChildren,
      sessions: {
        streamable: own.filter((s) => s.transport === 'streamable').length,
        sse: own.filter((s) => s.transport === 'sse').length,
      },
      inFlight: this.options.host.modernInFlight(served.name) + own.reduce((n, s) => n + s.inFlight, 0),
      restarts: upstream.unexpectedExits,
      lastStartError:
        upstream.lastFailure === undefined
          ? null
          : { reason: redactLine(upstream.lastFailure.reason, this.knownSecrets(served)), at: upstream.lastFailure.at, current: upstream.state === 'failing' },
      stats,
    };
  }

  private overview(seconds: number) {
    const sessions = this.options.host.sessions();
    return {
      generatedAt: Date.now(),
      seconds,
      servers: [...this.options.host.served.values()].map((s) => this.serverSummary(s, seconds, sessions)),
      virtualServers: this.options.host.virtualServers().map((v) => {
        const members = v.members.map((m) => ({ name: m, state: this.options.host.served.get(m)?.upstream.state ?? 'unknown' }));
        // Like /ready/<virtual>: up while any member is up; the members' own states say which are not.
        const ready = members.filter((m) => m.state === 'ready' || m.state === 'degraded').length;
        return { name: v.name, state: ready === members.length ? 'ready' : ready > 0 ? 'degraded' : 'failing', members, sessions: v.sessions, stats: this.options.stats.summary(v.name, seconds) };
      }),
    };
  }

  private async serverDetail(served: ServedServer, seconds: number) {
    const upstream = served.upstream;
    const known = this.knownSecrets(served);
    const processes = upstream.processes;
    const rss = await groupRss(new Set(processes.map((p) => p.pid).filter((pid): pid is number => pid !== undefined)));
    const admin = this.access.mode === 'admin';
    const now = Date.now();
    return {
      ...this.serverSummary(served, seconds, this.options.host.sessions()),
      config: {
        command: upstream.config.command,
        args: redactArgs(upstream.config.args, known),
        env: maskEnv(upstream.config.env),
        pool: upstream.config.pool,
        maxSessions: upstream.config.maxSessions,
        requestTimeoutSeconds: upstream.config.requestTimeoutSeconds,
      },
      processes: processes.map((p) => ({
        pid: p.pid ?? null,
        uptimeSeconds: Math.round((now - p.startedAt) / 1000),
        rssBytes: p.pid === undefined ? null : (rss.get(p.pid) ?? null),
        running: p.running,
        // stderr is for admins only, and redacted even then: a server may print its own keys.
        stderr: admin ? p.stderr.map((line) => redactLine(line, known)) : null,
      })),
      stderrHidden: admin ? undefined : 'stderr is shown to admins only: configure gateway.console.adminKeys to see it here (it is in the gateway log too)',
      recentErrors: this.options.stats.recentErrors(served.name),
    };
  }

  private sessionList() {
    const now = Date.now();
    return this.options.host.sessions().map((s) => ({
      handle: sessionHandle(s.id),
      server: s.server,
      era: eraOf(s),
      client: clientOf(s),
      transport: s.transport,
      servedBy: s.servedBy,
      owner: s.owner,
      ageSeconds: Math.round((now - s.openedAt) / 1000),
      idleSeconds: Math.round((now - s.lastActivity) / 1000),
      inFlight: s.inFlight,
    }));
  }

  private endSession(handle: string, principal: Principal): Reply {
    const session = this.options.host.sessions().find((s) => sessionHandle(s.id) === handle);
    if (!session) throw new ConsoleHttpError(404, 'No such session (it may have ended already)');
    this.options.logger.info('console: session ended', { server: session.server, sessionOwner: session.owner, by: principal.id });
    void session.close(`ended from the console by ${principal.id}`);
    return json(200, { ended: handle });
  }

  private async childAction(served: ServedServer, pid: number, action: 'stop' | 'restart', principal: Principal): Promise<Reply> {
    const child = served.upstream.processes.find((p) => p.pid === pid);
    if (!child) throw new ConsoleHttpError(404, `Server "${served.name}" has no running child with pid ${pid}`);
    this.options.logger.info(`console: child ${action}`, { server: served.name, pid, by: principal.id });
    await child.stop(1000, `${action === 'stop' ? 'stopped' : 'restarted'} from the console by ${principal.id}`);
    // A stop the gateway asked for is not replaced by the pool until a request needs a child; a restart warms it now.
    if (action === 'restart') served.currentPool?.warm();
    return json(200, { [action === 'stop' ? 'stopped' : 'restarted']: pid });
  }

  /** Sends one MCP request through the gateway (2026-07-28, stateless) as `principal`, and returns its JSON-RPC answer. */
  private async rpc(served: ServedServer, principal: Principal, method: string, params: Record<string, unknown>): Promise<{ status: number; message: Record<string, unknown> | undefined }> {
    const id = this.nextId++;
    const version = MODERN_VERSION;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id,
      method,
      params: {
        ...params,
        _meta: {
          ...((params['_meta'] as Record<string, unknown> | undefined) ?? {}),
          [Meta.protocolVersion]: version,
          [Meta.clientCapabilities]: {},
          [Meta.clientInfo]: { name: 'mcp-fleet-console', version: this.options.version ?? '0' },
        },
      },
    });
    const named = typeof params['name'] === 'string' ? params['name'] : typeof params['uri'] === 'string' ? params['uri'] : undefined;
    const headers = new Headers({
      host: '127.0.0.1',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'content-length': String(Buffer.byteLength(body)),
      [Header.protocolVersion]: version,
      [Header.method]: method,
      ...(named !== undefined && ['tools/call', 'prompts/get', 'resources/read'].includes(method) ? { [Header.name]: headerValue(named) } : {}),
    });
    // A web-shaped request (readBody reads its `body` stream); it never touches a socket.
    const internal: InboundRequest & { readonly body: ReadableStream<Uint8Array> } = {
      method: 'POST',
      url: `http://127.0.0.1/servers/${served.name}/mcp`,
      headers,
      signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
      body: new Blob([body]).stream(),
    };
    const response = toResponse(await this.options.host.handleAs(internal, principal));
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    let messages: Record<string, unknown>[] = [];
    try {
      if (type.includes('text/event-stream')) {
        messages = text
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => JSON.parse(l.slice(5).trim()) as Record<string, unknown>);
      } else if (text !== '') messages = [JSON.parse(text) as Record<string, unknown>];
    } catch {
      messages = [];
    }
    return { status: response.status, message: messages.find((m) => m['id'] === id) ?? messages[messages.length - 1] };
  }

  private async capabilities(served: ServedServer, principal: Principal) {
    const verdict = served.upstream.verdict;
    const offered = (verdict?.discover ?? verdict?.initialize)?.['capabilities'];
    const list = async (method: string, field: string) => {
      // Asking a server for what it does not offer would only add a failed request to its statistics.
      if (offered !== null && typeof offered === 'object' && !(field in offered)) return { items: [], error: `the server offers no ${field}` };
      try {
        const { message } = await this.rpc(served, principal, method, {});
        const result = message?.['result'] as Record<string, unknown> | undefined;
        if (result && Array.isArray(result[field])) return { items: result[field] as unknown[] };
        const error = message?.['error'] as { message?: string } | undefined;
        return { items: [], error: error?.message ?? 'no answer' };
      } catch (error) {
        return { items: [], error: (error as Error).message };
      }
    };
    const [tools, prompts, resources] = await Promise.all([list('tools/list', 'tools'), list('prompts/list', 'prompts'), list('resources/list', 'resources')]);
    return { tools, prompts, resources };
  }

  private async playground(request: InboundRequest, served: ServedServer, principal: Principal): Promise<Reply> {
    let input: { method?: unknown; params?: unknown };
    try {
      input = JSON.parse((await readBody(request, MAX_RPC_BODY)).toString('utf8')) as typeof input;
    } catch {
      throw new ConsoleHttpError(400, 'The body must be JSON: {"method": "tools/call", "params": {...}}');
    }
    if (typeof input.method !== 'string' || !PLAYGROUND_METHODS.has(input.method)) {
      throw new ConsoleHttpError(400, `method must be one of ${[...PLAYGROUND_METHODS].join(', ')}`);
    }
    const params = input.params === undefined ? {} : input.params;
    if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new ConsoleHttpError(400, 'params must be an object');
    this.options.logger.info('console: playground call', { server: served.name, method: input.method, by: principal.id });
    const started = performance.now();
    const { status, message } = await this.rpc(served, principal, input.method, params as Record<string, unknown>);
    return json(200, { status, latencyMs: Math.round(performance.now() - started), message: message ?? null });
  }
}
