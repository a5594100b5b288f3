import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultNamespaceName, McpFleet } from '../../src/deploy/construct.js';
import { buildFleetApp, type FleetStack } from '../../src/deploy/stack.js';
import { configOf, resourcesOf, SYNTH_TIMEOUT_MS } from './helpers.js';

// GIVEN a fleet of several replicas per service, one service per child policy (one
// fixed at 3 tasks, one fixed at 2, one autoscaling from 2), running an existing
// image; synthesized once, offline.
const SCALED = {
  servers: {
    memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'], policy: 'per-session', deploy: { desiredCount: 3 } },
    everything: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything@2026.1.26'], policy: 'pool', pool: { min: 1, max: 4 }, deploy: { desiredCount: 2 } },
    fetch: { command: 'uvx', args: ['mcp-server-fetch==2025.4.7'], policy: 'shared', deploy: { autoscaling: { minCount: 2, maxCount: 6, requestsPerTarget: 200 } } },
  },
  deploy: { stackName: 'ScaledFleet', image: { uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mcp-fleet:1.0.0' } },
};
const SERVERS = ['memory', 'everything', 'fetch'];
const NAMESPACE = 'scaledfleet.mcp-fleet.internal';

let stack: FleetStack;
let template: Template;
beforeAll(() => {
  ({ stack } = buildFleetApp({ config: configOf(SCALED) }));
  template = Template.fromStack(stack);
}, SYNTH_TIMEOUT_MS);

type Container = { Environment: Array<{ Name: string; Value: unknown }>; Secrets: Array<{ Name: string; ValueFrom: unknown }>; Command: string[] };
function containerOf(server: string): Container {
  const defs = Object.values(resourcesOf(template, 'AWS::ECS::TaskDefinition')).map((d) => (d.Properties['ContainerDefinitions'] as Container[])[0]!);
  return defs.find((c) => c.Command.at(-1) === server)!;
}

describe('scale-out: replicas find each other through Cloud Map', () => {
  it('creates one private DNS namespace, named after the stack, in the fleet VPC', () => {
    template.resourceCountIs('AWS::ServiceDiscovery::PrivateDnsNamespace', 1);
    template.hasResourceProperties('AWS::ServiceDiscovery::PrivateDnsNamespace', { Name: NAMESPACE, Vpc: stack.resolve(stack.fleet.vpc.vpcId) });
  });

  it('registers every task of every service as an A record with a 10 s TTL, under the service name', () => {
    const namespaceId = stack.resolve(stack.fleet.namespace.namespaceId);
    const registries = resourcesOf(template, 'AWS::ServiceDiscovery::Service');
    expect(Object.keys(registries)).toHaveLength(SERVERS.length);
    for (const server of SERVERS) {
      template.hasResourceProperties('AWS::ServiceDiscovery::Service', {
        Name: server,
        NamespaceId: namespaceId,
        DnsConfig: Match.objectLike({ DnsRecords: [{ Type: 'A', TTL: 10 }] }),
      });
    }
    for (const s of stack.fleet.services) {
      const service = template.toJSON().Resources[stack.getLogicalId(s.service.node.defaultChild as never)];
      expect(service.Properties.ServiceRegistries).toEqual([{ RegistryArn: stack.resolve(s.service.cloudMapService!.serviceArn) }]);
    }
  });

  it('tells each gateway where its peers are in MCP_FLEET_PEERS_DNS, as plain environment', () => {
    for (const server of SERVERS) {
      const env = containerOf(server).Environment;
      expect(env).toContainEqual({ Name: 'MCP_FLEET_PEERS_DNS', Value: `${server}.${NAMESPACE}:8808` });
      expect(env.map((e) => e.Name)).not.toContain('MCP_FLEET_ADVERTISE_URL');
    }
  });

  it("admits the gateway port from the service's own security group (replica to replica) and from the load balancer, never from a CIDR", () => {
    const lbGroup = stack.resolve(stack.fleet.loadBalancerSecurityGroup.securityGroupId);
    const ingress = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    for (const s of stack.fleet.services) {
      const group = stack.resolve(s.service.connections.securityGroups[0]!.securityGroupId);
      const rules = ingress.filter((r) => JSON.stringify(r['GroupId']) === JSON.stringify(group));
      expect(rules).toHaveLength(2);
      expect(rules).toContainEqual(expect.objectContaining({ SourceSecurityGroupId: group, FromPort: 8808, ToPort: 8808, IpProtocol: 'tcp' }));
      expect(rules).toContainEqual(expect.objectContaining({ SourceSecurityGroupId: lbGroup, FromPort: 8808, ToPort: 8808, IpProtocol: 'tcp' }));
      for (const r of rules) expect(r['CidrIp']).toBeUndefined();
    }
  });
});

describe('scale-out: the fleet secret', () => {
  it('is one generated Secrets Manager secret of 48 characters without punctuation', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: { ExcludePunctuation: true, PasswordLength: 48 } });
  });

  it('reaches every task through the task definition secrets as MCP_FLEET_CLUSTER_SECRET, never as plain environment', () => {
    const secretRef = stack.resolve(stack.fleet.clusterSecret.secretArn);
    for (const server of SERVERS) {
      const container = containerOf(server);
      expect(container.Secrets).toContainEqual({ Name: 'MCP_FLEET_CLUSTER_SECRET', ValueFrom: secretRef });
      expect(container.Environment.map((e) => e.Name)).not.toContain('MCP_FLEET_CLUSTER_SECRET');
      expect(JSON.stringify(container.Environment)).not.toContain(JSON.stringify(secretRef));
    }
  });

  it('is named by a stack output (its ARN, never its value), for changing it', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs['ClusterSecretArn']!.Value).toEqual(stack.resolve(stack.fleet.clusterSecret.secretArn));
  });

  it('may be read by every execution role, and by no task role', () => {
    const secretRef = JSON.stringify(stack.resolve(stack.fleet.clusterSecret.secretArn));
    const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).map((p) => p.Properties);
    const readers = policies.filter((p) =>
      (p['PolicyDocument'] as { Statement: Array<{ Action: unknown; Resource: unknown }> }).Statement.some(
        (st) => JSON.stringify(st.Action).includes('secretsmanager:GetSecretValue') && JSON.stringify(st.Resource) === secretRef,
      ),
    );
    const readerRoles = readers.flatMap((p) => p['Roles'] as unknown[]).map((r) => JSON.stringify(r));
    for (const s of stack.fleet.services) {
      expect(readerRoles).toContain(JSON.stringify(stack.resolve(s.taskDefinition.executionRole!.roleName)));
      expect(readerRoles).not.toContain(JSON.stringify(stack.resolve(s.taskRole.roleName)));
    }
    expect(readerRoles).toHaveLength(SERVERS.length);
  });
});

describe('scale-out: several replicas for every child policy', () => {
  it('runs the fixed counts asked for, whatever the policy, and leaves the autoscaled count to autoscaling', () => {
    const desired = Object.fromEntries(stack.fleet.services.map((s) => [s.plan.id, template.toJSON().Resources[stack.getLogicalId(s.service.node.defaultChild as never)].Properties.DesiredCount]));
    // No DesiredCount for fetch: registering its scalable target (min 2) brings a new service into range, and a deploy never resets it.
    expect(desired).toEqual({ memory: 3, everything: 2, fetch: undefined });
  });

  it('scales the autoscaling service on CPU and on load balancer requests per task', () => {
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 1);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' }, TargetValue: 70 }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }), TargetValue: 200 }),
    });
  });

  it('passes the cdk-nag AwsSolutions pack with only the acknowledged, justified findings', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });
});

describe('scale-out: namespace name', () => {
  it('defaults to the stack name cut to one DNS label', () => {
    expect(defaultNamespaceName('McpFleet')).toBe('mcpfleet.mcp-fleet.internal');
    const long = defaultNamespaceName(`A${'b'.repeat(70)}`);
    expect(long.split('.')[0]).toHaveLength(63);
  });

  it('can be chosen, so two fleets can share a VPC', () => {
    const stack2 = new Stack(new App(), 'Two');
    const fleet = new McpFleet(stack2, 'Fleet', { config: configOf(SCALED), namespaceName: 'blue.fleet.internal' });
    Template.fromStack(stack2).hasResourceProperties('AWS::ServiceDiscovery::PrivateDnsNamespace', { Name: 'blue.fleet.internal' });
    expect(fleet.services[0]!.peersDns).toBe('memory.blue.fleet.internal:8808');
  }, SYNTH_TIMEOUT_MS);

  it('refuses a namespace name that is not a DNS name', () => {
    const stack2 = new Stack(new App(), 'Bad');
    expect(() => new McpFleet(stack2, 'Fleet', { config: configOf(SCALED), namespaceName: 'Not A Name' })).toThrow(/namespaceName "Not A Name" is not a DNS name; use dot-separated labels/);
  });
});
