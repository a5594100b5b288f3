import { ConfigError } from '../errors.js';
import {
  DEFAULT_CPU,
  DEFAULT_MEMORY_MIB,
  DeploySchema,
  type AutoscalingConfig,
  type DeployConfig,
  type PolicyStatementConfig,
} from '../config/deploy-schema.js';
import type { FleetConfig } from '../config/schema.js';

/** One ECS service of the deployment: a single server, or every server when packed. */
export interface ServicePlan {
  /** Service id: the server name, or `fleet` when packed. Used in construct ids, log groups and outputs. */
  readonly id: string;
  /** Servers this service runs (`--server` flags of the container). */
  readonly servers: readonly string[];
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly desiredCount: number;
  readonly spot: boolean;
  readonly autoscaling: AutoscalingConfig | undefined;
  /** Names of the environment variables injected from Secrets Manager into this service's tasks. */
  readonly secretNames: readonly string[];
  /** Statements of this service's task role. */
  readonly taskPolicyStatements: readonly PolicyStatementConfig[];
}

/** How requests reach a server. */
export interface RoutePlan {
  readonly server: string;
  readonly service: string;
  /** Host names with a host-header rule; empty means path routing at `/servers/<name>/`. */
  readonly hostnames: readonly string[];
}

/** Everything the construct and the CLI need, derived once from a validated config. */
export interface DeployPlan {
  readonly deploy: DeployConfig;
  readonly services: readonly ServicePlan[];
  readonly routes: readonly RoutePlan[];
  /** HTTPS with a certificate (a domain is configured), else plain HTTP on the load balancer's name. */
  readonly https: boolean;
  /** Container port of the gateway. */
  readonly port: number;
  /** ECS stopTimeout and deregistration delay, a little above the gateway's drain. */
  readonly stopTimeoutSeconds: number;
  /** Things that work but that the user should know. */
  readonly warnings: readonly string[];
}

/**
 * Environment variables the construct sets on every gateway container; the
 * gateway reads them (a contract with `serve`, kept here because the deploy code
 * never imports the gateway). `deploy.secrets` may not declare these names.
 */
export const FleetEnv = {
  /** Host names the gateway accepts besides its own (plain env). */
  allowedHosts: 'MCP_FLEET_ALLOWED_HOSTS',
  /** `host:port` whose A records are the replicas of this service (plain env). */
  peersDns: 'MCP_FLEET_PEERS_DNS',
  /** The fleet secret that signs session ids; setting it turns clustering on (from Secrets Manager). */
  clusterSecret: 'MCP_FLEET_CLUSTER_SECRET',
} as const;

const ENV_REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g;

/**
 * Names of `${NAME}` references in every string of `value` that have no
 * `:-default` (those need a value at run time).
 */
export function referencedEnvNames(value: unknown): Set<string> {
  const names = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(ENV_REF)) if (m[1] !== undefined && m[2] === undefined) names.add(m[1]);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return names;
}

/** Env names a server needs at run time: its own references plus the API key variables. */
function secretsOf(config: FleetConfig, servers: readonly string[]): string[] {
  const names = new Set<string>();
  for (const s of servers) for (const n of referencedEnvNames(config.servers[s])) names.add(n);
  for (const n of referencedEnvNames(config.gateway)) names.add(n);
  for (const key of config.gateway.auth?.apiKeys ?? []) if (key.env !== undefined) names.add(key.env);
  return [...names].sort();
}

/**
 * Validates the deploy-specific rules that need the whole config and derives the
 * {@link DeployPlan}. Throws {@link ConfigError} naming every problem and its fix.
 * The config must have been loaded with `resolveEnv: false`.
 */
export function planDeployment(config: FleetConfig, file = 'config'): DeployPlan {
  const deploy = config.deploy ?? DeploySchema.parse({});
  const problems: string[] = [];
  const warnings: string[] = [];
  const names = Object.keys(config.servers);

  const domain = deploy.domain;
  for (const name of names) {
    const server = config.servers[name]!;
    server.hostnames.forEach((host, i) => {
      if (domain === undefined) {
        problems.push(
          `servers.${name}.hostnames[${i}]: is "${host}", but deploy.domain is not set; add deploy.domain with name and hostedZoneId or certificateArn, or remove the host names to use path routing`,
        );
      } else if (host !== domain.name && !host.endsWith(`.${domain.name}`)) {
        problems.push(`servers.${name}.hostnames[${i}]: "${host}" is not under deploy.domain.name "${domain.name}"; use a name such as ${name}.${domain.name}`);
      }
    });
    if (deploy.layout === 'packed' && server.deploy !== undefined) {
      const { cpu, memoryMiB, desiredCount, spot, autoscaling } = server.deploy;
      if ([cpu, memoryMiB, desiredCount, spot, autoscaling].some((v) => v !== undefined)) {
        warnings.push(`servers.${name}.deploy: sizing is ignored with layout packed; size the one service under deploy.packed`);
      }
    }
  }

  const declared = new Set(Object.keys(deploy.secrets));
  const used = new Set(secretsOf(config, names));
  for (const n of used) {
    if (!declared.has(n)) {
      const where = names.filter((s) => referencedEnvNames(config.servers[s]).has(n)).map((s) => `servers.${s}`);
      if (where.length === 0) where.push('gateway.auth.apiKeys');
      problems.push(
        `deploy.secrets.${n}: ${where.join(', ')} reference${where.length === 1 ? 's' : ''} \${${n}}, which is not declared; add deploy.secrets.${n}: { secretName: <Secrets Manager name> } (values are never put in plain task environment)`,
      );
    }
  }
  for (const n of Object.values(FleetEnv)) {
    if (declared.has(n)) problems.push(`deploy.secrets.${n}: is set by the stack itself (${n === FleetEnv.clusterSecret ? 'a generated fleet secret' : 'from the deployment'}); remove it from deploy.secrets and from the config's \${...} references`);
  }
  for (const n of declared) if (!used.has(n)) warnings.push(`deploy.secrets.${n}: declared but not referenced by any server or API key; it is not injected`);

  // On ECS the stack wires clustering through the environment; gateway.cluster would win over it.
  const cluster = config.gateway.cluster;
  if (cluster !== undefined) {
    const onEcs = 'on ECS the stack sets it for each service';
    if (cluster.advertise !== undefined) {
      problems.push(`gateway.cluster.advertise: is "${cluster.advertise}", so every replica would claim the same URL; remove it (${onEcs}: each replica advertises its task's private IP)`);
    }
    if (cluster.peers.length > 0) problems.push(`gateway.cluster.peers: task IPs change on every deployment, so a static list cannot name the replicas; remove it (${onEcs}: MCP_FLEET_PEERS_DNS, from Cloud Map)`);
    if (cluster.peersDns !== undefined) problems.push(`gateway.cluster.peersDns: is "${cluster.peersDns}", which would override the Cloud Map name of each service; remove it (${onEcs})`);
    if (referencedEnvNames(cluster.secret).size === 0) {
      problems.push('gateway.cluster.secret: is a literal value, which would be baked into the image; remove it (the stack generates a fleet secret in Secrets Manager) or write ${NAME} and declare NAME in deploy.secrets');
    }
  }
  if (deploy.loadBalancer.internal === false && (config.gateway.auth?.apiKeys.length ?? 0) === 0) {
    warnings.push('gateway.auth has no apiKeys: anyone who reaches the internet-facing load balancer can call your servers; add keys or set deploy.loadBalancer.internal');
  }
  if (domain === undefined && !deploy.loadBalancer.internal) {
    warnings.push('no deploy.domain: the load balancer serves plain HTTP, so bearer tokens cross the internet unencrypted; add a domain for HTTPS');
  }
  if (deploy.network.privateSubnets && deploy.network.vpcId === undefined && !deploy.network.useDefaultVpc && deploy.network.natGateways === 0 && !deploy.network.vpcEndpoints) {
    problems.push('deploy.network.natGateways: is 0 with privateSubnets and no vpcEndpoints, so tasks cannot pull their image; set natGateways >= 1 or vpcEndpoints: true');
  }
  if (problems.length > 0) throw new ConfigError(file, problems);

  const grace = config.gateway.shutdownGraceSeconds;
  const stopTimeoutSeconds = Math.min(Math.ceil(grace) + 5, 120);
  if (grace + 5 > 120) warnings.push(`gateway.shutdownGraceSeconds ${grace} exceeds what Fargate allows (stopTimeout max 120 s); drains are cut at 120 s`);

  let services: ServicePlan[];
  if (deploy.layout === 'packed') {
    const p = deploy.packed;
    services = [
      {
        id: 'fleet',
        servers: names,
        cpu: p.cpu ?? DEFAULT_CPU,
        memoryMiB: p.memoryMiB ?? DEFAULT_MEMORY_MIB,
        desiredCount: p.desiredCount ?? 1,
        spot: p.spot ?? deploy.spot,
        autoscaling: p.autoscaling,
        secretNames: secretsOf(config, names),
        taskPolicyStatements: names.flatMap((n) => config.servers[n]!.deploy?.taskPolicyStatements ?? []),
      },
    ];
  } else {
    services = names.map((name) => {
      const d = config.servers[name]!.deploy;
      return {
        id: name,
        servers: [name],
        cpu: d?.cpu ?? DEFAULT_CPU,
        memoryMiB: d?.memoryMiB ?? DEFAULT_MEMORY_MIB,
        desiredCount: d?.desiredCount ?? 1,
        spot: d?.spot ?? deploy.spot,
        autoscaling: d?.autoscaling,
        secretNames: secretsOf(config, [name]),
        taskPolicyStatements: d?.taskPolicyStatements ?? [],
      };
    });
  }
  const routes: RoutePlan[] = names.map((name) => ({
    server: name,
    service: deploy.layout === 'packed' ? 'fleet' : name,
    hostnames: config.servers[name]!.hostnames,
  }));
  return { deploy, services, routes, https: domain !== undefined, port: config.gateway.port, stopTimeoutSeconds, warnings };
}

/** `fetch-docs` → `FetchDocs`: a server name as a CloudFormation logical id / output key part. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]/)
    .filter((p) => p !== '')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

/** Output keys of the stack, shared by the construct (writer) and the CLI (reader). */
export const OutputKeys = {
  clusterName: 'ClusterName',
  loadBalancerDnsName: 'LoadBalancerDnsName',
  clusterSecretArn: 'ClusterSecretArn',
  serviceName: (service: string) => `Svc${pascalCase(service)}ServiceName`,
  targetGroupArn: (service: string) => `Svc${pascalCase(service)}TargetGroupArn`,
  logGroupName: (service: string) => `Svc${pascalCase(service)}LogGroup`,
  serverUrl: (server: string) => `Srv${pascalCase(server)}Url`,
} as const;
