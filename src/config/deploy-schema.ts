import { z } from 'zod';

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
/** Default task memory in MiB. */
export const DEFAULT_MEMORY_MIB = 512;

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

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Target-tracking autoscaling of one service. */
export const AutoscalingSchema = z
  .object({
    /** Fewest tasks. */
    minCount: z.number().int().min(0).default(1),
    /** Most tasks. */
    maxCount: z.number().int().min(1),
    /** Keep average CPU near this percentage. */
    cpuTargetPercent: z.number().min(10).max(90).default(70),
    /** Keep ALB requests per task per minute near this number. @default not used */
    requestsPerTarget: z.number().int().positive().optional(),
  })
  .strict()
  .refine((a) => a.minCount <= a.maxCount, { message: 'autoscaling.minCount must not exceed autoscaling.maxCount' });

/** One IAM policy statement for a server's task role, in IAM JSON shape. */
export const PolicyStatementSchema = z
  .object({
    effect: z.enum(['Allow', 'Deny']).default('Allow'),
    actions: z.array(z.string().min(1)).min(1, { message: 'list at least one action, such as s3:GetObject' }),
    resources: z.array(z.string().min(1)).min(1, { message: 'list at least one resource ARN (avoid "*")' }),
  })
  .strict();

/** Sizing and scaling of one ECS service (a server, or the packed service). */
const ServiceSizingShape = {
  /** Fargate CPU units (1024 = 1 vCPU). @default 256 */
  cpu: z.number().int().positive().optional(),
  /** Fargate memory in MiB; must be a size Fargate offers for `cpu`. @default 512 */
  memoryMiB: z.number().int().positive().optional(),
  /** Tasks to run when not autoscaling. @default 1 */
  desiredCount: z.number().int().min(0).optional(),
  /** Run on Fargate Spot (about 70% cheaper, may be interrupted). @default deploy.spot */
  spot: z.boolean().optional(),
  /** Autoscaling on CPU and request count. @default fixed desiredCount */
  autoscaling: AutoscalingSchema.optional(),
};

function checkSize(s: { cpu?: number | undefined; memoryMiB?: number | undefined }, ctx: z.core.$RefinementCtx): void {
  const problem = fargateSizeProblem(s.cpu ?? DEFAULT_CPU, s.memoryMiB ?? DEFAULT_MEMORY_MIB);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['memoryMiB'], message: problem });
}

/** Deploy settings of one server (`servers.<name>.deploy`). */
export const ServerDeploySchema = z
  .object({
    ...ServiceSizingShape,
    /** IAM statements of this server's task role (the role the server's own AWS calls use). @default none */
    taskPolicyStatements: z.array(PolicyStatementSchema).default([]),
  })
  .strict()
  .superRefine(checkSize);

/** A Secrets Manager secret injected into tasks as an environment variable. */
export const SecretRefSchema = z
  .object({
    /** Name of the secret (the execution role may read `name-??????`). */
    secretName: z.string().min(1).optional(),
    /** Full ARN of the secret. */
    secretArn: z.string().regex(/^arn:aws[a-z-]*:secretsmanager:/, { message: 'must be a Secrets Manager ARN (arn:aws:secretsmanager:...)' }).optional(),
    /** JSON key inside the secret. @default the whole secret string */
    field: z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => (s.secretName === undefined) !== (s.secretArn === undefined), {
    message: 'give exactly one of secretName or secretArn',
  });

/** Fleet-wide deploy settings (`deploy:`). */
export const DeploySchema = z
  .object({
    /** CloudFormation stack name. */
    stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, { message: 'a stack name is letters, digits and "-", starting with a letter' }).default('McpFleet'),
    /** AWS account id; `--account` wins. @default the credentials' account, or environment-agnostic for synth */
    account: z.string().regex(/^\d{12}$/, { message: 'an AWS account id is 12 digits' }).optional(),
    /** AWS region; `--region` wins. @default us-east-1 */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'a region looks like us-east-1' }).optional(),
    /** `service-per-server` isolates each server; `packed` runs all in one service to save money. */
    layout: z.enum(['service-per-server', 'packed']).default('service-per-server'),
    /** Size of the one service of the `packed` layout. @default cpu 512, memoryMiB 1024 */
    packed: z.object(ServiceSizingShape).strict().superRefine(checkSize).default({ cpu: 512, memoryMiB: 1024 }),
    /** Fleet default for Fargate Spot. */
    spot: z.boolean().default(true),
    /** Domain for HTTPS and host routing. @default none: path routing over HTTP on the load balancer's DNS name */
    domain: z
      .object({
        /** Zone apex or parent of every server host name, such as example.com. */
        name: z.string().min(1),
        /** Route 53 hosted zone id: a certificate is created and DNS-validated there, and a record per host name. */
        hostedZoneId: z.string().min(1).optional(),
        /** An existing ACM certificate covering every host name (you then point DNS at the load balancer). */
        certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:/, { message: 'must be an ACM certificate ARN (arn:aws:acm:...)' }).optional(),
      })
      .strict()
      .refine((d) => d.hostedZoneId !== undefined || d.certificateArn !== undefined, {
        message: 'give hostedZoneId (a certificate is created) or certificateArn (an existing certificate), or both',
      })
      .optional(),
    /** The Application Load Balancer. */
    loadBalancer: z
      .object({
        /** Reachable only inside the VPC. */
        internal: z.boolean().default(false),
        /** Source CIDRs allowed to reach the load balancer. @default anywhere (internet-facing) or the VPC (internal) */
        allowedCidrs: z.array(z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, { message: 'a CIDR looks like 203.0.113.0/24' })).optional(),
        /** Idle timeout; SSE streams need a long one (the gateway sends keep-alives). */
        idleTimeoutSeconds: z.number().int().min(60).max(4000).default(3600),
        /** S3 bucket name for access logs. @default no access logs */
        accessLogsBucket: z.string().min(3).optional(),
      })
      .strict()
      .default({ internal: false, idleTimeoutSeconds: 3600 }),
    /** The VPC. */
    network: z
      .object({
        /** Use an existing VPC (a lookup: needs credentials at synth). */
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
        /** An existing image instead of building one; build it from the context `synth` stages in cdk.out/asset.<hash>/. */
        uri: z.string().min(1).optional(),
        /** Node.js major version of the image. */
        nodeVersion: z.string().regex(/^\d+$/).default('22'),
        /** uv version installed in the image. */
        uvVersion: z.string().regex(/^\d+\.\d+\.\d+$/).default('0.9.5'),
        /** Python version uv installs for PyPI servers. */
        pythonVersion: z.string().regex(/^\d+\.\d+$/).default('3.12'),
        /** CPU architecture of tasks and image. */
        architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
      })
      .strict()
      .default({ nodeVersion: '22', uvVersion: '0.9.5', pythonVersion: '3.12', architecture: 'x86_64' }),
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
        /** Send alarms to this existing SNS topic. */
        alarmTopicArn: z.string().regex(/^arn:aws[a-z-]*:sns:/).optional(),
        /** Alarm when more than this percentage of requests get a 5xx. */
        max5xxPercent: z.number().positive().max(100).default(5),
      })
      .strict()
      .default({ logRetentionDays: 30, dashboard: true, max5xxPercent: 5 }),
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
