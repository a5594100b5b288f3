import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSummary } from '../../src/cli/commands/deploy.js';
import { synthFleet, type DeployEvent } from '../../src/deploy/toolkit.js';
import { fakePackageRoot, loadReference } from './helpers.js';

describe('synth through the CDK toolkit', () => {
  it('writes the reference template to the output directory offline, with no AWS credentials', async () => {
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
      const asset = (await readdir(outdir)).find((f) => f.startsWith('asset.'))!;
      expect(await readdir(join(outdir, asset))).toContain('Dockerfile');
      expect(events.filter((e) => e.level === 'warn').map((e) => e.message).join('\n')).toMatch(/has no exact version/);
      expect(events.some((e) => e.level === 'error')).toBe(false);
      const summary = planSummary(result.plan, config).replace(/\u001b\[[0-9;]*m/g, '');
      expect(summary).toMatch(/^searxng\s+searxng\s+https:\/\/searxng\.mcp\.example\.com\/mcp\s+0\.25 vCPU \/ 512 MiB\s+Spot\s+1-3\s+MCP_FLEET_API_KEY, SEARXNG_URL$/m);
    } finally {
      process.env = saved;
    }
  });
});
