import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { listenerPriorityOf, planDeployment } from '../../src/deploy/plan.js';
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

  it('a secret with none or several of secretName, secretArn and parameterName', () => {
    expect(problemsOf({ servers: { fetch }, deploy: { secrets: { X: {} } } })[0]).toMatch(/deploy\.secrets\.X: .*exactly one of secretName, secretArn \(Secrets Manager\) or parameterName \(SSM Parameter Store\)/);
    expect(problemsOf({ servers: { fetch }, deploy: { secrets: { X: { secretName: 'a', parameterName: '/a' } } } })[0]).toMatch(/exactly one of/);
    expect(problemsOf({ servers: { fetch }, deploy: { secrets: { X: { parameterName: '/a', field: 'url' } } } })[0]).toMatch(/deploy\.secrets\.X: .*an SSM parameter has none/);
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

  it('an IAM statement whose action is not service:Action', () => {
    const problems = problemsOf({ servers: { fetch: { ...fetch, deploy: { taskPolicyStatements: [{ actions: ['s3GetObject'], resources: ['arn:aws:s3:::b/*'] }] } } } });
    expect(problems[0]).toMatch(/^servers\.fetch\.deploy\.taskPolicyStatements\[0\]\.actions\[0\]: .*service:Action, such as s3:GetObject/);
  });

  it.each([
    ['API_KEY', 'abc123def456', /servers\.s\.env\.API_KEY: is a literal value that looks like a secret, which would be baked into the image's config files; write API_KEY: \$\{API_KEY\} and declare deploy\.secrets\.API_KEY: \{ secretName: .* \} or \{ parameterName: .* \}/],
    ['GITHUB_PERSONAL_ACCESS_TOKEN', 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB', /servers\.s\.env\.GITHUB_PERSONAL_ACCESS_TOKEN: is a literal value/],
    ['UPSTREAM', 'https://admin:hunter2hunter2@db.example.com/x', /servers\.s\.env\.UPSTREAM: is a literal value/],
  ])('a literal secret in env (%s), refused without echoing it', (name, value, message) => {
    const problems = problemsOf({ servers: { s: { command: 'npx', args: ['-y', 'some-server@1.0.0'], env: { [name]: value } } } });
    expect(problems).toEqual([expect.stringMatching(message)]);
    expect(problems[0]).not.toContain(value);
  });

  it('a literal secret passed as an argument', () => {
    const problems = problemsOf({ servers: { s: { command: 'npx', args: ['-y', 'some-server@1.0.0', '--api-key=abcdef123456'] } } });
    expect(problems).toEqual([expect.stringMatching(/^servers\.s\.args\[2\]: passes a literal value that looks like a secret to --api-key/)]);
    expect(problems[0]).not.toContain('abcdef123456');
  });

  it('accepts references, values that are no secret, and names listed in plainEnv', () => {
    expect(
      problemsOf({
        servers: { s: { command: 'npx', args: ['-y', 'x@1.0.0', '--token', '${TOKEN}'], env: { API_KEY: '${API_KEY}', LOG_LEVEL: 'debug', AUTH_MODE: 'none' }, deploy: { plainEnv: ['AUTH_MODE'] } } },
        deploy: { secrets: { API_KEY: { secretName: 'k' }, TOKEN: { parameterName: '/t' } } },
      }),
    ).toEqual([]);
  });

  it('private subnets without NAT for a server that needs the internet (VPC endpoints reach AWS only)', () => {
    const problems = problemsOf({ servers: { fetch }, deploy: { network: { privateSubnets: true, natGateways: 0, vpcEndpoints: true } } });
    expect(problems).toEqual([
      expect.stringMatching(/^servers\.fetch\.deploy\.internetEgress: the server needs the internet \(mcp-server-fetch fetches from the internet\), but its tasks run in private subnets with no NAT gateway .*; set deploy\.network\.natGateways >= 1, or privateSubnets: false, or internetEgress: false/),
    ]);
  });

  it('accepts private subnets without NAT for servers that work offline, known or declared', () => {
    const memory = { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'] };
    const mine = { command: 'npx', args: ['-y', 'my-offline-server@1.0.0'], deploy: { internetEgress: false } };
    expect(problemsOf({ servers: { memory, mine }, deploy: { network: { privateSubnets: true, natGateways: 0, vpcEndpoints: true } } })).toEqual([]);
    // An unknown package is assumed to need the internet.
    expect(problemsOf({ servers: { other: { command: 'npx', args: ['-y', 'unknown-server@1.0.0'] } }, deploy: { network: { privateSubnets: true, natGateways: 0, vpcEndpoints: true } } })[0]).toMatch(
      /servers\.other\.deploy\.internetEgress: .*does not know whether unknown-server reaches the internet/,
    );
  });

  it('a load balancer idle timeout the gateway keep-alive does not exceed (502s), or SSE keep-alives it does not exceed', () => {
    expect(problemsOf({ servers: { fetch }, deploy: { loadBalancer: { idleTimeoutSeconds: 3600 } } })).toEqual([
      expect.stringMatching(/^gateway\.httpKeepAliveSeconds: is 125, not above deploy\.loadBalancer\.idleTimeoutSeconds 3600, .*intermittent 502s\); set it to 3605/),
    ]);
    expect(problemsOf({ gateway: { sseKeepAliveSeconds: 150 }, servers: { fetch } })).toEqual([
      expect.stringMatching(/^gateway\.sseKeepAliveSeconds: is 150, not below deploy\.loadBalancer\.idleTimeoutSeconds 120, so the load balancer would cut quiet SSE streams; set it to at most 30/),
    ]);
    expect(problemsOf({ gateway: { httpKeepAliveSeconds: 3605 }, servers: { fetch }, deploy: { loadBalancer: { idleTimeoutSeconds: 3600 } } })).toEqual([]);
  });

  it('both desiredCount and autoscaling, which would contradict each other', () => {
    const problems = problemsOf({ servers: { fetch: { ...fetch, deploy: { desiredCount: 3, autoscaling: { minCount: 1, maxCount: 2 } } } } });
    expect(problems).toEqual([expect.stringMatching(/^servers\.fetch\.deploy\.desiredCount: is 3; give desiredCount for a fixed number of tasks or autoscaling for a range, not both/)]);
  });

  it('an on-demand base above the most tasks the service runs', () => {
    expect(problemsOf({ servers: { fetch: { ...fetch, deploy: { onDemandBase: 2 } } } })).toEqual([expect.stringMatching(/^servers\.fetch\.deploy\.onDemandBase: is 2; the service never runs more than 1 task; set it to at most 1/)]);
  });

  it('a task memory too small for the children it must hold', () => {
    const problems = problemsOf({ servers: { fetch: { ...fetch, policy: 'per-session', deploy: { memoryMiB: 512 } } } });
    expect(problems).toEqual([
      expect.stringMatching(/^servers\.fetch\.deploy\.memoryMiB: is 512 MiB, but the gateway \(128 MiB\) and the children of fetch need at least 704 MiB \(fetch: 5 fixed children \+ 1 per session × 96 MiB\); raise memoryMiB, or lower pool\.max or spares, or use policy: pool/),
    ]);
  });

  it('children no memory size of the cpu holds', () => {
    expect(problemsOf({ servers: { fetch: { ...fetch, pool: { min: 1, max: 30 } } } })[0]).toMatch(/^servers\.fetch\.deploy\.memoryMiB: no memory size Fargate offers with cpu 256 \(up to 2048 MiB\) holds/);
  });

  it('a packed service of more servers than ECS attaches target groups to one service', () => {
    const servers = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => [n, { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'], policy: 'pool', pool: { min: 1, max: 1 } }]));
    expect(problemsOf({ servers, deploy: { layout: 'packed' } })).toEqual([expect.stringMatching(/^deploy\.layout: packed runs 6 servers in one service, but ECS attaches at most 5 target groups to a service/)]);
  });

  it('more host names than ACM puts on one certificate, when each name is listed', () => {
    const hostnames = Array.from({ length: 10 }, (_, i) => `h${i}.example.com`);
    const problems = problemsOf({ servers: { fetch: { ...fetch, hostnames } }, deploy: { domain: { name: 'example.com', hostedZoneId: 'Z1', certificateNames: 'hostnames' } } });
    expect(problems).toEqual([expect.stringMatching(/^deploy\.domain\.certificateNames: is hostnames, but 11 names exceed the 10 names ACM allows per certificate by default; use certificateNames: wildcard/)]);
    // The default wildcard certificate holds any number of servers.
    expect(problemsOf({ servers: { fetch: { ...fetch, hostnames } }, deploy: { domain: { name: 'example.com', hostedZoneId: 'Z1' } } })).toEqual([]);
  });

  it('certificateNames with an imported certificate', () => {
    expect(problemsOf({ servers: { fetch }, deploy: { domain: { name: 'example.com', certificateArn: 'arn:aws:acm:us-east-1:1:certificate/x', certificateNames: 'hostnames' } } })[0]).toMatch(
      /^deploy\.domain: .*certificateNames shapes a certificate the stack creates; with certificateArn the stack creates none/,
    );
  });

  it('two servers on one listener priority, naming both and the fix', () => {
    // s544 and s998 hash to the same priority; so do two explicit listenerPriority values.
    expect(listenerPriorityOf('s544')).toBe(listenerPriorityOf('s998'));
    expect(problemsOf({ servers: { s544: fetch, s998: fetch } })).toEqual([
      expect.stringMatching(/^servers\.s998\.deploy\.listenerPriority: the name hashes to listener priority \d+, which server s544 has too; set servers\.s998\.deploy\.listenerPriority to a free number from 1000 to 50000/),
    ]);
    expect(problemsOf({ servers: { s544: fetch, s998: { ...fetch, deploy: { listenerPriority: 2000 } } } })).toEqual([]);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      servers: { a: { ...fetch, hostnames: ['a.example.com'] }, b: { command: 'x', env: { K: '${K}' } } },
    });
    expect(problems).toHaveLength(2);
  });
});

describe('deploy plan', () => {
  it('plans the reference deployment: a service per server with one on-demand task and the rest on Spot, HTTPS, drain timeout above the gateway grace', async () => {
    const plan = planDeployment(await loadReference());
    expect(plan.https).toBe(true);
    expect(plan.stopTimeoutSeconds).toBe(30);
    expect(plan.services.map((s) => [s.id, s.spot, s.onDemandBase, s.cpu, s.memoryMiB])).toEqual([
      ['fetch', true, 1, 256, 512],
      ['aws-docs', true, 1, 256, 512],
      ['searxng', true, 1, 256, 512],
    ]);
    expect(plan.services.find((s) => s.id === 'searxng')!.secretNames).toEqual(['MCP_FLEET_API_KEY', 'SEARXNG_URL']);
    expect(plan.certificate).toEqual({ domainName: 'mcp.example.com', subjectAlternativeNames: ['*.mcp.example.com'] });
    expect(plan.routes.map((r) => r.healthCheckPath)).toEqual(['/ready/fetch', '/ready/aws-docs', '/ready/searxng']);
  });

  it('sizes a per-session server from its children and caps its sessions at what the memory holds', () => {
    // 5 fixed children (pool.max 4 + 1 spare) and 4 sessions of 96 MiB, plus the gateway: 992 MiB, so 1024 MiB, which holds 4 sessions.
    const plan = planDeployment(configOf({ servers: { fetch: { ...fetch, policy: 'per-session' } } }));
    expect(plan.services[0]).toMatchObject({ cpu: 256, memoryMiB: 1024, sessionCaps: { fetch: 4 } });
    expect(plan.warnings.join('\n')).toMatch(/servers\.fetch\.maxSessions: 100 is lowered to 4 per task, what 1024 MiB holds \(one child per session\)/);
    // A declared child size and a given memory: (2048 - 128 - 5 × 64) / 64 = 25 sessions.
    const sized = planDeployment(configOf({ servers: { fetch: { ...fetch, policy: 'per-session', maxSessions: 10, deploy: { memoryMiB: 2048, childMemoryMiB: 64 } } } }));
    expect(sized.services[0]!.sessionCaps).toEqual({ fetch: 25 });
    expect(sized.warnings.join('\n')).not.toMatch(/maxSessions/);
  });

  it('defaults the on-demand base to 1 with Spot, 0 without Spot or without tasks', () => {
    const plan = planDeployment(configOf({ servers: { a: fetch, b: { ...fetch, deploy: { spot: false } }, c: { ...fetch, deploy: { autoscaling: { minCount: 0, maxCount: 2 } } } } }));
    expect(plan.services.map((s) => [s.id, s.onDemandBase, s.minTasks])).toEqual([
      ['a', 1, 1],
      ['b', 0, 1],
      ['c', 0, 0],
    ]);
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
