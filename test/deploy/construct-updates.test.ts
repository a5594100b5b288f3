import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LISTENER_PRIORITY_FIRST } from '../../src/deploy/plan.js';
import type { FleetStack } from '../../src/deploy/stack.js';
import { resourcesOf, SYNTH_TIMEOUT_MS, synthWithImage } from './helpers.js';

// Fleets that run an existing image (nothing is built), each synthesized once.
const DOMAIN = { name: 'mcp.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ' };
const docsHosts = Array.from({ length: 7 }, (_, i) => `docs${i}.mcp.example.com`);
const BEFORE = {
  servers: {
    fetch: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'], policy: 'pool', hostnames: ['fetch.mcp.example.com'] },
    docs: { command: 'uvx', args: ['awslabs.aws-documentation-mcp-server==1.2.3'], policy: 'pool', hostnames: docsHosts },
    memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'], policy: 'pool' },
  },
  deploy: { domain: DOMAIN },
};
// The same fleet with a server inserted first: today's update of a live stack.
const AFTER = { ...BEFORE, servers: { alpha: { command: 'npx', args: ['-y', 'mcp-searxng@1.16.0'], policy: 'pool', hostnames: ['alpha.mcp.example.com'] }, ...BEFORE.servers } };

let before: Template;
let after: Template;
let options: { stack: FleetStack; template: Template };
let imported: Template;
beforeAll(() => {
  before = synthWithImage(BEFORE).template;
  after = synthWithImage(AFTER).template;
  options = synthWithImage({
    servers: {
      ondemand: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'], policy: 'pool', hostnames: ['a.mcp.example.com', 'b.deep.mcp.example.com'], deploy: { spot: false } },
      allspot: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'], policy: 'pool', deploy: { onDemandBase: 0 } },
      floor: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'], policy: 'pool', deploy: { onDemandBase: 2, autoscaling: { minCount: 3, maxCount: 6 } } },
    },
    deploy: { domain: { ...DOMAIN, certificateNames: 'hostnames' }, observability: { containerInsights: true } },
  });
  imported = synthWithImage({ servers: BEFORE.servers, deploy: { domain: { name: 'mcp.example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' } } }).template;
}, SYNTH_TIMEOUT_MS);

const priorities = (t: Template): Record<string, number> =>
  Object.fromEntries(Object.entries(resourcesOf(t, 'AWS::ElasticLoadBalancingV2::ListenerRule')).map(([id, r]) => [id, r.Properties['Priority'] as number]));

describe('updates: listener rule priorities', () => {
  it('keeps the priority of every existing rule when a server is inserted first (no PriorityInUse on update)', () => {
    const old = priorities(before);
    const updated = priorities(after);
    expect(Object.keys(old)).toHaveLength(4); // fetch, docs (5 + 2 host names), memory (path)
    for (const [id, priority] of Object.entries(old)) expect(updated[id]).toBe(priority);
    expect(Object.keys(updated)).toHaveLength(5);
  });

  it('gives every rule a distinct priority above the ones config-order numbering used', () => {
    const all = Object.values(priorities(after));
    expect(new Set(all).size).toBe(all.length);
    for (const p of all) expect(p).toBeGreaterThanOrEqual(LISTENER_PRIORITY_FIRST);
  });
});

describe('updates: certificate', () => {
  it('lists every host name when certificateNames is hostnames', () => {
    options.template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'mcp.example.com',
      SubjectAlternativeNames: ['a.mcp.example.com', 'b.deep.mcp.example.com'],
    });
  });

  it('creates no certificate and serves the imported one when certificateArn is given', () => {
    const t = imported;
    expect(Object.keys(resourcesOf(t, 'AWS::CertificateManager::Certificate'))).toHaveLength(0);
    const https = Object.values(resourcesOf(t, 'AWS::ElasticLoadBalancingV2::Listener')).find((l) => l.Properties['Port'] === 443)!;
    expect(https.Properties['Certificates']).toEqual([{ CertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' }]);
  });
});

describe('updates: capacity', () => {
  const strategyOf = (server: string) => {
    const service = options.stack.fleet.services.find((s) => s.plan.id === server)!;
    return (options.template.toJSON().Resources[options.stack.getLogicalId(service.service.node.defaultChild as never)].Properties as Record<string, unknown>)['CapacityProviderStrategy'];
  };

  it('puts every task on regular Fargate when spot is off', () => {
    expect(strategyOf('ondemand')).toEqual([{ CapacityProvider: 'FARGATE', Weight: 1 }]);
  });

  it('puts every task on Spot with onDemandBase 0, and the first N on regular Fargate with onDemandBase N', () => {
    expect(strategyOf('allspot')).toEqual([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    expect(strategyOf('floor')).toEqual([
      { CapacityProvider: 'FARGATE', Base: 2, Weight: 0 },
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
  });
});

describe('updates: Container Insights on', () => {
  it('turns it on for the cluster and graphs running tasks from it', () => {
    options.template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    const dashboard = JSON.stringify(Object.values(resourcesOf(options.template, 'AWS::CloudWatch::Dashboard'))[0]!.Properties['DashboardBody']);
    expect(dashboard).toContain('ECS/ContainerInsights');
    expect(dashboard).toContain('RunningTaskCount');
  });
});
