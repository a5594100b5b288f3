import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderBuildContext, serverInstall, writeBuildContext, type RenderedContext } from '../../src/deploy/image.js';
import { PINNED_IMAGES } from '../../src/deploy/pins.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { FleetError } from '../../src/errors.js';
import { configOf, fakePackageRoot, loadReference } from './helpers.js';

const run = promisify(execFile);

let rendered: RenderedContext;
let dockerfile: string;
beforeAll(async () => {
  const config = await loadReference();
  // As writeBuildContext renders it: the servers' npm lockfile is generated at synth.
  rendered = renderBuildContext(config, planDeployment(config), { serverLockfile: true });
  dockerfile = rendered.files.get('Dockerfile')!;
});

describe('image build context of the reference deployment', () => {
  it('builds on Node LTS slim and uv, both pinned by digest', () => {
    const froms = dockerfile.split('\n').filter((l) => l.startsWith('FROM '));
    expect(froms).toEqual([`FROM ${PINNED_IMAGES.uv.image} AS uv`, `FROM ${PINNED_IMAGES.node.image}`]);
    for (const from of froms) expect(from).toMatch(/@sha256:[0-9a-f]{64}( AS uv)?$/);
    expect(PINNED_IMAGES.node.image).toMatch(/^node:22-bookworm-slim@/);
    expect(dockerfile).toContain('COPY --from=uv /uv /uvx /usr/local/bin/');
    expect(rendered.warnings).toEqual([]);
  });

  it('installs and runs everything as the non-root node user: only the directory setup runs as root', () => {
    const lines = dockerfile.split('\n');
    const user = lines.indexOf('USER node');
    expect(user).toBeGreaterThan(0);
    expect(lines.filter((l) => l.startsWith('USER '))).toEqual(['USER node']);
    expect(lines.slice(0, user).filter((l) => l.startsWith('RUN '))).toEqual(['RUN mkdir -p /app /opt/mcp && chown node:node /app /opt/mcp']);
    // What the node user installs into is its own; the configs it only reads stay root's.
    const installed = lines.slice(user).filter((l) => / (app|install)\/ /.test(l));
    expect(installed).toEqual(['COPY --chown=node:node app/ /app/', 'COPY --chown=node:node install/ /opt/mcp/install/']);
    expect(dockerfile).toContain('CMD ["node", "/app/dist/cli/main.js", "serve", "--config", "/app/fleet.yaml", "--host", "0.0.0.0", "--port", "8808"]');
  });

  it('keeps home and caches on /tmp, the only writable path of a task', () => {
    expect(dockerfile).toMatch(/^ENV HOME=\/tmp$/m);
    expect(dockerfile).toMatch(/PYTHONDONTWRITEBYTECODE=1/);
  });

  it('has a HEALTHCHECK on /health', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n\s+CMD .*http:\/\/127\.0\.0\.1:8808\/health/m);
  });

  it('installs the gateway without its deploy tooling, and every server from a lock, at build time', () => {
    const runs = dockerfile.split('\n').filter((l) => l.startsWith('RUN '));
    expect(runs).toEqual([
      'RUN mkdir -p /app /opt/mcp && chown node:node /app /opt/mcp',
      'RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force',
      'RUN cd /opt/mcp/install/npm && npm ci --omit=dev --no-audit --no-fund && npm cache clean --force',
      'RUN uv python install 3.12',
      'RUN uv tool install --python 3.12 --exclude-newer 2026-11-01T00:00:00Z mcp-server-fetch==2026.10.24',
      'RUN uv tool install --python 3.12 --exclude-newer 2026-11-01T00:00:00Z awslabs.aws-documentation-mcp-server==1.2.3',
      'RUN node /opt/mcp/install/link-bins.mjs',
    ]);
    expect(JSON.parse(rendered.files.get('install/npm/package.json')!).dependencies).toEqual({ 'mcp-searxng': '1.16.0' });
  });

  it('starts servers from preinstalled launchers, never npx -y or uvx at task start', () => {
    for (const path of ['fleet.yaml', 'services/fetch.yaml', 'services/aws-docs.yaml', 'services/searxng.yaml']) {
      const text = rendered.files.get(path)!;
      expect(text).not.toMatch(/npx|uvx/);
    }
    const fleet = parseYaml(rendered.files.get('fleet.yaml')!);
    expect(fleet.servers.searxng).toMatchObject({ command: '/opt/mcp/bin/searxng', args: [], env: { SEARXNG_URL: '${SEARXNG_URL}' }, policy: 'pool' });
    expect(fleet.servers['aws-docs']).toMatchObject({ command: '/opt/mcp/bin/aws-docs', env: { FASTMCP_LOG_LEVEL: 'ERROR' } });
    expect(fleet.gateway.host).toBe('0.0.0.0');
    expect(fleet.deploy).toBeUndefined();
    // Each service's config holds only its servers, so it needs only its own secrets.
    expect(Object.keys(parseYaml(rendered.files.get('services/fetch.yaml')!).servers)).toEqual(['fetch']);
  });

  it('warns about packages without an exact version, an unlocked npm tree, and unlocked Python resolution', () => {
    const config = configOf({ servers: { fetch: { command: 'uvx', args: ['mcp-server-fetch'], policy: 'pool' }, searxng: { command: 'npx', args: ['-y', 'mcp-searxng'], policy: 'pool' } } });
    const warnings = renderBuildContext(config, planDeployment(config)).warnings;
    expect(warnings).toEqual([
      expect.stringMatching(/^servers\.fetch: pypi package mcp-server-fetch has no exact version.*mcp-server-fetch==1\.2\.3/),
      expect.stringMatching(/^servers\.searxng: npm package mcp-searxng .*mcp-searxng@1\.2\.3/),
      expect.stringMatching(/npm servers are installed without a lockfile/),
      expect.stringMatching(/^deploy\.image\.pythonResolvedAt: not set, so the dependencies of mcp-server-fetch resolve afresh on each build/),
    ]);
  });

  it('takes base images from the config, and warns when a Node version has no pinned digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const own = configOf({ servers: { fetch: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'], policy: 'pool' } }, deploy: { image: { baseImage: `node:24-bookworm-slim@${digest}`, pythonResolvedAt: '2026-11-01' } } });
    const ownContext = renderBuildContext(own, planDeployment(own));
    expect(ownContext.files.get('Dockerfile')).toMatch(new RegExp(`^FROM node:24-bookworm-slim@${digest}$`, 'm'));
    expect(ownContext.warnings).toEqual([]);
    const unpinned = configOf({ servers: { fetch: { command: 'uvx', args: ['mcp-server-fetch==2026.10.24'], policy: 'pool' } }, deploy: { image: { nodeVersion: '24', pythonResolvedAt: '2026-11-01' } } });
    const context = renderBuildContext(unpinned, planDeployment(unpinned));
    expect(context.files.get('Dockerfile')).toMatch(/^FROM node:24-bookworm-slim$/m);
    expect(context.warnings).toEqual([expect.stringMatching(/^deploy\.image\.nodeVersion: 24 has no digest pinned by mcp-fleet.*deploy\.image\.baseImage: node:24-bookworm-slim@sha256:/)]);
    expect(() => configOf({ servers: { fetch: { command: 'x' } }, deploy: { image: { baseImage: 'node:22-bookworm-slim' } } })).toThrow(/deploy\.image\.baseImage: .*pin it by digest/);
  });

  it("caps each per-session server's sessions in the task's config at what the task memory holds", () => {
    const config = configOf({ servers: { memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory@2026.8.31'], policy: 'per-session' }, pooled: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything@2026.1.26'], policy: 'pool' } } });
    const context = renderBuildContext(config, planDeployment(config));
    expect(parseYaml(context.files.get('services/memory.yaml')!).servers.memory.maxSessions).toBe(4);
    expect(parseYaml(context.files.get('fleet.yaml')!).servers.memory.maxSessions).toBe(4);
    // A pooled server opens no child per session: its cap stays as configured.
    expect(parseYaml(context.files.get('services/pooled.yaml')!).servers.pooled.maxSessions).toBe(100);
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
    await writeBuildContext(config, planDeployment(config), { outDir: out, packageRoot: await fakePackageRoot(), lockServers: false });
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
    const result = await writeBuildContext(config, planDeployment(config), { outDir: out, packageRoot: root, lockServers: false });
    expect(await readFile(join(out, 'Dockerfile'), 'utf8')).toContain('RUN npm install --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund');
    expect(result.warnings.at(-1)).toMatch(/has no package-lock\.json/);
  });

  it('refuses when mcp-fleet is not built, saying how to fix it', async () => {
    const config = await loadReference();
    const empty = await mkdtemp(join(tmpdir(), 'mcp-empty-'));
    const error = await writeBuildContext(config, planDeployment(config), { outDir: join(empty, 'out'), packageRoot: empty, lockServers: false }).catch((e: unknown) => e);
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
