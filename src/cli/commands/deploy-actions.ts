import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../../config/load.js';
import type { FleetConfig } from '../../config/schema.js';
import { FleetError } from '../../errors.js';
import type { AwsClients } from '../../deploy/aws.js';
import { apiKeyRequired, renderClientConfig, serverEndpoints, signsInWithOAuth, type RenderedClientConfig } from '../../deploy/client-config.js';
import type { ClientKind } from '../../deploy/client-kinds.js';
import { estimateMonthlyCost } from '../../deploy/cost.js';
import { OutputKeys, planDeployment, type DeployPlan } from '../../deploy/plan.js';
import { serverUrlsFromOutputs } from '../../deploy/stack-outputs.js';
import type { FleetActionOptions } from '../../deploy/toolkit.js';
import { loadDeployTooling } from '../deploy-tooling.js';
import { virtualStatusRows } from '../../deploy/virtual-status.js';
import { bold, dim, green, red, yellow } from '../output.js';
import { checkAwsAccess, describeAwsAccess } from '../aws-access.js';
import { ProgressRenderer } from '../progress.js';
import type { DeployCliIo } from './deploy.js';

/**
 * What the deploy commands do. src/cli/commands/deploy.ts registers them and
 * loads this module only when one runs, because the modules it needs (the config
 * schema, the deployment plan, the cost model) take most of a second to load
 * and `--help` needs none of them (test/cli/startup.test.ts).
 */

// The AWS SDK (deploy/aws.js) and the CDK (deploy/toolkit.js) load inside the
// actions that use them: the commands that do not call AWS never pay the
// seconds they take to load.
const awsModule = (command: string) => loadDeployTooling(command, () => import('../../deploy/aws.js'));
const toolkitModule = (command: string) => loadDeployTooling(command, () => import('../../deploy/toolkit.js'));

/** Options every deploy command takes. */
export interface CommonOptions {
  readonly config: string;
  readonly profile?: string;
  readonly region?: string;
  readonly account?: string;
}

/** Options of `synth`. */
export type SynthOptions = CommonOptions & { readonly out: string; readonly verbose?: boolean };
/** Options of `diff`. */
export type DiffOptions = CommonOptions & { readonly out: string };
/** Options of `deploy`. */
export type DeployOptions = CommonOptions & { readonly out: string; readonly tokenEnv: string };
/** Options of `destroy`. */
export type DestroyOptions = CommonOptions & { readonly out: string; readonly yes?: boolean };
/** Options of `status`. */
export type StatusOptions = CommonOptions & { readonly token?: string; readonly tokenEnv: string; readonly probe: boolean };
/** Options of `logs`. */
export type LogsOptions = CommonOptions & { readonly follow?: boolean; readonly since: number };
/** Options of `cost`. */
export type CostOptions = CommonOptions & { readonly lcu: number; readonly logGb: number; readonly requests: number; readonly json?: boolean };
/** Options of `client-config`. */
export type ClientConfigOptions = CommonOptions & {
  readonly for: ClientKind;
  readonly local?: boolean;
  readonly port?: number;
  readonly url?: string;
  readonly tokenEnv: string;
  readonly showToken?: boolean;
  readonly json?: boolean;
  readonly apiKey?: boolean;
};

/** Data to stdout, progress to stderr: what the commands write to unless a test injects its own. */
export const defaultIo: DeployCliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** Renders rows as a plain table with a bold header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[bold(line(header)), ...rows.map(line)].join('\n')}\n`;
}

async function load(options: CommonOptions, io: DeployCliIo): Promise<FleetConfig> {
  return loadConfig(options.config, { resolveEnv: false, onWarning: (w) => io.err(`${yellow('warning:')} ${w}\n`) });
}

function regionOf(options: CommonOptions, config: FleetConfig): string | undefined {
  return options.region ?? config.deploy?.region;
}

function actionOptions(options: CommonOptions & { out?: string }, config: FleetConfig, io: DeployCliIo, verbose = false): FleetActionOptions {
  const region = regionOf(options, config);
  return {
    config,
    configFile: options.config,
    ...(options.account === undefined ? {} : { account: options.account }),
    ...(region === undefined ? {} : { region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
    ...(options.out === undefined ? {} : { outdir: options.out }),
    // Steps and stack events with elapsed time; a spinner only when stderr is the user's terminal.
    onEvent: new ProgressRenderer({ write: io.err, tty: io === defaultIo && process.stderr.isTTY === true, verbose, columns: () => process.stderr.columns }).event,
  };
}

/** The summary table `synth` prints: one row per server. */
export function planSummary(plan: DeployPlan, config: FleetConfig): string {
  const endpoints = (() => {
    try {
      return Object.fromEntries(serverEndpoints(config, { kind: 'deployed', baseUrl: 'http://<load-balancer>' }).map((e) => [e.server, e.url]));
    } catch {
      return {} as Record<string, string>;
    }
  })();
  const rows = plan.routes.map((r) => {
    const s = plan.services.find((x) => x.id === r.service)!;
    const count = s.autoscaling ? `${s.autoscaling.minCount}-${s.autoscaling.maxCount}` : String(s.desiredCount);
    const capacity = !s.spot ? 'on-demand' : s.onDemandBase > 0 ? `${s.onDemandBase} on-demand, rest Spot` : 'Spot';
    return [r.server, s.id, endpoints[r.server] ?? '', `${s.cpu / 1024} vCPU / ${s.memoryMiB} MiB`, capacity, count, s.secretNames.join(', ') || '-'];
  });
  return table(['server', 'service', 'endpoint', 'size', 'capacity', 'tasks', 'secrets'], rows);
}

async function tokenFrom(options: { token?: string; tokenEnv: string }): Promise<string | undefined> {
  return options.token ?? process.env[options.tokenEnv];
}

async function clientsOf(io: DeployCliIo, options: CommonOptions, config: FleetConfig, command: string): Promise<AwsClients> {
  const region = regionOf(options, config);
  const o = { ...(options.profile === undefined ? {} : { profile: options.profile }), ...(region === undefined ? {} : { region }) };
  return (io.clients ?? (await awsModule(command)).createAwsClients)(o);
}

/** Checks AWS credentials and region (fast, before any synth), says which are used, and returns the options with the region. */
async function awsFor<T extends CommonOptions>(options: T, config: FleetConfig, io: DeployCliIo) {
  const aws = await checkAwsAccess(options, config.deploy?.region, io.awsAccess);
  io.err(`${dim(describeAwsAccess(aws.access))}\n`);
  return aws;
}

async function confirmDefault(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new FleetError('DESTROY_NOT_CONFIRMED', 'destroy needs confirmation, and stdin is not a terminal', { hint: 'pass --yes to destroy without asking' });
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Writes a client config: its JSON alone on stdout (so it can be piped or parsed), the hint where to paste it on stderr. */
function writeClientConfig(rendered: RenderedClientConfig, io: DeployCliIo): void {
  if (rendered.format === 'json') io.err(`${dim(`# paste into ${rendered.target}`)}\n`);
  io.out(rendered.text);
}

/** `synth`: writes the cloud assembly and prints the plan summary. */
export async function synth(options: SynthOptions, io: DeployCliIo = defaultIo): Promise<void> {
  const config = await load(options, io);
  const { synthFleet } = await toolkitModule('synth');
  const result = await synthFleet(actionOptions(options, config, io, options.verbose));
  io.out(planSummary(result.plan, config));
  io.out(`\n${green('template:')} ${result.templateFile}\n`);
}

/** `diff`: says whether deploying would change the deployed stack. */
export async function diff(options: DiffOptions, io: DeployCliIo = defaultIo): Promise<void> {
  const config = await load(options, io);
  const aws = await awsFor(options, config, io);
  const { diffFleet } = await toolkitModule('diff');
  const { changed } = await diffFleet(actionOptions(aws, config, io));
  io.out(changed ? 'The deployed stack differs (see above).\n' : 'No differences.\n');
}

/** `deploy`: deploys the fleet and prints the endpoints and client config. */
export async function deploy(options: DeployOptions, io: DeployCliIo = defaultIo): Promise<void> {
  const config = await load(options, io);
  const aws = await awsFor(options, config, io);
  const { deployFleet } = await toolkitModule('deploy');
  const result = await deployFleet(actionOptions(aws, config, io));
  io.out(deployReport(config, result.plan, result.outputs, options.tokenEnv));
}

/** `destroy`: deletes the fleet stack, after asking unless `--yes`. */
export async function destroy(options: DestroyOptions, io: DeployCliIo = defaultIo): Promise<void> {
  const config = await load(options, io);
  const aws = await awsFor(options, config, io);
  const stackName = planDeployment(config, options.config).deploy.stackName;
  // Find the stack before asking or saying anything about destroying it.
  const { findStack } = await awsModule('destroy');
  const stack = await findStack((await clientsOf(io, aws, config, 'destroy')).cloudFormation, stackName);
  if (stack === undefined) {
    throw new FleetError('DESTROY_STACK_NOT_FOUND', `stack ${stackName} does not exist in region ${aws.region} (from ${aws.access.regionFrom}): nothing to destroy`, {
      hint: `if it was deployed elsewhere, pass the --region${aws.access.profile === undefined ? ' and --profile' : ''} it was deployed with`,
    });
  }
  if (!options.yes) {
    const ok = await (io.confirm ?? confirmDefault)(`Delete stack ${stackName} (${stack.status}) in ${aws.region} and every resource in it (log groups included)? [y/N] `);
    if (!ok) {
      io.err('Nothing was deleted.\n');
      return;
    }
  }
  const { destroyFleet } = await toolkitModule('destroy');
  io.err(`Destroying stack ${stackName} in ${aws.region}...\n`);
  await destroyFleet(actionOptions(aws, config, io));
  io.out(`Stack ${stackName} deleted.\n`);
}

/** `status`: prints the services, tasks, targets and a live tools/list of each endpoint. */
export async function status(options: StatusOptions, io: DeployCliIo = defaultIo): Promise<void> {
  const config = await load(options, io);
  const aws = await awsFor(options, config, io);
  io.out(await statusReport(config, options.config, await clientsOf(io, aws, config, 'status'), { probe: options.probe, token: await tokenFrom(options) }));
}

/** `logs <server>`: prints a server's log lines, following them with `--follow`. */
export async function logs(server: string, options: LogsOptions, io: DeployCliIo = defaultIo): Promise<void> {
  const config = await load(options, io);
  const aws = await awsFor(options, config, io);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  try {
    await printLogs(config, options.config, server, await clientsOf(io, aws, config, 'logs'), io, { follow: options.follow ?? false, sinceMs: options.since, signal: controller.signal });
  } finally {
    process.off('SIGINT', stop);
  }
}

/** `cost`: prints the estimated monthly AWS cost, as a table or JSON. */
export async function cost(options: CostOptions, io: DeployCliIo = defaultIo): Promise<void> {
  const config = await load(options, io);
  const plan = planDeployment(config, options.config);
  const estimate = estimateMonthlyCost(plan, regionOf(options, config) ?? 'us-east-1', { lcu: options.lcu, logGbPerServiceMonth: options.logGb, requestsPerMonth: options.requests });
  if (options.json) {
    io.out(`${JSON.stringify(estimate, null, 2)}\n`);
    return;
  }
  const usd = (n: number) => `$${n.toFixed(2)}`;
  io.out(table(['item', 'detail', 'per month'], [...estimate.lines.map((l) => [l.item, l.detail, usd(l.monthlyUsd)]), ['total', estimate.region, usd(estimate.totalUsd)]]));
  const alt = estimate.alternatives;
  io.out(
    `\nAll on-demand: ${usd(alt.allOnDemandUsd)}   all Spot: ${usd(alt.allSpotUsd)} (saves ${usd(alt.allOnDemandUsd - alt.allSpotUsd)})   ` +
      (alt.packedUsd === undefined
        ? 'packed into one service: does not fit one task (see deploy.packed)\n'
        : `packed into one service: ${usd(alt.packedUsd)} (saves ${usd(estimate.totalUsd - alt.packedUsd)} against this layout)\n`),
  );
  for (const n of estimate.notes) io.out(`${dim(n)}\n`);
}

/** `client-config`: prints ready-to-paste MCP client config for the local gateway or the deployed fleet. */
export async function clientConfig(options: ClientConfigOptions, io: DeployCliIo = defaultIo): Promise<void> {
  const config = await load(options, io);
  let urlsFromStack: Record<string, string> | undefined;
  const needsStack = !options.local && options.url === undefined && Object.values(config.servers).some((s) => s.hostnames.length === 0) && config.deploy?.domain === undefined;
  if (needsStack) {
    const plan = planDeployment(config, options.config);
    const aws = await awsFor(options, config, io);
    const { readStackOutputs } = await awsModule('client-config');
    urlsFromStack = serverUrlsFromOutputs(plan, await readStackOutputs((await clientsOf(io, aws, config, 'client-config')).cloudFormation, plan.deploy.stackName));
  }
  const endpoints = serverEndpoints(
    config,
    options.local ? { kind: 'local', ...(options.port === undefined ? {} : { port: options.port }) } : { kind: 'deployed', ...(options.url === undefined ? {} : { baseUrl: options.url }), ...(urlsFromStack === undefined ? {} : { urlsFromStack }) },
  );
  let value: string | undefined;
  if (options.showToken) {
    value = process.env[options.tokenEnv];
    if (value === undefined || value === '') throw new FleetError('CLIENT_CONFIG_NO_TOKEN', `--show-token reads the key from $${options.tokenEnv}, which is not set`, { hint: `export ${options.tokenEnv}=<your key>` });
  }
  const required = apiKeyRequired(config, options.apiKey ?? false);
  if (!required && signsInWithOAuth(config)) io.err(dim('# OAuth: the client opens a browser to sign in the first time it connects (docs/AUTH.md)\n'));
  writeClientConfig(renderClientConfig(options.for, endpoints, { required, env: options.tokenEnv, ...(value === undefined ? {} : { value }) }, { json: options.json ?? false }), io);
}

/** What `deploy` prints at the end: the endpoint URLs and the Claude Code commands. */
export function deployReport(config: FleetConfig, plan: DeployPlan, outputs: Readonly<Record<string, string>>, tokenEnv: string): string {
  const endpoints = serverEndpoints(config, { kind: 'deployed', urlsFromStack: serverUrlsFromOutputs(plan, outputs) });
  const required = apiKeyRequired(config);
  const lines = [
    '',
    bold('Endpoints'),
    table(['server', 'url'], endpoints.map((e) => [e.server, e.url])),
    `Load balancer: ${outputs[OutputKeys.loadBalancerDnsName] ?? '?'}`,
    '',
    bold('Claude Code') + dim(required ? ` (export ${tokenEnv}=<your API key> first)` : signsInWithOAuth(config) ? ' (it signs in with OAuth in the browser: run /mcp in Claude Code)' : ''),
    renderClientConfig('claude-code', endpoints, { required, env: tokenEnv }).text,
    dim('Other clients: mcp-fleet client-config --for claude-desktop|cursor|vscode --config <file>'),
    '',
  ];
  return lines.join('\n');
}

/** What `status` prints: services, tasks, targets, each endpoint's tools, and what each virtual server's selection hides. */
export async function statusReport(config: FleetConfig, file: string, clients: AwsClients, options: { probe: boolean; token?: string | undefined }): Promise<string> {
  const { describeFleetServices, probeTools, readStackOutputs } = await awsModule('status');
  const plan = planDeployment(config, file);
  const outputs = await readStackOutputs(clients.cloudFormation, plan.deploy.stackName);
  const services = await describeFleetServices(clients, plan, outputs);
  let text = table(
    ['service', 'running', 'rollout', 'tasks', 'targets'],
    services.map((s) => [
      s.service,
      `${s.running}/${s.desired}${s.pending > 0 ? ` (+${s.pending} pending)` : ''}`,
      s.rollout,
      s.tasks.map((t) => `${t.id.slice(0, 8)} ${t.lastStatus} ${t.health} ${t.capacityProvider}`).join('; ') || '-',
      s.targets.join(', ') || '-',
    ]),
  );
  const toolsOf = new Map<string, readonly string[]>();
  if (options.probe) {
    const endpoints = serverEndpoints(config, { kind: 'deployed', urlsFromStack: serverUrlsFromOutputs(plan, outputs) });
    const rows: string[][] = [];
    for (const e of endpoints) {
      const probe = await probeTools(e.url, options.token === undefined ? {} : { token: options.token });
      if (probe.ok) toolsOf.set(e.server, probe.tools);
      rows.push([e.server, e.url, probe.ok ? green(`${probe.tools.length} tools: ${probe.tools.join(', ')}`) : red(probe.error)]);
    }
    text += `\n${table(['server', 'endpoint', 'tools/list'], rows)}`;
  }
  const virtualRows = virtualStatusRows(config, toolsOf);
  if (virtualRows.length > 0) {
    text += `\n${table(
      ['virtual server', 'member', 'selection', 'tools shown', 'filtered out'],
      virtualRows.map((r) => [r.virtual, r.member, r.selection, r.shown === undefined ? '-' : String(r.shown), r.hidden === undefined ? '-' : r.hidden.length === 0 ? '0' : `${r.hidden.length}: ${r.hidden.join(', ')}`]),
    )}`;
  }
  return text;
}

/** Prints a server's log lines (following when asked). */
export async function printLogs(
  config: FleetConfig,
  file: string,
  server: string,
  clients: AwsClients,
  io: DeployCliIo,
  options: { follow: boolean; sinceMs: number; signal?: AbortSignal; now?: number; pollIntervalMs?: number },
): Promise<void> {
  const plan = planDeployment(config, file);
  const route = plan.routes.find((r) => r.server === server);
  if (route === undefined) throw new FleetError('LOGS_UNKNOWN_SERVER', `no server named ${server} in ${file}`, { hint: `servers are: ${plan.routes.map((r) => r.server).join(', ')}` });
  const packed = plan.services.length === 1 && plan.services[0]!.servers.length > 1;
  const { readLogs } = await awsModule('logs');
  await readLogs(clients.logs, {
    logGroupName: `/mcp-fleet/${plan.deploy.stackName}/${route.service}`,
    ...(packed ? { filterText: server } : {}),
    startTime: (options.now ?? Date.now()) - options.sinceMs,
    follow: options.follow,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onLine: (l) => io.out(`${dim(new Date(l.timestamp).toISOString())} ${l.message}\n`),
  });
}
