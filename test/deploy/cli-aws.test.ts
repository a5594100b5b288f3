import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AwsAccessCheck } from '../../src/cli/aws-access.js';
import { deployReport, printLogs, statusReport } from '../../src/cli/commands/deploy-actions.js';
import { registerDeployCommands, type DeployCliIo } from '../../src/cli/commands/deploy.js';
import type { FleetConfig } from '../../src/config/schema.js';
import { createAwsClients, readStackOutputs } from '../../src/deploy/aws.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { buildFleetApp } from '../../src/deploy/stack.js';
import { FleetError } from '../../src/errors.js';
import { configOf, loadReference, REFERENCE_YAML } from './helpers.js';

const cfn = mockClient(CloudFormationClient);
const ecs = mockClient(ECSClient);
const elbv2 = mockClient(ElasticLoadBalancingV2Client);
const logs = mockClient(CloudWatchLogsClient);
afterEach(() => {
  cfn.reset();
  ecs.reset();
  elbv2.reset();
  logs.reset();
});

const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');
/** Credentials that are there (the real check is tested through the built CLI in cli-aws-preflight.test.ts). */
const stubAwsAccess: AwsAccessCheck = async (t) => ({ profile: t.profile, region: t.region ?? 'us-east-1', regionFrom: t.regionFrom ?? 'AWS_REGION', accessKeyId: 'AKIDEXAMPLE' });
const clients = () => createAwsClients({ region: 'us-east-1' });

/** A real Streamable HTTP MCP endpoint with one tool, that insists on a bearer token. */
let mcpUrl: string;
let server: Server;
const seenAuth: string[] = [];
beforeAll(async () => {
  server = createServer(async (req, res) => {
    seenAuth.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== 'Bearer s3cret') {
      res.writeHead(401).end();
      return;
    }
    const mcp = new McpServer({ name: 'stub', version: '1.0.0' });
    mcp.registerTool('search', { description: 'stub' }, async () => ({ content: [] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mcpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function outputsFor(config: FleetConfig, urls: Record<string, string>) {
  const plan = planDeployment(config);
  const out: Array<{ OutputKey: string; OutputValue: string }> = [
    { OutputKey: 'ClusterName', OutputValue: 'McpFleet-Cluster' },
    { OutputKey: 'LoadBalancerDnsName', OutputValue: 'mcp-123.us-east-1.elb.amazonaws.com' },
  ];
  for (const s of plan.services) {
    const p = s.id === 'aws-docs' ? 'AwsDocs' : s.id[0]!.toUpperCase() + s.id.slice(1);
    out.push({ OutputKey: `Svc${p}ServiceName`, OutputValue: `svc-${s.id}` }, { OutputKey: `Svc${p}TargetGroupArn`, OutputValue: `arn:tg/${s.id}` });
  }
  for (const [srv, url] of Object.entries(urls)) {
    const p = srv === 'aws-docs' ? 'AwsDocs' : srv[0]!.toUpperCase() + srv.slice(1);
    out.push({ OutputKey: `Srv${p}Url`, OutputValue: url });
  }
  return out;
}

describe('status (aws-sdk-client-mock for AWS; a real MCP endpoint for tools/list)', () => {
  it('shows services, tasks, target health and each endpoint tools/list, sending the bearer token', async () => {
    const config = await loadReference();
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'McpFleet', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: outputsFor(config, { fetch: mcpUrl, 'aws-docs': mcpUrl, searxng: mcpUrl }) }] });
    ecs.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => ({
      services: [{ serviceName: input.services[0], desiredCount: 1, runningCount: 1, pendingCount: 0, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }] }],
    }));
    ecs.on(ListTasksCommand).resolves({ taskArns: ['arn:aws:ecs:us-east-1:1:task/McpFleet/abcdef0123456789'] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:1:task/McpFleet/abcdef0123456789', lastStatus: 'RUNNING', healthStatus: 'HEALTHY', capacityProviderName: 'FARGATE_SPOT' }] });
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ TargetHealth: { State: 'healthy' } }] });

    const text = strip(await statusReport(config, 'ref.yaml', clients(), { probe: true, token: 's3cret' }));
    expect(text).toMatch(/^fetch\s+1\/1\s+COMPLETED\s+abcdef01 RUNNING HEALTHY FARGATE_SPOT\s+healthy$/m);
    expect(text).toMatch(/^searxng\s+http:\/\/127\.0\.0\.1:\d+\/mcp\s+1 tools: search$/m);
    expect(ecs.commandCalls(DescribeServicesCommand).map((c) => c.args[0].input)).toContainEqual({ cluster: 'McpFleet-Cluster', services: ['svc-searxng'] });
    expect(elbv2.commandCalls(DescribeTargetHealthCommand).map((c) => c.args[0].input.TargetGroupArn)).toEqual(['arn:tg/fetch', 'arn:tg/aws-docs', 'arn:tg/searxng']);
    expect(seenAuth).toContain('Bearer s3cret');
  });

  it('reports a failing tools/list without printing the token', async () => {
    const config = await loadReference();
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'McpFleet', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: outputsFor(config, { fetch: mcpUrl }) }] });
    ecs.on(DescribeServicesCommand).resolves({ services: [] });
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch' } }] });
    const text = strip(await statusReport(config, 'ref.yaml', clients(), { probe: true, token: 'wrong-token' }));
    expect(text).toContain('unhealthy (Target.ResponseCodeMismatch)');
    // The row says why the list failed (the endpoint refused the token), not just that something is there.
    expect(text).toMatch(/^fetch\s+http:\/\/127\.0\.0\.1:\d+\/mcp\s+HTTP 401: the endpoint refused the key; check --token-env$/m);
    expect(text).not.toMatch(/^fetch\s+http:\/\/127\.0\.0\.1:\d+\/mcp\s+\d+ tools/m);
    expect(text).not.toContain('wrong-token');
  });

  it('says how to fix a stack that is not deployed', async () => {
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id McpFleet does not exist'), { name: 'ValidationError' }));
    const error = await readStackOutputs(clients().cloudFormation, 'McpFleet').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FleetError);
    expect((error as FleetError).code).toBe('DEPLOY_STACK_NOT_FOUND');
    expect((error as FleetError).hint).toMatch(/mcp-fleet deploy/);
  });
});

describe('logs (aws-sdk-client-mock)', () => {
  it("prints a server's lines from its log group across pages", async () => {
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [{ eventId: '1', timestamp: Date.UTC(2026, 0, 1), message: 'started\n', logStreamName: 's' }], nextToken: 'n' })
      .resolvesOnce({ events: [{ eventId: '2', timestamp: Date.UTC(2026, 0, 1, 0, 1), message: 'ready', logStreamName: 's' }] });
    let out = '';
    await printLogs(await loadReference(), 'ref.yaml', 'searxng', clients(), { out: (t) => (out += t), err: () => undefined }, { follow: false, sinceMs: 600_000, now: 1_000_000 });
    expect(strip(out)).toBe('2026-01-01T00:00:00.000Z started\n2026-01-01T00:01:00.000Z ready\n');
    const inputs = logs.commandCalls(FilterLogEventsCommand).map((c) => c.args[0].input);
    expect(inputs[0]).toEqual({ logGroupName: '/mcp-fleet/McpFleet/searxng', startTime: 400_000 });
    expect(inputs[1]).toMatchObject({ nextToken: 'n' });
  });

  it('follows new lines without repeating any, until stopped', async () => {
    const controller = new AbortController();
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [{ eventId: '1', timestamp: 10, message: 'one' }] })
      .resolvesOnce({ events: [{ eventId: '1', timestamp: 10, message: 'one' }, { eventId: '2', timestamp: 20, message: 'two' }] });
    const lines: string[] = [];
    const config = configOf({ servers: { a: { command: 'x' }, b: { command: 'y' } }, deploy: { layout: 'packed' } });
    await printLogs(config, 'f.yaml', 'b', clients(), {
      out: (t) => {
        lines.push(strip(t).split(' ').slice(1).join(' ').trim());
        if (lines.length === 2) controller.abort();
      },
      err: () => undefined,
    }, { follow: true, sinceMs: 0, signal: controller.signal, now: 5, pollIntervalMs: 10 });
    expect(lines).toEqual(['one', 'two']);
    const inputs = logs.commandCalls(FilterLogEventsCommand).map((c) => c.args[0].input);
    // Packed: one log group for the fleet, filtered to the server's lines.
    expect(inputs[0]).toMatchObject({ logGroupName: '/mcp-fleet/McpFleet/fleet', filterPattern: '"b"', startTime: 5 });
    expect(inputs[1]).toMatchObject({ startTime: 10 });
  });
});

describe('deploy outputs and client-config (aws-sdk-client-mock)', () => {
  it('deploy ends with the endpoint URLs and the claude mcp add commands, token as a variable', async () => {
    const config = await loadReference();
    const outputs = Object.fromEntries(outputsFor(config, { fetch: 'https://fetch.mcp.example.com/mcp' }).map((o) => [o.OutputKey, o.OutputValue]));
    const text = strip(deployReport(config, planDeployment(config), outputs, 'MCP_FLEET_TOKEN'));
    expect(text).toMatch(/^aws-docs\s+https:\/\/aws-docs\.mcp\.example\.com\/mcp$/m);
    expect(text).toContain('claude mcp add --transport http searxng https://searxng.mcp.example.com/mcp --header "Authorization: Bearer ${MCP_FLEET_TOKEN}"');
    expect(text).toContain('Load balancer: mcp-123.us-east-1.elb.amazonaws.com');
  });

  async function runCli(args: string[], io: Partial<DeployCliIo> = {}): Promise<string> {
    let out = '';
    const program = new Command().exitOverride();
    registerDeployCommands(program, { out: (t) => (out += t), err: () => undefined, clients: () => clients(), awsAccess: stubAwsAccess, ...io });
    await program.parseAsync(args, { from: 'user' });
    return strip(out);
  }

  it('client-config for a path-routed fleet reads the load balancer URLs from the stack outputs', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'cc-')), 'fleet.yaml');
    await writeFile(file, 'servers:\n  fetch:\n    command: uvx\n    args: [mcp-server-fetch]\n');
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'McpFleet', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [{ OutputKey: 'SrvFetchUrl', OutputValue: 'http://mcp-123.elb.amazonaws.com/servers/fetch/mcp' }] }],
    });
    const text = await runCli(['client-config', '--for', 'cursor', '--config', file]);
    expect(JSON.parse(text.slice(text.indexOf('{')))).toEqual({ mcpServers: { fetch: { url: 'http://mcp-123.elb.amazonaws.com/servers/fetch/mcp' } } });
  });
});

describe('CLI without AWS', () => {
  async function runCli(args: string[]): Promise<string> {
    let out = '';
    const program = new Command().exitOverride();
    registerDeployCommands(program, { out: (t) => (out += t), err: () => undefined });
    await program.parseAsync(args, { from: 'user' });
    return strip(out);
  }

  it.each([
    ['claude-code', ['--json'], { mcpServers: { fetch: { type: 'http', url: 'https://fetch.mcp.example.com/mcp', headers: { Authorization: 'Bearer ${MCP_FLEET_TOKEN}' } } } }],
    ['cursor', [], { mcpServers: { fetch: { url: 'https://fetch.mcp.example.com/mcp', headers: { Authorization: 'Bearer ${env:MCP_FLEET_TOKEN}' } } } }],
    ['vscode', [], { servers: { fetch: { type: 'http', url: 'https://fetch.mcp.example.com/mcp', headers: { Authorization: 'Bearer ${input:mcp-fleet-token}' } } } }],
    ['claude-desktop', [], { mcpServers: { fetch: { command: 'npx', args: ['-y', 'mcp-remote', 'https://fetch.mcp.example.com/mcp', '--header', 'Authorization:${AUTH_HEADER}'], env: { AUTH_HEADER: 'Bearer <your MCP_FLEET_TOKEN>' } } } }],
  ])('client-config --for %s writes paste-ready JSON that references the token', async (kind, extra, expected) => {
    const text = await runCli(['client-config', '--for', kind, '--config', REFERENCE_YAML, ...extra]);
    const json = JSON.parse(text.slice(text.indexOf('{')));
    const first = Object.fromEntries(Object.entries(json).map(([k, v]) => [k, k === 'inputs' ? v : { fetch: (v as Record<string, unknown>)['fetch'] }]));
    expect(first).toMatchObject(expected);
    expect(Object.keys(json.mcpServers ?? json.servers)).toEqual(['fetch', 'aws-docs', 'searxng']);
  });

  it('destroy finds the stack, then asks, and deletes nothing when the answer is no (aws-sdk-client-mock for CloudFormation)', async () => {
    let err = '';
    const questions: string[] = [];
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'McpFleet', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' }] });
    const program = new Command().exitOverride();
    registerDeployCommands(program, {
      out: () => undefined,
      err: (t) => (err += t),
      clients: () => clients(),
      awsAccess: stubAwsAccess,
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    await program.parseAsync(['destroy', '--config', REFERENCE_YAML], { from: 'user' });
    expect(questions).toEqual(['Delete stack McpFleet (UPDATE_COMPLETE) in us-east-1 and every resource in it (log groups included)? [y/N] ']);
    expect(strip(err)).toBe('AWS: region us-east-1 (from deploy.region in the config)\nNothing was deleted.\n');
  });

  it('refuses a VPC lookup without an account and region, saying which flags to pass', () => {
    const config = configOf({ servers: { a: { command: 'x' } }, deploy: { network: { useDefaultVpc: true } } });
    expect(() => buildFleetApp({ config, buildContextDir: '/nonexistent' })).toThrow(/looking up an existing VPC needs an account and a region/);
  });

  it('client-config --local points at the gateway on this machine', async () => {
    const text = await runCli(['client-config', '--for', 'claude-code', '--local', '--config', REFERENCE_YAML]);
    expect(text.split('\n')[0]).toBe('claude mcp add --transport http fetch http://127.0.0.1:8808/servers/fetch/mcp --header "Authorization: Bearer ${MCP_FLEET_TOKEN}"');
  });

  it('client-config --show-token writes the key only when asked', async () => {
    process.env['TEST_FLEET_KEY'] = 'k-123';
    try {
      const text = await runCli(['client-config', '--for', 'claude-code', '--local', '--token-env', 'TEST_FLEET_KEY', '--show-token', '--config', REFERENCE_YAML]);
      expect(text).toContain("--header 'Authorization: Bearer k-123'");
      expect(await runCli(['client-config', '--for', 'claude-code', '--local', '--token-env', 'TEST_FLEET_KEY', '--config', REFERENCE_YAML])).not.toContain('k-123');
    } finally {
      delete process.env['TEST_FLEET_KEY'];
    }
  });

  it('cost prints the lines, the total, and the Spot and packed savings with the price date', async () => {
    const text = await runCli(['cost', '--config', REFERENCE_YAML]);
    expect(text).toMatch(/^Fargate: fetch\s+1 on-demand × 0\.25 vCPU, 0\.5 GB\s+\$9\.01$/m);
    expect(text).toMatch(/^total\s+us-east-1\s+\$74\.44$/m);
    expect(text).toContain('All on-demand: $74.44   all Spot: $55.51 (saves $18.92)');
    expect(text).toMatch(/packed into one service: \$56\.87/);
    expect(text).toMatch(/List prices of \d{4}-\d{2}-\d{2}/);
  });
});
