import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FleetStack } from '../../src/deploy/stack.js';
import { loadReference, resourcesOf, synthFleet } from './helpers.js';

// GIVEN the reference deployment (examples/aws-reference.yaml), synthesized once, offline.
let stack: FleetStack;
let template: Template;
beforeAll(async () => {
  ({ stack, template } = await synthFleet(await loadReference()));
});

const SERVERS = ['fetch', 'aws-docs', 'searxng'];

describe('reference deployment: cluster and services', () => {
  it('has a cluster with FARGATE and FARGATE_SPOT, defaulting to Spot', () => {
    template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      CapacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      DefaultCapacityProviderStrategy: [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }],
    });
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('runs one service per server, placed by a Spot capacity provider strategy (no launch type), with circuit breaker rollback', () => {
    const services = resourcesOf(template, 'AWS::ECS::Service');
    expect(Object.keys(services)).toHaveLength(3);
    for (const s of Object.values(services)) {
      expect(s.Properties['LaunchType']).toBeUndefined();
      expect(s.Properties['CapacityProviderStrategy']).toEqual([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
      expect(s.Properties['DeploymentConfiguration']).toMatchObject({ DeploymentCircuitBreaker: { Enable: true, Rollback: true } });
    }
  });

  it('runs the gateway restricted to each server, with the drain timeout above the gateway grace', () => {
    for (const server of SERVERS) {
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        Cpu: '256',
        Memory: '512',
        ContainerDefinitions: [
          Match.objectLike({
            Command: ['node', '/app/dist/cli/main.js', 'serve', '--config', `/app/services/${server}.yaml`, '--host', '0.0.0.0', '--port', '8808', '--server', server],
            StopTimeout: 30,
            PortMappings: [Match.objectLike({ ContainerPort: 8808 })],
            HealthCheck: Match.objectLike({ Command: Match.arrayWith([Match.stringLikeRegexp('/health')]) }),
          }),
        ],
      });
    }
  });

  it('injects secrets from Secrets Manager, never as plain environment', () => {
    const defs = Object.values(resourcesOf(template, 'AWS::ECS::TaskDefinition'));
    const container = (d: (typeof defs)[number]) => (d.Properties['ContainerDefinitions'] as Array<Record<string, unknown>>)[0]!;
    for (const d of defs) {
      const env = (container(d)['Environment'] as Array<{ Name: string }>).map((e) => e.Name);
      expect(env).toEqual(['MCP_FLEET_ALLOWED_HOSTS', 'MCP_FLEET_PEERS_DNS']);
    }
    const searxng = defs.find((d) => JSON.stringify(container(d)['Command']).includes('"searxng"'))!;
    const secrets = (container(searxng)['Secrets'] as Array<{ Name: string; ValueFrom: unknown }>).map((s) => [s.Name, JSON.stringify(s.ValueFrom)]);
    expect(secrets.map(([n]) => n).sort()).toEqual(['MCP_FLEET_API_KEY', 'MCP_FLEET_CLUSTER_SECRET', 'SEARXNG_URL']);
    expect(secrets.find(([n]) => n === 'SEARXNG_URL')![1]).toContain(':secret:mcp-fleet/searxng-url');
    // The fetch service does not reference SEARXNG_URL, so it does not get it.
    const fetch = defs.find((d) => JSON.stringify(container(d)['Command']).includes('"fetch"'))!;
    expect((container(fetch)['Secrets'] as Array<{ Name: string }>).map((s) => s.Name)).toEqual(['MCP_FLEET_API_KEY', 'MCP_FLEET_CLUSTER_SECRET']);
  });

  it('scales searxng on CPU and on requests per target between 1 and 3 tasks', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 1, MaxCapacity: 3 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' }, TargetValue: 70 }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }), TargetValue: 500 }),
    });
  });
});

describe('reference deployment: load balancer', () => {
  it('serves HTTPS with a DNS-validated certificate for every host name, and redirects HTTP', () => {
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'mcp.example.com',
      SubjectAlternativeNames: ['fetch.mcp.example.com', 'aws-docs.mcp.example.com', 'searxng.mcp.example.com'],
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

  it('routes each host name to its server with a host-header rule, and adds a DNS record for it', () => {
    for (const server of SERVERS) {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: [`${server}.mcp.example.com`] } }],
        Actions: [Match.objectLike({ Type: 'forward' })],
      });
      template.hasResourceProperties('AWS::Route53::RecordSet', { Name: `${server}.mcp.example.com.`, Type: 'A', HostedZoneId: 'Z0123456789ABCDEFGHIJ' });
    }
  });

  it('health-checks /ready, drains as long as the task stop timeout, and keeps SSE streams open for an hour', () => {
    const groups = Object.values(resourcesOf(template, 'AWS::ElasticLoadBalancingV2::TargetGroup'));
    expect(groups).toHaveLength(3);
    for (const g of groups) {
      expect(g.Properties).toMatchObject({ HealthCheckPath: '/ready', TargetType: 'ip', Port: 8808 });
      expect(g.Properties['TargetGroupAttributes']).toContainEqual({ Key: 'deregistration_delay.timeout_seconds', Value: '30' });
    }
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'idle_timeout.timeout_seconds', Value: '3600' }]),
    });
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
      expect(template.toJSON().Resources[groupId].Properties.SecurityGroupIngress).toBeUndefined();
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

  it('has a dashboard, alarms on unhealthy hosts, 5xx rate and task restarts sent to SNS, and a saved errors query', () => {
    const dashboard = JSON.stringify(Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'))[0]!.Properties['DashboardBody']);
    for (const metric of ['RequestCount', 'HTTPCode_Target_4XX_Count', 'HTTPCode_Target_5XX_Count', 'TargetResponseTime', 'HealthyHostCount', 'CPUUtilization', 'MemoryUtilization', 'RunningTaskCount']) {
      expect(dashboard).toContain(metric);
    }
    const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'));
    expect(alarms.filter((a) => a.Properties['MetricName'] === 'UnHealthyHostCount')).toHaveLength(3);
    expect(alarms.filter((a) => a.Properties['MetricName'] === 'TriggeredRules')).toHaveLength(1);
    expect(alarms.filter((a) => JSON.stringify(a.Properties['Metrics'] ?? '').includes('HTTPCode_Target_5XX_Count'))).toHaveLength(1);
    for (const a of alarms) expect(a.Properties['AlarmActions']).toHaveLength(1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
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

describe('reference deployment: compliance and snapshot', () => {
  it('passes the cdk-nag AwsSolutions pack with only the acknowledged, justified findings', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });

  it('matches the template snapshot (asset hashes stripped)', () => {
    const text = JSON.stringify(template.toJSON(), null, 1).replace(/[0-9a-f]{64}/g, '<asset-hash>');
    expect(JSON.parse(text)).toMatchSnapshot();
  });
});
