import { z } from 'zod';
import { AuthSchema, authServerReferenceIssues, LimitsSchema, MetricsSchema } from './auth-schema.js';
import { AuditSchema } from './audit-schema.js';
import { FromRequestSchema, fromRequestIssues } from './credentials-schema.js';
import { consoleAccessIssues, ConsoleSchema, DEFAULT_CONSOLE } from './console-schema.js';
import { LOG_LEVELS } from './constants.js';
import { DeploySchema, ServerDeploySchema } from './deploy-schema.js';
import { TelemetrySchema } from './telemetry-schema.js';
import { GATEWAY_HTTP_KEEP_ALIVE_SECONDS, SSE_KEEP_ALIVE_SECONDS } from './timeouts.js';
import { VirtualServerSchema, virtualServerIssues } from './virtual-schema.js';

/**
 * The config schema: the single source of truth for the types of an mcp-fleet
 * config file. Every object is strict, so a typo is an error, not a silent default.
 */

/** A server name: it becomes a URL path segment and an AWS resource name. */
export const ServerNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$|^[a-z0-9]$/, {
    message:
      'a server name must be 1-40 characters of lower-case letters, digits and "-", starting and ending with a letter or digit (it becomes a URL path and an AWS resource name)',
  });

/** A DNS host name such as `fetch.example.com` (no scheme, no port). */
export const HostnameSchema = z
  .string()
  .transform((h) => h.toLowerCase())
  .pipe(
    z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, {
      message: 'a host name is a DNS name such as fetch.example.com, without scheme, port or path',
    }),
  );

/** How a server's child processes are shared between clients. */
export const ChildPolicySchema = z.enum(['per-session', 'pool', 'shared']);

/** The policy of a server that sets none: the warm pool (a child per session only when asked for). */
export const DEFAULT_CHILD_POLICY = 'pool' satisfies z.infer<typeof ChildPolicySchema>;

/** One stdio MCP server. */
export const ServerSchema = z
  .object({
    /** Program to run, such as `npx`, `uvx` or `node`. */
    command: z.string().min(1, { message: 'command must name the program to run, such as npx or uvx' }),
    /** Arguments of the command. */
    args: z.array(z.string()).default([]),
    /** Environment of the child, on top of the gateway's allow-list. Values may reference `${NAME}`. */
    env: z.record(z.string(), z.string()).default({}),
    /** Working directory of the child. @default the gateway's @example /srv/mcp */
    cwd: z.string().optional(),
    /** Host names routed to this server at `/mcp`, `/sse` and `/messages`. */
    hostnames: z.array(HostnameSchema).default([]),
    /**
     * Who shares a child: `pool` (the default: every client on a warm pool of
     * `pool.min..max` children, kept apart message by message), `per-session` (a child
     * of its own per legacy session, for servers with per-user state), or `shared`
     * (one child for everybody).
     */
    policy: ChildPolicySchema.optional(),
    /** Warm pool size for the `pool` policy. */
    pool: z
      .object({
        /** Children started at once and kept warm. @example 2 */
        min: z.number().int().min(0).default(1),
        /** Most children of the pool: one more starts while every child is busy (4 calls in flight, the oldest having kept the gateway waiting 100 ms or more; time the gateway itself is busy does not count); a child beyond `min` stops after 60 s without a call or a session. @example 8 */
        max: z.number().int().min(1).default(4),
      })
      .strict()
      .refine((p) => p.min <= p.max, { message: 'pool.min must not exceed pool.max' })
      .default({ min: 1, max: 4 }),
    /**
     * Children started ahead of need under `policy: per-session`, so a new legacy
     * session's first request does not wait for a process to start (each one idles
     * until a session takes it). Pooled servers keep their pool warm instead.
     */
    spares: z.number().int().min(0).max(16).default(1),
    /** Most concurrent client sessions; past it new sessions get 503 with Retry-After. */
    maxSessions: z.number().int().positive().default(100),
    /** How long a child may take to answer its first request. */
    startupTimeoutSeconds: z.number().positive().default(30),
    /** How long one request may take before the client gets an error and the child a cancellation. */
    requestTimeoutSeconds: z.number().positive().default(300),
    /**
     * Longest message (stdout line) a child may write. A longer one fails the calls in
     * flight on that child with a clear error, and the child is replaced.
     * @default 8 MiB
     * @example 16777216
     */
    maxMessageBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).optional(),
    /**
     * Child variables whose values come from the caller: a request header
     * (`{ header: X-GitHub-Token }`) or a claim of its OAuth token (`{ claim: email }`).
     * Needs `policy: per-session`. See docs/SECURITY.md.
     */
    fromRequest: FromRequestSchema.optional(),
    /** AWS deploy settings of this server (ignored by `serve`). */
    deploy: ServerDeploySchema.optional(),
  })
  .strict();

/** Log levels, most verbose first (the list lives in constants.ts, which the CLI reads without zod). */
export const LogLevelSchema = z.enum(LOG_LEVELS);

/** CORS for browser-based MCP clients (`gateway.cors`). */
export const CorsSchema = z
  .object({
    /** Answer preflights and add `Access-Control-*` headers for allowed origins. @default false */
    enabled: z.boolean().default(false),
    /**
     * Origins given CORS answers, besides loopback ones; `*` allows any.
     * @default gateway.allowedOrigins
     * @example ["https://app.example.com"]
     */
    allowedOrigins: z.array(z.string().min(1)).optional(),
    /** How long a browser may cache a preflight answer. */
    maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
  })
  .strict();

/** Settings of the HTTP gateway. */
export const GatewaySchema = z
  .object({
    /** Address to listen on. Inside a container this is 0.0.0.0. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Port to listen on. */
    port: z.number().int().min(0).max(65535).default(8808),
    /** Least severe log level written. */
    logLevel: LogLevelSchema.default('info'),
    /**
     * Host names accepted for path routing (`/servers/<name>/...`) besides
     * localhost, 127.0.0.1 and [::1]; `*` accepts any. Requests for other hosts get
     * `403 Hostname not allowed` (DNS-rebinding protection).
     */
    allowedHosts: z.array(z.string().min(1)).default([]),
    /** Browser origins allowed to call the gateway besides loopback ones; `*` allows any. */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    /** A client session with no request for this long is ended and its child stopped. */
    sessionIdleTimeoutSeconds: z.number().positive().default(900),
    /** Interval of SSE keep-alive comments; below the load balancer's idle timeout (see `timeouts.ts`). */
    sseKeepAliveSeconds: z.number().positive().default(SSE_KEEP_ALIVE_SECONDS),
    /** Time allowed for a drain on SIGTERM before children are killed and the process exits. */
    shutdownGraceSeconds: z.number().positive().default(25),
    /** Node's HTTP keep-alive timeout; above the load balancer's idle timeout (see `timeouts.ts`). */
    httpKeepAliveSeconds: z.number().positive().default(GATEWAY_HTTP_KEEP_ALIVE_SECONDS),
    /** Largest accepted request body. */
    maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
    /**
     * Several replicas behind a round-robin load balancer: session ids carry their
     * owner, signed with `secret`, and requests are forwarded to it. Environment:
     * MCP_FLEET_CLUSTER_SECRET, MCP_FLEET_PEERS, MCP_FLEET_PEERS_DNS, MCP_FLEET_ADVERTISE_URL.
     */
    cluster: z
      .object({
        /** The fleet secret, the same on every replica (at least 32 characters; use ${NAME}). @example ${MCP_FLEET_CLUSTER_SECRET} */
        secret: z.string().refine((s) => s.length >= 32 || /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(s), {
          message: 'the fleet secret must be at least 32 characters (or a ${NAME} reference); generate one with: openssl rand -base64 36',
        }),
        /** How peers reach this replica. @default MCP_FLEET_ADVERTISE_URL, the ECS task IP, or loopback @example http://10.0.1.5:8808 */
        advertise: z.string().url().optional(),
        /** Static peer URLs (`http://10.0.1.5:8808`). */
        peers: z.array(z.string().url()).default([]),
        /** `host:port` whose A records are the replicas (Cloud Map, a headless service). @example gateway.fleet.local:8808 */
        peersDns: z
          .string()
          .regex(/^[^:\s]+:\d{1,5}$/, { message: 'peersDns is host:port, such as gateway.fleet.local:8808' })
          .optional(),
        /** How often the DNS name is resolved again. */
        refreshSeconds: z.number().positive().default(10),
      })
      .strict()
      .optional(),
    /** Who may call the gateway. @default no auth (fine on 127.0.0.1 only) */
    auth: AuthSchema.optional(),
    /** Rate limit, session cap per key, and the queue in front of each child. @default only the per-child queue */
    limits: LimitsSchema.default(LimitsSchema.parse({})),
    /** Prometheus `/metrics`. @default off */
    metrics: MetricsSchema.default(MetricsSchema.parse({})),
    /** CORS answers for browser clients. @default off */
    cors: CorsSchema.default(CorsSchema.parse({})),
    /** The audit log of tool calls, prompt gets and resource reads (docs/AUDIT.md). @default off */
    audit: AuditSchema.default(AuditSchema.parse({})),
    /** OpenTelemetry traces and metrics over OTLP (docs/OBSERVABILITY.md). @default off */
    telemetry: TelemetrySchema.default(TelemetrySchema.parse({})),
    /** The web console for operators (see docs/CONSOLE.md). @default off */
    console: ConsoleSchema.default(DEFAULT_CONSOLE),
  })
  .strict();

/** A whole mcp-fleet config file. */
export const FleetConfigSchema = z
  .object({
    /** Config format version. */
    version: z.literal(1).default(1),
    /** HTTP gateway settings. */
    gateway: GatewaySchema.default(GatewaySchema.parse({})),
    /** The stdio MCP servers, by name. */
    servers: z.record(ServerNameSchema, ServerSchema).refine((s) => Object.keys(s).length > 0, {
      message: 'list at least one server under servers:, each with a command',
    }),
    /**
     * Virtual servers: one endpoint (`/servers/<name>/mcp`) composing several of the
     * servers above (see docs/VIRTUAL-SERVERS.md). @default none
     */
    virtualServers: z.record(ServerNameSchema, VirtualServerSchema.extend({ hostnames: z.array(HostnameSchema).default([]) })).default({}),
    /** AWS deploy settings (ignored by `serve`). */
    deploy: DeploySchema.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    for (const issue of virtualServerIssues(config.virtualServers, config.servers)) {
      ctx.addIssue({ code: 'custom', path: [...issue.path], input: issue.input, message: issue.message });
    }
    const owner = new Map<string, string>();
    for (const [name, server] of Object.entries(config.servers)) {
      for (const issue of fromRequestIssues(server)) {
        ctx.addIssue({ code: 'custom', path: ['servers', name, ...issue.path], message: issue.message });
      }
      for (const [i, host] of server.hostnames.entries()) {
        const other = owner.get(host);
        if (other !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['servers', name, 'hostnames', i],
            input: host,
            message: `host name ${host} is already used by server "${other}"; give each server its own host name`,
          });
        }
        owner.set(host, name);
      }
    }
    const auth = config.gateway.auth;
    const upstream = auth?.authorizationServer?.upstream;
    if (upstream !== undefined && config.deploy?.auth.cognito === undefined) {
      for (const field of ['issuer', 'clientId'] as const) {
        if (upstream[field] === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['gateway', 'auth', 'authorizationServer', 'upstream', field],
            message: `upstream.${field} is required (or add deploy.auth.cognito to have the deployment create a Cognito user pool and set it)`,
          });
        }
      }
    }
    for (const issue of consoleAccessIssues(config.gateway)) {
      ctx.addIssue({ code: 'custom', path: ['gateway', ...issue.path], message: issue.message });
    }
    if (auth !== undefined) {
      for (const issue of authServerReferenceIssues(auth, [...Object.keys(config.servers), ...Object.keys(config.virtualServers)])) {
        ctx.addIssue({ code: 'custom', path: ['gateway', 'auth', ...issue.path], input: issue.input, message: issue.message });
      }
    }
  });

/** A parsed, validated config (defaults filled in). */
export type FleetConfig = z.infer<typeof FleetConfigSchema>;
/** One parsed server. */
export type ServerConfig = z.infer<typeof ServerSchema>;
/** Parsed gateway settings. */
export type GatewayConfig = z.infer<typeof GatewaySchema>;
/** Parsed CORS settings. */
export type CorsConfig = z.infer<typeof CorsSchema>;
/** How children are shared. */
export type ChildPolicy = z.infer<typeof ChildPolicySchema>;
/** A log level. */
export type LogLevel = z.infer<typeof LogLevelSchema>;
/** The config as a user writes it (defaults optional). */
export type FleetConfigInput = z.input<typeof FleetConfigSchema>;
