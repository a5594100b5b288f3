import { ConfigError } from '../errors.js';
import {
  DEFAULT_CPU,
  DeploySchema,
  type AutoscalingConfig,
  type DeployConfig,
  type PolicyStatementConfig,
} from '../config/deploy-schema.js';
import { consoleAccessIssues } from '../config/console-schema.js';
import type { FleetConfig, ServerConfig } from '../config/schema.js';
import { idleTimeoutProblems } from '../config/timeouts.js';
import { ADOT_MEMORY_RESERVATION_MIB, adotProblems } from './adot-plan.js';
import { needsInternet } from './known-servers.js';
import { literalSecretProblems } from './literal-secrets.js';
import { planTaskMemory } from './memory.js';
import { authStackSecretNames, authUserSecretNames, planAuth, type AuthDeployPlan } from './auth-plan.js';

/** One ECS service of the deployment: a single server, or every server when packed. */
export interface ServicePlan {
  /** Service id: the server name, or `fleet` when packed. Used in construct ids, log groups and outputs. */
  readonly id: string;
  /** Servers this service runs (`--server` flags of the container). */
  readonly servers: readonly string[];
  /** The virtual server this service serves, over its members `servers` (service-per-server layout). @default none */
  readonly virtualServer?: string;
  readonly cpu: number;
  /** Task memory: as configured, or the smallest size that holds the children (see `memory.ts`). */
  readonly memoryMiB: number;
  /** Tasks when not autoscaling (with autoscaling, `autoscaling.minCount`). */
  readonly desiredCount: number;
  /** Fewest tasks the service runs: `autoscaling.minCount`, else `desiredCount`. */
  readonly minTasks: number;
  readonly spot: boolean;
  /** With Spot, the first this-many tasks run on regular Fargate (0 without Spot: every task is regular). */
  readonly onDemandBase: number;
  readonly autoscaling: AutoscalingConfig | undefined;
  /** `maxSessions` of each per-session server in one task of this service: what its memory holds. */
  readonly sessionCaps: Readonly<Record<string, number>>;
  /** Names of the environment variables injected from Secrets Manager into this service's tasks. */
  readonly secretNames: readonly string[];
  /** Statements of this service's task role. */
  readonly taskPolicyStatements: readonly PolicyStatementConfig[];
}

/** One listener rule: its construct id (public contract), priority and condition. */
export interface ListenerRulePlan {
  /** Construct id of the rule: `<Server>HostRule`, `<Server>HostRule1`, ... or `<Server>PathRule`. */
  readonly id: string;
  /** Derived from the server name (and chunk), so it never depends on config order. */
  readonly priority: number;
  /** Up to five host names (an ALB rule holds five condition values), or none for a path rule. */
  readonly hostnames: readonly string[];
}

/** How requests reach a server. */
export interface RoutePlan {
  readonly server: string;
  readonly service: string;
  /** Host names with a host-header rule; empty means path routing at `/servers/<name>/`. */
  readonly hostnames: readonly string[];
  /** The listener rules that forward to the server's target group. */
  readonly rules: readonly ListenerRulePlan[];
  /** Readiness path of the server's target group health check. */
  readonly healthCheckPath: string;
}

/** The certificate the stack creates, when it creates one. */
export interface CertificatePlan {
  readonly domainName: string;
  readonly subjectAlternativeNames: readonly string[];
}

/** Everything the construct and the CLI need, derived once from a validated config. */
export interface DeployPlan {
  readonly deploy: DeployConfig;
  readonly services: readonly ServicePlan[];
  readonly routes: readonly RoutePlan[];
  /** HTTPS with a certificate (a domain is configured), else plain HTTP on the load balancer's name. */
  readonly https: boolean;
  /** Names of the certificate to create (a domain with a hosted zone and no certificateArn). */
  readonly certificate: CertificatePlan | undefined;
  /** Container port of the gateway. */
  readonly port: number;
  /** ECS stopTimeout and deregistration delay, a little above the gateway's drain. */
  readonly stopTimeoutSeconds: number;
  /** Things that work but that the user should know. */
  readonly warnings: readonly string[];
  /** The same servers packed into one `deploy.packed` service, for the cost comparison; undefined when they do not fit. */
  readonly packedAlternative: ServicePlan | undefined;
  /** Share of client requests traced (`gateway.telemetry.samplingRatio`), for the X-Ray line of the cost estimate. */
  readonly telemetrySamplingRatio: number;
  /** The built-in authorization server's resources, when `gateway.auth.authorizationServer` is on. */
  readonly auth: AuthDeployPlan | undefined;
  /** The audit log group, when `gateway.audit.enabled`. */
  readonly audit: { readonly retentionDays: number } | undefined;
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
  /** The CloudWatch Logs group audit records go to (plain env; `gateway/audit/cloudwatch-sink.ts` reads it). */
  auditLogGroup: 'MCP_FLEET_AUDIT_LOG_GROUP',
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
  for (const key of config.gateway.console?.adminKeys ?? []) if (key.env !== undefined) names.add(key.env);
  for (const n of authUserSecretNames(config)) names.add(n);
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
  const virtualNames = Object.keys(config.virtualServers);

  const domain = deploy.domain;
  for (const name of virtualNames) {
    config.virtualServers[name]!.hostnames.forEach((host, i) => {
      if (domain === undefined) {
        problems.push(`virtualServers.${name}.hostnames[${i}]: is "${host}", but deploy.domain is not set; add deploy.domain, or remove the host names to use path routing`);
      } else if (host !== domain.name && !host.endsWith(`.${domain.name}`)) {
        problems.push(`virtualServers.${name}.hostnames[${i}]: "${host}" is not under deploy.domain.name "${domain.name}"; use a name such as ${name}.${domain.name}`);
      }
    });
  }
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
      const { cpu, memoryMiB, desiredCount, spot, autoscaling, onDemandBase } = server.deploy;
      if ([cpu, memoryMiB, desiredCount, spot, autoscaling, onDemandBase].some((v) => v !== undefined)) {
        warnings.push(`servers.${name}.deploy: sizing is ignored with layout packed; size the one service under deploy.packed`);
      }
    }
  }

  const declared = new Set(Object.keys(deploy.secrets));
  const used = new Set(secretsOf(config, names));
  for (const n of used) {
    if (!declared.has(n)) {
      const where = names.filter((s) => referencedEnvNames(config.servers[s]).has(n)).map((s) => `servers.${s}`);
      if (where.length === 0) where.push(authUserSecretNames(config).includes(n) ? 'gateway.auth.authorizationServer' : 'gateway.auth.apiKeys');
      problems.push(
        `deploy.secrets.${n}: ${where.join(', ')} reference${where.length === 1 ? 's' : ''} \${${n}}, which is not declared; add deploy.secrets.${n}: { secretName: <Secrets Manager name> } (values are never put in plain task environment)`,
      );
    }
  }
  for (const n of Object.values(FleetEnv)) {
    if (declared.has(n)) problems.push(`deploy.secrets.${n}: is set by the stack itself (${n === FleetEnv.clusterSecret ? 'a generated fleet secret' : 'from the deployment'}); remove it from deploy.secrets and from the config's \${...} references`);
  }
  for (const n of authStackSecretNames(config)) {
    if (declared.has(n)) problems.push(`deploy.secrets.${n}: is set by the stack itself (the authorization server's resources); remove it from deploy.secrets`);
  }
  const auth = planAuth(config, problems, warnings);
  for (const n of declared) if (!used.has(n)) warnings.push(`deploy.secrets.${n}: declared but not referenced by any server or API key; it is not injected`);
  problems.push(...literalSecretProblems(config));
  problems.push(...adotProblems(config));
  // Tasks listen on 0.0.0.0: a console without an admin credential would stop every task at start.
  for (const issue of consoleAccessIssues({ ...config.gateway, host: '0.0.0.0' })) problems.push(`gateway.${issue.path.join('.')}: ${issue.message}`);

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
  const oauthOn = config.gateway.auth?.oauth !== undefined || config.gateway.auth?.authorizationServer !== undefined;
  if (deploy.loadBalancer.internal === false && (config.gateway.auth?.apiKeys.length ?? 0) === 0 && !oauthOn) {
    warnings.push('gateway.auth has no apiKeys: anyone who reaches the internet-facing load balancer can call your servers; add keys or set deploy.loadBalancer.internal');
  }
  if (domain === undefined && !deploy.loadBalancer.internal) {
    warnings.push('no deploy.domain: the load balancer serves plain HTTP, so bearer tokens cross the internet unencrypted; add a domain for HTTPS');
  }
  problems.push(
    ...idleTimeoutProblems({
      loadBalancerIdleSeconds: deploy.loadBalancer.idleTimeoutSeconds,
      httpKeepAliveSeconds: config.gateway.httpKeepAliveSeconds,
      sseKeepAliveSeconds: config.gateway.sseKeepAliveSeconds,
    }),
  );
  const net = deploy.network;
  const newVpc = net.vpcId === undefined && !net.useDefaultVpc;
  if (net.privateSubnets && newVpc && net.natGateways === 0 && !net.vpcEndpoints) {
    problems.push('deploy.network.natGateways: is 0 with privateSubnets and no vpcEndpoints, so tasks cannot pull their image; set natGateways >= 1 or vpcEndpoints: true');
  } else if (net.privateSubnets) {
    // VPC endpoints reach AWS only: a server that fetches from the internet needs a NAT gateway.
    for (const name of names) {
      const egress = needsInternet(name, config.servers[name]!);
      if (!egress.needs) continue;
      if (newVpc && net.natGateways === 0) {
        problems.push(
          `servers.${name}.deploy.internetEgress: the server needs the internet (${egress.why}), but its tasks run in private subnets with no NAT gateway (VPC endpoints reach AWS services only); set deploy.network.natGateways >= 1, or privateSubnets: false, or internetEgress: false if it does not`,
        );
      } else if (!newVpc) {
        warnings.push(`servers.${name}: needs the internet (${egress.why}); make sure the private subnets of ${net.vpcId ?? 'the default VPC'} route to a NAT gateway`);
      }
    }
  }

  const grace = config.gateway.shutdownGraceSeconds;
  const stopTimeoutSeconds = Math.min(Math.ceil(grace) + 5, 120);
  if (grace + 5 > 120) warnings.push(`gateway.shutdownGraceSeconds ${grace} exceeds what Fargate allows (stopTimeout max 120 s); drains are cut at 120 s`);

  const services: ServicePlan[] = [];
  const servicePlan = (id: string, servers: readonly string[], sizing: ServiceSizing, field: string, taskPolicyStatements: readonly PolicyStatementConfig[], notes: string[] | undefined): ServicePlan | string => {
    const cpu = sizing.cpu ?? DEFAULT_CPU;
    const memory = planTaskMemory(config.servers, servers, cpu, sizing.memoryMiB, deploy.telemetry.adot ? ADOT_MEMORY_RESERVATION_MIB : 0);
    if (!memory.ok) return `${field}.memoryMiB: ${memory.problem}`;
    for (const [server, cap] of Object.entries(memory.memory.sessionCaps)) {
      const configured = config.servers[server]!.maxSessions;
      if (cap < configured) {
        notes?.push(`servers.${server}.maxSessions: ${configured} is lowered to ${cap} per task, what ${memory.memory.memoryMiB} MiB holds (one child per session); more sessions get 503 until autoscaling adds a task, or raise ${field}.memoryMiB`);
      }
    }
    const spot = sizing.spot ?? deploy.spot;
    const desiredCount = sizing.desiredCount ?? 1;
    const minTasks = sizing.autoscaling?.minCount ?? desiredCount;
    return {
      id,
      servers,
      cpu,
      memoryMiB: memory.memory.memoryMiB,
      desiredCount: sizing.autoscaling?.minCount ?? desiredCount,
      minTasks,
      spot,
      onDemandBase: spot ? (sizing.onDemandBase ?? (minTasks >= 1 ? 1 : 0)) : 0,
      autoscaling: sizing.autoscaling,
      sessionCaps: memory.memory.sessionCaps,
      secretNames: secretsOf(config, servers),
      taskPolicyStatements,
    };
  };
  const sizeService = (...args: Parameters<typeof servicePlan>): void => {
    const planned = servicePlan(...args);
    if (typeof planned === 'string') problems.push(planned);
    else services.push(planned);
  };
  const packedStatements = names.flatMap((n) => config.servers[n]!.deploy?.taskPolicyStatements ?? []);
  if (deploy.layout === 'packed') {
    // ECS attaches at most five target groups to a service, and each server has its own (its own health check).
    if (names.length + virtualNames.length > MAX_TARGET_GROUPS_PER_SERVICE) {
      problems.push(
        `deploy.layout: packed runs ${names.length + virtualNames.length} servers${virtualNames.length > 0 ? ` (${virtualNames.length} of them virtual)` : ''} in one service, but ECS attaches at most ${MAX_TARGET_GROUPS_PER_SERVICE} target groups to a service and each server has its own (so one broken server does not fail the others' health checks); use layout service-per-server, or deploy the rest as a second fleet`,
      );
    }
    sizeService('fleet', names, deploy.packed, 'deploy.packed', packedStatements, warnings);
  } else {
    for (const name of names) {
      const d = config.servers[name]!.deploy;
      sizeService(name, [name], d ?? {}, `servers.${name}.deploy`, d?.taskPolicyStatements ?? [], warnings);
    }
    // A virtual server is a service of its own that runs its members' children next to the virtual endpoint,
    // so its members keep their policies and a virtual session never crosses a task.
    for (const name of virtualNames) {
      const members = Object.keys(config.virtualServers[name]!.servers);
      const statements = members.flatMap((m) => config.servers[m]!.deploy?.taskPolicyStatements ?? []);
      const planned = servicePlan(name, members, {}, `virtualServers.${name}`, statements, warnings);
      if (typeof planned === 'string') problems.push(planned);
      else services.push({ ...planned, virtualServer: name });
    }
  }
  const packed = servicePlan('fleet', names, deploy.packed, 'deploy.packed', packedStatements, undefined);
  const packedAlternative = typeof packed === 'string' ? undefined : packed;

  const routes: RoutePlan[] = names.map((name) => {
    const server = config.servers[name]!;
    return {
      server: name,
      service: deploy.layout === 'packed' ? 'fleet' : name,
      hostnames: server.hostnames,
      rules: listenerRulesOf(name, server),
      healthCheckPath: `/ready/${name}`,
    };
  });
  for (const name of virtualNames) {
    const virtual = config.virtualServers[name]!;
    routes.push({
      server: name,
      service: deploy.layout === 'packed' ? 'fleet' : name,
      hostnames: virtual.hostnames,
      rules: listenerRulesOf(name, virtual),
      healthCheckPath: `/ready/${name}`,
    });
  }
  problems.push(...priorityCollisions(routes, config));

  let certificate: CertificatePlan | undefined;
  if (domain !== undefined && domain.certificateArn === undefined) {
    const hostnames = [...names.flatMap((n) => config.servers[n]!.hostnames), ...virtualNames.flatMap((n) => config.virtualServers[n]!.hostnames)].filter((h) => h !== domain.name);
    if ((domain.certificateNames ?? 'wildcard') === 'wildcard') {
      // One wildcard label covers fetch.example.com, not a.b.example.com: those are listed as well.
      const deeper = hostnames.filter((h) => h.slice(0, -(domain.name.length + 1)).includes('.'));
      for (const h of deeper) warnings.push(`deploy.domain: ${h} is not covered by *.${domain.name}, so the certificate lists it too and is re-issued when such names change; prefer names one level below ${domain.name}`);
      certificate = { domainName: domain.name, subjectAlternativeNames: [`*.${domain.name}`, ...deeper] };
    } else {
      if (hostnames.length + 1 > ACM_NAMES_PER_CERTIFICATE) {
        problems.push(
          `deploy.domain.certificateNames: is hostnames, but ${hostnames.length + 1} names exceed the ${ACM_NAMES_PER_CERTIFICATE} names ACM allows per certificate by default; use certificateNames: wildcard, or certificateArn of a certificate you raised the quota for`,
        );
      }
      certificate = { domainName: domain.name, subjectAlternativeNames: hostnames };
    }
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  const audit = config.gateway.audit.enabled ? { retentionDays: deploy.audit.retentionDays } : undefined;
  return { deploy, services, routes, https: domain !== undefined, certificate, port: config.gateway.port, stopTimeoutSeconds, warnings, packedAlternative, auth, audit, telemetrySamplingRatio: config.gateway.telemetry.samplingRatio };
}

/** ECS: target groups one service may register with. */
export const MAX_TARGET_GROUPS_PER_SERVICE = 5;
/** ACM: names one certificate may hold, by default. */
export const ACM_NAMES_PER_CERTIFICATE = 10;
/** Listener rule priorities are derived into [FIRST, LAST]; below FIRST are the priorities of releases that numbered rules in config order. */
export const LISTENER_PRIORITY_FIRST = 1000;
/** Highest priority an ALB rule may have. */
export const LISTENER_PRIORITY_LAST = 50_000;

type ServiceSizing = {
  readonly cpu?: number | undefined;
  readonly memoryMiB?: number | undefined;
  readonly desiredCount?: number | undefined;
  readonly spot?: boolean | undefined;
  readonly onDemandBase?: number | undefined;
  readonly autoscaling?: AutoscalingConfig | undefined;
};

/**
 * The listener rule priority of a server (and of its extra host-name rules):
 * FNV-1a of the name, folded into [{@link LISTENER_PRIORITY_FIRST}, {@link LISTENER_PRIORITY_LAST}].
 * It depends on nothing but the name, so adding, removing or reordering other
 * servers never moves it (CloudFormation would hit PriorityInUse).
 */
export function listenerPriorityOf(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return LISTENER_PRIORITY_FIRST + (hash % (LISTENER_PRIORITY_LAST - LISTENER_PRIORITY_FIRST + 1));
}

function listenerRulesOf(name: string, server: { readonly hostnames: readonly string[]; readonly deploy?: ServerConfig['deploy'] }): ListenerRulePlan[] {
  const rid = pascalCase(name);
  const fixed = server.deploy?.listenerPriority;
  const priority = (chunk: number): number => (fixed !== undefined ? fixed + chunk : listenerPriorityOf(chunk === 0 ? name : `${name}#${chunk}`));
  if (server.hostnames.length === 0) return [{ id: `${rid}PathRule`, priority: priority(0), hostnames: [] }];
  const rules: ListenerRulePlan[] = [];
  // ALB allows 5 condition values per rule.
  for (let i = 0; i < server.hostnames.length; i += 5) {
    rules.push({ id: `${rid}HostRule${i === 0 ? '' : i / 5}`, priority: priority(i / 5), hostnames: server.hostnames.slice(i, i + 5) });
  }
  return rules;
}

function priorityCollisions(routes: readonly RoutePlan[], config: FleetConfig): string[] {
  const owner = new Map<number, string>();
  const problems: string[] = [];
  for (const route of routes) {
    for (const rule of route.rules) {
      const other = owner.get(rule.priority);
      if (other !== undefined && other !== route.server) {
        const fixed = config.servers[route.server]?.deploy?.listenerPriority !== undefined;
        problems.push(
          `servers.${route.server}.deploy.listenerPriority: ${fixed ? `is ${rule.priority}` : `the name hashes to listener priority ${rule.priority}`}, which server ${other} has too; set servers.${route.server}.deploy.listenerPriority to a free number from ${LISTENER_PRIORITY_FIRST} to ${LISTENER_PRIORITY_LAST} (it must then never change)`,
        );
      } else if (rule.priority > LISTENER_PRIORITY_LAST) {
        problems.push(`servers.${route.server}.deploy.listenerPriority: its rules would need priorities up to ${rule.priority}, above ${LISTENER_PRIORITY_LAST}; choose a lower one`);
      }
      owner.set(rule.priority, route.server);
    }
  }
  return problems;
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
  auditLogGroupName: 'AuditLogGroup',
} as const;
