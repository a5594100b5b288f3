import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { FleetConfigSchema } from '../../src/config/schema.js';
import { GATEWAY_HTTP_KEEP_ALIVE_SECONDS, LOAD_BALANCER_IDLE_TIMEOUT_SECONDS, SSE_KEEP_ALIVE_SECONDS } from '../../src/config/timeouts.js';
import type { FleetStack } from '../../src/deploy/stack.js';
import { loadReference, resourcesOf, SYNTH_TIMEOUT_MS, synthFleet } from './helpers.js';
import PREVIOUS_LOGICAL_IDS from './reference-logical-ids.json' with { type: 'json' };

// GIVEN the reference deployment (examples/aws-reference.yaml), synthesized once, offline;
// every test below reads the same template.
let stack: FleetStack;
let template: Template;
beforeAll(async () => {
  ({ stack, template } = await synthFleet(await loadReference()));
}, SYNTH_TIMEOUT_MS);

const SERVERS = ['fetch', 'aws-docs', 'searxng'];
type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
const resources = (): Record<string, Resource> => template.toJSON().Resources as Record<string, Resource>;
const logicalId = (construct: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(construct.node.defaultChild as never);
type Container = Record<string, unknown> & { Command: string[] };
function containerOf(server: string): Container {
  const defs = Object.values(resourcesOf(template, 'AWS::ECS::TaskDefinition')).map((d) => (d.Properties['ContainerDefinitions'] as Container[])[0]!);
  return defs.find((c) => c.Command.at(-1) === server)!;
}

describe('reference deployment: cluster and services', () => {
  it('has a cluster with FARGATE and FARGATE_SPOT, and Container Insights explicitly off (an opt-in cost)', () => {
    template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      CapacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      DefaultCapacityProviderStrategy: [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }],
    });
    template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'disabled' }] });
  });

  it('creates every service after the capacity provider associations (explicit DependsOn), so neither create nor destroy races them', () => {
    const [associations] = Object.keys(resourcesOf(template, 'AWS::ECS::ClusterCapacityProviderAssociations'));
    const services = Object.values(resources()).filter((r) => r.Type === 'AWS::ECS::Service');
    expect(services).toHaveLength(3);
    for (const s of services) expect(s.DependsOn).toContain(associations);
  });

  it('keeps one task of each service on regular Fargate and puts the rest on Spot, with circuit breaker rollback', () => {
    for (const s of stack.fleet.services) {
      const service = resources()[logicalId(s.service)]!.Properties;
      expect(service['LaunchType']).toBeUndefined();
      expect(service['CapacityProviderStrategy']).toEqual([
        { CapacityProvider: 'FARGATE', Base: 1, Weight: 0 },
        { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
      ]);
      expect(service['DeploymentConfiguration']).toMatchObject({ DeploymentCircuitBreaker: { Enable: true, Rollback: true } });
    }
  });

  it('sets DesiredCount for fixed services and leaves it to autoscaling for searxng, so a deploy never scales it back in', () => {
    const desired = Object.fromEntries(stack.fleet.services.map((s) => [s.plan.id, resources()[logicalId(s.service)]!.Properties['DesiredCount']]));
    expect(desired).toEqual({ fetch: 1, 'aws-docs': 1, searxng: undefined });
  });

  it('runs the gateway restricted to each server, with the drain timeout above the gateway grace', () => {
    for (const server of SERVERS) {
      expect(containerOf(server)).toMatchObject({
        Command: ['node', '/app/dist/cli/main.js', 'serve', '--config', `/app/services/${server}.yaml`, '--host', '0.0.0.0', '--port', '8808', '--server', server],
        StopTimeout: 30,
        PortMappings: [expect.objectContaining({ ContainerPort: 8808 })],
      });
    }
  });

  it('checks the container on /health only: the gateway process, never a server', () => {
    for (const server of SERVERS) {
      const check = (containerOf(server)['HealthCheck'] as { Command: string[] }).Command.join(' ');
      expect(check).toContain('http://127.0.0.1:8808/health');
      expect(check).not.toContain('/ready');
    }
  });

  it('runs with a read-only root filesystem, a task-local /tmp volume, and an init process that reaps children', () => {
    for (const s of stack.fleet.services) {
      const def = resources()[logicalId(s.taskDefinition)]!.Properties;
      expect(def['Volumes']).toEqual([{ Name: 'tmp' }]);
      expect((def['ContainerDefinitions'] as Container[])[0]).toMatchObject({
        ReadonlyRootFilesystem: true,
        MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }],
        LinuxParameters: expect.objectContaining({ InitProcessEnabled: true }),
      });
    }
  });

  it('sizes each task to hold its servers: 0.25 vCPU / 512 MiB for two pooled children and the gateway', () => {
    for (const s of stack.fleet.services) expect(resources()[logicalId(s.taskDefinition)]!.Properties).toMatchObject({ Cpu: '256', Memory: '512' });
  });

  it('injects secrets from Secrets Manager, never as plain environment', () => {
    for (const server of SERVERS) expect((containerOf(server)['Environment'] as Array<{ Name: string }>).map((e) => e.Name)).toEqual(['MCP_FLEET_ALLOWED_HOSTS', 'MCP_FLEET_PEERS_DNS']);
    const secrets = (containerOf('searxng')['Secrets'] as Array<{ Name: string; ValueFrom: unknown }>).map((s) => [s.Name, JSON.stringify(s.ValueFrom)]);
    expect(secrets.map(([n]) => n).sort()).toEqual(['MCP_FLEET_API_KEY', 'MCP_FLEET_CLUSTER_SECRET', 'SEARXNG_URL']);
    expect(secrets.find(([n]) => n === 'SEARXNG_URL')![1]).toContain(':secret:mcp-fleet/searxng-url');
    // The fetch service does not reference SEARXNG_URL, so it does not get it.
    expect((containerOf('fetch')['Secrets'] as Array<{ Name: string }>).map((s) => s.Name)).toEqual(['MCP_FLEET_API_KEY', 'MCP_FLEET_CLUSTER_SECRET']);
  });

  it('scales searxng between 1 and 3 tasks on CPU, on memory and on requests per target', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 3 });
    const policies = Object.values(resourcesOf(template, 'AWS::ApplicationAutoScaling::ScalingPolicy')).map((p) => p.Properties['TargetTrackingScalingPolicyConfiguration'] as Record<string, unknown>);
    const byMetric = Object.fromEntries(policies.map((p) => [(p['PredefinedMetricSpecification'] as { PredefinedMetricType: string }).PredefinedMetricType, p['TargetValue']]));
    expect(byMetric).toEqual({ ECSServiceAverageCPUUtilization: 70, ECSServiceAverageMemoryUtilization: 75, ALBRequestCountPerTarget: 500 });
  });
});

describe('reference deployment: load balancer', () => {
  it('serves HTTPS with one DNS-validated wildcard certificate, so adding a server never re-issues it', () => {
    template.resourceCountIs('AWS::CertificateManager::Certificate', 1);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'mcp.example.com',
      SubjectAlternativeNames: ['*.mcp.example.com'],
      ValidationMethod: 'DNS',
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', ContentType: 'text/plain', MessageBody: 'Hostname not allowed' } }],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    });
  });

  it('routes each host name to its own target group with a host-header rule, and adds a DNS record for it', () => {
    for (const s of stack.fleet.services) {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: [`${s.plan.id}.mcp.example.com`] } }],
        Actions: [Match.objectLike({ Type: 'forward', TargetGroupArn: stack.resolve(s.targetGroup.targetGroupArn) })],
      });
      template.hasResourceProperties('AWS::Route53::RecordSet', { Name: `${s.plan.id}.mcp.example.com.`, Type: 'A', HostedZoneId: 'Z0123456789ABCDEFGHIJ' });
    }
  });

  it("health-checks each target group at its server's own readiness, /ready/<server>, and drains as long as the task stop timeout", () => {
    const groups = Object.values(resourcesOf(template, 'AWS::ElasticLoadBalancingV2::TargetGroup')).map((g) => g.Properties);
    expect(groups.map((g) => g['HealthCheckPath']).sort()).toEqual(['/ready/aws-docs', '/ready/fetch', '/ready/searxng']);
    for (const g of groups) {
      expect(g).toMatchObject({ TargetType: 'ip', Port: 8808, Matcher: { HttpCode: '200' } });
      expect(g['TargetGroupAttributes']).toContainEqual({ Key: 'deregistration_delay.timeout_seconds', Value: '30' });
    }
  });

  it('closes idle connections at the load balancer before the gateway does, and keeps SSE streams busier than both (one source: timeouts.ts)', () => {
    const lb = Object.values(resourcesOf(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer'))[0]!.Properties;
    const idle = Number((lb['LoadBalancerAttributes'] as Array<{ Key: string; Value: string }>).find((a) => a.Key === 'idle_timeout.timeout_seconds')!.Value);
    // The gateway's defaults, as `serve` reads them (it passes httpKeepAliveSeconds to Node's keepAliveTimeout).
    const gateway = FleetConfigSchema.parse({ servers: { a: { command: 'x' } } }).gateway;
    expect(idle).toBe(LOAD_BALANCER_IDLE_TIMEOUT_SECONDS);
    expect(gateway.httpKeepAliveSeconds).toBe(GATEWAY_HTTP_KEEP_ALIVE_SECONDS);
    expect(gateway.sseKeepAliveSeconds).toBe(SSE_KEEP_ALIVE_SECONDS);
    expect(gateway.httpKeepAliveSeconds).toBeGreaterThan(idle);
    expect(gateway.sseKeepAliveSeconds * 2).toBeLessThanOrEqual(idle);
    expect(lb['Scheme']).toBe('internet-facing');
  });
});

describe('reference deployment: network and IAM', () => {
  it("admits traffic to tasks only from the load balancer's security group and from the service's own replicas", () => {
    const lbGroup = stack.resolve(stack.fleet.loadBalancerSecurityGroup.securityGroupId);
    const ingress = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress'));
    expect(ingress).toHaveLength(6);
    for (const rule of ingress) {
      expect(rule.Properties).toMatchObject({ FromPort: 8808, ToPort: 8808 });
      expect([lbGroup, rule.Properties['GroupId']]).toContainEqual(rule.Properties['SourceSecurityGroupId']);
      expect(rule.Properties['CidrIp']).toBeUndefined();
    }
    for (const s of stack.fleet.services) {
      const groupId = stack.getLogicalId(s.service.connections.securityGroups[0]!.node.defaultChild as never);
      expect(resources()[groupId]!.Properties['SecurityGroupIngress']).toBeUndefined();
    }
  });

  it('lets each execution role read only the secrets its service uses, and the fleet secret', () => {
    const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy'));
    const secretResources = policies.flatMap((p) =>
      (p.Properties['PolicyDocument'] as { Statement: Array<{ Action: unknown; Resource: unknown }> }).Statement.filter((s) => JSON.stringify(s.Action).includes('secretsmanager')).map((s) => JSON.stringify(s.Resource)),
    );
    expect(secretResources.length).toBeGreaterThan(0);
    const fleetSecret = JSON.stringify(stack.resolve(stack.fleet.clusterSecret.secretArn));
    for (const r of secretResources.filter((x) => x !== fleetSecret)) expect(r).toMatch(/secret:mcp-fleet\/(api-key|searxng-url)-\?\?\?\?\?\?/);
    expect(secretResources.filter((r) => r === fleetSecret)).toHaveLength(3);
    expect(secretResources.filter((r) => r.includes('searxng-url'))).toHaveLength(1);
  });

  it('gives task roles no permissions when the config lists none', () => {
    const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy'));
    const taskRoleIds = stack.fleet.services.map((s) => stack.resolve(s.taskRole.roleName));
    for (const p of policies) for (const role of p.Properties['Roles'] as unknown[]) expect(taskRoleIds).not.toContainEqual(role);
  });
});

describe('reference deployment: observability', () => {
  it('keeps a log group per server for the configured retention', () => {
    for (const server of SERVERS) template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/mcp-fleet/McpFleet/${server}`, RetentionInDays: 30 });
  });

  it('alarms when a server has no healthy task left (HealthyHostCount < 1), which UnHealthyHostCount never shows', () => {
    for (const s of stack.fleet.services) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'HealthyHostCount',
        Statistic: 'Minimum',
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        Dimensions: Match.arrayWith([{ Name: 'TargetGroup', Value: stack.resolve(s.targetGroup.targetGroupFullName) }]),
      });
    }
  });

  it('alarms on each service memory above 90%', () => {
    for (const s of stack.fleet.services) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/ECS',
        MetricName: 'MemoryUtilization',
        Statistic: 'Maximum',
        Threshold: 90,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: Match.arrayWith([{ Name: 'ServiceName', Value: stack.resolve(s.service.serviceName) }]),
      });
    }
  });

  it('sends every alarm to the alarm topic: per server unhealthy and no-healthy hosts, per service memory, and 5xx rate and task restarts', () => {
    const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const count = (metric: string) => alarms.filter((a) => a['MetricName'] === metric).length;
    expect({ unhealthy: count('UnHealthyHostCount'), healthy: count('HealthyHostCount'), memory: count('MemoryUtilization'), restarts: count('TriggeredRules') }).toEqual({ unhealthy: 3, healthy: 3, memory: 3, restarts: 1 });
    expect(alarms.filter((a) => JSON.stringify(a['Metrics'] ?? '').includes('HTTPCode_Target_5XX_Count'))).toHaveLength(1);
    const topic = stack.resolve((stack.fleet.alarmTopic as { topicArn: string }).topicArn);
    for (const a of alarms) expect(a['AlarmActions']).toEqual([topic]);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('shows healthy tasks per server, CPU, memory and every alarm on the dashboard, without Container Insights metrics', () => {
    // The body is a Fn::Join of JSON text and references; its text parts read as the JSON the console gets.
    const body = Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'))[0]!.Properties['DashboardBody'] as { 'Fn::Join': [string, unknown[]] };
    const dashboard = body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join('');
    for (const metric of ['RequestCount', 'HTTPCode_Target_4XX_Count', 'HTTPCode_Target_5XX_Count', 'TargetResponseTime', 'HealthyHostCount', 'CPUUtilization', 'MemoryUtilization']) {
      expect(dashboard).toContain(metric);
    }
    expect(dashboard).not.toContain('ECS/ContainerInsights');
    for (const s of stack.fleet.services) expect(dashboard).toContain(`"label":"${s.plan.id}"`);
    const alarmArns = Object.keys(resourcesOf(template, 'AWS::CloudWatch::Alarm'));
    for (const id of alarmArns) expect(dashboard).toContain(id);
  });

  it('counts stopped tasks with an ECS event rule and keeps a saved errors query', () => {
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ source: ['aws.ecs'], detail: Match.objectLike({ lastStatus: ['STOPPED'] }) }) });
    template.hasResourceProperties('AWS::Logs::QueryDefinition', { Name: 'mcp-fleet/McpFleet/errors' });
  });

  it('outputs the cluster, services, target groups, log groups and endpoint URLs', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs['SrvFetchUrl']!.Value).toBe('https://fetch.mcp.example.com/mcp');
    for (const key of ['ClusterName', 'LoadBalancerDnsName', 'SvcAwsDocsServiceName', 'SvcAwsDocsTargetGroupArn', 'SvcAwsDocsLogGroup', 'SrvAwsDocsUrl', 'SrvSearxngUrl']) {
      expect(outputs).toHaveProperty(key);
    }
  });
});

describe('reference deployment: compliance and construct ids', () => {
  it('passes the cdk-nag AwsSolutions pack with only the acknowledged, justified findings', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });

  it('keeps every logical id the reference fleet had before (a renamed id would replace or delete that resource on update)', () => {
    const ids = new Set(Object.keys(resources()));
    const missing = PREVIOUS_LOGICAL_IDS.filter((id) => !ids.has(id));
    expect(missing).toEqual([]);
  });
});
