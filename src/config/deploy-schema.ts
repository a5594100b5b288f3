import { z } from 'zod';
import { LOAD_BALANCER_IDLE_TIMEOUT_SECONDS } from './timeouts.js';
import { DeployAuthSchema } from './auth-schema.js';
import { DeployTelemetrySchema } from './telemetry-schema.js';

/**
 * The `deploy:` section of a config (fleet-wide) and `servers.<name>.deploy`
 * (per server). Owned by the deploy module (`src/deploy/`); `serve` ignores both.
 * Rules that need the whole config (host names need a domain, every `${NAME}`
 * must be a declared secret) live in `src/deploy/plan.ts`.
 */

/** CPU units Fargate offers, with the memory sizes (MiB) each allows. */
export const FARGATE_SIZES: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: [1024, 2048, 3072, 4096],
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

/** Default task size: the smallest Fargate offers. */
export const DEFAULT_CPU = 256;
/** Smallest task memory in MiB; the default is the smallest size that holds the task's children (see `src/deploy/memory.ts`). */
export const DEFAULT_MEMORY_MIB = 512;
/** Default CPU of the `packed` service. */
export const DEFAULT_PACKED_CPU = 512;

/** Explains a cpu/memory pair Fargate does not offer, or returns undefined when it does. */
export function fargateSizeProblem(cpu: number, memoryMiB: number): string | undefined {
  const allowed = FARGATE_SIZES[cpu];
  if (allowed === undefined) {
    return `Fargate offers cpu ${Object.keys(FARGATE_SIZES).join(', ')} (1024 = 1 vCPU), not ${cpu}`;
  }
  if (!allowed.includes(memoryMiB)) {
    const shown = allowed.length > 6 ? `${allowed[0]} to ${allowed[allowed.length - 1]} in steps of ${allowed[1]! - allowed[0]!}` : allowed.join(', ');
    return `Fargate does not offer cpu ${cpu} with memoryMiB ${memoryMiB}; with cpu ${cpu} use memoryMiB ${shown}`;
  }
  return undefined;
}

/** Node.js major version of the image. */
export const DEFAULT_NODE_VERSION = '22';
/** uv version of the image. */
export const DEFAULT_UV_VERSION = '0.9.5';

/** `name:tag@sha256:<digest>`. */
const PINNED_IMAGE = /^[a-z0-9][a-z0-9._\-/:]*@sha256:[0-9a-f]{64}$/;

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Target-tracking autoscaling of one service. */
export const AutoscalingSchema = z
  .object({
    /** Fewest tasks. */
    minCount: z.number().int().min(0).default(1),
    /** Most tasks. @example 3 */
    maxCount: z.number().int().min(1),
    /** Keep average CPU near this percentage. */
    cpuTargetPercent: z.number().min(10).max(90).default(70),
    /** Keep average memory near this percentage (children are memory-bound, so memory usually scales first). */
    memoryTargetPercent: z.number().min(10).max(90).default(75),
    /** Keep ALB requests per task per minute near this number. @default not used @example 500 */
    requestsPerTarget: z.number().int().positive().optional(),
  })
  .strict()
  .refine((a) => a.minCount <= a.maxCount, { message: 'autoscaling.minCount must not exceed autoscaling.maxCount' });

/** One IAM policy statement for a server's task role, in IAM JSON shape. */
export const PolicyStatementSchema = z
  .object({
    /** Whether the statement allows or denies its actions. @example Allow */
    effect: z.enum(['Allow', 'Deny']).default('Allow'),
    /** IAM actions, as service:Action. @example ["bedrock:InvokeModel"] */
    actions: z
      .array(z.string().regex(/^([a-z0-9-]+:[A-Za-z0-9*?]+|\*)$/, { message: 'an IAM action is service:Action, such as s3:GetObject or bedrock:InvokeModel' }))
      .min(1, { message: 'list at least one action, such as s3:GetObject' }),
    /** ARNs of the resources the actions apply to. @example ["arn:aws:bedrock:us-east-1::foundation-model/*"] */
    resources: z
      .array(z.string().regex(/^(arn:[^:\s]+:[^:\s]*:[^:\s]*:[^:\s]*:.+|\*)$/, { message: 'a resource is an ARN (arn:aws:s3:::bucket/*) or "*"' }))
      .min(1, { message: 'list at least one resource ARN (avoid "*")' }),
  })
  .strict();

/** Sizing and scaling of one ECS service (a server, or the packed service). */
const ServiceSizingShape = {
  /** Fargate CPU units (1024 = 1 vCPU). @default 256 @example 512 */
  cpu: z.number().int().positive().optional(),
  /** Fargate memory in MiB; must be a size Fargate offers for `cpu`. @default 512 @example 1024 */
  memoryMiB: z.number().int().positive().optional(),
  /** Tasks to run when not autoscaling. @default 1 @example 2 */
  desiredCount: z.number().int().min(0).optional(),
  /** Run on Fargate Spot (about 70% cheaper, may be interrupted). @default deploy.spot @example false */
  spot: z.boolean().optional(),
  /**
   * With Spot: this many tasks run on regular Fargate and the rest on Spot, so a
   * Spot reclaim never takes the service to zero.
   * @default 1 when the service runs at least one task, else 0
   * @example 1
   */
  onDemandBase: z.number().int().min(0).optional(),
  /** Autoscaling on CPU, memory and request count. @default fixed desiredCount */
  autoscaling: AutoscalingSchema.optional(),
};

type SizingInput = { cpu?: number | undefined; memoryMiB?: number | undefined; desiredCount?: number | undefined; onDemandBase?: number | undefined; autoscaling?: { maxCount: number } | undefined };

function checkSizing(s: SizingInput, ctx: z.core.$RefinementCtx): void {
  // Memory left out is derived from the task's children (src/deploy/memory.ts); only a given size is checked here.
  if (s.memoryMiB !== undefined) {
    const problem = fargateSizeProblem(s.cpu ?? DEFAULT_CPU, s.memoryMiB);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['memoryMiB'], message: problem });
  } else if (FARGATE_SIZES[s.cpu ?? DEFAULT_CPU] === undefined) {
    ctx.addIssue({ code: 'custom', path: ['cpu'], message: fargateSizeProblem(s.cpu ?? DEFAULT_CPU, DEFAULT_MEMORY_MIB)! });
  }
  if (s.desiredCount !== undefined && s.autoscaling !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['desiredCount'],
      message: 'give desiredCount for a fixed number of tasks or autoscaling for a range, not both (with autoscaling the count is autoscaling.minCount..maxCount)',
    });
  }
  const most = s.autoscaling?.maxCount ?? s.desiredCount ?? 1;
  if (s.onDemandBase !== undefined && s.onDemandBase > most) {
    ctx.addIssue({ code: 'custom', path: ['onDemandBase'], message: `the service never runs more than ${most} task${most === 1 ? '' : 's'}; set it to at most ${most}` });
  }
}

/** Deploy settings of one server (`servers.<name>.deploy`). */
export const ServerDeploySchema = z
  .object({
    ...ServiceSizingShape,
    /**
     * IAM statements of this server's task role: the server's own AWS calls use
     * it (the gateway passes the task's credential variables to the children).
     * @default none: the task role has no permissions
     */
    taskPolicyStatements: z.array(PolicyStatementSchema).default([]),
    /**
     * Memory one child process of this server uses, in MiB; sizes the task and
     * caps the sessions a task accepts (see docs/DEPLOY.md, "Sizing").
     * @default 96 (Node.js MCP servers measured at 67-90 MiB idle)
     * @example 160
     */
    childMemoryMiB: z.number().int().min(16).max(16_384).optional(),
    /**
     * Whether the server needs to reach the internet (a fetch or search server).
     * Private subnets without NAT give no way out, so such a layout is refused.
     * @default known for common packages, else true
     * @example false
     */
    internetEgress: z.boolean().optional(),
    /**
     * Names in `env` that hold no secret although their name suggests one (such as
     * AUTH_MODE); every other secret-looking literal is refused at synth.
     * @default none
     */
    plainEnv: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'an environment variable name' })).default([]),
    /**
     * Priority of this server's listener rule (1-50000), for the rare case where
     * two server names hash to the same one; synth names both servers then.
     * @default derived from the server name
     * @example 10
     */
    listenerPriority: z.number().int().min(1).max(50_000).optional(),
  })
  .strict()
  .superRefine(checkSizing);

/** A Secrets Manager secret or an SSM SecureString parameter, injected into tasks as an environment variable. */
export const SecretRefSchema = z
  .object({
    /** Name of the secret (the execution role may read `name-??????`). @example mcp-fleet/searxng-url */
    secretName: z.string().min(1).optional(),
    /** Full ARN of the secret. @example arn:aws:secretsmanager:us-east-1:123456789012:secret:mcp-fleet/api-key-AbCdEf */
    secretArn: z.string().regex(/^arn:aws[a-z-]*:secretsmanager:/, { message: 'must be a Secrets Manager ARN (arn:aws:secretsmanager:...)' }).optional(),
    /** Name of an SSM Parameter Store parameter (SecureString), such as /mcp-fleet/api-key. @example /mcp-fleet/api-key */
    parameterName: z.string().regex(/^\/?[A-Za-z0-9_.\-/]+$/, { message: 'an SSM parameter name, such as /mcp-fleet/api-key' }).optional(),
    /** JSON key inside the secret (Secrets Manager only). @default the whole secret string @example apiKey */
    field: z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => [s.secretName, s.secretArn, s.parameterName].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of secretName, secretArn (Secrets Manager) or parameterName (SSM Parameter Store)',
  })
  .refine((s) => s.field === undefined || s.parameterName === undefined, { message: 'field selects a JSON key of a Secrets Manager secret; an SSM parameter has none' });

/** Fleet-wide deploy settings (`deploy:`). */
export const DeploySchema = z
  .object({
    /** CloudFormation stack name. */
    stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, { message: 'a stack name is letters, digits and "-", starting with a letter' }).default('McpFleet'),
    /** AWS account id; `--account` wins. @default the credentials' account, or environment-agnostic for synth @example 123456789012 */
    account: z.string().regex(/^\d{12}$/, { message: 'an AWS account id is 12 digits' }).optional(),
    /** AWS region; `--region` wins. @default AWS_REGION, AWS_DEFAULT_REGION, then the profile's region (deploy, diff, destroy, status and logs stop when none is set; cost prices us-east-1) */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'a region looks like us-east-1' }).optional(),
    /** `service-per-server` isolates each server; `packed` runs all in one service to save money. */
    layout: z.enum(['service-per-server', 'packed']).default('service-per-server'),
    /** Size of the one service of the `packed` layout. @default cpu 512, memory derived from the children */
    packed: z.object(ServiceSizingShape).strict().superRefine(checkSizing).default({ cpu: DEFAULT_PACKED_CPU }),
    /** Fleet default for Fargate Spot. */
    spot: z.boolean().default(true),
    /** Domain for HTTPS and host routing. @default none: path routing over HTTP on the load balancer's DNS name */
    domain: z
      .object({
        /** Zone apex or parent of every server host name, such as example.com. */
        name: z.string().min(1),
        /** Route 53 hosted zone id: a certificate is created and DNS-validated there, and a record per host name. */
        hostedZoneId: z.string().min(1).optional(),
        /** An existing ACM certificate covering every host name (you then point DNS at the load balancer). @example arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789 */
        certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:/, { message: 'must be an ACM certificate ARN (arn:aws:acm:...)' }).optional(),
        /**
         * Names of the created certificate: `wildcard` covers the domain and
         * `*.<domain>`, so adding a server never re-issues it; `hostnames` lists
         * every host name (ACM allows 10 names by default).
         * @default wildcard
         */
        certificateNames: z.enum(['wildcard', 'hostnames']).optional(),
      })
      .strict()
      .refine((d) => d.hostedZoneId !== undefined || d.certificateArn !== undefined, {
        message: 'give hostedZoneId (a certificate is created) or certificateArn (an existing certificate), or both',
      })
      .refine((d) => d.certificateArn === undefined || d.certificateNames === undefined, {
        message: 'certificateNames shapes a certificate the stack creates; with certificateArn the stack creates none, so remove one of them',
      })
      .optional(),
    /** The Application Load Balancer. */
    loadBalancer: z
      .object({
        /** Reachable only inside the VPC. */
        internal: z.boolean().default(false),
        /** Source CIDRs allowed to reach the load balancer. @default anywhere (internet-facing) or the VPC (internal) @example ["203.0.113.0/24"] */
        allowedCidrs: z.array(z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, { message: 'a CIDR looks like 203.0.113.0/24' })).optional(),
        /** Idle timeout: below gateway.httpKeepAliveSeconds and above gateway.sseKeepAliveSeconds (see `timeouts.ts`). */
        idleTimeoutSeconds: z.number().int().min(1).max(4000).default(LOAD_BALANCER_IDLE_TIMEOUT_SECONDS),
        /** S3 bucket name for access logs. @default no access logs @example acme-alb-logs */
        accessLogsBucket: z.string().min(3).optional(),
      })
      .strict()
      .default({ internal: false, idleTimeoutSeconds: LOAD_BALANCER_IDLE_TIMEOUT_SECONDS }),
    /** The VPC. */
    network: z
      .object({
        /** Use an existing VPC (a lookup: needs credentials at synth). @example vpc-0123abcd */
        vpcId: z.string().regex(/^vpc-[0-9a-f]+$/, { message: 'a VPC id looks like vpc-0123abcd' }).optional(),
        /** Use the account's default VPC (a lookup: needs credentials at synth). */
        useDefaultVpc: z.boolean().default(false),
        /** Availability zones of a new VPC. */
        maxAzs: z.number().int().min(2).max(6).default(2),
        /** Run tasks in private subnets (a new VPC then gets NAT gateways) instead of public subnets with public IPs. */
        privateSubnets: z.boolean().default(false),
        /** NAT gateways of a new VPC with private subnets. */
        natGateways: z.number().int().min(0).max(6).default(1),
        /** Interface endpoints for ECR, CloudWatch Logs and Secrets Manager, plus an S3 gateway endpoint. */
        vpcEndpoints: z.boolean().default(false),
        /** VPC flow logs to CloudWatch Logs (new VPC only). */
        flowLogs: z.boolean().default(false),
      })
      .strict()
      .refine((n) => !(n.vpcId !== undefined && n.useDefaultVpc), { message: 'give vpcId or useDefaultVpc, not both' })
      .default({ useDefaultVpc: false, maxAzs: 2, privateSubnets: false, natGateways: 1, vpcEndpoints: false, flowLogs: false }),
    /** The container image. */
    image: z
      .object({
        /** An existing image instead of building one; build it from the context `synth` stages in cdk.out/asset.<hash>/. @example 123456789012.dkr.ecr.us-east-1.amazonaws.com/mcp-fleet:1.2.3 */
        uri: z.string().min(1).optional(),
        /** Node.js major version of the image (the base is `node:<nodeVersion>-bookworm-slim`). */
        nodeVersion: z.string().regex(/^\d+$/).default(DEFAULT_NODE_VERSION),
        /** uv version installed in the image. */
        uvVersion: z.string().regex(/^\d+\.\d+\.\d+$/).default(DEFAULT_UV_VERSION),
        /**
         * The base image, pinned by digest (`node:22-bookworm-slim@sha256:...`).
         * @default the pinned digest mcp-fleet ships for the default nodeVersion
         * @example node:22-bookworm-slim@sha256:<digest>
         */
        baseImage: z.string().regex(PINNED_IMAGE, { message: 'pin it by digest: name:tag@sha256:<64 hex digits>, from `docker buildx imagetools inspect name:tag`' }).optional(),
        /**
         * The uv image the `uv` binary is copied from, pinned by digest.
         * @default the pinned digest mcp-fleet ships for the default uvVersion
         * @example ghcr.io/astral-sh/uv:0.9.5@sha256:<digest>
         */
        uvImage: z.string().regex(PINNED_IMAGE, { message: 'pin it by digest: ghcr.io/astral-sh/uv:<version>@sha256:<64 hex digits>' }).optional(),
        /** Python version uv installs for PyPI servers. */
        pythonVersion: z.string().regex(/^\d+\.\d+$/).default('3.12'),
        /**
         * Resolve PyPI servers' dependencies as they were at this moment (uv
         * `--exclude-newer`), so two builds install the same tree.
         * @default none: each build resolves afresh (synth warns)
         */
        pythonResolvedAt: z.string().regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$/, { message: 'a date such as 2026-11-01 or 2026-11-01T00:00:00Z' }).optional(),
        /** CPU architecture of tasks and image. */
        architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
      })
      .strict()
      .default({ nodeVersion: DEFAULT_NODE_VERSION, uvVersion: DEFAULT_UV_VERSION, pythonVersion: '3.12', architecture: 'x86_64' }),
    /** AWS resources of the built-in authorization server (`gateway.auth.authorizationServer`): store table, secret, optional Cognito. */
    auth: DeployAuthSchema.default({ retainTable: false }),
    /** Every `${NAME}` the config references, mapped to a Secrets Manager secret. */
    secrets: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'an environment variable name' }), SecretRefSchema).default({}),
    /** Logs, dashboard and alarms. */
    observability: z
      .object({
        /** Days logs are kept. */
        logRetentionDays: z
          .number()
          .int()
          .refine((d) => LOG_RETENTION_DAYS.includes(d), { message: `CloudWatch keeps logs for one of ${LOG_RETENTION_DAYS.join(', ')} days` })
          .default(30),
        /** Create a CloudWatch dashboard. */
        dashboard: z.boolean().default(true),
        /** Send alarms to this e-mail (an SNS topic is created). */
        alarmEmail: z.string().email().optional(),
        /** Send alarms to this existing SNS topic. @example arn:aws:sns:us-east-1:123456789012:mcp-fleet-alarms */
        alarmTopicArn: z.string().regex(/^arn:aws[a-z-]*:sns:/).optional(),
        /** Alarm when more than this percentage of requests get a 5xx. */
        max5xxPercent: z.number().positive().max(100).default(5),
        /** Alarm when a service's memory stays above this percentage (children start failing near 100). */
        maxMemoryPercent: z.number().min(10).max(100).default(90),
        /**
         * CloudWatch Container Insights on the cluster: per-task metrics, billed as
         * custom metrics (about $26 a month for the reference fleet; `mcp-fleet cost` shows it).
         */
        containerInsights: z.boolean().default(false),
      })
      .strict()
      .default({ logRetentionDays: 30, dashboard: true, max5xxPercent: 5, maxMemoryPercent: 90, containerInsights: false }),
    /**
     * The audit log group (made when `gateway.audit.enabled`): the gateways write
     * audit records to it through the CloudWatch Logs API; it is kept when the
     * stack is destroyed. See docs/AUDIT.md.
     */
    audit: z
      .object({
        /** Days audit records are kept. */
        retentionDays: z
          .number()
          .int()
          .refine((d) => LOG_RETENTION_DAYS.includes(d), { message: `CloudWatch keeps logs for one of ${LOG_RETENTION_DAYS.join(', ')} days` })
          .default(365),
      })
      .strict()
      .default({ retentionDays: 365 }),
    /** Traces and metrics of the deployed fleet: the ADOT collector sidecar (docs/OBSERVABILITY.md). @default off */
    telemetry: DeployTelemetrySchema.default(DeployTelemetrySchema.parse({})),
  })
  .strict();

/** Deploy settings of one server, parsed. */
export type ServerDeployConfig = z.infer<typeof ServerDeploySchema>;
/** Fleet-wide deploy settings, parsed. */
export type DeployConfig = z.infer<typeof DeploySchema>;
/** A secret reference, parsed. */
export type SecretRef = z.infer<typeof SecretRefSchema>;
/** One task-role policy statement, parsed. */
export type PolicyStatementConfig = z.infer<typeof PolicyStatementSchema>;
/** Autoscaling settings, parsed. */
export type AutoscalingConfig = z.infer<typeof AutoscalingSchema>;
