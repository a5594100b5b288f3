import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { FleetConfig } from '../../src/config/schema.js';
import { writeBuildContext } from '../../src/deploy/image.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { buildFleetApp, type FleetStack } from '../../src/deploy/stack.js';

/** Path of the reference deployment example. */
export const REFERENCE_YAML = fileURLToPath(new URL('../../examples/aws-reference.yaml', import.meta.url));

/** The reference config, `${NAME}` references kept raw as `synth` reads it. */
export function loadReference(): Promise<FleetConfig> {
  return loadConfig(REFERENCE_YAML, { resolveEnv: false });
}

/** Parses a config object the way `synth` does. */
export function configOf(raw: unknown): FleetConfig {
  return parseConfig(raw, 'test.yaml', { resolveEnv: false });
}

/** A stand-in for a built mcp-fleet package (the image copies its dist/). */
export async function fakePackageRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'mcp-fleet-pkg-'));
  await mkdir(join(root, 'dist', 'cli'), { recursive: true });
  await writeFile(join(root, 'dist', 'cli', 'main.js'), '// gateway\n');
  await writeFile(join(root, 'dist', 'cli', 'main.js.map'), '{}');
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'mcp-fleet', version: '0.0.0-test', type: 'module', scripts: { prepare: 'npm run build' } }));
  await writeFile(join(root, 'package-lock.json'), JSON.stringify({ name: 'mcp-fleet', lockfileVersion: 3 }));
  return root;
}

/**
 * Time limit of a `beforeAll` that synthesizes a stack (with loading aws-cdk-lib):
 * 5-15 s on a quiet machine, and up to ten times that on a shared one seen at a
 * load of 20 on 2 cores; the limit only bounds a hang.
 */
export const SYNTH_TIMEOUT_MS = 300_000;

/**
 * Synthesizes a fleet offline once (writes its build context) and returns the stack and its template.
 * The servers' npm lockfile is not generated here (that needs the registry; `synth-offline.test.ts` does it for real).
 */
export async function synthFleet(config: FleetConfig): Promise<{ stack: FleetStack; template: Template; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-fleet-synth-'));
  const buildContextDir = join(dir, 'image');
  await writeBuildContext(config, planDeployment(config), { outDir: buildContextDir, packageRoot: await fakePackageRoot(), lockServers: false });
  const { stack } = buildFleetApp({ config, outdir: join(dir, 'cdk.out'), buildContextDir });
  return { stack, template: Template.fromStack(stack), dir };
}

/** Synthesizes a config that runs an existing image (no build context), once. */
export function synthWithImage(raw: Record<string, unknown>): { stack: FleetStack; template: Template } {
  const deploy = (raw['deploy'] ?? {}) as Record<string, unknown>;
  const image = { uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mcp-fleet:1.0.0', ...((deploy['image'] ?? {}) as Record<string, unknown>) };
  const { stack } = buildFleetApp({ config: configOf({ ...raw, deploy: { ...deploy, image } }) });
  return { stack, template: Template.fromStack(stack) };
}

/** Resources of one type in a template, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, unknown> }>;
}
