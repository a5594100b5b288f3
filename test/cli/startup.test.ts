import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, initializeBody, POST_HEADERS, REPO_ROOT, waitFor } from '../gateway/helpers.js';
import { buildCli, listeningUrl, runBuiltCli, startCli, stopCli, type CliRun } from './helpers.js';

// `mcp-fleet --help` once took 3-10 s because it loaded the AWS CDK and SDK.
// These tests run the built CLI with a preload that records every module the
// loader resolves, and check that only the commands that call AWS load them,
// and that registering the commands (all that --help does) loads neither zod,
// yaml nor the config schema, which once took it past half a second.
// (Speed itself is measured by bench/cli-startup.ts, not here.)

const PRELOAD = join(REPO_ROOT, 'test', 'fixtures', 'record-modules.mjs');
const DEPLOY_TOOLING = /\/node_modules\/(aws-cdk-lib|@aws-cdk\/[^/]+|@aws-sdk\/[^/]+)\//;
/** What only actions need: zod, yaml, the deploy tooling, the config schema and loader, the deployment plan. */
const ACTION_ONLY = /\/node_modules\/(zod|yaml|aws-cdk-lib|@aws-cdk\/[^/]+|@aws-sdk\/[^/]+)\/|\/(src|dist)\/(config\/(schema|load)|deploy\/plan)\.[jt]s$/;
/** What `serve` needs only for some requests: the SDK v1 client (virtual servers' member links) and jose (OAuth). */
const REQUEST_ONLY = /\/node_modules\/(@modelcontextprotocol\/sdk|jose)\//;
/** The modules of the commands. */
const COMMAND_MODULE = /\/cli\/commands\/([^/]+)\.[jt]s$/;

let main: string;
let dir: string;
let runs = 0;

beforeAll(async () => {
  main = buildCli('startup');
  dir = await mkdtemp(join(tmpdir(), 'mcp-fleet-startup-'));
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the built CLI with the recorder; returns the run and the deploy-tooling packages it loaded. */
async function recorded(args: readonly string[], stopAt?: string): Promise<{ run: CliRun; tooling: string[]; urls: string[] }> {
  const file = join(dir, `modules-${++runs}.txt`);
  const run = await runBuiltCli(main, args, {
    nodeArgs: ['--import', PRELOAD],
    env: {
      MCP_FLEET_RECORD_MODULES: file,
      ...(stopAt === undefined ? {} : { MCP_FLEET_RECORD_STOP_AT: stopAt }),
      // No AWS account is reachable from a test: never wait on instance metadata.
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
  const urls = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const tooling = [...new Set(urls.map((u) => DEPLOY_TOOLING.exec(u)?.[1]).filter((p): p is string => p !== undefined))];
  return { run, tooling, urls };
}

describe('CLI start-up: the deploy tooling loads only for the commands that use it', () => {
  it('GIVEN --version WHEN run THEN it prints the package version and loads no AWS module', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const { run, tooling, urls } = await recorded([flag]);
      expect(run).toMatchObject({ code: 0, stdout: `${version}\n` });
      expect(tooling).toEqual([]);
      // Not even the config schema (zod) or the commands: the version is all it prints.
      expect(urls.filter((u) => /\/node_modules\/(zod|yaml)\/|\/cli\/commands\//.test(u))).toEqual([]);
    }
  });

  it('GIVEN --help WHEN run THEN every command is listed and no AWS module is loaded', async () => {
    const { run, tooling } = await recorded(['--help']);
    expect(run.code).toBe(0);
    for (const command of ['serve', 'synth', 'deploy', 'status', 'client-config', '--version']) expect(run.stdout).toContain(command);
    expect(tooling).toEqual([]);
  });

  it('GIVEN serve --help and synth --help WHEN run THEN no AWS module is loaded', async () => {
    for (const args of [['serve', '--help'], ['synth', '--help']]) {
      const { run, tooling } = await recorded(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(tooling, args.join(' ')).toEqual([]);
    }
  });

  it('GIVEN client-config --local and cost WHEN run THEN they answer without loading the AWS CDK or SDK', async () => {
    const local = await recorded(['client-config', '--for', 'claude-desktop', '--local', '--config', 'examples/fleet.yaml']);
    expect(local.run.code, local.run.stderr).toBe(0);
    expect(local.tooling).toEqual([]);
    const cost = await recorded(['cost', '--config', 'examples/aws-reference.yaml', '--json']);
    expect(cost.run.code, cost.run.stderr).toBe(0);
    expect(cost.tooling).toEqual([]);
  });

  it('GIVEN synth WHEN run THEN it does load aws-cdk-lib (the recorder sees what it must not see elsewhere)', async () => {
    // Stopped as soon as aws-cdk-lib loads: the synth itself takes tens of seconds and is tested elsewhere.
    const { run, tooling } = await recorded(['synth', '--config', 'examples/aws-reference.yaml', '--out', join(dir, 'cdk.out')], '/node_modules/aws-cdk-lib/');
    expect(run.signal).toBe('SIGKILL');
    expect(tooling).toContain('aws-cdk-lib');
  });

  it('GIVEN status WHEN run THEN it loads the AWS SDK', async () => {
    const { run, tooling } = await recorded(['status', '--config', 'examples/aws-reference.yaml', '--no-probe'], '/node_modules/@aws-sdk/');
    expect(run.signal).toBe('SIGKILL');
    expect(tooling.some((p) => p.startsWith('@aws-sdk/'))).toBe(true);
  });
});

describe('CLI start-up: registering the commands loads nothing that only an action needs', () => {
  it('GIVEN --help WHEN run THEN the command tree loads no config schema, config loader, deployment plan, zod or yaml', async () => {
    // Option choices and help text come from small constant modules; the rest loads inside the actions.
    const { run, urls } = await recorded(['--help']);
    expect(run.code).toBe(0);
    expect(urls.filter((u) => ACTION_ONLY.test(u))).toEqual([]);
  });

  it('GIVEN serve --help WHEN run THEN only the serve command module loads, and nothing only an action needs', async () => {
    const { run, urls } = await recorded(['serve', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--log-level <level>');
    const commands = urls.map((u) => COMMAND_MODULE.exec(u)?.[1]).filter((c): c is string => c !== undefined);
    expect(commands).toEqual(['serve']);
    expect(urls.filter((u) => ACTION_ONLY.test(u))).toEqual([]);
  });
});

describe('serve start-up: what only some requests need loads with the first of them', () => {
  it('GIVEN the example fleet WHEN serve is ready THEN neither the SDK v1 client nor jose has loaded, and a virtual session loads the client', async () => {
    // The two are a quarter of the gateway's start-up CPU, and the example fleet has a
    // virtual server and no OAuth. (Start-to-ready time is measured by the bench.)
    const file = join(dir, `modules-${++runs}.txt`);
    const cli = startCli(main, ['serve', '--config', 'examples/fleet.yaml', '--port', '0'], {
      nodeArgs: ['--import', PRELOAD],
      env: { MCP_FLEET_RECORD_MODULES: file, MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
    });
    try {
      const url = await listeningUrl(cli);
      await waitFor(async () => (await httpRequest(`${url}/ready`)).status === 200, { timeoutMs: 45_000, what: '/ready to answer 200' });
      const atReady = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
      expect(atReady.filter((u) => REQUEST_ONLY.test(u))).toEqual([]);

      // A virtual session connects to its members, and so loads the client (the recorder sees it).
      const answer = await httpRequest(`${url}/servers/dev/mcp`, { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
      expect(answer.status, answer.body).toBe(200);
      expect(answer.body).toContain('"serverInfo"');
      const after = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
      expect(after.some((u) => u.includes('/node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js'))).toBe(true);
      // Ended as a client ends it, so the drain has no session to wait for.
      const session = String(answer.headers['mcp-session-id']);
      expect((await httpRequest(`${url}/servers/dev/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': session } })).status).toBe(200);
    } finally {
      await stopCli(cli.child);
    }
  }, 120_000);
});
