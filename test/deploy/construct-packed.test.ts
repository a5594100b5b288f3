import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FleetStack } from '../../src/deploy/stack.js';
import { configOf, resourcesOf, SYNTH_TIMEOUT_MS, synthFleet } from './helpers.js';

// GIVEN the reference servers packed into one on-demand service, with no domain
// (path routing), private subnets with VPC endpoints and a NAT gateway, a CIDR
// allow-list, one server that needs an AWS permission, one per-session server,
// and the API key in SSM Parameter Store; synthesized once.
const PACKED = {
  gateway: { shutdownGraceSeconds: 40, auth: { apiKeys: [{ name: 'team', env: 'MCP_FLEET_API_KEY' }] } },
  servers: {
    fetch: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'], policy: 'pool', pool: { min: 1, max: 2 } },
    'aws-docs': {
      command: 'uvx',
      args: ['awslabs.aws-documentation-mcp-server@1.2.3'],
      policy: 'pool',
      pool: { min: 1, max: 2 },
      env: { FASTMCP_LOG_LEVEL: 'ERROR' },
      deploy: { taskPolicyStatements: [{ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::docs-bucket/*'] }] },
    },
    // One child per session: 1024 MiB less the gateway and six fixed children (4 pooled, 1 pooled + 1 spare) holds 3 sessions.
    searxng: { command: 'npx', args: ['-y', 'mcp-searxng@1.16.0'], spares: 1, pool: { min: 0, max: 1 }, env: { SEARXNG_URL: '${SEARXNG_URL}' } },
  },
  deploy: {
    stackName: 'PackedFleet',
    region: 'eu-west-1',
    layout: 'packed',
    spot: false,
    packed: { cpu: 512, memoryMiB: 1024, desiredCount: 2 },
    loadBalancer: { allowedCidrs: ['203.0.113.0/24'] },
    network: { privateSubnets: true, natGateways: 1, vpcEndpoints: true },
    secrets: {
      SEARXNG_URL: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:searxng-AbCdEf', field: 'url' },
      MCP_FLEET_API_KEY: { parameterName: '/mcp-fleet/api-key' },
    },
    observability: { logRetentionDays: 7, dashboard: false },
  },
};

let stack: FleetStack;
let template: Template;
beforeAll(async () => {
  ({ stack, template } = await synthFleet(configOf(PACKED)));
}, SYNTH_TIMEOUT_MS);

describe('packed layout', () => {
  it('runs all servers in one on-demand service of the packed size', () => {
    const services = Object.values(resourcesOf(template, 'AWS::ECS::Service'));
    expect(services).toHaveLength(1);
    expect(services[0]!.Properties).toMatchObject({ DesiredCount: 2, CapacityProviderStrategy: [{ CapacityProvider: 'FARGATE', Weight: 1 }] });
    expect(services[0]!.Properties['LaunchType']).toBeUndefined();
    template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', { DefaultCapacityProviderStrategy: [{ CapacityProvider: 'FARGATE', Weight: 1 }] });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '512',
      Memory: '1024',
      ContainerDefinitions: [
        Match.objectLike({
          Command: ['node', '/app/dist/cli/main.js', 'serve', '--config', '/app/services/fleet.yaml', '--host', '0.0.0.0', '--port', '8808', '--server', 'fetch', '--server', 'aws-docs', '--server', 'searxng'],
          StopTimeout: 45,
          Secrets: [
            { Name: 'MCP_FLEET_API_KEY', ValueFrom: Match.anyValue() },
            { Name: 'MCP_FLEET_CLUSTER_SECRET', ValueFrom: stack.resolve(stack.fleet.clusterSecret.secretArn) },
            { Name: 'SEARXNG_URL', ValueFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:searxng-AbCdEf:url::' },
          ],
        }),
      ],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '45' }]),
    });
  });

  it('gives each server its own target group, health-checked at /ready/<server>, all fed by the one service', () => {
    const groups = resourcesOf(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    expect(Object.values(groups).map((g) => g.Properties['HealthCheckPath']).sort()).toEqual(['/ready/aws-docs', '/ready/fetch', '/ready/searxng']);
    const service = Object.values(resourcesOf(template, 'AWS::ECS::Service'))[0]!;
    const registered = (service.Properties['LoadBalancers'] as Array<{ TargetGroupArn: { Ref: string } }>).map((l) => l.TargetGroupArn.Ref).sort();
    expect(registered).toEqual(Object.keys(groups).sort());
    for (const server of ['fetch', 'aws-docs', 'searxng']) {
      const group = stack.fleet.services[0]!.targetGroups.get(server)!;
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [`/servers/${server}/*`] } }],
        Actions: [Match.objectLike({ Type: 'forward', TargetGroupArn: stack.resolve(group.targetGroupArn) })],
      });
      expect(group.healthCheck.path).toBe(`/ready/${server}`);
    }
  });

  it('injects the API key from SSM Parameter Store, and lets the execution role read that parameter only', () => {
    const def = Object.values(resourcesOf(template, 'AWS::ECS::TaskDefinition'))[0]!;
    const secrets = (def.Properties['ContainerDefinitions'] as Array<{ Secrets: Array<{ Name: string; ValueFrom: unknown }> }>)[0]!.Secrets;
    expect(JSON.stringify(secrets.find((x) => x.Name === 'MCP_FLEET_API_KEY')!.ValueFrom)).toContain(':parameter/mcp-fleet/api-key');
    const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap((p) => (p.Properties['PolicyDocument'] as { Statement: Array<{ Action: unknown; Resource: unknown }> }).Statement);
    const ssm = statements.filter((s) => JSON.stringify(s.Action).includes('ssm:GetParameters'));
    expect(ssm).toHaveLength(1);
    expect(JSON.stringify(ssm[0]!.Resource)).toContain(':parameter/mcp-fleet/api-key');
  });

  it('routes /servers/<name>/* by path on plain HTTP when no domain is given, defaulting to 403', () => {
    const listeners = Object.values(resourcesOf(template, 'AWS::ElasticLoadBalancingV2::Listener'));
    expect(listeners).toHaveLength(1);
    expect(listeners[0]!.Properties).toMatchObject({
      Port: 80,
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', MessageBody: 'Hostname not allowed' } }],
    });
    for (const server of ['fetch', 'aws-docs', 'searxng']) {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', { Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [`/servers/${server}/*`] } }] });
    }
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
  });

  it("puts the load balancer's DNS name in the gateway's host allow-list", () => {
    const def = Object.values(resourcesOf(template, 'AWS::ECS::TaskDefinition'))[0]!;
    const env = (def.Properties['ContainerDefinitions'] as Array<{ Environment: Array<{ Name: string; Value: unknown }> }>)[0]!.Environment;
    expect(env.map((e) => e.Name)).toEqual(['MCP_FLEET_ALLOWED_HOSTS', 'MCP_FLEET_PEERS_DNS']);
    expect(env[0]!.Value).toEqual(stack.resolve(stack.fleet.loadBalancer.loadBalancerDnsName));
  });

  it('admits only the allowed CIDRs at the load balancer', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('load balancer'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '203.0.113.0/24', FromPort: 80 })],
    });
  });

  it('runs tasks in private subnets without public IPs, with endpoints for ECR, logs and Secrets Manager', () => {
    const service = Object.values(resourcesOf(template, 'AWS::ECS::Service'))[0]!;
    expect(service.Properties['NetworkConfiguration']).toMatchObject({ AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } });
    const endpoints = Object.values(resourcesOf(template, 'AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify(e.Properties['ServiceName']));
    for (const name of ['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager', 's3']) expect(endpoints.some((e) => e.includes(name))).toBe(true);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
  });

  it("gives the task role exactly the statements the servers' config lists", () => {
    const taskRole = stack.resolve(stack.fleet.services[0]!.taskRole.roleName);
    const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties['Roles']) === JSON.stringify([taskRole]));
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties['PolicyDocument']).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs-bucket/*' }] });
  });

  it('keeps logs for the configured days and skips the dashboard when disabled', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/mcp-fleet/PackedFleet/fleet', RetentionInDays: 7 });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('passes the cdk-nag AwsSolutions pack', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });
});
