import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { buildFleet } from '../../bench/build.js';
import { TMP_DIR } from '../../bench/systems.js';
import { REPO_ROOT } from '../gateway/helpers.js';

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
