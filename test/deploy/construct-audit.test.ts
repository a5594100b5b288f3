import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFleetApp, type FleetStack } from '../../src/deploy/stack.js';
import { configOf, resourcesOf, SYNTH_TIMEOUT_MS } from './helpers.js';

/**
 * The audit log of a deployed fleet (AWS mocked: synthesized templates only): a
 * log group of its own with its own retention, kept on destroy, that each task
 * role may write to and nothing else, named to the gateway by its environment.
 */

const IMAGE = { uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mcp-fleet:1.0.0' };
const servers = {
  memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'] },
  fetch: { command: 'uvx', args: ['mcp-server-fetch'] },
};

let stack: FleetStack;
let template: Template;
let plain: Template;
beforeAll(() => {
  // GIVEN a fleet with the audit log on, and the same fleet without it.
  ({ stack } = buildFleetApp({
    config: configOf({ gateway: { audit: { enabled: true } }, servers, deploy: { image: IMAGE, audit: { retentionDays: 731 }, observability: { logRetentionDays: 14 } } }),
  }));
  template = Template.fromStack(stack);
  plain = Template.fromStack(buildFleetApp({ config: configOf({ servers, deploy: { image: IMAGE } }) }).stack);
}, SYNTH_TIMEOUT_MS);

/** Logical id of the audit log group. */
function auditGroupId(t: Template): string {
  const ids = Object.entries(resourcesOf(t, 'AWS::Logs::LogGroup'))
    .filter(([id]) => id.includes('AuditLogs'))
    .map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

describe('audit log group (AWS mocked: template assertions)', () => {
  it('WHEN gateway.audit is on THEN there is one audit log group with deploy.audit.retentionDays, kept on destroy', () => {
    const id = auditGroupId(template);
    const group = (template.toJSON() as { Resources: Record<string, { Properties: Record<string, unknown>; DeletionPolicy?: string }> }).Resources[id]!;
    expect(group.Properties['RetentionInDays']).toBe(731);
    expect(group.DeletionPolicy).toBe('Retain');
    // The operational groups keep their own retention.
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: Match.stringLikeRegexp('/memory$'), RetentionInDays: 14 });
  });

  it('WHEN gateway.audit is on THEN each gateway is told the group in MCP_FLEET_AUDIT_LOG_GROUP', () => {
    const id = auditGroupId(template);
    const tasks = Object.values(resourcesOf(template, 'AWS::ECS::TaskDefinition'));
    expect(tasks.length).toBe(2);
    for (const task of tasks) {
      const env = ((task.Properties['ContainerDefinitions'] as { Environment: { Name: string; Value: unknown }[] }[])[0]!.Environment ?? []) as { Name: string; Value: unknown }[];
      expect(env.find((e) => e.Name === 'MCP_FLEET_AUDIT_LOG_GROUP')?.Value).toEqual({ Ref: id });
    }
  });

  it('WHEN gateway.audit is on THEN each task role may only create streams in and put events to that group', () => {
    const id = auditGroupId(template);
    const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties['PolicyDocument']).includes(id));
    expect(policies.length).toBe(2);
    for (const policy of policies) {
      const statements = (policy.Properties['PolicyDocument'] as { Statement: { Action: string | string[]; Resource: unknown; Effect: string }[] }).Statement;
      const onAudit = statements.filter((s) => JSON.stringify(s.Resource).includes(id));
      expect(onAudit).toHaveLength(1);
      expect(new Set([onAudit[0]!.Action].flat())).toEqual(new Set(['logs:CreateLogStream', 'logs:PutLogEvents']));
      expect(onAudit[0]!.Resource).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
      expect((policy.Properties['Roles'] as { Ref: string }[])[0]!.Ref).toMatch(/TaskRole/);
    }
    template.hasOutput('*', { Value: { Ref: id } });
  });

  it('WHEN gateway.audit is off THEN there is no audit group, variable or grant', () => {
    expect(Object.keys(resourcesOf(plain, 'AWS::Logs::LogGroup')).filter((id) => id.includes('AuditLogs'))).toEqual([]);
    expect(JSON.stringify(plain.toJSON())).not.toContain('MCP_FLEET_AUDIT_LOG_GROUP');
  });

  it('passes the cdk-nag AwsSolutions pack', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });

  it('GIVEN deploy.audit.retentionDays that CloudWatch does not offer WHEN loaded THEN refused naming the field', () => {
    expect(() => configOf({ servers, deploy: { image: IMAGE, audit: { retentionDays: 100 } } })).toThrow(/deploy\.audit\.retentionDays.*one of 1, 3, 5/s);
  });
});
