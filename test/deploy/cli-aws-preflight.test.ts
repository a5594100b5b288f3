import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDeployCommands } from '../../src/cli/commands/deploy.js';
import { resolveAwsAccess } from '../../src/deploy/credentials.js';
import { REPO_ROOT } from '../gateway/helpers.js';
import { emptyAwsEnv, runBuiltCli } from './built-cli.js';

/**
 * The AWS commands as a new user meets them, through the built CLI: without
 * credentials, or with a profile that does not exist, they stop before any synth
 * and say what was looked at and how to fix it; `destroy` of a stack that is not
 * there says so without a stack trace. No call reaches AWS: the credential checks
 * are local, and CloudFormation is a local mock where one is needed.
 */

const FLEET = join(REPO_ROOT, 'examples', 'fleet.yaml');
// A quiet run takes a few seconds (mostly loading the CDK), up to 30 s on a loaded 2-core machine.
const RUN_TIMEOUT_MS = 120_000;

/** What no user-environment error may say. */
const BUG_WORDING = /looks like a bug/i;
/** A JavaScript stack frame. */
const STACK_FRAME = /^\s+at .+\(.+:\d+:\d+\)$/m;

describe('AWS commands without usable credentials (no AWS reached)', () => {
  it('deploy (built CLI) with AWS_PROFILE naming a missing profile fails before any synth, naming the profile, the files and the fix', { timeout: RUN_TIMEOUT_MS * 2 }, async () => {
    // GIVEN empty shared files and a profile that is in neither
    const aws = await emptyAwsEnv({ AWS_PROFILE: 'nope-does-not-exist' });
    const outdir = join(aws.dir, 'cdk.out');
    // WHEN
    const run = await runBuiltCli(['deploy', '--config', FLEET, '--out', outdir], aws.env, RUN_TIMEOUT_MS);
    // THEN
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`AWS profile "nope-does-not-exist" (from AWS_PROFILE) is not defined in ${aws.configFile} or ${aws.credentialsFile}`);
    expect(run.stderr).toContain('those files define no profile at all');
    expect(run.stderr).toContain('aws configure --profile nope-does-not-exist');
    expect(run.stderr).toContain('or unset AWS_PROFILE');
    expect(run.stderr).not.toMatch(BUG_WORDING);
    expect(run.stderr).not.toMatch(STACK_FRAME);
    expect(run.stdout).toBe('');
    // No synth ran: it would have written the cloud assembly.
    expect(existsSync(outdir)).toBe(false);
  });

  // The same check is the first step of every AWS command; in-process (the real check, over the same empty files) to spare a CLI start each.
  it.each([
    ['diff', ['diff'], true],
    ['destroy', ['destroy', '--yes'], true],
    ['status', ['status'], false],
    ['logs', ['logs', 'everything'], false],
  ])('%s with --profile naming a missing profile fails before any synth or AWS call', async (_name, args, synthesizes) => {
    const aws = await emptyAwsEnv();
    const outdir = join(aws.dir, 'cdk.out');
    let out = '';
    const program = new Command().exitOverride();
    registerDeployCommands(program, {
      out: (t) => (out += t),
      err: () => undefined,
      clients: () => {
        throw new Error('no AWS client may be created before the credentials check');
      },
      awsAccess: (target) => resolveAwsAccess({ ...target, env: aws.env }),
    });
    const run = program.parseAsync([...args, '--config', FLEET, '--profile', 'nope-does-not-exist', ...(synthesizes ? ['--out', outdir] : [])], { from: 'user' });
    await expect(run).rejects.toMatchObject({
      code: 'AWS_PROFILE_NOT_FOUND',
      fault: 'environment',
      message: `AWS profile "nope-does-not-exist" (from --profile) is not defined in ${aws.configFile} or ${aws.credentialsFile}`,
      hint: expect.stringContaining('or leave out --profile'),
    });
    expect(out).toBe('');
    expect(existsSync(outdir)).toBe(false);
  });

  it('deploy with no credentials anywhere names the profile, the region and every place looked at, before any synth', { timeout: RUN_TIMEOUT_MS * 2 }, async () => {
    const aws = await emptyAwsEnv();
    const outdir = join(aws.dir, 'cdk.out');
    const run = await runBuiltCli(['deploy', '--config', FLEET, '--region', 'eu-west-3', '--out', outdir], aws.env, RUN_TIMEOUT_MS);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('no AWS credentials found for profile default and region eu-west-3 (from --region)');
    expect(run.stderr).toContain('the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)');
    expect(run.stderr).toContain(`profile default in ${aws.configFile} and ${aws.credentialsFile}`);
    expect(run.stderr).toContain('the EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)');
    expect(run.stderr).toContain('export AWS_ACCESS_KEY_ID=');
    expect(run.stderr).not.toMatch(BUG_WORDING);
    expect(run.stderr).not.toMatch(STACK_FRAME);
    expect(existsSync(outdir)).toBe(false);
  });

  it('status with credentials but no region says where a region is looked for and how to set one', { timeout: RUN_TIMEOUT_MS * 2 }, async () => {
    const aws = await emptyAwsEnv({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret' });
    const run = await runBuiltCli(['status', '--config', FLEET], aws.env, RUN_TIMEOUT_MS);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('no AWS region: looked at --region, deploy.region in the config, AWS_REGION, AWS_DEFAULT_REGION and the region of profile default');
    expect(run.stderr).toContain('pass --region');
    expect(run.stderr).not.toContain('not-a-real-secret');
    expect(run.stderr).not.toMatch(BUG_WORDING);
  });
});

describe('destroy of a stack that does not exist (built CLI, mocked AWS CloudFormation endpoint)', () => {
  let server: Server;
  let endpoint: string;
  const calls: string[] = [];

  beforeAll(async () => {
    // CloudFormation speaks the AWS query protocol: a form POST, an XML answer.
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        calls.push(body);
        const stack = new URLSearchParams(body).get('StackName') ?? '?';
        res.writeHead(400, { 'content-type': 'text/xml' }).end(
          '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>' +
            `<Code>ValidationError</Code><Message>Stack with id ${stack} does not exist</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each([
    ['with --yes', ['--yes']],
    ['without --yes (it looks before it asks)', []],
  ])('%s: a clear message with the stack name and region, exit code 1, nothing about destroying, no stack trace', { timeout: RUN_TIMEOUT_MS * 2 }, async (_name, extra) => {
    calls.length = 0;
    const aws = await emptyAwsEnv({
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
      AWS_REGION: 'eu-west-3',
      AWS_ENDPOINT_URL_CLOUDFORMATION: endpoint,
    });
    const outdir = join(aws.dir, 'cdk.out');
    const run = await runBuiltCli(['destroy', '--config', FLEET, '--out', outdir, ...extra], aws.env, RUN_TIMEOUT_MS);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('stack McpFleet does not exist in region eu-west-3 (from AWS_REGION): nothing to destroy');
    expect(run.stderr).not.toMatch(/destroying/i);
    expect(run.stderr).not.toMatch(STACK_FRAME);
    expect(run.stderr).not.toMatch(BUG_WORDING);
    expect(calls.some((c) => new URLSearchParams(c).get('Action') === 'DescribeStacks')).toBe(true);
    expect(existsSync(outdir)).toBe(false);
  });
});
