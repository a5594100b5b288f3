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
    this.onEvent?.({ level: msg.level, message: msg.message, ...(msg.code === undefined ? {} : { code: msg.code }) });
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
    const rendered = await writeBuildContext(config, plan, { outDir: buildContextDir, ...(options.packageRoot === undefined ? {} : { packageRoot: options.packageRoot }) });
    for (const w of rendered.warnings) options.onEvent?.({ level: 'warn', message: w });
  }
  const deploy = config.deploy;
  const lookups = deploy !== undefined && (deploy.network.vpcId !== undefined || deploy.network.useDefaultVpc);
  const source = await toolkit.fromAssemblyBuilder(
    async (props) => {
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
    },
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
      fault: 'program',
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
    const diffs = await toolkit.diff(source, { stacks: { strategy: StackSelectionStrategy.PATTERN_MUST_MATCH, patterns: [plan.deploy.stackName] } });
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
    const result = await toolkit.deploy(source, { stacks: { strategy: StackSelectionStrategy.PATTERN_MUST_MATCH, patterns: [plan.deploy.stackName] } });
    const stack = result.stacks.find((s) => s.stackName === plan.deploy.stackName) ?? result.stacks[0];
    return { plan, stackName: plan.deploy.stackName, outputs: stack?.outputs ?? {} };
  });
}

/** Deletes the fleet's stack. The caller confirms with the user first. */
export async function destroyFleet(options: FleetActionOptions): Promise<void> {
  await withSource(options, async (toolkit, source, plan) => {
    await toolkit.destroy(source, { stacks: { strategy: StackSelectionStrategy.PATTERN_MUST_MATCH, patterns: [plan.deploy.stackName] } });
  });
}
