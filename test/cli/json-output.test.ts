import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, runBuiltCli } from './helpers.js';

// Output a user can pipe: every `--json` (and every client config that is JSON)
// is JSON alone on stdout; hints such as "# paste into ..." go to stderr.

let main: string;

beforeAll(() => {
  main = buildCli('json-output');
}, 60_000);

/** Runs the built CLI, expects success, and parses its whole stdout as JSON. */
async function jsonOf(args: readonly string[]): Promise<{ value: Record<string, unknown>; stderr: string }> {
  const run = await runBuiltCli(main, args);
  expect(run.code, run.stderr).toBe(0);
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(run.stdout) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`stdout of mcp-fleet ${args.join(' ')} is not JSON (${(error as Error).message}):\n${run.stdout}`);
  }
  return { value, stderr: run.stderr };
}

describe('--json and JSON client configs print JSON only on stdout', () => {
  it('GIVEN client-config --for claude-code --json WHEN run THEN stdout parses as .mcp.json and the hint is on stderr', async () => {
    const { value, stderr } = await jsonOf(['client-config', '--for', 'claude-code', '--json', '--local', '--config', 'examples/fleet.yaml']);
    expect(value).toEqual({
      mcpServers: {
        everything: { type: 'http', url: 'http://127.0.0.1:8808/servers/everything/mcp' },
        memory: { type: 'http', url: 'http://127.0.0.1:8808/servers/memory/mcp' },
        // The example fleet's virtual server over both.
        dev: { type: 'http', url: 'http://127.0.0.1:8808/servers/dev/mcp' },
      },
    });
    expect(stderr).toContain('# paste into .mcp.json');
  });

  it('GIVEN the clients whose config is always JSON WHEN client-config runs THEN stdout parses', async () => {
    for (const [kind, key] of [['claude-desktop', 'mcpServers'], ['cursor', 'mcpServers'], ['vscode', 'servers']] as const) {
      const { value, stderr } = await jsonOf(['client-config', '--for', kind, '--local', '--port', '9000', '--config', 'examples/fleet.yaml']);
      expect(Object.keys(value[key] as object), kind).toEqual(['everything', 'memory', 'dev']);
      expect(JSON.stringify(value), kind).toContain('http://127.0.0.1:9000/servers/memory/mcp');
      expect(stderr, kind).toContain('# paste into');
    }
  });

  it('GIVEN cost --json WHEN run THEN stdout parses and carries the total', async () => {
    const { value } = await jsonOf(['cost', '--config', 'examples/aws-reference.yaml', '--json']);
    expect(value['totalUsd']).toEqual(expect.any(Number));
    expect(value['region']).toEqual(expect.any(String));
  });

  it('GIVEN keys new --json WHEN run THEN stdout parses as {name, key, sha256}', async () => {
    const { value } = await jsonOf(['keys', 'new', '--name', 'ci', '--json']);
    expect(value).toEqual({ name: 'ci', key: expect.stringMatching(/^mcpf_/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});
