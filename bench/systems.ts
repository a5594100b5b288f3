import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpProtocol, LoadClientId, Target } from './clients.js';
import { processTree } from './proc.js';

/**
 * The systems under test and the workloads they wrap. A system is added in one
 * place: a `SystemSpec` in `SYSTEMS`. One that cannot run here (a mode not built
 * yet, a start that fails) is reported as not available, not as a failure.
 */

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Scratch directory of the bench (gitignored). */
export const TMP_DIR = join(ROOT, '.bench-tmp');

/** A stdio MCP server the systems wrap, and the tool the bench calls on it. */
export interface Workload {
  readonly id: 'echo' | 'everything';
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly tool: string;
  /** Load clients run against it (the SDK client's own CPU caps every system alike, so once is enough). */
  readonly clients: readonly LoadClientId[];
  /** Whether `text` is a correct result for `message`. */
  expect(message: string, text: string): boolean;
}

/** The workloads: a tiny SDK echo server (pure transport overhead), then server-everything. */
export const WORKLOADS: readonly Workload[] = [
  {
    id: 'echo',
    label: 'tiny SDK echo server (bench/fixtures/echo-server.mjs)',
    command: process.execPath,
    args: [join(ROOT, 'bench/fixtures/echo-server.mjs')],
    tool: 'echo',
    clients: ['raw', 'sdk'],
    expect: (message, text) => text === message,
  },
  {
    id: 'everything',
    label: '@modelcontextprotocol/server-everything (tool `echo`)',
    command: process.execPath,
    args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
    tool: 'echo',
    clients: ['raw'],
    expect: (message, text) => text.endsWith(message),
  },
];

/** A started system: where clients connect, which processes are its own, how to stop it. */
export interface RunningSystem {
  readonly target: Target;
  /** Roots of the system's process tree (gateway, or the direct baseline's children). */
  rootPids(): number[];
  /** Stops the system and every process of its tree; never throws. */
  stop(): Promise<void>;
}

/** Parts of the bench a system can run. */
export type BenchPhase = 'first-result' | 'memory' | 'throughput';

/** How children are shared between sessions, as reported in the doc. */
export type ChildSharing = 'per-session' | 'warm pool' | 'shared' | 'client-owned' | 'per-request';

/** A system under test. */
export interface SystemSpec {
  readonly id: string;
  readonly label: string;
  readonly family: 'baseline' | 'mcp-fleet' | 'peer';
  readonly sharing: ChildSharing;
  /** The HTTP protocol its clients speak (the direct baseline: stdio). */
  readonly protocol: HttpProtocol | 'stdio';
  /** Phases measured; a variant that differs only in start-up runs `first-result` alone. @default all */
  readonly phases?: readonly BenchPhase[];
  /** Version string for the doc. */
  version(): string;
  /** Why this system cannot run here, or undefined if it can. */
  unavailable(): string | undefined;
  /** Starts the system around a workload and waits until it accepts connections. */
  start(workload: Workload, options?: StartOptions): Promise<RunningSystem>;
}

/** Options of {@link SystemSpec.start}. */
export interface StartOptions {
  /** Run mcp-fleet under `node --cpu-prof` with profiles written here (on its exit). */
  readonly cpuProfileDir?: string;
}

/** Every process the bench spawned and has not yet stopped, for the exit handler. */
const liveChildren = new Set<ChildProcess>();

/** Kills every process the bench started (last resort on error or signal). */
export function killAllSpawned(): void {
  for (const child of liveChildren) {
    if (child.pid === undefined) continue;
    for (const pid of processTree([child.pid])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  liveChildren.clear();
}

function packageVersion(name: string): string {
  const file = join(ROOT, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ').slice(0, 600);
  } catch {
    return '';
  }
}

/** Spawns a gateway-like process with output to a log file and waits until its port accepts connections. */
async function startListening(
  id: string,
  command: string,
  args: readonly string[],
  port: number,
  startTimeoutMs = 20_000,
): Promise<RunningSystem> {
  mkdirSync(TMP_DIR, { recursive: true });
  const logFile = join(TMP_DIR, `${id}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(command, [...args], { cwd: ROOT, stdio: ['ignore', fd, fd], env: { ...process.env, NO_COLOR: '1' } });
  closeSync(fd);
  liveChildren.add(child);
  let exited = child.exitCode !== null;
  const exitPromise = new Promise<void>((resolveExit) =>
    child.once('exit', () => {
      exited = true;
      resolveExit();
    }),
  );
  child.once('error', () => undefined);

  const stop = async (): Promise<void> => {
    const tree = child.pid === undefined ? [] : processTree([child.pid]);
    if (!exited) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exitPromise;
    clearTimeout(timer);
    // Children a gateway failed to stop are ours too: kill the rest of the tree by pid.
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    liveChildren.delete(child);
  };

  const deadline = Date.now() + startTimeoutMs;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(
        `${id} did not listen on 127.0.0.1:${port} within ${startTimeoutMs} ms${exited ? ' (it exited)' : ''}: ${tail(logFile)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    target: { kind: 'streamable-http', url: '', protocol: 'sessions' },
    rootPids: () => (child.pid === undefined || exited ? [] : [child.pid]),
    stop,
  };
}

function withUrl(system: RunningSystem, url: string, protocol: HttpProtocol): RunningSystem {
  return { ...system, target: { kind: 'streamable-http', url, protocol } };
}

/** Shell-quotes one word for supergateway's `--stdio` command string. */
function shellWord(word: string): string {
  return /^[\w./@:=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const FLEET_MAIN = join(ROOT, 'dist/cli/main.js');

function fleetVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function fleetUnavailable(protocol: HttpProtocol): string | undefined {
  if (!existsSync(FLEET_MAIN)) return 'not built (run `npm run build`)';
  if (!existsSync(join(ROOT, 'dist/gateway'))) {
    return 'not available yet: the gateway is not in this build';
  }
  if (protocol === 'modern' && !existsSync(join(ROOT, 'dist/gateway/modern'))) {
    return 'not available yet: the modern stateless (2026-07-28) mode is not in this build';
  }
  return undefined;
}

/** YAML of an mcp-fleet config; JSON is valid YAML, so no YAML writer is needed. */
function fleetConfig(workload: Workload, server: Record<string, unknown>): string {
  return JSON.stringify(
    {
      gateway: { host: '127.0.0.1', port: 0, logLevel: 'warn', sessionIdleTimeoutSeconds: 600 },
      servers: { [workload.id]: { command: workload.command, args: workload.args, ...server } },
    },
    null,
    2,
  );
}

function fleetSystem(
  id: string,
  label: string,
  sharing: ChildSharing,
  protocol: HttpProtocol,
  server: Record<string, unknown>,
  phases?: readonly BenchPhase[],
): SystemSpec {
  return {
    id,
    label,
    family: 'mcp-fleet',
    sharing,
    protocol,
    ...(phases === undefined ? {} : { phases }),
    version: fleetVersion,
    unavailable: () => fleetUnavailable(protocol),
    async start(workload, options = {}) {
      mkdirSync(TMP_DIR, { recursive: true });
      const configFile = join(TMP_DIR, `${id}-${workload.id}.yaml`);
      writeFileSync(configFile, fleetConfig(workload, server));
      const port = await freePort();
      const profile =
        options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(options.cpuProfileDir, `${id}-${workload.id}`)];
      const system = await startListening(id, process.execPath, [...profile, FLEET_MAIN, 'serve', '--config', configFile, '--port', String(port)], port);
      return withUrl(system, `http://127.0.0.1:${port}/servers/${workload.id}/mcp`, protocol);
    },
  };
}

/** The systems under test, in the order of the report. */
export const SYSTEMS: readonly SystemSpec[] = [
  {
    id: 'direct',
    label: 'direct stdio (no proxy)',
    family: 'baseline',
    sharing: 'client-owned',
    protocol: 'stdio',
    version: () => `node ${process.version}`,
    unavailable: () => undefined,
    async start(workload) {
      const pids = new Set<number>();
      return {
        target: { kind: 'stdio', command: workload.command, args: workload.args, pids },
        rootPids: () => [...pids],
        // Sessions own their children and end them on close.
        stop: async () => undefined,
      };
    },
  },
  // Defaults of the legacy mode: a child per session, one spare child kept running for the next session.
  fleetSystem('mcp-fleet', 'mcp-fleet, legacy sessions (Streamable HTTP, child per session, 1 warm spare)', 'per-session', 'sessions', {
    maxSessions: 200,
  }),
  // The same with no spare: a new session waits for its child to start (cold).
  fleetSystem(
    'mcp-fleet-cold',
    'mcp-fleet, legacy sessions, no spare (cold child per session)',
    'per-session',
    'sessions',
    { maxSessions: 200, spares: 0 },
    ['first-result'],
  ),
  // Legacy sessions multiplexed on one shared child, the way mcp-proxy runs.
  fleetSystem('mcp-fleet-shared', 'mcp-fleet, legacy sessions, policy: shared (one child)', 'shared', 'sessions', {
    maxSessions: 200,
    policy: 'shared',
  }),
  // Defaults of the modern mode: a warm pool (min 1, max 4) shared by all requests.
  fleetSystem('mcp-fleet-modern', 'mcp-fleet, modern stateless 2026-07-28 (warm pool)', 'warm pool', 'modern', {
    maxSessions: 200,
  }),
  {
    id: 'supergateway',
    label: 'supergateway --stateful (child per session)',
    family: 'peer',
    sharing: 'per-session',
    protocol: 'sessions',
    version: () => packageVersion('supergateway'),
    unavailable: () => undefined,
    async start(workload) {
      const port = await freePort();
      const stdioCmd = [workload.command, ...workload.args].map(shellWord).join(' ');
      const system = await startListening('supergateway', process.execPath, [
        join(ROOT, 'node_modules/supergateway/dist/index.js'),
        '--stdio',
        stdioCmd,
        '--outputTransport',
        'streamableHttp',
        '--stateful',
        '--port',
        String(port),
        '--logLevel',
        'none',
      ], port);
      return withUrl(system, `http://127.0.0.1:${port}/mcp`, 'sessions');
    },
  },
  mcpProxySystem('sessions'),
  mcpProxySystem('modern'),
];

function mcpProxySystem(protocol: HttpProtocol): SystemSpec {
  return {
    id: protocol === 'modern' ? 'mcp-proxy-modern' : 'mcp-proxy',
    label: protocol === 'modern' ? 'mcp-proxy, modern 2026-07-28 (one shared child)' : 'mcp-proxy, sessions (one shared child)',
    family: 'peer',
    sharing: 'shared',
    protocol,
    version: () => packageVersion('mcp-proxy'),
    unavailable: () => undefined,
    async start(workload) {
      const port = await freePort();
      const system = await startListening('mcp-proxy', process.execPath, [
        join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs'),
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--server',
        'stream',
        '--',
        workload.command,
        ...workload.args,
      ], port);
      return withUrl(system, `http://127.0.0.1:${port}/mcp`, protocol);
    },
  };
}

/** The commit checked out (first 12 hex digits), read from .git without running git. */
export function gitCommit(): string {
  try {
    const head = readFileSync(join(ROOT, '.git/HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 12);
    const ref = head.slice(5);
    const file = join(ROOT, '.git', ref);
    if (existsSync(file)) return readFileSync(file, 'utf8').trim().slice(0, 12);
    const packed = readFileSync(join(ROOT, '.git/packed-refs'), 'utf8');
    return packed.split('\n').find((l) => l.endsWith(` ${ref}`))?.slice(0, 12) ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
