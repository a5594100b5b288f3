import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  BaseCredentials,
  StackSelectionStrategy,
  Toolkit,
  type ICloudAssemblySource,
  type IIoHost,
  type IoMessage,
  type IoRequest,
  type StackActivity,
} from '@aws-cdk/toolkit-lib';
import type { FleetConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';
import { writeBuildContext } from './image.js';
import { planDeployment, type DeployPlan } from './plan.js';
import { buildFleetApp } from './stack.js';

/** A progress or status event of a deploy action; the CLI renders it, the library never prints. */
export interface DeployEvent {
  readonly level: 'error' | 'warn' | 'info' | 'debug' | 'result';
  readonly message: string;
  /** The toolkit's message code, such as `CDK_TOOLKIT_I5000`, when it came from the toolkit. */
  readonly code?: string;
  /** A long step starting or ending, for a progress line; every start has an end, also on failure. */
  readonly step?: DeployStep;
  /** A CloudFormation stack event, as it happens (deploy and destroy). */
  readonly activity?: StackActivityEvent;
}

/** A long step of a deploy action: what it is, and whether it starts or ends. */
export interface DeployStep {
  /** `image` (build context, npm lock), `synth`, `deploy`, `diff` or `destroy`. */
  readonly name: 'image' | 'synth' | 'deploy' | 'diff' | 'destroy';
  readonly state: 'start' | 'end';
  /** On `end`: whether it succeeded. */
  readonly ok?: boolean;
}

/** One CloudFormation resource event of the stack being deployed or deleted. */
export interface StackActivityEvent {
  readonly stackName: string;
  readonly logicalId: string;
  readonly resourceType: string;
  /** Such as `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `UPDATE_FAILED`. */
  readonly status: string;
  readonly reason?: string;
  /** The construct path (`McpFleet/SvcFetch/Service`), when the assembly knows the resource. */
  readonly constructPath?: string;
  /** Resources done so far, and in all, when CloudFormation says. */
  readonly completed?: number;
  readonly total?: number;
}

/** Emits the start of a step, runs it, and always emits its end. */
async function inStep<T>(options: FleetActionOptions, name: DeployStep['name'], message: string, work: () => Promise<T>): Promise<T> {
  options.onEvent?.({ level: 'info', message, step: { name, state: 'start' } });
  let ok = false;
  try {
    const result = await work();
    ok = true;
    return result;
  } finally {
    options.onEvent?.({ level: 'info', message, step: { name, state: 'end', ok } });
  }
}

/** The parts of a toolkit stack activity a user reads. */
function activityOf(data: StackActivity): StackActivityEvent {
  const e = data.event;
  return {
    stackName: e.StackName ?? '',
    logicalId: e.LogicalResourceId ?? '',
    resourceType: e.ResourceType ?? '',
    status: e.ResourceStatus ?? '',
    ...(e.ResourceStatusReason === undefined ? {} : { reason: e.ResourceStatusReason }),
    ...(data.metadata?.constructPath === undefined ? {} : { constructPath: data.metadata.constructPath }),
    completed: data.progress.completed,
    ...(data.progress.total === undefined ? {} : { total: data.progress.total }),
  };
}

/** Options shared by synth, diff, deploy and destroy. */
export interface FleetActionOptions {
  /** The config, loaded with `resolveEnv: false`. */
  readonly config: FleetConfig;
  readonly configFile?: string;
  readonly account?: string;
  readonly region?: string;
  /** AWS profile for credentials (not needed by synth unless a lookup is asked for). */
  readonly profile?: string;
  /** Where the cloud assembly goes. @default 'cdk.out' */
  readonly outdir?: string;
  /** mcp-fleet package to put in the image. @default the running package */
  readonly packageRoot?: string;
  /** Receives progress events. */
  readonly onEvent?: (event: DeployEvent) => void;
}

/** Adapts toolkit-lib's IoHost messages to {@link DeployEvent}s. */
class EventIoHost implements IIoHost {
  constructor(private readonly onEvent: ((event: DeployEvent) => void) | undefined) {}

  async notify(msg: IoMessage<unknown>): Promise<void> {
    if (msg.level === 'trace') return;
    const activity = msg.code === 'CDK_TOOLKIT_I5502' && msg.data !== undefined ? activityOf(msg.data as StackActivity) : undefined;
    this.onEvent?.({ level: msg.level, message: msg.message, ...(msg.code === undefined ? {} : { code: msg.code }), ...(activity === undefined ? {} : { activity }) });
  }

  async requestResponse<T>(msg: IoRequest<unknown, T>): Promise<T> {
    // Non-interactive: the CLI asks its own questions (destroy) before calling us.
    await this.notify(msg);
    return msg.defaultResponse;
  }
}

function toolkitOf(options: FleetActionOptions): Toolkit {
  return new Toolkit({
    ioHost: new EventIoHost(options.onEvent),
    color: false,
    emojis: false,
    sdkConfig: {
      baseCredentials: BaseCredentials.awsCliCompatible({
        ...(options.profile === undefined ? {} : { profile: options.profile }),
        ...(options.region === undefined ? {} : { defaultRegion: options.region }),
      }),
    },
  });
}

/** A cloud assembly source that writes the image build context and builds the fleet app. */
async function sourceOf(toolkit: Toolkit, options: FleetActionOptions, plan: DeployPlan): Promise<{ source: ICloudAssemblySource; cleanup: () => Promise<void> }> {
  const config = options.config;
  const needsBuild = config.deploy?.image.uri === undefined;
  const work = await mkdtemp(join(tmpdir(), 'mcp-fleet-image-'));
  const buildContextDir = join(work, 'image');
  if (needsBuild) {
    const rendered = await inStep(options, 'image', "writing the image build context (locking the npm servers' packages through the registry)", () =>
      writeBuildContext(config, plan, { outDir: buildContextDir, ...(options.packageRoot === undefined ? {} : { packageRoot: options.packageRoot }) }),
    );
    for (const w of rendered.warnings) options.onEvent?.({ level: 'warn', message: w });
  }
  const deploy = config.deploy;
  const lookups = deploy !== undefined && (deploy.network.vpcId !== undefined || deploy.network.useDefaultVpc);
  const synthMessage = `synthesizing the CloudFormation template of ${plan.deploy.stackName} (${plan.services.length} ${plan.services.length === 1 ? 'service' : 'services'})`;
  const source = await toolkit.fromAssemblyBuilder(
    async (props) =>
      inStep(options, 'synth', synthMessage, async () => {
        const { app } = buildFleetApp({
          config,
          ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
          ...(options.account === undefined ? {} : { account: options.account }),
          ...(options.region === undefined ? {} : { region: options.region }),
          ...(props.outdir === undefined ? {} : { outdir: props.outdir }),
          ...(props.context === undefined ? {} : { context: props.context }),
          ...(needsBuild ? { buildContextDir } : {}),
        });
        return app.synth();
      }),
    { outdir: resolve(options.outdir ?? 'cdk.out'), lookups, disposeOutdir: false },
  );
  return { source, cleanup: () => rm(work, { recursive: true, force: true }) };
}

async function withSource<T>(options: FleetActionOptions, action: (toolkit: Toolkit, source: ICloudAssemblySource, plan: DeployPlan) => Promise<T>): Promise<T> {
  const plan = planDeployment(options.config, options.configFile);
  for (const w of plan.warnings) options.onEvent?.({ level: 'warn', message: w });
  const toolkit = toolkitOf(options);
  const { source, cleanup } = await sourceOf(toolkit, options, plan);
  try {
    return await action(toolkit, source, plan);
  } catch (error) {
    if (error instanceof FleetError) throw error;
    throw new FleetError('DEPLOY_TOOLKIT_FAILED', `the AWS CDK toolkit failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
      // Mostly the account: credentials refused, not bootstrapped, a resource that failed to create.
      fault: 'environment',
      hint: 'check your AWS credentials (--profile), region (--region), and that the account is bootstrapped (npx cdk bootstrap)',
    });
  } finally {
    await cleanup();
  }
}

/** What `synth` produced. */
export interface SynthResult {
  readonly plan: DeployPlan;
  /** The cloud assembly directory. */
  readonly outdir: string;
  /** The CloudFormation template file. */
  readonly templateFile: string;
  readonly stackName: string;
}

/** Synthesizes the fleet's CloudFormation template into `outdir` (offline unless a VPC lookup is configured). */
export async function synthFleet(options: FleetActionOptions): Promise<SynthResult> {
  return withSource(options, async (toolkit, source, plan) => {
    const assembly = await toolkit.synth(source);
    try {
      const stackName = plan.deploy.stackName;
      const outdir = resolve(options.outdir ?? 'cdk.out');
      return { plan, outdir, templateFile: join(outdir, `${stackName}.template.json`), stackName };
    } finally {
      await assembly.dispose();
    }
  });
}

/** Compares the synthesized fleet with the deployed stack; returns whether anything changes. */
export async function diffFleet(options: FleetActionOptions): Promise<{ changed: boolean }> {
  return withSource(options, async (toolkit, source, plan) => {
    const diffs = await inStep(options, 'diff', `comparing with the deployed stack ${plan.deploy.stackName}`, () => toolkit.diff(source, { stacks: { strategy: StackSelectionStrategy.PATTERN_MUST_MATCH, patterns: [plan.deploy.stackName] } }));
    return { changed: Object.values(diffs).some((d) => !d.isEmpty) };
  });
}

/** What `deploy` returns: the stack's outputs. */
export interface DeployFleetResult {
  readonly plan: DeployPlan;
  readonly stackName: string;
  readonly outputs: Readonly<Record<string, string>>;
}

/** Deploys the fleet with CloudFormation (building and pushing the image asset), emitting progress. */
export async function deployFleet(options: FleetActionOptions): Promise<DeployFleetResult> {
  return withSource(options, async (toolkit, source, plan) => {
    const result = await inStep(options, 'deploy', `deploying stack ${plan.deploy.stackName} (image build and push, then CloudFormation)`, () =>
      toolkit.deploy(source, { stacks: { strategy: StackSelectionStrategy.PATTERN_MUST_MATCH, patterns: [plan.deploy.stackName] } }),
    );
    const stack = result.stacks.find((s) => s.stackName === plan.deploy.stackName) ?? result.stacks[0];
    return { plan, stackName: plan.deploy.stackName, outputs: stack?.outputs ?? {} };
  });
}

/** Deletes the fleet's stack. The caller confirms with the user first. */
export async function destroyFleet(options: FleetActionOptions): Promise<void> {
  await withSource(options, async (toolkit, source, plan) => {
    await inStep(options, 'destroy', `deleting stack ${plan.deploy.stackName}`, () =>
      toolkit.destroy(source, { stacks: { strategy: StackSelectionStrategy.PATTERN_MUST_MATCH, patterns: [plan.deploy.stackName] } }),
    );
  });
}
