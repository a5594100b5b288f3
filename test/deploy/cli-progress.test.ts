import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyAwsEnv, runBuiltCli } from './built-cli.js';

/**
 * `synth` as a user runs it in CI (stderr not a terminal): it says what it is
 * doing, step by step, with the elapsed time, in plain lines, while stdout
 * carries only the summary a user may pipe.
 */

const STAMP = String.raw`\[\s*(?:\d+\.\ds|\d+m\d\ds)\]`;

describe('synth progress (built CLI, stderr not a terminal)', () => {
  // Most of a quiet run (10-40 s) is the npm registry answering the lock of the servers' packages.
  it('prints each step with its elapsed time on stderr, in order, and keeps stdout for the summary', { timeout: 300_000 }, async () => {
    // GIVEN no AWS credentials (synth needs none) and a scratch output directory
    const aws = await emptyAwsEnv();
    const outdir = join(aws.dir, 'cdk.out');
    // WHEN
    const run = await runBuiltCli(['synth', '--config', 'examples/aws-reference.yaml', '--out', outdir], aws.env, 280_000);
    // THEN it succeeded and wrote the template
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(outdir, 'McpFleet.template.json'))).toBe(true);
    // Each step says what it does when it starts, and how long it took when it ends.
    const lines = run.stderr.split('\n');
    const at = (pattern: RegExp): number => {
      const index = lines.findIndex((l) => pattern.test(l));
      expect(index, `no stderr line matches ${pattern}:\n${run.stderr}`).toBeGreaterThanOrEqual(0);
      return index;
    };
    const imageStart = at(new RegExp(`^${STAMP} image: writing the image build context \\(locking the npm servers' packages through the registry\\)\\.\\.\\.$`));
    const imageEnd = at(new RegExp(`^${STAMP} image: done in \\d+\\.\\ds$`));
    const synthStart = at(new RegExp(`^${STAMP} synth: synthesizing the CloudFormation template of McpFleet \\(3 services\\)\\.\\.\\.$`));
    const synthEnd = at(new RegExp(`^${STAMP} synth: done in (?:\\d+\\.\\ds|\\d+m\\d\\ds)$`));
    expect([imageStart, imageEnd, synthStart, synthEnd]).toEqual([...[imageStart, imageEnd, synthStart, synthEnd]].sort((a, b) => a - b));
    // Not a terminal: no spinner, no cursor movement.
    expect(run.stderr).not.toMatch(/\r|\u001b\[2K/);
    // stdout is the summary table and the template path, nothing else.
    expect(run.stdout.split('\n')[0]).toMatch(/^server\s+service\s+endpoint\s+size\s+capacity\s+tasks\s+secrets$/);
    expect(run.stdout).toMatch(/^searxng\s+searxng\s+https:\/\/searxng\.mcp\.example\.com\/mcp\s+/m);
    expect(run.stdout).toContain(`template: ${join(outdir, 'McpFleet.template.json')}`);
    expect(run.stdout).not.toMatch(new RegExp(STAMP));
    expect(run.stdout).not.toMatch(/synthesizing|warning:/);
  });
});
