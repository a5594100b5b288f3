import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASHY_ENTRY, httpRequest, initializeBody, newMarker, POST_HEADERS, processesWithMarker, REPO_ROOT, waitFor, within } from '../gateway/helpers.js';
import { buildCli, listeningUrl, startCli, stopCli, type StartedCli } from './helpers.js';

// `mcp-fleet serve` as a user runs it, from a build: log formats (issue 14 item 3),
// installed npx packages run by node directly (item 4), and a server that cannot
// start reported once with its command and OS error (item 7).

const require = createRequire(import.meta.url);
const EVERYTHING_BIN = realpathSync(require.resolve('@modelcontextprotocol/server-everything/dist/index.js'));
const MEMORY_BIN = realpathSync(require.resolve('@modelcontextprotocol/server-memory/dist/index.js'));
const MEMORY_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-memory/package.json'), 'utf8')) as { version: string }).version;
const EVERYTHING_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-everything/package.json'), 'utf8')) as { version: string }).version;
const MISSING = 'mcp-fleet-test-no-such-command';

let main: string;
let dir: string;
const marker = newMarker('cli-serve-build');
const started: ChildProcess[] = [];

beforeAll(async () => {
  main = buildCli('serve');
  dir = await mkdtemp(join(tmpdir(), 'mcp-fleet-serve-'));
}, 60_000);

afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await waitFor(() => processesWithMarker(marker).length === 0, { what: 'every child of this file to exit' });
  await rm(dir, { recursive: true, force: true });
});

/** Starts `serve` from the build; its output is collected as it arrives. */
function serve(args: readonly string[]): StartedCli {
  const cli = startCli(main, ['serve', '--port', '0', ...args]);
  started.push(cli.child);
  return cli;
}

/** The command lines (argv) of the direct children of `pid` (Linux /proc). */
function childrenOf(pid: number): string[][] {
  const argvs: string[][] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of stat is the parent pid; the name in field 2 may hold spaces, so split after its ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      argvs.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean));
    } catch {
      // exited while we looked
    }
  }
  return argvs;
}

describe('mcp-fleet serve (built)', () => {
  it('GIVEN its port is taken WHEN serving THEN it exits 1 with the cause, and the children it had started are gone', { timeout: 60_000 }, async () => {
    // serve starts its children while the gateway loads; a gateway that cannot listen must not leave them behind.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    const own = newMarker('cli-serve-port-taken');
    const file = join(dir, 'port-taken.yaml');
    await writeFile(
      file,
      ['servers:', '  crashy:', `    command: ${JSON.stringify(process.execPath)}`, `    args: [${JSON.stringify(CRASHY_ENTRY)}, ${JSON.stringify(own)}]`, ''].join('\n'),
    );
    try {
      const cli = startCli(main, ['serve', '--config', file, '--port', String(port)]);
      started.push(cli.child);
      const [code] = (await within(once(cli.child, 'exit'), 30_000, 'serve to exit when its port is taken')) as [number | null];
      expect(code).toBe(1);
      expect(cli.stderr()).toContain('the port is in use');
      await waitFor(() => processesWithMarker(own).length === 0, { what: 'the children serve started to be stopped' });
    } finally {
      holder.close();
    }
  });

  it(
    'GIVEN --log-format pretty, npx servers installed here and a missing command WHEN serving THEN readable logs, node runs the bins, and the missing one is reported once with its OS error',
    { timeout: 120_000 },
    async () => {
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
          // As in examples/fleet.yaml: a bin name, found in node_modules/.bin above the working directory.
          '  everything:',
          '    command: npx',
          '    args: ["--no-install", "mcp-server-everything"]',
          '  memory:',
          '    command: npx',
          `    args: ["-y", "@modelcontextprotocol/server-memory@${MEMORY_VERSION}"]`,
          '    env: { MEMORY_FILE_PATH: ' + JSON.stringify(join(dir, 'memory.json')) + ' }',
          '  ghost:',
          `    command: ${MISSING}`,
          '    args: ["--api-key", "s3cret-value", "--verbose"]',
          '',
        ].join('\n'),
      );
      const cli = serve(['--config', file, '--log-format', 'pretty']);
      const url = await listeningUrl(cli);
      // The last line of the ghost's block (its state URL), so the lines before it have arrived too.
      await waitFor(() => /ready\/ghost\b/.test(cli.stderr()) && /ready\s+memory/.test(cli.stderr()) && /ready\s+everything/.test(cli.stderr()), {
        timeoutMs: 60_000,
        what: `every server probed (stderr: ${cli.stderr()})`,
      });

      // Pretty log lines: time, level, [server], message, key=value; no JSON.
      const out = cli.stdout();
      expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  \[crashy\] server ready era=legacy/m);
      expect(out.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);

      // The installed packages run with node directly, and the log says so.
      expect(out).toContain(`everything: running installed @modelcontextprotocol/server-everything ${EVERYTHING_VERSION} with node directly instead of npx`);
      expect(out).toContain(`memory: running installed @modelcontextprotocol/server-memory ${MEMORY_VERSION} with node directly instead of npx`);
      const children = childrenOf(cli.child.pid!);
      expect(children).toContainEqual([process.execPath, EVERYTHING_BIN]);
      expect(children).toContainEqual([process.execPath, MEMORY_BIN]);
      expect(children.filter((argv) => argv.some((a) => /npx|npm/.test(a)))).toEqual([]);

      // The server that cannot start: once on stderr, with the command line (its secret masked) and the OS error.
      const err = cli.stderr();
      expect(err.match(/ghost is not ready/g)).toHaveLength(1);
      expect(err).toContain(`ghost is not ready: MCP server "ghost" could not be started: command not found: ${MISSING} (spawn ${MISSING} ENOENT;`);
      expect(err).toContain(`command: ${MISSING} --api-key *** --verbose`);
      expect(err + out).not.toContain('s3cret-value');
      expect(out.match(/ERROR \[ghost\] server failing/g)).toHaveLength(1);

      // Its clients get that cause in their JSON-RPC error, at once.
      const answer = await httpRequest(`${url}/servers/ghost/mcp`, { method: 'POST', headers: POST_HEADERS, body: initializeBody() });
      expect(answer.status).toBe(503);
      expect((JSON.parse(answer.body) as { error: { message: string } }).error.message).toContain(`command not found: ${MISSING} (spawn ${MISSING} ENOENT`);
      await stopCli(cli.child);
    },
  );

  it('GIVEN no TTY and --npx always WHEN serving THEN the log is JSON lines and npx runs as configured', { timeout: 120_000 }, async () => {
    const file = join(dir, 'npx.yaml');
    await writeFile(file, ['servers:', '  everything:', '    command: npx', '    args: ["--no-install", "mcp-server-everything"]', ''].join('\n'));
    const cli = serve(['--config', file, '--npx', 'always']);
    await waitFor(() => /ready\s+everything/.test(cli.stderr()), { timeoutMs: 90_000, what: `everything to be ready (stderr: ${cli.stderr()})` });
    const records = cli
      .stdout()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { level: string; msg: string; server?: string });
    expect(records).toContainEqual(expect.objectContaining({ level: 'info', msg: 'server ready', server: 'everything' }));
    expect(records.filter((r) => r.msg.includes('running installed'))).toEqual([]);
    // The direct child is npm's npx, not the server's bin.
    expect(childrenOf(cli.child.pid!).filter((argv) => argv[1] === EVERYTHING_BIN)).toEqual([]);
    await stopCli(cli.child);
  });
});
