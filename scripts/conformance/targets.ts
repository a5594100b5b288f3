import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Leg } from './suite.js';

/**
 * What the conformance run talks to: the stdio servers the gateway fronts, the
 * legs run against each, and the processes (gateway, and for comparison a
 * server's own HTTP transport) started on 127.0.0.1.
 */

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A stdio server the suite is run against through the gateway. */
export interface Target {
  readonly name: string;
  readonly description: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The same server on its own Streamable HTTP transport, for `--direct` comparison runs. */
  readonly direct?: { readonly args: readonly string[]; readonly portEnv: string; readonly path: string };
}

const EVERYTHING = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');

/** Every target; `--target` picks some. */
export const TARGETS: readonly Target[] = [
  {
    name: 'fixture',
    description: 'test/fixtures/conformance-server.mjs: SDK v2 serveStdio, implements what the server scenarios ask for',
    command: process.execPath,
    args: [join(ROOT, 'test', 'fixtures', 'conformance-server.mjs')],
    // Pooled children must share the requestState key (the rounds of one call may land on different children).
    env: { CONFORMANCE_STATE_KEY: '${CONFORMANCE_STATE_KEY}' },
  },
  {
    name: 'everything',
    description: '@modelcontextprotocol/server-everything (stdio): a real server that lacks most of the scenarios\' test tools',
    command: process.execPath,
    args: [EVERYTHING, 'stdio'],
    direct: { args: [EVERYTHING, 'streamableHttp'], portEnv: 'PORT', path: '/mcp' },
  },
];

/** Every leg; the first four run by default, `all` on request. */
export const LEGS: readonly Leg[] = [
  { name: '2026-07-28', args: ['--requirements', '2026-07-28'], requirements: '2026-07-28' },
  { name: '2025-11-25', args: ['--requirements', '2025-11-25'], requirements: '2025-11-25' },
  { name: '2025-06-18', args: ['--suite', 'all', '--spec-version', '2025-06-18'] },
  { name: '2025-03-26', args: ['--suite', 'all', '--spec-version', '2025-03-26'] },
  // Everything the suite has, each scenario at its own revision; what the requirement sets leave unscored stays unscored.
  { name: 'all', args: ['--suite', 'all'], notScoredFrom: ['2026-07-28', '2025-11-25'] },
];
/** Legs run when `--legs` is not given. */
export const DEFAULT_LEGS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'];

/** A process this run started, stopped at the end. */
export interface Started {
  readonly url: string;
  stop(): Promise<void>;
}

/** Waits until `child` writes a line matching `pattern` to stderr or stdout; fails if it exits or `timeoutMs` passes first. */
function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolvePromise, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) done(() => resolvePromise(match));
    };
    const onExit = (code: number | null): void => done(() => reject(new Error(`${what} exited (${code}) before it was ready:\n${seen.slice(-2000)}`)));
    const timer = setTimeout(() => done(() => reject(new Error(`${what} was not ready within ${timeoutMs / 1000}s:\n${seen.slice(-2000)}`))), timeoutMs);
    const done = (settle: () => void): void => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      settle();
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Stops a child: `signal`, then SIGKILL after `graceMs`. */
function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolvePromise();
    });
    child.kill(signal);
  });
}

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  readonly targets: readonly Target[];
  /** servers.<name>.policy for every target; the gateway's default when absent. */
  readonly policy?: 'per-session' | 'pool' | 'shared';
  /** servers.<name>.pool.min for every target (max becomes at least 4); the gateway's default (1) when absent. */
  readonly poolMin?: number;
  /** The config and the gateway's log go here. */
  readonly outDir: string;
  readonly readyTimeoutMs: number;
  /** Run src/cli/main.ts with tsx instead of the built dist/cli/main.js. */
  readonly fromSources?: boolean;
}

/** The running gateway: its base URL and each target's Streamable HTTP URL. */
export interface RunningGateway extends Started {
  urlOf(target: string): string;
}

/**
 * Writes a config fronting the targets and starts `node dist/cli/main.js serve`
 * (or the sources through tsx)
 * on 127.0.0.1 with a free port; resolves once /ready answers 200.
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const servers = Object.fromEntries(
    options.targets.map((t) => [
      t.name,
      {
        command: t.command,
        args: t.args,
        ...(t.env ? { env: t.env } : {}),
        ...(options.policy ? { policy: options.policy } : {}),
        ...(options.poolMin !== undefined ? { pool: { min: options.poolMin, max: Math.max(4, options.poolMin) } } : {}),
      },
    ]),
  );
  const configFile = join(options.outDir, 'fleet.json');
  writeFileSync(configFile, JSON.stringify({ gateway: { host: '127.0.0.1', port: 0, logLevel: 'warn' }, servers }, null, 2));
  const cli = options.fromSources ? ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')] : [join(ROOT, 'dist', 'cli', 'main.js')];
  const child = spawn(process.execPath, [...cli, 'serve', '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', CONFORMANCE_STATE_KEY: randomBytes(32).toString('base64url') },
  });
  const log = createWriteStream(join(options.outDir, 'gateway.log'));
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  child.once('exit', () => log.end());
  const stop = (): Promise<void> => stopChild(child, 'SIGINT', 30_000);
  try {
    const [, base] = await waitForLine(child, /listening on (http:\/\/\S+)/, options.readyTimeoutMs, 'the gateway');
    await waitForReady(`${base}/ready`, options.readyTimeoutMs);
    return { url: base!, urlOf: (target) => `${base}/servers/${target}/mcp`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls /ready until 200; its last 503 body names the server that is not ready. */
async function waitForReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const response = await fetch(url).catch((e: Error) => e);
    if (!(response instanceof Error)) {
      if (response.status === 200) return;
      last = `${response.status} ${await response.text()}`;
    } else last = response.message;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000}s (last: ${last})`);
}

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePromise(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a target on its own Streamable HTTP transport (no gateway), for a
 * side-by-side run. The server decides its own bind address: server-everything
 * listens on every interface, so run `--direct` on a machine where that is fine.
 */
export async function startDirect(target: Target, outDir: string, readyTimeoutMs: number): Promise<Started> {
  if (!target.direct) throw new Error(`target ${target.name} has no direct HTTP mode`);
  const port = await freePort();
  const child = spawn(target.command, target.direct.args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [target.direct.portEnv]: String(port) },
  });
  const log = createWriteStream(join(outDir, `${target.name}-direct.log`));
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once('exit', () => log.end());
  const stop = (): Promise<void> => stopChild(child, 'SIGTERM', 5_000);
  try {
    await waitForLine(child, new RegExp(`listening on port ${port}`, 'i'), readyTimeoutMs, `${target.name} (direct)`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}${target.direct.path}`, stop };
}
