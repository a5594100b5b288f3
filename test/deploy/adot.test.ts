import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADOT_IMAGE } from '../../src/config/telemetry-schema.js';
import { ADOT_OTLP_HTTP_PORT } from '../../src/deploy/adot-plan.js';
import { estimateMonthlyCost } from '../../src/deploy/cost.js';
import { planDeployment } from '../../src/deploy/plan.js';
import type { FleetStack } from '../../src/deploy/stack.js';
import { configOf, SYNTH_TIMEOUT_MS, synthWithImage } from './helpers.js';

// GIVEN a two-server fleet with telemetry on and the ADOT collector sidecar asked for; synthesized once (AWS itself is not called).
const WITH_ADOT = {
  gateway: { telemetry: { enabled: true, samplingRatio: 0.5 } },
  servers: {
    fetch: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'] },
    memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'] },
  },
  deploy: { stackName: 'TracedFleet', region: 'us-east-1', telemetry: { adot: true }, loadBalancer: { internal: true } },
};

let stack: FleetStack;
let template: Template;
beforeAll(() => {
  ({ stack, template } = synthWithImage(WITH_ADOT));
}, SYNTH_TIMEOUT_MS);

describe('deploy.telemetry.adot (template assertions, no AWS)', () => {
  it('adds a pinned, non-essential ADOT collector to every task, configured for X-Ray and CloudWatch EMF', () => {
    const taskDefinitions = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
    expect(taskDefinitions).toHaveLength(2);
    for (const td of taskDefinitions) {
      const containers = (td as { Properties: { ContainerDefinitions: Record<string, unknown>[] } }).Properties.ContainerDefinitions;
      const collector = containers.find((c) => c['Name'] === 'adot-collector');
      expect(collector).toMatchObject({ Image: DEFAULT_ADOT_IMAGE, Essential: false, ReadonlyRootFilesystem: true });
      const config = ((collector?.['Environment'] ?? []) as { Name: string; Value: string }[]).find((e) => e.Name === 'AOT_CONFIG_CONTENT')?.Value ?? '';
      expect(config).toContain(`endpoint: 127.0.0.1:${ADOT_OTLP_HTTP_PORT}`);
      expect(config).toMatch(/exporters: \[awsxray\]/);
      expect(config).toMatch(/exporters: \[awsemf\]/);
      expect(config).toContain('namespace: McpFleet');
    }
  });

  it('points the gateway at the collector on localhost and starts it after the collector', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: Match.arrayWith([
        Match.objectLike({
          Name: 'gateway',
          Environment: Match.arrayWith([
            { Name: 'OTEL_EXPORTER_OTLP_ENDPOINT', Value: `http://127.0.0.1:${ADOT_OTLP_HTTP_PORT}` },
            { Name: 'OTEL_SERVICE_NAME', Value: 'mcp-fleet-fetch' },
          ]),
          DependsOn: [{ ContainerName: 'adot-collector', Condition: 'START' }],
        }),
      ]),
    });
  });

  it('gives the task role X-Ray writes and EMF writes to its own metrics log group only', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/mcp-fleet/TracedFleet/fetch/metrics' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'AdotXRay', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' }),
          Match.objectLike({
            Sid: 'AdotEmf',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('FetchAdotMetricsLogs'), 'Arn'] },
          }),
        ]),
      },
    });
  });

  it('passes the cdk-nag AwsSolutions pack', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });

  it('adds no collector when off', () => {
    const { template: plain } = synthWithImage({ ...WITH_ADOT, deploy: { ...WITH_ADOT.deploy, telemetry: { adot: false } } });
    const names = Object.values(plain.findResources('AWS::ECS::TaskDefinition')).flatMap((td) =>
      (td as { Properties: { ContainerDefinitions: { Name: string }[] } }).Properties.ContainerDefinitions.map((c) => c.Name),
    );
    expect(names).toEqual(['gateway', 'gateway']);
  });
});

describe('deploy.telemetry.adot validation', () => {
  it('refuses the sidecar while gateway.telemetry is off, naming the field and the fix', () => {
    expect(() => planDeployment(configOf({ ...WITH_ADOT, gateway: {} }))).toThrow(/deploy\.telemetry\.adot: .*set gateway\.telemetry\.enabled: true/);
  });

  it('refuses a gateway.telemetry.endpoint that would bypass the sidecar', () => {
    expect(() => planDeployment(configOf({ ...WITH_ADOT, gateway: { telemetry: { enabled: true, endpoint: 'https://otlp.example.com' } } }))).toThrow(
      /gateway\.telemetry\.endpoint: .*remove it/,
    );
  });

  it('refuses an unpinned collector image', () => {
    expect(() => configOf({ ...WITH_ADOT, deploy: { ...WITH_ADOT.deploy, telemetry: { adot: true, adotImage: 'public.ecr.aws/aws-observability/aws-otel-collector:latest' } } })).toThrow(
      /deploy\.telemetry\.adotImage.*pin the collector image/,
    );
  });
});

describe('task sizing with the sidecar', () => {
  it("counts the collector's memory when it derives a task's size", () => {
    // 128 MiB gateway + (4 pooled + 1 spare + 4 sessions) × 96 MiB = 992 MiB fits 1024; with the collector's 96 MiB it does not.
    const perSession = (adot: boolean) =>
      planDeployment(
        configOf({
          gateway: { telemetry: { enabled: adot } },
          servers: { memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'], policy: 'per-session' } },
          deploy: { telemetry: { adot } },
        }),
      ).services[0]!.memoryMiB;
    expect(perSession(false)).toBe(1024);
    expect(perSession(true)).toBe(2048);
  });

  it('names the collector when a given size cannot hold it', () => {
    const config = configOf({
      gateway: { telemetry: { enabled: true } },
      servers: { memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'], policy: 'pool', pool: { min: 1, max: 4 }, deploy: { memoryMiB: 512 } } },
      deploy: { telemetry: { adot: true } },
    });
    // 128 + 96 + 4 × 96 = 608 MiB > 512
    expect(() => planDeployment(config)).toThrow(/servers\.memory\.deploy\.memoryMiB: is 512 MiB, but the gateway \(128 MiB\), the telemetry collector \(96 MiB\) and the children/);
  });
});

describe('mcp-fleet cost with the sidecar', () => {
  it('prices the sidecar share, X-Ray traces past the free tier at the sampling ratio, and the EMF metrics', () => {
    const plan = planDeployment(configOf(WITH_ADOT));
    const without = estimateMonthlyCost(planDeployment(configOf({ ...WITH_ADOT, deploy: { ...WITH_ADOT.deploy, telemetry: { adot: false } } })), 'us-east-1');
    const estimate = estimateMonthlyCost(plan, 'us-east-1', { requestsPerMonth: 2_000_000 });
    const line = (item: string) => estimate.lines.find((l) => l.item === item);
    // 2 tasks (one per server, each the on-demand base) × (64/1024 vCPU × $0.04048 + 96/1024 GB × $0.004445) × 730 h
    const share = 2 * ((64 / 1024) * 0.04048 + (96 / 1024) * 0.004445) * 730;
    expect(line('ADOT collector sidecar')?.monthlyUsd).toBeCloseTo(share, 6);
    // The share is moved out of the Fargate lines, not counted twice; what the Fargate lines and the share add up to is
    // the tasks' price, each task raised from 512 to 1024 MiB to hold the collector (128 + 96 + 4 pooled × 96 > 512).
    const fargate = (e: typeof estimate) => e.lines.filter((l) => l.item.startsWith('Fargate')).reduce((t, l) => t + l.monthlyUsd, 0);
    expect(plan.services.map((s) => s.memoryMiB)).toEqual([1024, 1024]);
    expect(fargate(estimate) + share).toBeCloseTo(fargate(without) + 2 * (512 / 1024) * 0.004445 * 730, 6);
    // 2M requests × 0.5 sampled = 1M traces, 100k free, $5 per million
    expect(line('AWS X-Ray traces')?.monthlyUsd).toBeCloseTo(4.5, 6);
    // 2 histograms × 2 servers × 5 methods, $0.30 each
    expect(line('CloudWatch metrics (EMF)')?.monthlyUsd).toBeCloseTo(6, 6);
    expect(without.lines.some((l) => l.item.startsWith('ADOT') || l.item.startsWith('AWS X-Ray'))).toBe(false);
    expect(estimate.totalUsd).toBeGreaterThan(without.totalUsd);
  });
});
