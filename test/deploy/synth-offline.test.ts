import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSummary } from '../../src/cli/commands/deploy-actions.js';
import { synthFleet, type DeployEvent } from '../../src/deploy/toolkit.js';
import { fakePackageRoot, loadReference } from './helpers.js';

describe('synth through the CDK toolkit', () => {
  // The npm registry answers the lock of the servers' npm packages: a quiet run takes 10-40 s, most of it the registry.
  it('writes the reference template and the image context, with the npm servers locked, with no AWS credentials', { timeout: 240_000 }, async () => {
    // GIVEN no credentials and no instance metadata to fall back to
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, { AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' });
    const outdir = join(await mkdtemp(join(tmpdir(), 'mcp-synth-')), 'cdk.out');
    const events: DeployEvent[] = [];
    try {
      // WHEN
      const config = await loadReference();
      const result = await synthFleet({ config, outdir, packageRoot: await fakePackageRoot(), onEvent: (e) => events.push(e) });
      // THEN
      expect(result.templateFile).toBe(join(outdir, 'McpFleet.template.json'));
      const template = JSON.parse(await readFile(result.templateFile, 'utf8'));
      expect(Object.values<{ Type: string }>(template.Resources).filter((r) => r.Type === 'AWS::ECS::Service')).toHaveLength(3);
      const asset = join(outdir, (await readdir(outdir)).find((f) => f.startsWith('asset.'))!);
      expect(await readdir(asset)).toContain('Dockerfile');
      // The servers' npm tree, resolved now, is what the image installs (npm ci).
      const lock = JSON.parse(await readFile(join(asset, 'install', 'npm', 'package-lock.json'), 'utf8'));
      expect(lock.packages['node_modules/mcp-searxng'].version).toBe('1.16.0');
      expect(lock.packages['node_modules/mcp-searxng'].integrity).toMatch(/^sha512-/);
      expect(await readFile(join(asset, 'Dockerfile'), 'utf8')).toContain('npm ci --omit=dev --no-audit --no-fund');
      // Every version is pinned in the reference: nothing to warn about.
      expect(events.filter((e) => e.level === 'warn' || e.level === 'error').map((e) => e.message)).toEqual([]);
      const summary = planSummary(result.plan, config).replace(/\u001b\[[0-9;]*m/g, '');
      expect(summary).toMatch(/^searxng\s+searxng\s+https:\/\/searxng\.mcp\.example\.com\/mcp\s+0\.25 vCPU \/ 512 MiB\s+1 on-demand, rest Spot\s+1-3\s+MCP_FLEET_API_KEY, SEARXNG_URL$/m);
    } finally {
      process.env = saved;
    }
  });
});
