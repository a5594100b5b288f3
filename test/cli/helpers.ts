import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { buildFleet } from '../../bench/build.js';
import { TMP_DIR, WORKLOADS } from '../../bench/systems.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { REPO_ROOT, waitFor, within } from '../gateway/helpers.js';

/** What a finished CLI run left: exit code or signal, and both streams. */
export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Builds the CLI from src/ into a scratch directory of its own (transpiled, as
 * bench/build.ts does) and returns its entry, so a test runs a built binary as a
 * user would without racing other tests over dist/.
 */
export function buildCli(name: string): string {
  return buildFleet(join(TMP_DIR, `cli-${name}`));
}

/** Runs `node [nodeArgs] main args` from the repository root and resolves when it ends (never rejects on a non-zero exit). */
export function runBuiltCli(
  main: string,
  args: readonly string[],
  options: { readonly nodeArgs?: readonly string[]; readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...(options.nodeArgs ?? []), main, ...args],
      { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1', ...options.env }, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const e = error as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals; killed?: boolean }) | null;
        if (e && typeof e.code === 'string') return reject(e);
        if (e?.killed) return reject(new Error(`mcp-fleet ${args.join(' ')} did not end within ${options.timeoutMs ?? 60_000} ms`));
        resolve({ code: e ? ((e.code as number | undefined) ?? null) : 0, signal: e?.signal ?? null, stdout, stderr });
      },
    );
  });
}

/** A CLI process whose output is collected as it arrives. */
export interface StartedCli {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
}

/** Starts `node [nodeArgs] entry args` from the repository root, without colours; the caller stops it. */
export function startCli(
  entry: string,
  args: readonly string[],
  options: { readonly nodeArgs?: readonly string[]; readonly env?: Readonly<Record<string, string>> } = {},
): StartedCli {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entry, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return { child, stdout: () => stdout, stderr: () => stderr };
}

/** The URL of `serve`'s "listening on" line; on a timeout, the error shows stderr as it was then. */
export async function listeningUrl(cli: StartedCli, timeoutMs = 45_000): Promise<string> {
  try {
    return await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(cli.stderr())?.[1], { timeoutMs, what: 'the "listening on" line' });
  } catch (error) {
    throw new Error(`${(error as Error).message} (stderr: ${cli.stderr()})`, { cause: error });
  }
}

/**
 * Stops a CLI process with SIGTERM and waits for it to exit. If it has not exited
 * within `timeoutMs`, it is killed with SIGKILL and the wait fails.
 */
export async function stopCli(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  try {
    await within(exited, timeoutMs, 'the CLI to exit after SIGTERM');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** A built `serve` of the bench's echo server alone (see {@link serveBenchEcho}). */
export interface ServedEcho {
  readonly cli: StartedCli;
  /** The echo server's Streamable HTTP endpoint. */
  readonly url: string;
  /** Stops `serve` with SIGTERM (so it stops its child too) and removes its config. */
  stop(): Promise<void>;
}

/** Builds the CLI as `name` and runs `serve` with node flags `nodeArgs` for the bench's echo server alone, on a free port. */
export async function serveBenchEcho(name: string, nodeArgs: readonly string[]): Promise<ServedEcho> {
  const echo = WORKLOADS.find((w) => w.id === 'echo')!;
  const main = buildCli(name);
  const dir = await mkdtemp(join(tmpdir(), `mcp-fleet-${name}-`));
  const config = join(dir, 'fleet.yaml');
  await writeFile(config, JSON.stringify({ servers: { echo: { command: echo.command, args: echo.args } } }));
  const cli = startCli(main, ['serve', '--config', config, '--port', '0'], { nodeArgs });
  const stop = async (): Promise<void> => {
    await stopCli(cli.child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    return { cli, url: `${await listeningUrl(cli)}/servers/echo/mcp`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
