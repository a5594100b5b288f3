import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { FleetError } from '../errors.js';
import { OutputKeys, type DeployPlan } from './plan.js';

/** The AWS SDK clients the CLI flows use (injectable, so tests can mock them). */
export interface AwsClients {
  readonly cloudFormation: CloudFormationClient;
  readonly ecs: ECSClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly logs: CloudWatchLogsClient;
}

/** Creates the AWS SDK clients for a profile and region (both optional: the SDK's defaults apply). */
export function createAwsClients(options: { readonly profile?: string; readonly region?: string } = {}): AwsClients {
  const config = { ...(options.profile === undefined ? {} : { profile: options.profile }), ...(options.region === undefined ? {} : { region: options.region }) };
  return {
    cloudFormation: new CloudFormationClient(config),
    ecs: new ECSClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    logs: new CloudWatchLogsClient(config),
  };
}

/** A deployed stack as CloudFormation describes it. */
export interface DeployedStack {
  readonly stackName: string;
  /** Such as `CREATE_COMPLETE` or `UPDATE_ROLLBACK_COMPLETE`. */
  readonly status: string;
  readonly outputs: Readonly<Record<string, string>>;
}

/**
 * Describes the fleet stack; `undefined` when no stack of that name exists in the
 * account and region of the client (CloudFormation answers a ValidationError).
 */
export async function findStack(cloudFormation: CloudFormationClient, stackName: string): Promise<DeployedStack | undefined> {
  let stacks;
  try {
    ({ Stacks: stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName })));
  } catch (error) {
    if ((error as { name?: string }).name === 'ValidationError') return undefined;
    // Credentials refused, no network, throttling: the environment, not a bug of ours.
    throw new FleetError('AWS_CALL_FAILED', `could not describe stack ${stackName}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
      fault: 'environment',
      hint: 'check your AWS credentials (--profile) and region (--region)',
    });
  }
  const stack = stacks?.[0];
  if (stack === undefined) return undefined;
  const outputs: Record<string, string> = {};
  for (const o of stack.Outputs ?? []) if (o.OutputKey !== undefined && o.OutputValue !== undefined) outputs[o.OutputKey] = o.OutputValue;
  return { stackName: stack.StackName ?? stackName, status: stack.StackStatus ?? 'UNKNOWN', outputs };
}

/** Reads the outputs of the deployed fleet stack. */
export async function readStackOutputs(cloudFormation: CloudFormationClient, stackName: string): Promise<Record<string, string>> {
  const stack = await findStack(cloudFormation, stackName);
  if (stack === undefined) {
    const region = await regionOfClient(cloudFormation);
    throw new FleetError('DEPLOY_STACK_NOT_FOUND', `stack ${stackName} is not deployed in ${region === undefined ? 'this account and region' : `region ${region} of this account`}`, {
      hint: 'run `mcp-fleet deploy` first, or pass the --profile and --region it was deployed with',
    });
  }
  return { ...stack.outputs };
}

/** The region a client calls, for messages; `undefined` when it cannot be told. */
export async function regionOfClient(client: CloudFormationClient): Promise<string | undefined> {
  try {
    return await client.config.region();
  } catch {
    return undefined;
  }
}

/** Endpoint URLs of each server, from the stack outputs (in its own module, which does not load the AWS SDK). */
export { serverUrlsFromOutputs } from './stack-outputs.js';

/** One task of a service. */
export interface TaskStatus {
  readonly id: string;
  readonly lastStatus: string;
  readonly health: string;
  readonly capacityProvider: string;
  readonly stoppedReason?: string;
}

/** One service: ECS counts, tasks and load balancer target health. */
export interface ServiceStatus {
  readonly service: string;
  readonly servers: readonly string[];
  readonly ecsServiceName: string | undefined;
  readonly desired: number;
  readonly running: number;
  readonly pending: number;
  readonly rollout: string;
  readonly tasks: readonly TaskStatus[];
  /** Target states such as `healthy`, `unhealthy (Target.ResponseCodeMismatch)`. */
  readonly targets: readonly string[];
}

/** Describes every service of the fleet: counts, tasks and target health. */
export async function describeFleetServices(clients: AwsClients, plan: DeployPlan, outputs: Readonly<Record<string, string>>): Promise<ServiceStatus[]> {
  const cluster = outputs[OutputKeys.clusterName];
  if (cluster === undefined) throw new FleetError('DEPLOY_OUTPUTS_MISSING', 'the stack has no ClusterName output; it was not deployed by this version of mcp-fleet', { hint: 'run `mcp-fleet deploy` again' });
  const out: ServiceStatus[] = [];
  for (const svc of plan.services) {
    const serviceName = outputs[OutputKeys.serviceName(svc.id)];
    const targetGroupArn = outputs[OutputKeys.targetGroupArn(svc.id)];
    let desired = 0;
    let running = 0;
    let pending = 0;
    let rollout = 'unknown';
    let tasks: TaskStatus[] = [];
    let targets: string[] = [];
    if (serviceName !== undefined) {
      const { services } = await clients.ecs.send(new DescribeServicesCommand({ cluster, services: [serviceName] }));
      const s = services?.[0];
      desired = s?.desiredCount ?? 0;
      running = s?.runningCount ?? 0;
      pending = s?.pendingCount ?? 0;
      rollout = s?.deployments?.find((d) => d.status === 'PRIMARY')?.rolloutState ?? 'unknown';
      const { taskArns } = await clients.ecs.send(new ListTasksCommand({ cluster, serviceName }));
      if (taskArns !== undefined && taskArns.length > 0) {
        const described = await clients.ecs.send(new DescribeTasksCommand({ cluster, tasks: taskArns }));
        tasks = (described.tasks ?? []).map((t) => ({
          id: t.taskArn?.split('/').pop() ?? '?',
          lastStatus: t.lastStatus ?? '?',
          health: t.healthStatus ?? 'UNKNOWN',
          capacityProvider: t.capacityProviderName ?? '?',
          ...(t.stoppedReason === undefined ? {} : { stoppedReason: t.stoppedReason }),
        }));
      }
    }
    if (targetGroupArn !== undefined) {
      const { TargetHealthDescriptions } = await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
      targets = (TargetHealthDescriptions ?? []).map((d) => {
        const state = d.TargetHealth?.State ?? 'unknown';
        return d.TargetHealth?.Reason === undefined ? state : `${state} (${d.TargetHealth.Reason})`;
      });
    }
    out.push({ service: svc.id, servers: svc.servers, ecsServiceName: serviceName, desired, running, pending, rollout, tasks, targets });
  }
  return out;
}

/** Result of a live MCP `tools/list` against an endpoint. */
export type ToolsProbe = { readonly ok: true; readonly tools: readonly string[] } | { readonly ok: false; readonly error: string };

/**
 * Connects to an MCP endpoint over Streamable HTTP and lists its tools. The token
 * goes only into the Authorization header; errors never contain it.
 */
export async function probeTools(url: string, options: { readonly token?: string; readonly timeoutMs?: number } = {}): Promise<ToolsProbe> {
  const client = new Client({ name: 'mcp-fleet-status', version: '1.0.0' });
  const headers: Record<string, string> = options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` };
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const signal = AbortSignal.timeout(options.timeoutMs ?? 15_000);
  try {
    await client.connect(transport, { signal });
    const { tools } = await client.listTools(undefined, { signal });
    return { ok: true, tools: tools.map((t) => t.name) };
  } catch (error) {
    let message = error instanceof Error ? error.message : String(error);
    // The SDK's transport errors carry the HTTP status as `code`; say what it means for the user.
    const status = (error as { code?: unknown }).code;
    if (status === 401 || status === 403) {
      message = `HTTP ${status}: the endpoint refused ${options.token === undefined ? 'a request without a key; pass one with --token-env' : 'the key; check --token-env'}`;
    } else if (typeof status === 'number') {
      // The gateway's JSON-RPC error says why (a server that cannot start: its command and OS error); show that, not the raw body.
      const cause = jsonRpcErrorMessage(message);
      if (cause !== undefined) message = `HTTP ${status}: ${cause}`;
    }
    if (options.token !== undefined) message = message.split(options.token).join('***');
    return { ok: false, error: message };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** The `error.message` of a JSON-RPC body quoted in an SDK transport error, if there is one. */
function jsonRpcErrorMessage(text: string): string | undefined {
  const start = text.indexOf('{');
  if (start === -1) return undefined;
  try {
    const body = JSON.parse(text.slice(start)) as { error?: { message?: unknown } };
    return typeof body.error?.message === 'string' ? body.error.message : undefined;
  } catch {
    return undefined;
  }
}

/** One log line of a server. */
export interface LogLine {
  readonly timestamp: number;
  readonly stream: string;
  readonly message: string;
}

/** Options of {@link readLogs}. */
export interface ReadLogsOptions {
  readonly logGroupName: string;
  /** Only lines mentioning this text (the server name, in a packed service). @default all */
  readonly filterText?: string;
  /** Start time, in ms since the epoch. */
  readonly startTime: number;
  /** Keep polling for new lines until `signal` aborts. */
  readonly follow?: boolean;
  /** Poll interval when following. @default 2000 */
  readonly pollIntervalMs?: number;
  readonly signal?: AbortSignal;
  /** Receives each line in order. */
  readonly onLine: (line: LogLine) => void;
}

/** Reads a service's log lines from CloudWatch Logs, and follows new ones when asked. */
export async function readLogs(logs: CloudWatchLogsClient, options: ReadLogsOptions): Promise<void> {
  let startTime = options.startTime;
  const seen = new Set<string>();
  for (;;) {
    let nextToken: string | undefined;
    let newest = startTime;
    do {
      const page = await logs.send(
        new FilterLogEventsCommand({
          logGroupName: options.logGroupName,
          startTime,
          ...(options.filterText === undefined ? {} : { filterPattern: JSON.stringify(options.filterText) }),
          ...(nextToken === undefined ? {} : { nextToken }),
        }),
        options.signal === undefined ? {} : { abortSignal: options.signal },
      );
      for (const e of page.events ?? ([] as FilteredLogEvent[])) {
        // Polls overlap at the boundary timestamp; event ids keep lines unique.
        if (e.eventId !== undefined && seen.has(e.eventId)) continue;
        if (e.eventId !== undefined) seen.add(e.eventId);
        newest = Math.max(newest, e.timestamp ?? 0);
        options.onLine({ timestamp: e.timestamp ?? 0, stream: e.logStreamName ?? '', message: (e.message ?? '').replace(/\n$/, '') });
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined && !options.signal?.aborted);
    if (!options.follow || options.signal?.aborted) return;
    startTime = newest;
    await new Promise<void>((resolveWait) => {
      const timer = setTimeout(resolveWait, options.pollIntervalMs ?? 2000);
      options.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolveWait();
      }, { once: true });
    });
    if (options.signal?.aborted) return;
  }
}
