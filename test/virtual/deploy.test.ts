import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { applyServeOverrides } from '../../src/cli/commands/serve.js';
import { serverEndpoints } from '../../src/deploy/client-config.js';
import { estimateMonthlyCost } from '../../src/deploy/cost.js';
import { listenerPriorityOf, planDeployment } from '../../src/deploy/plan.js';
import { virtualStatusRows } from '../../src/deploy/virtual-status.js';
import { configOf, resourcesOf, SYNTH_TIMEOUT_MS, synthFleet } from '../deploy/helpers.js';

// GIVEN two servers and a virtual server over both, one on its own host name,
// deployed service-per-server with a domain; synthesized once, offline (no AWS: the
// template is asserted, nothing is deployed).
const FLEET = {
  servers: {
    fetch: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'] },
    memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'], policy: 'per-session', maxSessions: 4 },
  },
  virtualServers: {
    dev: { servers: { fetch: { tools: { exclude: ['fetch_raw'] } }, memory: { prefix: 'mem_' } }, hostnames: ['dev.example.com'] },
    research: { servers: { fetch: {} } },
  },
  deploy: {
    stackName: 'VirtualFleet',
    region: 'eu-west-1',
    domain: { name: 'example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ' },
  },
};

let template: Template;
let dir: string;
beforeAll(async () => {
  ({ template, dir } = await synthFleet(configOf(FLEET)));
}, SYNTH_TIMEOUT_MS);

describe('virtual servers deployed (AWS mocked out: offline synth only)', () => {
  it('gives each virtual server its own service, running its members and the virtual server', () => {
    const plan = planDeployment(configOf(FLEET));
    expect(plan.services.map((s) => s.id)).toEqual(['fetch', 'memory', 'dev', 'research']);
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Command: ['node', '/app/dist/cli/main.js', 'serve', '--config', '/app/services/dev.yaml', '--host', '0.0.0.0', '--port', '8808', '--server', 'fetch', '--server', 'memory', '--server', 'dev'],
        }),
      ],
    });
  });

  it('routes the host name and the path of a virtual server to its service, at priorities derived from its name', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Priority: listenerPriorityOf('dev'),
      Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['dev.example.com'] } }],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Priority: listenerPriorityOf('research'),
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/servers/research/*'] } }],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/ready/dev' });
    // Construct ids are public contract: <Virtual>HostRule / <Virtual>PathRule, like a server's.
    const ids = Object.keys(resourcesOf(template, 'AWS::ElasticLoadBalancingV2::ListenerRule'));
    expect(ids.some((id) => /^FleetDevHostRule[0-9A-F]{8}$/.test(id))).toBe(true);
    expect(ids.some((id) => /^FleetResearchPathRule[0-9A-F]{8}$/.test(id))).toBe(true);
  });

  it("writes the virtual server into its service's config, and not into a member's own", async () => {
    const devConfig = parseYaml(await readFile(join(dir, 'image', 'services', 'dev.yaml'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(devConfig['virtualServers'] as object)).toEqual(['dev', 'research']);
    const memoryConfig = parseYaml(await readFile(join(dir, 'image', 'services', 'memory.yaml'), 'utf8')) as Record<string, unknown>;
    expect(memoryConfig['virtualServers']).toBeUndefined();
  });

  it('prices the virtual server as a service of its own', () => {
    const plan = planDeployment(configOf(FLEET));
    const cost = estimateMonthlyCost(plan, 'eu-west-1');
    const dev = cost.lines.find((l) => l.item === 'Fargate: dev');
    expect(dev?.monthlyUsd).toBeGreaterThan(0);
  });

  it('gives client-config one entry per virtual server', () => {
    const endpoints = serverEndpoints(configOf(FLEET), { kind: 'deployed', baseUrl: 'https://lb.example.com' });
    expect(endpoints).toEqual(
      expect.arrayContaining([
        { server: 'dev', url: 'https://dev.example.com/mcp' },
        { server: 'research', url: 'https://lb.example.com/servers/research/mcp' },
      ]),
    );
    expect(serverEndpoints(configOf(FLEET), { kind: 'local', port: 9000 }).find((e) => e.server === 'dev')?.url).toBe('http://127.0.0.1:9000/servers/dev/mcp');
  });

  it('shows in status what each selection filters out of the live tools', () => {
    const rows = virtualStatusRows(configOf(FLEET), new Map([['fetch', ['fetch', 'fetch_raw']]]));
    expect(rows.find((r) => r.virtual === 'dev' && r.member === 'fetch')).toMatchObject({ shown: 1, hidden: ['fetch_raw'], selection: 'all tools except fetch_raw' });
    expect(rows.find((r) => r.virtual === 'dev' && r.member === 'memory')).toMatchObject({ shown: undefined, selection: 'all tools, prefix "mem_"' });
  });

  it('serve --server <virtual> serves the virtual server and its members only', () => {
    const config = applyServeOverrides(configOf(FLEET), { config: 'fleet.yaml', server: ['research'] }, 'fleet.yaml');
    expect(Object.keys(config.servers)).toEqual(['fetch']);
    expect(Object.keys(config.virtualServers)).toEqual(['research']);
  });
});
