import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listeningUrl, startCli, type StartedCli } from '../cli/helpers.js';
import {
  connectStreamable,
  CRASHY_ENTRY,
  newMarker,
  processesWithMarker,
  textOf,
  waitFor,
  within,
} from './helpers.js';

/**
 * `mcp-fleet serve` as a user runs it: a real process from the sources (tsx), a
 * config file, port 0, and SIGTERM. A handful of spawns, each about a second.
 */

let dir: string;
const marker = newMarker('cli');
const spawned: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-fleet-cli-serve-'));
});

afterAll(async () => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await waitFor(() => processesWithMarker(marker).length === 0, { what: 'every child of this file to exit' });
  await rm(dir, { recursive: true, force: true });
});

/** Starts the CLI from the sources; output is collected as it arrives. */
function startCliFromSources(args: readonly string[]): StartedCli {
  const cli = startCli('src/cli/main.ts', args, { nodeArgs: ['--import', 'tsx'] });
  spawned.push(cli.child);
  return cli;
}

/** Runs the CLI to its end. */
async function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startCliFromSources(args);
  const [code] = (await within(once(run.child, 'exit'), 45_000, `mcp-fleet ${args.join(' ')} to exit`)) as [number | null];
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

describe('mcp-fleet serve', () => {
  it('--help names the options', async () => {
    const { code, stdout } = await runCli(['serve', '--help']);
    expect(code).toBe(0);
    for (const option of ['--config', '--port', '--host', '--log-level']) expect(stdout).toContain(option);
    expect(stdout).toContain('/servers/<name>/mcp');
  }, 60_000);

  it('exits non-zero on a broken config, naming the field and the value', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, `gateway:\n  port: eighty\nservers:\n  crashy:\n    comand: node\n`);
    const { code, stderr } = await runCli(['serve', '--config', file, '--port', '0']);
    expect(code).not.toBe(0);
    expect(stderr).toContain(file);
    expect(stderr).toContain('gateway.port');
    expect(stderr).toContain('eighty');
    // Every problem at once: the misspelt key of the server too.
    expect(stderr).toContain('servers.crashy');
    expect(stderr).toContain('comand');
    expect(stderr).not.toMatch(/^\s+at /m);
  }, 60_000);

  it('serves on --port 0, answers an SDK client, and on SIGTERM exits with its children gone', async () => {
    const file = join(dir, 'fleet.yaml');
    await writeFile(
      file,
      [
        'gateway:',
        '  shutdownGraceSeconds: 4',
        'servers:',
        '  crashy:',
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: [${JSON.stringify(CRASHY_ENTRY)}, ${JSON.stringify(marker)}]`,
        '',
      ].join('\n'),
    );
    const cli = startCliFromSources(['serve', '--config', file, '--port', '0', '--log-level', 'info']);
    const exited = once(cli.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const url = await listeningUrl(cli);
    await waitFor(() => /ready\s+crashy/.test(cli.stderr()), { timeoutMs: 30_000, what: 'the server to be probed ready' });
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);

    const { client } = await connectStreamable(new URL(`${url}/servers/crashy/mcp`));
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'from the cli' } }))).toBe('echo: from the cli');
    expect(processesWithMarker(marker).length).toBeGreaterThan(0);
    // The library logs JSON lines to stdout; the CLI renders status to stderr.
    const records = cli
      .stdout()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { level: string; msg: string; server?: string });
    expect(records).toContainEqual(expect.objectContaining({ level: 'info', msg: 'session opened', server: 'crashy' }));

    cli.child.kill('SIGTERM');
    const [code, signal] = await within(exited, 15_000, 'the CLI to exit after SIGTERM');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(cli.stderr()).toContain('SIGTERM: draining');
    await waitFor(() => processesWithMarker(marker).length === 0, { timeoutMs: 10_000, what: 'the CLI children to exit' });
    await client.close();
  }, 90_000);
});
