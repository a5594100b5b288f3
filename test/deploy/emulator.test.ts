import { App, LegacyStackSynthesizer } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStacksCommand, UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetStack } from '../../src/deploy/stack.js';
import { configOf } from './helpers.js';

// Opt-in: creates the fleet's stack in a local CloudFormation emulator, then applies
// an update that adds a server, and waits for both to complete. It runs only when
// MCP_FLEET_CFN_ENDPOINT names the emulator (docs/DEPLOY.md, "Try a deployment
// against a local emulator"): this project's machines have neither moto nor
// LocalStack (no PyPI, no Docker engine), so it is skipped there.
const ENDPOINT = process.env['MCP_FLEET_CFN_ENDPOINT'];
const STACK = 'McpFleetEmulator';

/** The fleet as the emulator gets it: an existing image (nothing to build or push), path routing (no hosted zone needed). */
function templateOf(servers: Record<string, unknown>): string {
  const config = configOf({
    servers,
    deploy: { stackName: STACK, region: 'us-east-1', image: { uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mcp-fleet:1.0.0' }, loadBalancer: { internal: true } },
  });
  // The legacy synthesizer adds no bootstrap-version parameter, which an emulator has no SSM value for.
  const stack = new FleetStack(new App(), STACK, { config, synthesizer: new LegacyStackSynthesizer(), env: { account: '123456789012', region: 'us-east-1' } });
  return JSON.stringify(Template.fromStack(stack).toJSON());
}

async function waitForStatus(cfn: CloudFormationClient, done: string): Promise<string> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: STACK }));
    const status = Stacks?.[0]?.StackStatus ?? 'UNKNOWN';
    if (status === done || status.endsWith('_FAILED') || status.endsWith('ROLLBACK_COMPLETE') || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

const servers = {
  fetch: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'], policy: 'pool', pool: { min: 1, max: 2 } },
  searxng: { command: 'npx', args: ['-y', 'mcp-searxng@1.16.0'], policy: 'pool', pool: { min: 1, max: 2 } },
};

describe.skipIf(ENDPOINT === undefined)('deployment to a local CloudFormation emulator (opt-in: MCP_FLEET_CFN_ENDPOINT)', () => {
  const cfn = new CloudFormationClient({ region: 'us-east-1', endpoint: ENDPOINT ?? 'http://127.0.0.1:0', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  afterAll(() => cfn.send(new DeleteStackCommand({ StackName: STACK })).catch(() => undefined));

  it('creates the stack, then adds a server in an update, both to *_COMPLETE', { timeout: 35 * 60_000 }, async () => {
    await cfn.send(new CreateStackCommand({ StackName: STACK, TemplateBody: templateOf(servers), Capabilities: ['CAPABILITY_IAM'] }));
    expect(await waitForStatus(cfn, 'CREATE_COMPLETE')).toBe('CREATE_COMPLETE');
    const added = { memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'], policy: 'pool', pool: { min: 1, max: 2 } }, ...servers };
    await cfn.send(new UpdateStackCommand({ StackName: STACK, TemplateBody: templateOf(added), Capabilities: ['CAPABILITY_IAM'] }));
    expect(await waitForStatus(cfn, 'UPDATE_COMPLETE')).toBe('UPDATE_COMPLETE');
  });
});
