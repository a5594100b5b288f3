import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { configOf, loadReference } from './helpers.js';

/** The problems a config is rejected with, at parse or at plan time. */
function problemsOf(raw: unknown): string[] {
  try {
    planDeployment(configOf(raw), 'test.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

const fetch = { command: 'uvx', args: ['mcp-server-fetch'] };

describe('deploy validation rejects impossible configs with the field and the fix', () => {
  it('host names without a domain', () => {
    const problems = problemsOf({ servers: { fetch: { ...fetch, hostnames: ['fetch.example.com'] } } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^servers\.fetch\.hostnames\[0\]: .*deploy\.domain is not set; add deploy\.domain/);
  });

  it('host names outside the domain', () => {
    const problems = problemsOf({
      servers: { fetch: { ...fetch, hostnames: ['fetch.other.org'] } },
      deploy: { domain: { name: 'example.com', hostedZoneId: 'Z1' } },
    });
    expect(problems[0]).toMatch(/servers\.fetch\.hostnames\[0\]: "fetch\.other\.org" is not under deploy\.domain\.name "example\.com"/);
  });

  it('a domain with neither a hosted zone nor a certificate', () => {
    const problems = problemsOf({ servers: { fetch }, deploy: { domain: { name: 'example.com' } } });
    expect(problems[0]).toMatch(/^deploy\.domain: .*give hostedZoneId .* or certificateArn/);
  });

  it('a ${NAME} reference that deploy.secrets does not declare', () => {
    const problems = problemsOf({ servers: { searxng: { command: 'npx', args: ['-y', 'mcp-searxng'], env: { SEARXNG_URL: '${SEARXNG_URL}' } } } });
    expect(problems).toEqual([expect.stringMatching(/^deploy\.secrets\.SEARXNG_URL: servers\.searxng references \$\{SEARXNG_URL\}, which is not declared; add deploy\.secrets\.SEARXNG_URL: \{ secretName/)]);
  });

  it('an API key variable that deploy.secrets does not declare', () => {
    const problems = problemsOf({ gateway: { auth: { apiKeys: [{ name: 'k', env: 'TEAM_KEY' }] } }, servers: { fetch } });
    expect(problems[0]).toMatch(/^deploy\.secrets\.TEAM_KEY: gateway\.auth\.apiKeys references/);
  });

  it('a secret with both or neither of secretName and secretArn', () => {
    expect(problemsOf({ servers: { fetch }, deploy: { secrets: { X: {} } } })[0]).toMatch(/deploy\.secrets\.X: .*exactly one of secretName or secretArn/);
  });

  it.each([
    [256, 4096, /with cpu 256 use memoryMiB 512, 1024, 2048/],
    [1024, 1024, /with cpu 1024 use memoryMiB 2048 to 8192 in steps of 1024/],
    [300, 512, /Fargate offers cpu 256, 512, 1024/],
  ])('cpu %i with memoryMiB %i, which Fargate does not offer', (cpu, memoryMiB, fix) => {
    const problems = problemsOf({ servers: { fetch: { ...fetch, deploy: { cpu, memoryMiB } } } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^servers\.fetch\.deploy\.memoryMiB: /);
    expect(problems[0]).toMatch(fix);
  });

  it('a packed size Fargate does not offer', () => {
    expect(problemsOf({ servers: { fetch }, deploy: { layout: 'packed', packed: { cpu: 512, memoryMiB: 512 } } })[0]).toMatch(/^deploy\.packed\.memoryMiB: /);
  });

  it('a log retention CloudWatch does not accept', () => {
    expect(problemsOf({ servers: { fetch }, deploy: { observability: { logRetentionDays: 31 } } })[0]).toMatch(/deploy\.observability\.logRetentionDays: .*one of 1, 3, 5/);
  });

  it('private subnets with no way to pull the image', () => {
    expect(problemsOf({ servers: { fetch }, deploy: { network: { privateSubnets: true, natGateways: 0 } } })[0]).toMatch(/natGateways >= 1 or vpcEndpoints: true/);
  });

  it.each(['MCP_FLEET_CLUSTER_SECRET', 'MCP_FLEET_PEERS_DNS', 'MCP_FLEET_ALLOWED_HOSTS'])('a secret named %s, which the stack sets itself', (name) => {
    const problems = problemsOf({ servers: { fetch }, deploy: { secrets: { [name]: { secretName: 'mine' } } } });
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^deploy\\.secrets\\.${name}: is set by the stack itself .*; remove it from deploy\\.secrets`))]);
  });

  it.each([
    ['advertise', { advertise: 'http://127.0.0.1:8808' }, /^gateway\.cluster\.advertise: is "http:\/\/127\.0\.0\.1:8808", so every replica would claim the same URL; remove it/],
    ['peers', { peers: ['http://10.0.1.5:8808'] }, /^gateway\.cluster\.peers: task IPs change .*; remove it/],
    ['peersDns', { peersDns: 'fleet.local:8808' }, /^gateway\.cluster\.peersDns: is "fleet\.local:8808", which would override the Cloud Map name of each service; remove it/],
  ])('gateway.cluster.%s, which the stack sets on ECS', (_field, extra, message) => {
    const problems = problemsOf({ gateway: { cluster: { secret: '${MCP_FLEET_OWN_CLUSTER_SECRET_VALUE}', ...extra } }, servers: { fetch }, deploy: { secrets: { MCP_FLEET_OWN_CLUSTER_SECRET_VALUE: { secretName: 'mine' } } } });
    expect(problems).toEqual([expect.stringMatching(message)]);
  });

  it('a literal gateway.cluster.secret, which would be baked into the image (and is not echoed)', () => {
    const literal = 'x'.repeat(40);
    const problems = problemsOf({ gateway: { cluster: { secret: literal } }, servers: { fetch } });
    expect(problems).toEqual([expect.stringMatching(/^gateway\.cluster\.secret: is a literal value, which would be baked into the image; remove it/)]);
    expect(problems[0]).not.toContain(literal);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      servers: { a: { ...fetch, hostnames: ['a.example.com'] }, b: { command: 'x', env: { K: '${K}' } } },
    });
    expect(problems).toHaveLength(2);
  });
});

describe('deploy plan', () => {
  it('plans the reference deployment: a Spot service per server, HTTPS, drain timeout above the gateway grace', async () => {
    const plan = planDeployment(await loadReference());
    expect(plan.https).toBe(true);
    expect(plan.stopTimeoutSeconds).toBe(30);
    expect(plan.services.map((s) => [s.id, s.spot, s.cpu, s.memoryMiB])).toEqual([
      ['fetch', true, 256, 512],
      ['aws-docs', true, 256, 512],
      ['searxng', true, 256, 512],
    ]);
    expect(plan.services.find((s) => s.id === 'searxng')!.secretNames).toEqual(['MCP_FLEET_API_KEY', 'SEARXNG_URL']);
  });

  it('accepts references with a default without a secret, and caps stopTimeout at 120 s', () => {
    const plan = planDeployment(configOf({ gateway: { shutdownGraceSeconds: 200 }, servers: { a: { command: 'x', env: { LEVEL: '${LEVEL:-info}' } } } }));
    expect(plan.services[0]!.secretNames).toEqual([]);
    expect(plan.stopTimeoutSeconds).toBe(120);
    expect(plan.warnings.join('\n')).toMatch(/stopTimeout max 120/);
  });

  it.each(['per-session', 'pool', 'shared'])('plans several replicas for a server with policy %s', (policy) => {
    const plan = planDeployment(configOf({ servers: { fetch: { ...fetch, policy, deploy: { desiredCount: 3 } } } }));
    expect(plan.services[0]!.desiredCount).toBe(3);
    expect(plan.warnings.join('\n')).not.toMatch(/desiredCount/);
  });

  it('accepts a fleet secret of your own, given as a ${NAME} declared in deploy.secrets', () => {
    const plan = planDeployment(configOf({ gateway: { cluster: { secret: '${MCP_FLEET_OWN_CLUSTER_SECRET_VALUE}' } }, servers: { fetch }, deploy: { secrets: { MCP_FLEET_OWN_CLUSTER_SECRET_VALUE: { secretName: 'mine' } } } }));
    expect(plan.services[0]!.secretNames).toEqual(['MCP_FLEET_OWN_CLUSTER_SECRET_VALUE']);
  });

  it('warns when an internet-facing fleet has no API keys or no domain', () => {
    const plan = planDeployment(configOf({ servers: { fetch } }));
    expect(plan.warnings.join('\n')).toMatch(/anyone who reaches the internet-facing load balancer/);
    expect(plan.warnings.join('\n')).toMatch(/plain HTTP/);
  });
});
