import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { LogLevelSchema, type FleetConfig } from '../../config/schema.js';
import { ConfigError, FleetError } from '../../errors.js';
import { createGateway } from '../../gateway/app.js';
import { resolveAdvertiseUrl, type ClusterSettings } from '../../gateway/cluster/cluster.js';
import { listenMetrics } from '../../gateway/metrics-server.js';
import { listen } from '../../gateway/http/node.js';
import { createJsonLogger } from '../../log.js';
import { bold, dim, green, info, warn } from '../output.js';

/** Options of `mcp-fleet serve`, as commander parses them. */
interface ServeOptions {
  readonly config: string;
  readonly port?: number;
  readonly host?: string;
  readonly logLevel?: string;
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

SIGTERM or SIGINT drains: /ready turns 503, new sessions are refused, requests in
flight finish (after SIGTERM, open sessions may also run until they end), children
are stopped, and the process exits within gateway.shutdownGraceSeconds.

Examples:
  $ mcp-fleet serve --config examples/fleet.yaml
  $ mcp-fleet serve --config ~/Library/Application\\ Support/Claude/claude_desktop_config.json --port 9000
  $ mcp-fleet serve --config fleet.yaml --host 0.0.0.0 --server fetch`;

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
  if (options.server && options.server.length > 0) {
    const unknown = options.server.filter((name) => !(name in config.servers));
    if (unknown.length > 0) {
      throw new ConfigError(file, [
        `--server ${unknown.join(', ')}: no such server; the config has ${Object.keys(config.servers).join(', ')}`,
      ]);
    }
    servers = Object.fromEntries(Object.entries(config.servers).filter(([name]) => options.server?.includes(name)));
  }
  return {
    ...config,
    servers,
    gateway: {
      ...config.gateway,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      ...(options.logLevel !== undefined ? { logLevel: LogLevelSchema.parse(options.logLevel) } : {}),
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
    .addOption(new Option('--log-level <level>', 'least severe log level (overrides gateway.logLevel)').choices(LogLevelSchema.options))
    .option('-s, --server <name>', 'serve only this server (repeatable)', collect)
    .addHelpText('after', HELP_AFTER)
    .action(async (options: ServeOptions) => {
      const loaded = await loadConfig(options.config, { onWarning: warn });
      const config = applyServeOverrides(loaded, options, options.config);
      const logger = createJsonLogger({ level: config.gateway.logLevel });
      const extraAllowedHosts = (process.env['MCP_FLEET_ALLOWED_HOSTS'] ?? '')
        .split(',')
        .map((h) => h.trim())
        .filter((h) => h !== '');
      const cluster = await clusterSettings(config, process.env, options.config);
      const gateway = createGateway(config, { logger, extraAllowedHosts, ...(cluster ? { cluster } : {}) });
      if (cluster) info(dim(`  replica ${cluster.advertise}; peers: ${[...cluster.peers, cluster.peersDns ?? ''].filter(Boolean).join(', ') || 'none'}`));
      const listening = await listen(gateway, {
        host: config.gateway.host,
        port: config.gateway.port,
        keepAliveTimeoutMs: config.gateway.httpKeepAliveSeconds * 1000,
        maxBodyBytes: config.gateway.maxBodyBytes,
      }).catch((error: NodeJS.ErrnoException) => {
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
        else warn(`${server.name} is not ready: ${server.reason ?? server.state}`);
      }
    });
}

/** Exported for tests: the help text after the options. */
export const SERVE_HELP = HELP_AFTER;
