import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../gateway/helpers.js';

/** The built CLI, as `npm ci` (its `prepare` script) or `npm run build` leaves it. */
export const BUILT_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** What a run of the CLI left. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * An environment with no AWS credentials anywhere: no AWS_* variables, empty
 * shared config and credentials files, and no instance metadata to fall back to.
 */
export async function emptyAwsEnv(extra: Record<string, string> = {}): Promise<{ env: NodeJS.ProcessEnv; dir: string; configFile: string; credentialsFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-fleet-aws-'));
  const configFile = join(dir, 'config');
  const credentialsFile = join(dir, 'credentials');
  await writeFile(configFile, '');
  await writeFile(credentialsFile, '');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('CDK_')) env[k] = v;
  Object.assign(env, { AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_EC2_METADATA_DISABLED: 'true', NO_COLOR: '1' }, extra);
  return { env, dir, configFile, credentialsFile };
}

/** Runs the built CLI to its end, with stdin closed (not a terminal), killing it past `timeoutMs`. */
export async function runBuiltCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number, cwd = REPO_ROOT): Promise<CliRun> {
  if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: run npm run build first`);
  const child = spawn(process.execPath, [BUILT_CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    if (child.signalCode === 'SIGKILL') throw new Error(`mcp-fleet ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr so far:\n${stderr}`);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
