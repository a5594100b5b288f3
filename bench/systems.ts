import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpProtocol, Target, ToolSpec } from './clients.js';
import { processTree } from './proc.js';

/**
 * The systems under test and the stdio servers (workloads) they wrap. A system
 * is added in one place: a `SystemSpec` in `SYSTEMS`. One that cannot run here
 * (not built, a start that fails) is reported as such, not as a failure.
 */

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Scratch directory of the bench (gitignored). */
export const TMP_DIR = join(ROOT, '.bench-tmp');
/** The built mcp-fleet CLI that `npm run bench` measures. */
export const FLEET_MAIN = join(ROOT, 'dist/cli/main.js');

/** Ids of the workloads. */
export type WorkloadId = 'echo' | 'everything' | 'memory';

/** A stdio MCP server the systems wrap, and the tool the bench calls on it. */
export interface Workload {
  readonly id: WorkloadId;
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Environment of the server on top of the system's own. */
  readonly env?: Readonly<Record<string, string>>;
  readonly tool: ToolSpec;
  /** Whether `text` is a correct result for `message`. */
  expect(message: string, text: string): boolean;
}

const echoTool = (name: string): ToolSpec => ({ name, arguments: (message) => ({ message }) });

/**
 * The workloads: a tiny SDK echo server (pure transport overhead: the load
 * phases), and the example fleet's two servers (examples/fleet.yaml: the memory
 * phase), run with `node <installed bin>` so that every system wraps the same process.
 */
export const WORKLOADS: readonly Workload[] = [
  {
    id: 'echo',
    label: 'tiny SDK echo server (bench/fixtures/echo-server.mjs)',
    command: process.execPath,
    args: [join(ROOT, 'bench/fixtures/echo-server.mjs')],
    tool: echoTool('echo'),
    expect: (message, text) => text === message,
  },
  {
    id: 'everything',
    label: '@modelcontextprotocol/server-everything (tool `echo`), as in examples/fleet.yaml',
    command: process.execPath,
    args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
    tool: echoTool('echo'),
    expect: (message, text) => text.endsWith(message),
  },
  {
    id: 'memory',
    label: '@modelcontextprotocol/server-memory (tool `read_graph`), as in examples/fleet.yaml',
    command: process.execPath,
    args: [join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js')],
    env: { MEMORY_FILE_PATH: join(TMP_DIR, 'memory-graph.jsonl') },
    tool: { name: 'read_graph', arguments: () => ({}) },
    expect: (_message, text) => text.includes('entities'),
  },
];

/** The example fleet's servers (examples/fleet.yaml), for the memory phase. */
export const FLEET_WORKLOADS: readonly WorkloadId[] = ['everything', 'memory'];

/** The workload with `id`. */
export function workload(id: string): Workload {
  const found = WORKLOADS.find((w) => w.id === id);
  if (found === undefined) throw new Error(`unknown workload ${id} (known: ${WORKLOADS.map((w) => w.id).join(', ')})`);
  return found;
}

/** A started system: where clients connect, which processes are its own, how to stop it. */
export interface RunningSystem {
  /** Where a client reaches each workload the system was started with. */
  target(workload: WorkloadId): Target;
  /** Roots of the system's process tree: the gateway process(es), or the direct baseline's children. */
  rootPids(): number[];
  /** True when the roots are the stdio children themselves (the direct baseline: no process in between). */
  readonly rootsAreChildren: boolean;
  /** Stops the system and every process of its tree; never throws. */
  stop(): Promise<void>;
}

/**
 * Phases of the bench. `throughput`: calls/s and latency by client and
 * concurrency; `cpu`: CPU per call, gateway apart from children, by payload;
 * `memory`: idle sessions of the example fleet; `cold`: a system's first result
 * from spawn, and a new client's first result with a warm child; `ready`:
 * `serve` start to ready for examples/fleet.yaml; `profile`: a CPU profile per
 * system; `cli`: the CLI's own start-up (bench/cli-startup.ts).
 */
export const PHASES = ['throughput', 'cpu', 'memory', 'cold', 'ready', 'profile', 'cli'] as const;
/** One phase of the bench. */
export type BenchPhase = (typeof PHASES)[number];

/** How children are shared between sessions, as reported in the doc. */
export type ChildSharing = 'default policy' | 'per-session' | 'pool' | 'shared' | 'client-owned' | 'none';

/** Options of {@link SystemSpec.start} and {@link SystemSpec.unavailable}. */
export interface StartOptions {
  /** Run the system's Node process under `--cpu-prof`, profiles written here when it exits. */
  readonly cpuProfileDir?: string;
  /** The mcp-fleet CLI to run. @default FLEET_MAIN */
  readonly fleetMain?: string;
}

/** A system under test. */
export interface SystemSpec {
  readonly id: string;
  readonly label: string;
  readonly family: 'floor' | 'baseline' | 'mcp-fleet' | 'peer';
  readonly sharing: ChildSharing;
  /** The protocol its clients speak (the direct baseline: stdio). */
  readonly protocol: HttpProtocol | 'stdio';
  /** Phases it takes part in. */
  readonly phases: readonly BenchPhase[];
  /** Version string for the doc. */
  version(): string;
  /** Why this system cannot run here, or undefined if it can. */
  unavailable(options?: StartOptions): string | undefined;
  /** Starts the system around the workloads and waits until it accepts connections. */
  start(workloads: readonly Workload[], options?: StartOptions): Promise<RunningSystem>;
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

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
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

/** A spawned server process: its pid while it runs, and how to stop it with its whole tree. */
export interface SpawnedProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  pid(): number | undefined;
  exited(): boolean;
  stop(): Promise<void>;
}

/** Spawns a long-running process of the bench with output to .bench-tmp/<id>.log. */
export function spawnLogged(id: string, command: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): SpawnedProcess {
  mkdirSync(TMP_DIR, { recursive: true });
  const logFile = join(TMP_DIR, `${id}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(command, [...args], { cwd: ROOT, stdio: ['ignore', fd, fd], env: { ...process.env, NO_COLOR: '1', ...env } });
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
  return {
    child,
    logFile,
    pid: () => (exited ? undefined : child.pid),
    exited: () => exited,
    async stop() {
      const tree = child.pid === undefined ? [] : processTree([child.pid]);
      if (!exited) child.kill('SIGTERM');
      // Long enough for a drain and for `--cpu-prof` to write its profile.
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
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
    },
  };
}

/** Spawns a gateway-like process and waits until its port accepts connections. */
async function startListening(
  id: string,
  command: string,
  args: readonly string[],
  port: number,
  env: Readonly<Record<string, string>> = {},
  startTimeoutMs = 30_000,
): Promise<SpawnedProcess> {
  const proc = spawnLogged(id, command, args, env);
  const deadline = Date.now() + startTimeoutMs;
  while (!(await canConnect(port))) {
    if (proc.exited() || Date.now() > deadline) {
      await proc.stop();
      throw new Error(
        `${id} did not listen on 127.0.0.1:${port} within ${startTimeoutMs} ms${proc.exited() ? ' (it exited)' : ''}: ${tail(proc.logFile)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return proc;
}

/** `--cpu-prof` flags for a Node process whose profile goes to `dir/<name>`, or none. */
function profileFlags(options: StartOptions, name: string): string[] {
  return options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(options.cpuProfileDir, name)];
}

/** Shell-quotes one word for supergateway's `--stdio` command string. */
function shellWord(word: string): string {
  return /^[\w./@:=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A system made of one process per workload (a peer serves one stdio server per instance). */
function perWorkload(
  instances: ReadonlyArray<{ workload: Workload; proc: SpawnedProcess; target: Target }>,
): RunningSystem {
  return {
    target: (id) => {
      const found = instances.find((i) => i.workload.id === id);
      if (!found) throw new Error(`not started with workload ${id}`);
      return found.target;
    },
    rootPids: () => instances.map((i) => i.proc.pid()).filter((p): p is number => p !== undefined),
    rootsAreChildren: false,
    stop: async () => {
      await Promise.all(instances.map((i) => i.proc.stop()));
    },
  };
}

function fleetVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return `${pkg.version} (${gitCommit()})`;
}

function fleetUnavailable(options: StartOptions = {}): string | undefined {
  const main = options.fleetMain ?? FLEET_MAIN;
  if (!existsSync(main)) return `not built (no ${main}: run \`npm run build\`)`;
  return undefined;
}

/** The largest request body the bench sends (8 MiB of payload plus the JSON around it) fits, with room. */
const BENCH_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Enough for 200 idle sessions of one server plus the clients of the other phases. */
const BENCH_MAX_SESSIONS = 256;
/** The 8 MiB rows' answers are lines of a little more than 8 MiB: above the default servers.<name>.maxMessageBytes. */
const BENCH_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/** An mcp-fleet config serving the workloads; JSON is valid YAML, so no YAML writer is needed. */
function fleetConfig(workloads: readonly Workload[], server: Record<string, unknown>, gateway: Record<string, unknown> = {}): string {
  const servers: Record<string, unknown> = {};
  for (const w of workloads) {
    servers[w.id] = { command: w.command, args: w.args, ...(w.env ? { env: w.env } : {}), maxSessions: BENCH_MAX_SESSIONS, maxMessageBytes: BENCH_MAX_MESSAGE_BYTES, ...server };
  }
  return JSON.stringify(
    {
      gateway: { host: '127.0.0.1', port: 0, logLevel: 'warn', maxBodyBytes: BENCH_MAX_BODY_BYTES, shutdownGraceSeconds: 5, ...gateway },
      servers,
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
  phases: readonly BenchPhase[] = ['throughput', 'cpu', 'memory', 'cold', 'profile'],
): SystemSpec {
  return {
    id,
    label,
    family: 'mcp-fleet',
    sharing,
    protocol,
    phases,
    version: fleetVersion,
    unavailable: fleetUnavailable,
    async start(workloads, options = {}) {
      mkdirSync(TMP_DIR, { recursive: true });
      const name = `${id}-${workloads.map((w) => w.id).join('+')}`;
      const configFile = join(TMP_DIR, `${name}.yaml`);
      writeFileSync(configFile, fleetConfig(workloads, server));
      const port = await freePort();
      const main = options.fleetMain ?? FLEET_MAIN;
      const proc = await startListening(id, process.execPath, [...profileFlags(options, name), main, 'serve', '--config', configFile, '--port', String(port)], port);
      return perWorkload(
        workloads.map((w) => ({ workload: w, proc, target: { kind: 'streamable-http', url: `http://127.0.0.1:${port}/servers/${w.id}/mcp`, protocol } })),
      );
    },
  };
}

/**
 * The adapter comparison: the same built gateway behind @hono/node-server (its
 * lightweight Request/Response) instead of mcp-fleet's own Node adapter.
 */
function honoSystem(): SystemSpec {
  const base = fleetSystem('mcp-fleet-hono', 'mcp-fleet, default policy, legacy sessions, served through @hono/node-server', 'default policy', 'sessions', {}, ['throughput', 'cpu', 'profile']);
  return {
    ...base,
    version: () => `${fleetVersion()} + @hono/node-server ${packageVersion('@hono/node-server')}`,
    async start(workloads, options = {}) {
      mkdirSync(TMP_DIR, { recursive: true });
      const name = `mcp-fleet-hono-${workloads.map((w) => w.id).join('+')}`;
      const configFile = join(TMP_DIR, `${name}.yaml`);
      writeFileSync(configFile, fleetConfig(workloads, {}));
      const port = await freePort();
      const proc = await startListening('mcp-fleet-hono', process.execPath, [...profileFlags(options, name), join(ROOT, 'bench/fixtures/hono-gateway.mjs'), configFile, String(port)], port);
      return perWorkload(workloads.map((w) => ({ workload: w, proc, target: { kind: 'streamable-http', url: `http://127.0.0.1:${port}/servers/${w.id}/mcp`, protocol: 'sessions' } })));
    },
  };
}

/**
 * The cost of telemetry: `mcp-fleet` with `gateway.telemetry` on, exporting every
 * span (sampling 1) and the duration histograms over OTLP HTTP/protobuf to a sink
 * process on 127.0.0.1 that answers 200 and keeps nothing. The sink stands for a
 * collector beside the gateway (the ADOT sidecar on ECS); its own CPU is not the
 * gateway's and is left out of the system's process tree.
 */
function otelSystem(): SystemSpec {
  const base = fleetSystem('mcp-fleet-otel', 'mcp-fleet, default policy, legacy sessions, OpenTelemetry on (OTLP to a local sink)', 'default policy', 'sessions', {}, ['throughput', 'cpu', 'memory', 'profile']);
  return {
    ...base,
    async start(workloads, options = {}) {
      mkdirSync(TMP_DIR, { recursive: true });
      const sinkPort = await freePort();
      const sink = await startListening('otlp-sink', process.execPath, [join(ROOT, 'bench/fixtures/otlp-sink.mjs'), String(sinkPort)], sinkPort);
      try {
        const name = `mcp-fleet-otel-${workloads.map((w) => w.id).join('+')}`;
        const configFile = join(TMP_DIR, `${name}.yaml`);
        writeFileSync(configFile, fleetConfig(workloads, {}, { telemetry: { enabled: true, endpoint: `http://127.0.0.1:${sinkPort}`, samplingRatio: 1, metricsIntervalSeconds: 10 } }));
        const port = await freePort();
        const main = options.fleetMain ?? FLEET_MAIN;
        const proc = await startListening('mcp-fleet-otel', process.execPath, [...profileFlags(options, name), main, 'serve', '--config', configFile, '--port', String(port)], port);
        const gateway = perWorkload(workloads.map((w) => ({ workload: w, proc, target: { kind: 'streamable-http', url: `http://127.0.0.1:${port}/servers/${w.id}/mcp`, protocol: 'sessions' } })));
        return {
          ...gateway,
          stop: async () => {
            await gateway.stop();
            await sink.stop();
          },
        };
      } catch (error) {
        await sink.stop();
        throw error;
      }
    },
  };
}

function mcpProxySystem(protocol: HttpProtocol): SystemSpec {
  const id = protocol === 'modern' ? 'mcp-proxy-modern' : 'mcp-proxy';
  return {
    id,
    label: protocol === 'modern' ? 'mcp-proxy, modern 2026-07-28 (one shared child)' : 'mcp-proxy, sessions (one shared child)',
    family: 'peer',
    sharing: 'shared',
    protocol,
    // Its modern mode is the same process as its session mode: memory is measured once.
    phases: protocol === 'modern' ? ['throughput', 'cpu', 'cold', 'profile'] : ['throughput', 'cpu', 'memory', 'cold', 'profile'],
    version: () => packageVersion('mcp-proxy'),
    unavailable: () => undefined,
    async start(workloads, options = {}) {
      const instances = await Promise.all(
        workloads.map(async (w) => {
          const port = await freePort();
          const proc = await startListening(
            `${id}-${w.id}`,
            process.execPath,
            [
              ...profileFlags(options, `${id}-${w.id}`),
              join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs'),
              '--host',
              '127.0.0.1',
              '--port',
              String(port),
              '--server',
              'stream',
              '--',
              w.command,
              ...w.args,
            ],
            port,
            w.env,
          );
          return { workload: w, proc, target: { kind: 'streamable-http', url: `http://127.0.0.1:${port}/mcp`, protocol } as const };
        }),
      );
      return perWorkload(instances);
    },
  };
}

/** A reference system of the bench's own: one Node script of bench/fixtures/ serving every workload on one port. */
function fixtureSystem(spec: {
  readonly id: string;
  readonly label: string;
  readonly family: SystemSpec['family'];
  readonly sharing: ChildSharing;
  readonly script: string;
  /** Arguments after the port. */
  readonly args: (workloads: readonly Workload[]) => string[];
  /** The URL path serving a workload. */
  readonly path: (workload: Workload) => string;
}): SystemSpec {
  return {
    id: spec.id,
    label: spec.label,
    family: spec.family,
    sharing: spec.sharing,
    protocol: 'sessions',
    // In the cold phase too: a new client's first result pays a wake-up of each idle process on its way, and the floors show that share.
    phases: ['throughput', 'cpu', 'cold', 'profile'],
    version: () => `node ${process.version}`,
    unavailable: () => undefined,
    async start(workloads, options = {}) {
      const port = await freePort();
      const name = `${spec.id}-${workloads.map((w) => w.id).join('+')}`;
      const args = [...profileFlags(options, name), join(ROOT, 'bench/fixtures', spec.script), String(port), ...spec.args(workloads)];
      const proc = await startListening(spec.id, process.execPath, args, port);
      return perWorkload(
        workloads.map((w) => ({ workload: w, proc, target: { kind: 'streamable-http', url: `http://127.0.0.1:${port}${spec.path(w)}`, protocol: 'sessions' } })),
      );
    },
  };
}

/** The systems under test, in the order of the report. */
export const SYSTEMS: readonly SystemSpec[] = [
  fixtureSystem({
    id: 'floor',
    label: 'bare node:http JSON-RPC echo (no MCP layer, no child): the HTTP floor',
    family: 'floor',
    sharing: 'none',
    script: 'floor-server.mjs',
    args: () => [],
    path: () => '/mcp',
  }),
  fixtureSystem({
    id: 'relay-floor',
    label: 'minimal stdio relay: node:http to one shared child per server, ids rewritten, no MCP layer (the relay floor)',
    family: 'baseline',
    sharing: 'shared',
    script: 'relay-floor.mjs',
    args: (workloads) => [JSON.stringify(workloads.map((w) => ({ id: w.id, command: w.command, args: w.args, env: w.env ?? {} })))],
    path: (w) => `/servers/${w.id}/mcp`,
  }),
  {
    id: 'direct',
    label: 'direct stdio (the client spawns the server; no proxy)',
    family: 'baseline',
    sharing: 'client-owned',
    protocol: 'stdio',
    phases: ['throughput', 'cpu', 'profile'],
    version: () => `node ${process.version}`,
    unavailable: () => undefined,
    async start(workloads, options = {}) {
      const pids = new Set<number>();
      return {
        target: (id) => {
          const w = workloads.find((x) => x.id === id);
          if (!w) throw new Error(`not started with workload ${id}`);
          // Profiling the direct baseline profiles its stdio server.
          const args = w.command === process.execPath ? [...profileFlags(options, `direct-${w.id}`), ...w.args] : w.args;
          return { kind: 'stdio', command: w.command, args, pids };
        },
        rootPids: () => [...pids],
        rootsAreChildren: true,
        // Sessions own their children and end them on close.
        stop: async () => undefined,
      };
    },
  },
  fleetSystem('mcp-fleet', 'mcp-fleet, default policy (pool), legacy sessions', 'default policy', 'sessions', {}),
  fleetSystem('mcp-fleet-per-session', 'mcp-fleet, legacy sessions, policy: per-session (a child each)', 'per-session', 'sessions', { policy: 'per-session' }),
  fleetSystem('mcp-fleet-shared', 'mcp-fleet, legacy sessions, policy: shared (one child)', 'shared', 'sessions', { policy: 'shared' }),
  fleetSystem('mcp-fleet-modern', 'mcp-fleet, modern stateless 2026-07-28, default policy', 'default policy', 'modern', {}),
  honoSystem(),
  otelSystem(),
  // A child per session with no spare: a new session waits for its child to start.
  fleetSystem('mcp-fleet-cold', 'mcp-fleet, policy: per-session, spares: 0 (a new session starts its child)', 'per-session', 'sessions', { policy: 'per-session', spares: 0 }, ['cold']),
  {
    id: 'supergateway',
    label: 'supergateway --stateful (child per session)',
    family: 'peer',
    sharing: 'per-session',
    protocol: 'sessions',
    phases: ['throughput', 'cpu', 'memory', 'cold', 'profile'],
    version: () => packageVersion('supergateway'),
    unavailable: () => undefined,
    async start(workloads, options = {}) {
      const instances = await Promise.all(
        workloads.map(async (w) => {
          const port = await freePort();
          const stdioCmd = [w.command, ...w.args].map(shellWord).join(' ');
          const proc = await startListening(
            `supergateway-${w.id}`,
            process.execPath,
            [
              ...profileFlags(options, `supergateway-${w.id}`),
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
            ],
            port,
            w.env,
          );
          return { workload: w, proc, target: { kind: 'streamable-http', url: `http://127.0.0.1:${port}/mcp`, protocol: 'sessions' } as const };
        }),
      );
      return perWorkload(instances);
    },
  },
  mcpProxySystem('sessions'),
  mcpProxySystem('modern'),
];

/** The system with `id`. */
export function system(id: string): SystemSpec | undefined {
  return SYSTEMS.find((s) => s.id === id);
}

/** The commit checked out (first 12 hex digits), read from .git without running git (worktrees included). */
export function gitCommit(): string {
  try {
    let gitDir = join(ROOT, '.git');
    // A worktree's .git is a file: `gitdir: <path>`; refs live in the common dir.
    if (!existsSync(join(gitDir, 'HEAD'))) gitDir = readFileSync(gitDir, 'utf8').trim().replace(/^gitdir: /, '');
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 12);
    const ref = head.slice(5);
    const common = existsSync(join(gitDir, 'commondir')) ? resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim()) : gitDir;
    for (const dir of [gitDir, common]) {
      const file = join(dir, ref);
      if (existsSync(file)) return readFileSync(file, 'utf8').trim().slice(0, 12);
    }
    const packed = readFileSync(join(common, 'packed-refs'), 'utf8');
    return packed.split('\n').find((l) => l.endsWith(` ${ref}`))?.slice(0, 12) ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
