import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { LOG_LEVELS } from '../../config/constants.js';
import type { FleetConfig, LogLevel } from '../../config/schema.js';
import { ConfigError, FleetError } from '../../errors.js';
import type { ClusterSettings } from '../../gateway/cluster/cluster.js';
import type { LogFormat } from '../../log.js';
import { bold, dim, green, info, warn } from '../output.js';

/** Options of `mcp-fleet serve`, as commander parses them. */
interface ServeOptions {
  readonly config: string;
  readonly port?: number;
  readonly host?: string;
  /** One of {@link LOG_LEVELS}: `.choices` refuses anything else while parsing. */
  readonly logLevel?: LogLevel;
  readonly logFormat?: LogFormat;
  /** `always`: run npx as configured even when the package is installed here. */
  readonly npx?: 'installed' | 'always';
  readonly server?: string[];
}

const HELP_AFTER = `
The config is mcp-fleet YAML/JSON, or a client's MCP config used unchanged
(Claude Desktop / Claude Code / Cursor "mcpServers", VS Code "servers").
Values may reference the environment as \${NAME} or \${NAME:-default}.

Every server is reachable at:
  http://HOST:PORT/servers/<name>/mcp        Streamable HTTP: stateless 2026-07-28 requests (warm pool)
                                             and 2025-03-26 .. 2025-11-25 sessions
  http://HOST:PORT/servers/<name>/sse        HTTP+SSE (MCP 2024-11-05), with /servers/<name>/messages
Every client shares the server's warm pool of children (kept apart message by
message), unless servers.<name>.policy is per-session (a child per legacy session).
A server with "hostnames" is also served at /mcp, /sse and /messages of those hosts;
a host that is not allowed gets "403 Hostname not allowed".
A virtual server (virtualServers.<name>: several servers as one) is served at
/servers/<name>/mcp (Streamable HTTP, both eras; docs/VIRTUAL-SERVERS.md).
  /health   200 while the process runs          /ready   200 when every server starts and answers
  /ready/<name>   200 while that server is ready or degraded, else 503 (a load balancer target group per server)
  /_console/      the web console, when gateway.console.enabled (its path is gateway.console.path; docs/CONSOLE.md)

Environment:
  MCP_FLEET_ALLOWED_HOSTS   comma-separated host names accepted for path routing
                            (added to gateway.allowedHosts; a load balancer's DNS name)
  MCP_FLEET_CLUSTER_SECRET  fleet secret (32+ characters) shared by replicas: session ids
                            carry their owner and requests are forwarded to it
  MCP_FLEET_PEERS           comma-separated peer URLs (http://10.0.1.5:8808)
  MCP_FLEET_PEERS_DNS       host:port whose A records are the replicas (Cloud Map)
  MCP_FLEET_ADVERTISE_URL   how peers reach this replica (default: the ECS task IP)

A server whose command is "npx <package>" and whose package is installed here (a
node_modules above the config or the working directory, at the pinned version if
one is given) runs with node directly: one process instead of npm's three. The log
says so; --npx always keeps npx.

Logs go to stdout: one JSON object per line when stdout is not a terminal
(--log-format json), a readable coloured line on a terminal (--log-format pretty).
Server status lines go to stderr.

SIGTERM or SIGINT drains: /ready turns 503, new sessions are refused, requests in
flight finish (after SIGTERM, open sessions may also run until they end), children
are stopped, and the process exits within gateway.shutdownGraceSeconds.

Examples:
  $ mcp-fleet serve --config examples/fleet.yaml
  $ mcp-fleet serve --config ~/Library/Application\\ Support/Claude/claude_desktop_config.json --port 9000
  $ mcp-fleet serve --config fleet.yaml --host 0.0.0.0 --server fetch`;

/** `--log-format` values (the logger itself, and pino, load only when `serve` runs). */
const LOG_FORMAT_CHOICES: readonly LogFormat[] = ['json', 'pretty'];

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('a port is a whole number from 0 to 65535 (0 picks a free one)');
  }
  return port;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Applies command-line overrides and the `--server` filter to a loaded config. */
export function applyServeOverrides(config: FleetConfig, options: ServeOptions, file: string): FleetConfig {
  let servers = config.servers;
  let virtualServers = config.virtualServers;
  const selected = options.server;
  if (selected && selected.length > 0) {
    const unknown = selected.filter((name) => !(name in config.servers) && !(name in config.virtualServers));
    if (unknown.length > 0) {
      throw new ConfigError(file, [
        `--server ${unknown.join(', ')}: no such server; the config has ${[...Object.keys(config.servers), ...Object.keys(config.virtualServers)].join(', ')}`,
      ]);
    }
    // A virtual server named brings its members; one whose members are all selected comes along.
    const wanted = new Set(selected.flatMap((name) => (name in config.virtualServers ? Object.keys(config.virtualServers[name]!.servers) : [name])));
    servers = Object.fromEntries(Object.entries(config.servers).filter(([name]) => wanted.has(name)));
    virtualServers = Object.fromEntries(
      Object.entries(config.virtualServers).filter(([name, v]) => selected.includes(name) || Object.keys(v.servers).every((m) => wanted.has(m))),
    );
  }
  return {
    ...config,
    servers,
    virtualServers,
    gateway: {
      ...config.gateway,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    },
  };
}

/**
 * Replica settings from `gateway.cluster` and the environment
 * (MCP_FLEET_CLUSTER_SECRET, MCP_FLEET_PEERS, MCP_FLEET_PEERS_DNS,
 * MCP_FLEET_ADVERTISE_URL); undefined for a single replica.
 */
export async function clusterSettings(
  config: FleetConfig,
  env: Readonly<Record<string, string | undefined>>,
  file: string,
): Promise<ClusterSettings | undefined> {
  const configured = config.gateway.cluster;
  const secret = configured?.secret ?? env['MCP_FLEET_CLUSTER_SECRET'];
  if (secret === undefined || secret === '') return undefined;
  if (secret.length < 32) {
    throw new ConfigError(file, ['MCP_FLEET_CLUSTER_SECRET: the fleet secret must be at least 32 characters; generate one with: openssl rand -base64 36']);
  }
  const peers = configured?.peers.length
    ? configured.peers
    : (env['MCP_FLEET_PEERS'] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
  const peersDns = configured?.peersDns ?? (env['MCP_FLEET_PEERS_DNS'] || undefined);
  const { resolveAdvertiseUrl } = await import('../../gateway/cluster/cluster.js');
  return {
    secret,
    advertise: await resolveAdvertiseUrl(configured?.advertise, config.gateway.port, env),
    peers,
    peersDns,
    refreshMs: (configured?.refreshSeconds ?? 10) * 1000,
  };
}

/** Registers `serve`. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the gateway: serve every stdio MCP server of the config over HTTP')
    .option('-c, --config <file>', 'fleet config (YAML/JSON) or a client mcpServers JSON', 'fleet.yaml')
    .option('-p, --port <port>', 'port to listen on (overrides gateway.port; default 8808)', parsePort)
    .option('--host <address>', 'address to listen on (overrides gateway.host; default 127.0.0.1)')
    .addOption(new Option('--log-level <level>', 'least severe log level (overrides gateway.logLevel)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log lines as JSON or readable text (default: pretty on a terminal, json otherwise)').choices(LOG_FORMAT_CHOICES))
    .option('-s, --server <name>', 'serve only this server, or this virtual server and its members (repeatable)', collect)
    .addOption(
      new Option('--npx <when>', 'npx servers whose package is installed here (node_modules above the config or the working directory) run with node directly unless "always"')
        .choices(['installed', 'always'])
        .default('installed'),
    )
    .addHelpText('after', HELP_AFTER)
    .action(async (options: ServeOptions) => {
      // Before anything of the hot path runs, so that no allocation site is pretenured and the heap grows as set (see heap-tuning.ts).
      (await import('../../gateway/heap-tuning.js')).tuneHeapForRequests();
      // The config loader (zod, yaml) and the gateway load here, not with the command tree, so `--help` does not pay for them.
      const { loadConfig } = await import('../../config/load.js');
      const loaded = await loadConfig(options.config, { onWarning: warn });
      const [{ createLogger }, { runInstalledBinsDirectly }, { displayCommandLine }, { UpstreamServer }] = await Promise.all([
        import('../../log.js'),
        import('../../upstream/installed-bin.js'),
        import('../../upstream/process.js'),
        import('../../upstream/server.js'),
      ]);
      const overridden = applyServeOverrides(loaded, options, options.config);
      const logger = createLogger({ level: overridden.gateway.logLevel, format: options.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json') });
      let config = overridden;
      if (options.npx !== 'always') {
        const resolved = runInstalledBinsDirectly(overridden, [dirname(resolve(options.config)), process.cwd()]);
        config = resolved.config;
        for (const d of resolved.direct) {
          logger.info(`${d.server}: running installed ${d.packageName} ${d.version} with node directly instead of npx`, { server: d.server, bin: d.binPath });
        }
      }
      // The children start now and boot while the gateway's modules load (half of a start to ready).
      const upstreams = new Map(Object.entries(config.servers).map(([name, server]) => [name, new UpstreamServer(name, server, { logger })]));
      for (const upstream of upstreams.values()) void upstream.probe({ keepChild: true }).catch(() => undefined);
      /** Stops those children when the gateway never got to own them (a bad setting, a port in use). */
      const stopChildren = (): Promise<unknown> => Promise.all([...upstreams.values()].map((u) => u.close().then(() => u.stopAll())));
      const [{ createGateway }, { listenMetrics }, { listen }] = await Promise.all([
        import('../../gateway/app.js'),
        import('../../gateway/metrics-server.js'),
        import('../../gateway/http/node.js'),
      ]);
      const extraAllowedHosts = (process.env['MCP_FLEET_ALLOWED_HOSTS'] ?? '')
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h !== '');
      let gateway: ReturnType<typeof createGateway>;
      try {
        const cluster = await clusterSettings(config, process.env, options.config);
        gateway = createGateway(config, { logger, extraAllowedHosts, upstreams, ...(cluster ? { cluster } : {}) });
        if (cluster) info(dim(`  replica ${cluster.advertise}; peers: ${[...cluster.peers, cluster.peersDns ?? ''].filter(Boolean).join(', ') || 'none'}`));
      } catch (error) {
        await stopChildren();
        throw error;
      }
      const listening = await listen(gateway, {
        host: config.gateway.host,
        port: config.gateway.port,
        keepAliveTimeoutMs: config.gateway.httpKeepAliveSeconds * 1000,
        maxBodyBytes: config.gateway.maxBodyBytes,
      }).catch(async (error: NodeJS.ErrnoException) => {
        await stopChildren();
        const where = `${config.gateway.host}:${config.gateway.port}`;
        if (error.code === 'EADDRINUSE') {
          throw new FleetError('PORT_IN_USE', `cannot listen on ${where}: the port is in use`, {
            cause: error,
            hint: 'stop the other process, or pick another port with --port (0 picks a free one)',
          });
        }
        if (error.code === 'EADDRNOTAVAIL' || error.code === 'EACCES') {
          throw new FleetError('LISTEN_FAILED', `cannot listen on ${where}: ${error.code}`, {
            cause: error,
            hint: 'use an address of this machine with --host, and a port above 1023 unless running as root',
          });
        }
        throw error;
      });
      const base = listening.url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
      info(`${bold('mcp-fleet')} listening on ${listening.url} ${dim(`(config ${options.config})`)}`);
      for (const [name, server] of Object.entries(config.servers)) {
        info(`  ${green(name.padEnd(16))} ${base}/servers/${name}/mcp   ${dim(`sse: ${base}/servers/${name}/sse`)}`);
        for (const host of server.hostnames) info(`  ${' '.repeat(16)} ${dim(`https://${host}/mcp`)}`);
      }
      for (const [name, virtual] of Object.entries(config.virtualServers)) {
        info(`  ${green(name.padEnd(16))} ${base}/servers/${name}/mcp   sse: ${base}/servers/${name}/sse   ${dim(`virtual: ${Object.keys(virtual.servers).join(', ')}`)}`);
      }
      info(dim(`  health: ${base}/health   ready: ${base}/ready`));
      // Metrics on their own port (the default) get a second small listener, so they are never public with the gateway.
      const metricsConfig = config.gateway.metrics;
      const metricsListening =
        gateway.metrics && metricsConfig.port !== config.gateway.port
          ? await listenMetrics(gateway.metrics.registry, { host: metricsConfig.host, port: metricsConfig.port, path: metricsConfig.path })
          : undefined;
      if (gateway.metrics) info(dim(`  metrics: ${metricsListening?.url ?? base}${metricsConfig.path}`));

      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        const graceMs = config.gateway.shutdownGraceSeconds * 1000;
        info(`${signal}: draining (up to ${config.gateway.shutdownGraceSeconds}s)`);
        // Past the grace period the process must go, whatever still holds the loop.
        setTimeout(() => process.exit(process.exitCode ?? 0), graceMs + 2000).unref();
        void gateway
          // SIGTERM (an orchestrator) lets open sessions end within the grace period;
          // SIGINT (a person at a terminal) only lets requests in flight finish.
          .drain(graceMs, { waitForSessions: signal === 'SIGTERM' })
          .then(() => Promise.all([listening.close(), metricsListening?.close()]))
          .then(() => info('stopped'));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));

      await gateway.start();
      for (const server of gateway.servers.values()) {
        if (server.state === 'ready') info(`  ${green('ready')}   ${server.name} ${dim(`(${server.verdict?.era} era)`)}`);
        else {
          // Said once, here: the exact command line and the OS error or exit code; the backoff retries are quiet.
          warn(`${server.name} is not ready: ${server.reason ?? server.state}`);
          info(dim(`  command: ${displayCommandLine(server.config.command, server.config.args)}`));
          info(dim(`  retried with backoff (1 s doubling to 60 s); its clients get this cause meanwhile; state at ${base}/ready/${server.name}`));
        }
      }
    });
}

/** Exported for tests: the help text after the options. */
export const SERVE_HELP = HELP_AFTER;
