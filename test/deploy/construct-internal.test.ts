import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFleetApp, type FleetStack } from '../../src/deploy/stack.js';
import { configOf, SYNTH_TIMEOUT_MS } from './helpers.js';

// GIVEN an internal (VPC-only) fleet running an existing image, synthesized once.
let stack: FleetStack;
let template: Template;
beforeAll(() => {
  const config = configOf({
    servers: { memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'] } },
    deploy: { loadBalancer: { internal: true }, image: { uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mcp-fleet:1.0.0' } },
  });
  ({ stack } = buildFleetApp({ config }));
  template = Template.fromStack(stack);
}, SYNTH_TIMEOUT_MS);

describe('internal load balancer with an existing image', () => {
  it('is internal and admits only the VPC CIDR', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('load balancer'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: { 'Fn::GetAtt': [Match.stringLikeRegexp('Vpc'), 'CidrBlock'] }, FromPort: 80 })],
    });
  });

  it('runs the given image, so nothing is built', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mcp-fleet:1.0.0' })],
    });
  });

  it('passes the cdk-nag AwsSolutions pack', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });
});
