import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { planDeployment } from '../../src/deploy/plan.js';
import { renderBuildContext } from '../../src/deploy/image.js';
import { loadReference } from './helpers.js';

// The image installs the gateway with `npm ci --omit=dev --omit=optional`: the deploy
// tooling (aws-cdk-lib, the CDK toolkit, the AWS SDK) is an optional dependency, so
// `npm ci` on a laptop installs it and the image does not. These tests hold the
// split: nothing `serve` loads may need an optional package.

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
// (@aws-sdk/client-cloudwatch-logs is a runtime dependency: a deployed gateway writes its audit log with it.)
const DEPLOY_TOOLING = ['aws-cdk-lib', 'constructs', '@aws-cdk/toolkit-lib', '@aws-sdk/client-cloudformation', '@aws-sdk/client-ecs', '@aws-sdk/client-elastic-load-balancing-v2', '@aws-sdk/credential-provider-node', '@smithy/core'];

/** Package name of a bare import specifier (`@scope/name/sub` → `@scope/name`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * Every package the modules reachable from `entry` import statically (`import ... from`,
 * `export ... from`), following relative imports through src/. Dynamic `import()` is
 * followed only with `dynamic` (serve loads the gateway that way, so `--help` does
 * not); the CLI loads the deploy commands, and they the AWS SDK and CDK, that way too.
 */
function staticPackages(entry: string, options: { readonly dynamic?: boolean } = {}): { packages: Set<string>; files: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(packageName(spec));
    }
    if (options.dynamic) {
      for (const m of text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)) visit(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
    }
  };
  visit(entry);
  return { packages, files };
}

describe('runtime and deploy dependencies', () => {
  it('declares the deploy tooling as optional dependencies, and nothing else as optional', () => {
    expect(Object.keys(pkg['optionalDependencies'] ?? {}).sort()).toEqual([...DEPLOY_TOOLING].sort());
    for (const name of DEPLOY_TOOLING) expect(pkg['dependencies']).not.toHaveProperty(name);
  });

  it('lets the CLI, and serve through it, start without any optional package', () => {
    const cli = staticPackages(join(ROOT, 'src', 'cli', 'main.ts'));
    expect(cli.files.has(join(ROOT, 'src', 'cli', 'commands', 'deploy.ts'))).toBe(false);
    for (const name of cli.packages) expect(pkg['dependencies'], `${name} is imported by the CLI`).toHaveProperty(name);
    const serve = staticPackages(join(ROOT, 'src', 'cli', 'commands', 'serve.ts'), { dynamic: true });
    expect(serve.files.has(join(ROOT, 'src', 'gateway', 'app.ts'))).toBe(true);
    expect(serve.files.has(join(ROOT, 'src', 'cli', 'commands', 'deploy.ts'))).toBe(false);
    for (const name of serve.packages) expect(pkg['dependencies'], `${name} is imported by serve`).toHaveProperty(name);
  });

  it('builds the image without the optional dependencies', async () => {
    const config = await loadReference();
    const dockerfile = renderBuildContext(config, planDeployment(config)).files.get('Dockerfile')!;
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev --omit=optional --ignore-scripts /m);
  });
});
