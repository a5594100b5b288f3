import { App, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DeploySchema } from '../config/deploy-schema.js';
import type { FleetConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';
import { McpFleet } from './construct.js';

/** Props of {@link FleetStack}. */
export interface FleetStackProps extends StackProps {
  /** The fleet config, loaded with `resolveEnv: false`. */
  readonly config: FleetConfig;
  /** Config file name, for error messages. @default 'config' */
  readonly configFile?: string;
  /** Docker build context written by `writeBuildContext`. @default none (needs deploy.image.uri) */
  readonly buildContextDir?: string;
}

/** A stack holding one {@link McpFleet}, built from a config file. */
export class FleetStack extends Stack {
  readonly fleet: McpFleet;

  constructor(scope: Construct, id: string, props: FleetStackProps) {
    super(scope, id, { description: 'mcp-fleet: MCP servers on ECS Fargate behind an Application Load Balancer', ...props });
    this.fleet = new McpFleet(this, 'Fleet', {
      config: props.config,
      ...(props.buildContextDir === undefined ? {} : { buildContextDir: props.buildContextDir }),
      ...(props.configFile === undefined ? {} : { configFile: props.configFile }),
    });
    acknowledgeNagFindings(this.fleet);
  }
}

/**
 * Acknowledges the cdk-nag AwsSolutions findings that are deliberate, each with
 * its reason. Uses the CDK's own `Validations` API, so cdk-nag is not needed at run time.
 */
export function acknowledgeNagFindings(fleet: McpFleet): void {
  const ack = (scope: Construct, id: string, reason: string): void => Validations.of(scope).acknowledge({ id, reason });
  const { deploy } = fleet.plan;

  if (!deploy.loadBalancer.internal && (deploy.loadBalancer.allowedCidrs ?? ['0.0.0.0/0']).some((c) => c.endsWith('/0'))) {
    ack(
      fleet.loadBalancerSecurityGroup,
      'AwsSolutions-EC23',
      'The load balancer is the public MCP endpoint; clients authenticate with bearer API keys at the gateway. Restrict with deploy.loadBalancer.allowedCidrs or make it internal.',
    );
  }
  if (deploy.loadBalancer.internal && deploy.loadBalancer.allowedCidrs === undefined) {
    ack(
      fleet.loadBalancerSecurityGroup,
      'AwsSolutions-EC23',
      'An internal load balancer admits the VPC CIDR only; the rule cannot evaluate the CIDR because it is a CloudFormation reference to the VPC.',
    );
  }
  if (deploy.loadBalancer.accessLogsBucket === undefined) {
    ack(fleet.loadBalancer, 'AwsSolutions-ELB2', 'Access logs are opt-in (deploy.loadBalancer.accessLogsBucket): they need an existing bucket and cost money; the gateway logs every request itself.');
  }
  if (!deploy.observability.containerInsights) {
    ack(
      fleet.cluster,
      'AwsSolutions-ECS4',
      'Container Insights is opt-in (deploy.observability.containerInsights): it is billed as custom metrics, about $26 a month for the reference fleet, and mcp-fleet cost prices it when on. The dashboard and alarms use the free ECS service and load balancer metrics.',
    );
  }
  ack(
    fleet.clusterSecret,
    'AwsSolutions-SMG4',
    'The fleet secret signs session ids, and ECS injects secrets only when a task starts: a rotated value would reach new tasks only, and old and new replicas could not verify the session ids of the others. It is random and read only by the execution roles; to change it, put a new value and force a new deployment of every service (docs/SCALING.md).',
  );
  for (const s of fleet.services) {
    ack(
      s.taskDefinition,
      'AwsSolutions-ECS2',
      fleet.auditLogGroup === undefined
        ? 'The plain environment values are MCP_FLEET_ALLOWED_HOSTS (the load balancer DNS name) and MCP_FLEET_PEERS_DNS (the Cloud Map name of the replicas), neither a secret; secrets, the fleet secret included, are injected through the task definition secrets from Secrets Manager.'
        : 'The plain environment values are MCP_FLEET_ALLOWED_HOSTS (the load balancer DNS name), MCP_FLEET_PEERS_DNS (the Cloud Map name of the replicas) and MCP_FLEET_AUDIT_LOG_GROUP (the audit log group name), none a secret; secrets, the fleet secret included, are injected through the task definition secrets from Secrets Manager.',
    );
    if (deploy.image.uri === undefined) {
      ack(
        s.taskDefinition,
        'AwsSolutions-IAM5[Resource::*]',
        'ecr:GetAuthorizationToken on the execution role supports no resource-level permission (AWS documents Resource "*"); image pulls themselves are scoped to the repository.',
      );
    }
    // Statements the user listed in servers.<name>.deploy.taskPolicyStatements are theirs to scope.
    for (const statement of s.plan.taskPolicyStatements) {
      for (const action of statement.actions.filter((a) => a.includes('*'))) {
        ack(s.taskRole, `AwsSolutions-IAM5[Action::${action}]`, 'Listed in the config (servers.<name>.deploy.taskPolicyStatements); the config is the source of truth for task permissions.');
      }
      for (const resource of statement.resources.filter((r) => r.includes('*'))) {
        ack(s.taskRole, `AwsSolutions-IAM5[Resource::${resource}]`, 'Listed in the config (servers.<name>.deploy.taskPolicyStatements); the config is the source of truth for task permissions.');
      }
    }
  }
  const vpcNode = fleet.node.tryFindChild('Vpc');
  if (vpcNode !== undefined && !deploy.network.flowLogs) {
    ack(vpcNode, 'AwsSolutions-VPC7', 'Flow logs are opt-in (deploy.network.flowLogs) to keep the default fleet cheap; the task security group only admits the load balancer and the other replicas of the same service.');
  }
}

/** Options of {@link buildFleetApp}. */
export interface FleetAppOptions {
  readonly config: FleetConfig;
  readonly configFile?: string;
  /** AWS account; wins over `deploy.account`. */
  readonly account?: string;
  /** AWS region; wins over `deploy.region`. */
  readonly region?: string;
  /** Where the cloud assembly goes. @default 'cdk.out' */
  readonly outdir?: string;
  /** Docker build context written by `writeBuildContext`. */
  readonly buildContextDir?: string;
  /** Context values (lookup results), as the toolkit passes them. */
  readonly context?: Record<string, unknown>;
}

/** Builds the CDK app of a fleet: one {@link FleetStack} named `deploy.stackName`. */
export function buildFleetApp(options: FleetAppOptions): { app: App; stack: FleetStack } {
  const deploy = options.config.deploy ?? DeploySchema.parse({});
  const account = options.account ?? deploy.account;
  const region = options.region ?? deploy.region;
  const lookup = deploy.network.vpcId !== undefined || deploy.network.useDefaultVpc;
  if (lookup && (account === undefined || region === undefined)) {
    throw new FleetError('DEPLOY_LOOKUP_NEEDS_ENV', 'looking up an existing VPC needs an account and a region', {
      hint: 'set deploy.account and deploy.region, or pass --account and --region',
    });
  }
  const app = new App({
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
    ...(options.context === undefined ? {} : { context: options.context }),
  });
  const stack = new FleetStack(app, deploy.stackName, {
    config: options.config,
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    ...(options.buildContextDir === undefined ? {} : { buildContextDir: options.buildContextDir }),
    ...(account !== undefined || region !== undefined ? { env: { ...(account === undefined ? {} : { account }), ...(region === undefined ? {} : { region }) } } : {}),
  });
  return { app, stack };
}
