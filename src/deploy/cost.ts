import { FleetError } from '../errors.js';
import { ADOT_CPU_UNITS, ADOT_MEMORY_RESERVATION_MIB } from './adot-plan.js';
import type { DeployPlan, ServicePlan } from './plan.js';

/** Hours in the average month, as AWS prices monthly figures. */
export const HOURS_PER_MONTH = 730;

/** When the list prices below were taken from the AWS pricing pages. */
export const PRICE_DATE = '2025-06-01';

/**
 * Fargate Spot is priced by AWS per region and moves over time; the model uses
 * this fraction of the on-demand price, a typical observed value (AWS advertises
 * "up to 70% off").
 */
export const SPOT_PRICE_FRACTION = 0.3;

/** On-demand list prices of one region, in USD (Linux/x86 Fargate). */
export interface RegionPrices {
  /** Fargate, per vCPU-hour. */
  readonly vcpuHour: number;
  /** Fargate, per GB-hour of memory. */
  readonly gbHour: number;
  /** Application Load Balancer, per hour. */
  readonly albHour: number;
  /** Application Load Balancer, per LCU-hour. */
  readonly lcuHour: number;
  /** CloudWatch Logs ingestion, per GB. */
  readonly logsIngestGb: number;
  /** CloudWatch Logs storage, per GB-month. */
  readonly logsStoreGbMonth: number;
  /** Public IPv4 address, per hour. */
  readonly ipv4Hour: number;
  /** NAT gateway, per hour. */
  readonly natHour: number;
  /** Interface VPC endpoint, per endpoint per AZ per hour. */
  readonly endpointHour: number;
  /** Secrets Manager, per secret-month. */
  readonly secretMonth: number;
  /** CloudWatch standard alarm, per alarm-month. */
  readonly alarmMonth: number;
  /** CloudWatch dashboard, per month (past the free three). */
  readonly dashboardMonth: number;
  /** CloudWatch custom metric, per metric-month (first 10,000 metrics); Container Insights metrics are billed so. */
  readonly metricMonth: number;
  /** DynamoDB on-demand, per million write request units. */
  readonly dynamoWriteMillion: number;
  /** DynamoDB on-demand, per million read request units. */
  readonly dynamoReadMillion: number;
  /** Cognito user pools (Essentials), per monthly active user past the free ones. */
  readonly cognitoMau: number;
  /** Monthly active users Cognito (Essentials) does not charge for. */
  readonly cognitoFreeMau: number;
  /** AWS X-Ray, per million traces recorded. */
  readonly xrayTraceMillion: number;
  /** Traces X-Ray records a month without charge. */
  readonly xrayFreeTraces: number;
}

const US: RegionPrices = {
  vcpuHour: 0.04048,
  gbHour: 0.004445,
  albHour: 0.0225,
  lcuHour: 0.008,
  logsIngestGb: 0.5,
  logsStoreGbMonth: 0.03,
  ipv4Hour: 0.005,
  natHour: 0.045,
  endpointHour: 0.01,
  secretMonth: 0.4,
  alarmMonth: 0.1,
  dashboardMonth: 3,
  metricMonth: 0.3,
  dynamoWriteMillion: 0.625,
  dynamoReadMillion: 0.125,
  cognitoMau: 0.015,
  cognitoFreeMau: 10_000,
  xrayTraceMillion: 5,
  xrayFreeTraces: 100_000,
};

/**
 * Metrics Container Insights (standard) publishes for ECS on Fargate, counted
 * from its metric list: per cluster (CPU, memory, network, storage, ephemeral
 * storage, task and service counts), and per service and per task definition
 * family (the same resource metrics; the service adds desired, running and
 * pending task, deployment and task set counts).
 */
export const CONTAINER_INSIGHTS_METRICS = { perCluster: 11, perService: 15, perTaskFamily: 10 } as const;

/** List prices per region, as of {@link PRICE_DATE}. */
export const PRICES: Readonly<Record<string, RegionPrices>> = {
  'us-east-1': US,
  'us-east-2': US,
  'us-west-2': US,
  'eu-west-1': { ...US, albHour: 0.0252, logsIngestGb: 0.57, natHour: 0.048, endpointHour: 0.011 },
  'eu-central-1': { ...US, vcpuHour: 0.04656, gbHour: 0.00511, albHour: 0.027, lcuHour: 0.0096, logsIngestGb: 0.63, logsStoreGbMonth: 0.0324, natHour: 0.052, endpointHour: 0.012 },
};

/** Usage assumptions of the estimate (what list prices cannot know). */
export interface CostAssumptions {
  /** Average load balancer capacity units used. @default 1 */
  readonly lcu?: number;
  /** Log volume per service per month, in GB. @default 1 */
  readonly logGbPerServiceMonth?: number;
  /** Availability zones (load balancer nodes, endpoints). @default deploy.network.maxAzs */
  readonly azs?: number;
  /** Reads of the authorization server's table per month (sign-in checks, refreshes). @default 1,000,000 */
  readonly authReadsPerMonth?: number;
  /** Writes of the authorization server's table per month (sign-ins, refreshes, registrations). @default 100,000 */
  readonly authWritesPerMonth?: number;
  /** People who sign in through Cognito in a month. @default 50 */
  readonly monthlyActiveUsers?: number;
  /** Client requests a month, all services (with `deploy.telemetry.adot`: each sampled one is an X-Ray trace; with `gateway.audit`: at most one audit record each). @default 1,000,000 */
  readonly requestsPerMonth?: number;
  /** MCP methods in use per server (with `deploy.telemetry.adot`: a CloudWatch metric pair per server and method). @default 5 */
  readonly methodsPerServer?: number;
}

/** One line of the estimate. */
export interface CostLine {
  readonly item: string;
  readonly detail: string;
  readonly monthlyUsd: number;
}

/** A monthly cost estimate. */
export interface CostEstimate {
  readonly region: string;
  readonly priceDate: string;
  readonly lines: readonly CostLine[];
  readonly totalUsd: number;
  /**
   * The same fleet with every task on demand, every task on Spot (no on-demand
   * base), and packed into `deploy.packed` (undefined when the servers do not fit one task).
   */
  readonly alternatives: { readonly allOnDemandUsd: number; readonly allSpotUsd: number; readonly packedUsd: number | undefined };
  /** What the estimate leaves out. */
  readonly notes: readonly string[];
}

/** Monthly Fargate cost of one task of this size. */
export function fargateTaskMonthlyUsd(prices: RegionPrices, cpu: number, memoryMiB: number, spot: boolean): number {
  const hourly = (cpu / 1024) * prices.vcpuHour + (memoryMiB / 1024) * prices.gbHour;
  return hourly * HOURS_PER_MONTH * (spot ? SPOT_PRICE_FRACTION : 1);
}

function tasksOf(s: ServicePlan): number {
  return s.minTasks;
}

/**
 * Alarms the construct creates for these services: per service a memory alarm;
 * per server (target group) an unhealthy-hosts alarm and, when the service runs
 * at least one task, a no-healthy-host alarm; plus the fleet's 5xx rate and task restarts.
 */
export function alarmCount(services: readonly ServicePlan[]): number {
  return services.reduce((n, s) => n + 1 + s.servers.length * (s.minTasks >= 1 ? 2 : 1), 2);
}

function computeLines(plan: DeployPlan, services: readonly ServicePlan[], prices: RegionPrices, a: Required<CostAssumptions>): CostLine[] {
  const net = plan.deploy.network;
  const lines: CostLine[] = [];
  const adot = plan.deploy.telemetry.adot;
  let collectorUsd = 0;
  for (const s of services) {
    const tasks = tasksOf(s);
    const onDemand = s.spot ? Math.min(s.onDemandBase, tasks) : tasks;
    const spot = tasks - onDemand;
    const kinds = [onDemand > 0 ? `${onDemand} on-demand` : '', spot > 0 ? `${spot} Spot` : ''].filter((k) => k !== '').join(' + ') || '0';
    // The collector's share of each task is shown on a line of its own, so it is taken out of the service's line.
    const collector = adot ? onDemand * fargateTaskMonthlyUsd(prices, ADOT_CPU_UNITS, ADOT_MEMORY_RESERVATION_MIB, false) + spot * fargateTaskMonthlyUsd(prices, ADOT_CPU_UNITS, ADOT_MEMORY_RESERVATION_MIB, true) : 0;
    collectorUsd += collector;
    lines.push({
      item: `Fargate: ${s.id}`,
      detail: `${kinds} × ${s.cpu / 1024} vCPU, ${s.memoryMiB / 1024} GB${s.autoscaling ? ` (autoscaling ${s.autoscaling.minCount}-${s.autoscaling.maxCount}, at minimum)` : ''}${adot ? ', less the collector sidecar' : ''}`,
      monthlyUsd: onDemand * fargateTaskMonthlyUsd(prices, s.cpu, s.memoryMiB, false) + spot * fargateTaskMonthlyUsd(prices, s.cpu, s.memoryMiB, true) - collector,
    });
  }
  lines.push({ item: 'Application Load Balancer', detail: `1 ALB + ${a.lcu} LCU average`, monthlyUsd: (prices.albHour + a.lcu * prices.lcuHour) * HOURS_PER_MONTH });
  const taskIps = net.privateSubnets ? 0 : services.reduce((n, s) => n + tasksOf(s), 0);
  const lbIps = plan.deploy.loadBalancer.internal ? 0 : a.azs;
  const natIps = net.privateSubnets && net.vpcId === undefined && !net.useDefaultVpc ? net.natGateways : 0;
  const ips = taskIps + lbIps + natIps;
  if (ips > 0) lines.push({ item: 'Public IPv4 addresses', detail: `${lbIps} load balancer + ${taskIps} task + ${natIps} NAT`, monthlyUsd: ips * prices.ipv4Hour * HOURS_PER_MONTH });
  if (natIps > 0) lines.push({ item: 'NAT gateways', detail: `${natIps} (plus data processed)`, monthlyUsd: natIps * prices.natHour * HOURS_PER_MONTH });
  if (net.vpcEndpoints) lines.push({ item: 'VPC interface endpoints', detail: `4 × ${a.azs} AZs`, monthlyUsd: 4 * a.azs * prices.endpointHour * HOURS_PER_MONTH });
  const logGb = services.length * a.logGbPerServiceMonth;
  lines.push({
    item: 'CloudWatch Logs',
    detail: `${logGb} GB/month ingested, kept ${plan.deploy.observability.logRetentionDays} days`,
    monthlyUsd: logGb * prices.logsIngestGb + logGb * Math.min(plan.deploy.observability.logRetentionDays / 30, 12) * prices.logsStoreGbMonth,
  });
  if (plan.audit !== undefined) {
    // One record per tools/call, prompts/get or resources/read: at most one per client request.
    const gb = (a.requestsPerMonth * AUDIT_RECORD_BYTES) / 1e9;
    lines.push({
      item: 'Audit log (CloudWatch Logs)',
      detail: `${gb.toFixed(2)} GB/month (${a.requestsPerMonth.toLocaleString('en-US')} calls × ~${AUDIT_RECORD_BYTES} B, arguments not included), kept ${plan.audit.retentionDays} days`,
      monthlyUsd: gb * prices.logsIngestGb + gb * Math.min(plan.audit.retentionDays / 30, 12) * prices.logsStoreGbMonth,
    });
  }
  const alarms = alarmCount(services);
  lines.push({
    item: 'CloudWatch alarms and dashboard',
    detail: `${alarms} alarms${plan.deploy.observability.dashboard ? ' + 1 dashboard' : ''}`,
    monthlyUsd: alarms * prices.alarmMonth + (plan.deploy.observability.dashboard ? prices.dashboardMonth : 0),
  });
  // Declared secrets, plus the fleet secret the stack generates to sign session ids, plus the authorization server's.
  const authSecrets = plan.auth === undefined ? 0 : plan.auth.cognito === undefined ? 1 : 2;
  const secrets = Object.keys(plan.deploy.secrets).length + 1 + authSecrets;
  lines.push({
    item: 'Secrets Manager',
    detail: `${secrets - 1 - authSecrets} declared + 1 fleet secret${authSecrets > 0 ? ` + ${authSecrets} of the authorization server` : ''}`,
    monthlyUsd: secrets * prices.secretMonth,
  });
  if (plan.auth !== undefined) {
    lines.push({
      item: 'DynamoDB (authorization server store)',
      detail: `on demand, ${a.authReadsPerMonth / 1e6}M reads + ${a.authWritesPerMonth / 1e6}M writes a month`,
      monthlyUsd: (a.authReadsPerMonth / 1e6) * prices.dynamoReadMillion + (a.authWritesPerMonth / 1e6) * prices.dynamoWriteMillion,
    });
    if (plan.auth.cognito !== undefined) {
      lines.push({
        item: 'Cognito user pool (Essentials)',
        detail: `${a.monthlyActiveUsers} monthly active users (${prices.cognitoFreeMau} free)`,
        monthlyUsd: Math.max(0, a.monthlyActiveUsers - prices.cognitoFreeMau) * prices.cognitoMau,
      });
    }
  }
  if (adot) lines.push(...adotLines(plan, services, prices, a, collectorUsd));
  if (plan.deploy.observability.containerInsights) {
    const m = CONTAINER_INSIGHTS_METRICS;
    const metrics = m.perCluster + services.length * (m.perService + m.perTaskFamily);
    lines.push({ item: 'Container Insights', detail: `${metrics} metrics (1 cluster, ${services.length} services)`, monthlyUsd: metrics * prices.metricMonth });
  }
  return lines;
}

/**
 * The ADOT collector sidecar (`deploy.telemetry.adot`): the share of each task it
 * reserves (`collectorUsd`, taken out of the Fargate lines, whose tasks are sized to
 * hold it: not an extra task), X-Ray traces past the free tier (one per sampled
 * client request), and the CloudWatch metrics its EMF records make (two histograms
 * per server and method).
 */
function adotLines(plan: DeployPlan, services: readonly ServicePlan[], prices: RegionPrices, a: Required<CostAssumptions>, collectorUsd: number): CostLine[] {
  const tasks = services.reduce((n, s) => n + tasksOf(s), 0);
  const traces = Math.round(a.requestsPerMonth * plan.telemetrySamplingRatio);
  const servers = services.reduce((n, s) => n + s.servers.length, 0);
  const metrics = 2 * servers * a.methodsPerServer;
  return [
    { item: 'ADOT collector sidecar', detail: `${tasks} tasks × ${ADOT_CPU_UNITS / 1024} vCPU, ${ADOT_MEMORY_RESERVATION_MIB} MiB reserved (its share of each task)`, monthlyUsd: collectorUsd },
    {
      item: 'AWS X-Ray traces',
      detail: `${traces.toLocaleString('en-US')} traces/month (${a.requestsPerMonth.toLocaleString('en-US')} requests × sampling ${plan.telemetrySamplingRatio}; ${prices.xrayFreeTraces.toLocaleString('en-US')} free)`,
      monthlyUsd: (Math.max(0, traces - prices.xrayFreeTraces) / 1e6) * prices.xrayTraceMillion,
    },
    { item: 'CloudWatch metrics (EMF)', detail: `${metrics} metrics (2 histograms × ${servers} servers × ${a.methodsPerServer} methods)`, monthlyUsd: metrics * prices.metricMonth },
  ];
}

/** Size of one audit record without arguments (principal, server, tool, outcome, duration, ids, era, time as JSON). */
const AUDIT_RECORD_BYTES = 400;

const sum = (lines: readonly CostLine[]): number => lines.reduce((t, l) => t + l.monthlyUsd, 0);

/**
 * Estimates the monthly cost of a planned fleet from list prices, and what the
 * same fleet costs all on demand, all on Spot, and packed into one service.
 */
export function estimateMonthlyCost(plan: DeployPlan, region: string, assumptions: CostAssumptions = {}): CostEstimate {
  const prices = PRICES[region];
  if (prices === undefined) {
    throw new FleetError('COST_UNKNOWN_REGION', `no price table for region ${region}`, { hint: `the cost model knows ${Object.keys(PRICES).join(', ')}; pass one with --region` });
  }
  const a: Required<CostAssumptions> = {
    lcu: assumptions.lcu ?? 1,
    logGbPerServiceMonth: assumptions.logGbPerServiceMonth ?? 1,
    azs: assumptions.azs ?? plan.deploy.network.maxAzs,
    authReadsPerMonth: assumptions.authReadsPerMonth ?? 1_000_000,
    authWritesPerMonth: assumptions.authWritesPerMonth ?? 100_000,
    monthlyActiveUsers: assumptions.monthlyActiveUsers ?? 50,
    requestsPerMonth: assumptions.requestsPerMonth ?? 1_000_000,
    methodsPerServer: assumptions.methodsPerServer ?? 5,
  };
  const lines = computeLines(plan, plan.services, prices, a);
  const withSpot = (spot: boolean) => plan.services.map((s) => ({ ...s, spot, onDemandBase: 0 }));
  const packed = plan.packedAlternative;
  return {
    region,
    priceDate: PRICE_DATE,
    lines,
    totalUsd: sum(lines),
    alternatives: {
      allOnDemandUsd: sum(computeLines(plan, withSpot(false), prices, a)),
      allSpotUsd: sum(computeLines(plan, withSpot(true), prices, a)),
      packedUsd: packed === undefined ? undefined : sum(computeLines(plan, [packed], prices, a)),
    },
    notes: [
      `List prices of ${PRICE_DATE} (aws.amazon.com/fargate/pricing, /elasticloadbalancing/pricing, /cloudwatch/pricing); check them before you budget.`,
      `Fargate Spot is modelled at ${SPOT_PRICE_FRACTION * 100}% of on-demand; real Spot prices move.`,
      `Fargate Spot tasks beyond each service's on-demand base (servers.<name>.deploy.onDemandBase, default 1).`,
      `Not included: data transfer out, NAT data processing${plan.deploy.observability.containerInsights ? ', Container Insights performance log ingestion' : ''}, Route 53 zone ($0.50/month) and queries, Cloud Map service discovery (registered tasks and its private DNS zone), ECR storage${plan.deploy.telemetry.adot ? ', X-Ray trace retrieval and scans ($0.50 per million), the EMF records as log ingestion (in the CloudWatch Logs line only if you raise its GB)' : ''}${plan.auth !== undefined ? '; for the authorization server, DynamoDB storage and backups (cents for its small table) and the Lambda that reads the Cognito client secret at deploy time' : ''}.`,
    ],
  };
}
