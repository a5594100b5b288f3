import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderBuildContext, serverInstall, writeBuildContext, type RenderedContext } from '../../src/deploy/image.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { FleetError } from '../../src/errors.js';
import { configOf, fakePackageRoot, loadReference } from './helpers.js';

const run = promisify(execFile);

let rendered: RenderedContext;
let dockerfile: string;
beforeAll(async () => {
  const config = await loadReference();
  rendered = renderBuildContext(config, planDeployment(config));
  dockerfile = rendered.files.get('Dockerfile')!;
});

describe('image build context of the reference deployment', () => {
  it('builds on Node LTS slim with uv, and runs the gateway as the non-root node user', () => {
    expect(dockerfile).toMatch(/^FROM ghcr\.io\/astral-sh\/uv:\d+\.\d+\.\d+ AS uv$/m);
    expect(dockerfile).toMatch(/^FROM node:22-bookworm-slim$/m);
    expect(dockerfile).toContain('COPY --from=uv /uv /uvx /usr/local/bin/');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile.indexOf('USER node')).toBeGreaterThan(dockerfile.lastIndexOf('RUN '));
    expect(dockerfile).toContain('CMD ["node", "/app/dist/cli/main.js", "serve", "--config", "/app/fleet.yaml", "--host", "0.0.0.0", "--port", "8808"]');
  });

  it('has a HEALTHCHECK on /health', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n\s+CMD .*http:\/\/127\.0\.0\.1:8808\/health/m);
  });

  it('installs every npm and PyPI server at build time', () => {
    const runs = dockerfile.split('\n').filter((l) => l.startsWith('RUN '));
    expect(runs).toEqual([
      'RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force',
      'RUN cd /opt/mcp/install/npm && npm install --omit=dev --no-audit --no-fund && npm cache clean --force',
      'RUN uv python install 3.12',
      'RUN uv tool install --python 3.12 mcp-server-fetch',
      'RUN uv tool install --python 3.12 awslabs.aws-documentation-mcp-server',
      'RUN node /opt/mcp/install/link-bins.mjs',
    ]);
    expect(JSON.parse(rendered.files.get('install/npm/package.json')!).dependencies).toEqual({ 'mcp-searxng': 'latest' });
  });

  it('starts servers from preinstalled launchers, never npx -y or uvx at task start', () => {
    for (const path of ['fleet.yaml', 'services/fetch.yaml', 'services/aws-docs.yaml', 'services/searxng.yaml']) {
      const text = rendered.files.get(path)!;
      expect(text).not.toMatch(/npx|uvx/);
    }
    const fleet = parseYaml(rendered.files.get('fleet.yaml')!);
    expect(fleet.servers.searxng).toMatchObject({ command: '/opt/mcp/bin/searxng', args: [], env: { SEARXNG_URL: '${SEARXNG_URL}' } });
    expect(fleet.servers['aws-docs']).toMatchObject({ command: '/opt/mcp/bin/aws-docs', env: { FASTMCP_LOG_LEVEL: 'ERROR' } });
    expect(fleet.gateway.host).toBe('0.0.0.0');
    expect(fleet.deploy).toBeUndefined();
    // Each service's config holds only its servers, so it needs only its own secrets.
    expect(Object.keys(parseYaml(rendered.files.get('services/fetch.yaml')!).servers)).toEqual(['fetch']);
  });

  it('warns about packages without an exact version', () => {
    expect(rendered.warnings).toHaveLength(3);
    expect(rendered.warnings[0]).toMatch(/servers\.fetch: pypi package mcp-server-fetch has no exact version.*mcp-server-fetch==1\.2\.3/);
    expect(rendered.warnings[2]).toMatch(/servers\.searxng: npm package mcp-searxng .*mcp-searxng@1\.2\.3/);
  });
});

describe('server install detection', () => {
  const install = (command: string, args: string[]) => serverInstall('s', configOf({ servers: { s: { command, args } } }).servers['s']!);

  it.each([
    ['npx', ['-y', '@scope/tool@1.2.3', '--flag'], { kind: 'npm', name: '@scope/tool', version: '1.2.3', pinned: true, args: ['--flag'] }],
    ['npx', ['-y', '-p', 'pkg@2.0.0', 'pkg-cli', 'x'], { kind: 'npm', name: 'pkg', bin: 'pkg-cli', pinned: true, args: ['x'] }],
    ['npx', ['mcp-searxng@^1'], { kind: 'npm', name: 'mcp-searxng', version: '^1', pinned: false }],
    ['uvx', ['mcp-server-fetch==2025.4.7', '--ignore-robots-txt'], { kind: 'pypi', name: 'mcp-server-fetch', exe: 'mcp-server-fetch', spec: 'mcp-server-fetch==2025.4.7', pinned: true, args: ['--ignore-robots-txt'] }],
    ['uvx', ['pkg@1.0.0'], { kind: 'pypi', spec: 'pkg==1.0.0', pinned: true }],
    ['uvx', ['--from', 'git-tools==1.0', 'git-mcp'], { kind: 'pypi', name: 'git-tools', exe: 'git-mcp', pinned: true }],
    ['node', ['server.js'], { kind: 'as-is' }],
  ])('%s %j', (command, args, expected) => {
    expect(install(command, args)).toMatchObject(expected);
  });
});

describe('link-bins.mjs (run at image build time)', () => {
  async function installTree(servers: unknown[]): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), 'mcp-install-'));
    await mkdir(join(root, 'install', 'npm', 'node_modules', 'mcp-searxng', 'dist'), { recursive: true });
    await writeFile(join(root, 'install', 'npm', 'node_modules', 'mcp-searxng', 'package.json'), JSON.stringify({ name: 'mcp-searxng', bin: { 'mcp-searxng': 'dist/index.js' } }));
    await writeFile(join(root, 'install', 'npm', 'node_modules', 'mcp-searxng', 'dist', 'index.js'), '#!/usr/bin/env node\n');
    await mkdir(join(root, 'uv', 'bin'), { recursive: true });
    await writeFile(join(root, 'uv', 'bin', 'mcp-server-fetch'), '#!/bin/sh\n');
    await writeFile(join(root, 'install', 'servers.json'), JSON.stringify(servers));
    await writeFile(join(root, 'install', 'link-bins.mjs'), rendered.files.get('install/link-bins.mjs')!);
    return root;
  }

  it('links each server name to the program its package provides', async () => {
    const root = await installTree(JSON.parse(rendered.files.get('install/servers.json')!).filter((s: { server: string }) => s.server !== 'aws-docs'));
    await run(process.execPath, [join(root, 'install', 'link-bins.mjs')], { env: { MCP_INSTALL_ROOT: root } });
    expect((await readdir(join(root, 'bin'))).sort()).toEqual(['fetch', 'searxng']);
    expect(await readlink(join(root, 'bin', 'searxng'))).toBe(join(root, 'install', 'npm', 'node_modules', 'mcp-searxng', 'dist', 'index.js'));
    expect(await readlink(join(root, 'bin', 'fetch'))).toBe(join(root, 'uv', 'bin', 'mcp-server-fetch'));
  });

  it('fails the image build when a program is missing', async () => {
    const root = await installTree([{ server: 'aws-docs', kind: 'pypi', name: 'awslabs.aws-documentation-mcp-server', exe: 'awslabs.aws-documentation-mcp-server' }]);
    await expect(run(process.execPath, [join(root, 'install', 'link-bins.mjs')], { env: { MCP_INSTALL_ROOT: root } })).rejects.toMatchObject({
      stderr: expect.stringMatching(/aws-docs: .*awslabs\.aws-documentation-mcp-server was not installed/),
    });
  });
});

describe('writeBuildContext', () => {
  it('writes the context with the built gateway, its lockfile, and no scripts or source maps', async () => {
    const config = await loadReference();
    const out = join(await mkdtemp(join(tmpdir(), 'mcp-ctx-')), 'image');
    await writeBuildContext(config, planDeployment(config), { outDir: out, packageRoot: await fakePackageRoot() });
    expect((await readdir(out)).sort()).toEqual(['.dockerignore', 'Dockerfile', 'app', 'fleet.yaml', 'install', 'services']);
    expect(await readdir(join(out, 'app', 'dist', 'cli'))).toEqual(['main.js']);
    expect(JSON.parse(await readFile(join(out, 'app', 'package.json'), 'utf8')).scripts).toBeUndefined();
    expect(await readdir(join(out, 'app'))).toContain('package-lock.json');
  });

  it('installs the gateway from version ranges, with a warning, when the package has no lockfile (installed from npm)', async () => {
    const config = await loadReference();
    const root = await fakePackageRoot();
    await rm(join(root, 'package-lock.json'));
    const out = join(await mkdtemp(join(tmpdir(), 'mcp-ctx-')), 'image');
    const result = await writeBuildContext(config, planDeployment(config), { outDir: out, packageRoot: root });
    expect(await readFile(join(out, 'Dockerfile'), 'utf8')).toContain('RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund');
    expect(result.warnings.at(-1)).toMatch(/has no package-lock\.json/);
  });

  it('refuses when mcp-fleet is not built, saying how to fix it', async () => {
    const config = await loadReference();
    const empty = await mkdtemp(join(tmpdir(), 'mcp-empty-'));
    const error = await writeBuildContext(config, planDeployment(config), { outDir: join(empty, 'out'), packageRoot: empty }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FleetError);
    expect((error as FleetError).code).toBe('IMAGE_NO_BUILD');
    expect((error as FleetError).hint).toMatch(/npm run build/);
  });
});

describe('per-service configs in the image', () => {
  it('GIVEN an API key limited to one server WHEN each service config is rendered THEN only that service knows the key, and every config validates', async () => {
    const reference = await loadReference();
    const raw = {
      gateway: {
        auth: {
          apiKeys: [
            { name: 'all', env: 'KEY_ALL' },
            { name: 'fetch-only', env: 'KEY_FETCH', servers: ['fetch'] },
          ],
        },
      },
      servers: Object.fromEntries(Object.entries(reference.servers).map(([name, s]) => [name, { ...s }])),
      deploy: { ...reference.deploy, secrets: { ...reference.deploy?.secrets, KEY_ALL: { secretName: 'k/all' }, KEY_FETCH: { secretName: 'k/fetch' } } },
    };
    const config = configOf(raw);
    const context = renderBuildContext(config, planDeployment(config));
    const services = [...context.files.entries()].filter(([path]) => path.startsWith('services/'));
    expect(services.length).toBeGreaterThan(1);
    for (const [path, text] of services) {
      const parsed = configOf(parseYaml(text));
      const keys = parsed.gateway.auth?.apiKeys.map((k) => k.name) ?? [];
      expect(keys).toContain('all');
      expect(keys.includes('fetch-only'), path).toBe('fetch' in parsed.servers);
    }
  });
});
