import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { DeploySchema } from '../config/deploy-schema.js';
import type { FleetConfig, ServerConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';
import { baseImagesOf } from './pins.js';
import type { DeployPlan } from './plan.js';

/** Where the image keeps preinstalled servers; `/opt/mcp/bin/<server>` is each server's launcher. */
export const INSTALL_ROOT = '/opt/mcp';
/** Where the gateway lives in the image. */
export const APP_ROOT = '/app';

/** How one server's program gets into the image. */
export type ServerInstall =
  | { readonly server: string; readonly kind: 'npm'; readonly spec: string; readonly name: string; readonly version: string; readonly bin?: string; readonly pinned: boolean; readonly args: readonly string[] }
  | { readonly server: string; readonly kind: 'pypi'; readonly spec: string; readonly name: string; readonly exe: string; readonly with: readonly string[]; readonly pinned: boolean; readonly args: readonly string[] }
  | { readonly server: string; readonly kind: 'as-is' };

const EXACT_SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

/** Splits `@scope/name@1.2.3` / `name@1.2.3` / `name` into name and version range. */
function splitNpmSpec(spec: string): { name: string; version: string } {
  const at = spec.lastIndexOf('@');
  if (at > 0) return { name: spec.slice(0, at), version: spec.slice(at + 1) };
  return { name: spec, version: 'latest' };
}

/** Splits `pkg==1.2`, `pkg@1.2` or `pkg@latest` into a uv requirement and the package name. */
function splitPypiSpec(spec: string): { name: string; requirement: string; pinned: boolean } {
  const eq = spec.match(/^([A-Za-z0-9._\-[\]]+)==(.+)$/);
  if (eq) return { name: eq[1]!, requirement: spec, pinned: true };
  const at = spec.match(/^([A-Za-z0-9._\-[\]]+)@(.+)$/);
  if (at) {
    if (at[2] === 'latest') return { name: at[1]!, requirement: at[1]!, pinned: false };
    return { name: at[1]!, requirement: `${at[1]}==${at[2]}`, pinned: true };
  }
  const name = spec.match(/^[A-Za-z0-9._\-[\]]+/)?.[0] ?? spec;
  return { name, requirement: spec, pinned: false };
}

/**
 * Recognises `npx [-y] pkg args...` and `uvx [--from pkg] [--with x] cmd args...`
 * so the package is installed at image build time instead of at task start.
 */
export function serverInstall(server: string, config: ServerConfig): ServerInstall {
  const base = config.command.split('/').pop();
  const args = [...config.args];
  if (base === 'npx') {
    let pkg: string | undefined;
    while (args.length > 0 && args[0]!.startsWith('-')) {
      const flag = args.shift()!;
      if (flag === '-p' || flag === '--package') pkg = args.shift();
      else if (flag.startsWith('--package=')) pkg = flag.slice('--package='.length);
    }
    const first = args.shift();
    if (first === undefined) return { server, kind: 'as-is' };
    const spec = pkg ?? first;
    const { name, version } = splitNpmSpec(spec);
    const bin = pkg === undefined ? undefined : splitNpmSpec(first).name;
    return { server, kind: 'npm', spec, name, version, ...(bin === undefined ? {} : { bin }), pinned: EXACT_SEMVER.test(version), args };
  }
  if (base === 'uvx') {
    let from: string | undefined;
    const withs: string[] = [];
    while (args.length > 0 && args[0]!.startsWith('-')) {
      const flag = args.shift()!;
      if (flag === '--from') from = args.shift();
      else if (flag === '--with') withs.push(args.shift() ?? '');
      else if (flag === '--python' || flag === '-p') args.shift();
    }
    const first = args.shift();
    if (first === undefined) return { server, kind: 'as-is' };
    const pkg = splitPypiSpec(from ?? first);
    const exe = from === undefined ? pkg.name.replace(/\[.*\]$/, '') : splitPypiSpec(first).name;
    return { server, kind: 'pypi', spec: pkg.requirement, name: pkg.name, exe, with: withs.filter((w) => w !== ''), pinned: pkg.pinned, args };
  }
  return { server, kind: 'as-is' };
}

/**
 * The auth settings as one service sees them: a key limited to some servers keeps
 * only this service's among them, and is left out where it grants none (so the
 * service's config names no server it does not run).
 */
function scopeAuth(auth: NonNullable<FleetConfig['gateway']['auth']>, servers: readonly string[]): typeof auth {
  const apiKeys = auth.apiKeys.flatMap((key) => {
    if (key.servers === undefined) return [key];
    const kept = key.servers.filter((s) => servers.includes(s));
    return kept.length === 0 ? [] : [{ ...key, servers: kept }];
  });
  const oauth = auth.oauth?.serverScopes
    ? { ...auth.oauth, serverScopes: Object.fromEntries(Object.entries(auth.oauth.serverScopes).filter(([s]) => servers.includes(s))) }
    : auth.oauth;
  return { ...auth, apiKeys, ...(oauth ? { oauth } : {}) };
}

/** The config as the container reads it: commands point at preinstalled launchers; no deploy section. */
function containerConfig(config: FleetConfig, installs: readonly ServerInstall[], servers: readonly string[], sessionCaps: ReadonlyMap<string, number>): string {
  // A virtual server goes with every task that runs all its members (its own service, or the packed one).
  const virtualServers = Object.fromEntries(Object.entries(config.virtualServers).filter(([, v]) => Object.keys(v.servers).every((m) => servers.includes(m))));
  const reachable = [...servers, ...Object.keys(virtualServers)];
  const out: Record<string, unknown> = {
    version: config.version,
    gateway: { ...config.gateway, host: '0.0.0.0', ...(config.gateway.auth ? { auth: scopeAuth(config.gateway.auth, reachable) } : {}) },
    servers: Object.fromEntries(
      servers.map((name) => {
        const { deploy: _deploy, ...configured } = config.servers[name]!;
        // A task accepts only the sessions its memory holds (see memory.ts); past that, 503 + Retry-After.
        const cap = sessionCaps.get(name);
        const server = cap === undefined || cap >= configured.maxSessions ? configured : { ...configured, maxSessions: cap };
        const install = installs.find((i) => i.server === name)!;
        if (install.kind === 'as-is') return [name, server];
        return [name, { ...server, command: `${INSTALL_ROOT}/bin/${name}`, args: [...install.args] }];
      }),
    ),
    ...(Object.keys(virtualServers).length > 0 ? { virtualServers } : {}),
  };
  return `# Generated by mcp-fleet from your config for the container image; edit the source config instead.\n${toYaml(out)}`;
}

/** Path of a service's config inside the image. */
export function serviceConfigPath(serviceId: string): string {
  return `${APP_ROOT}/services/${serviceId}.yaml`;
}

/** The container command of a service (the gateway, restricted to the service's servers). */
export function containerCommand(plan: DeployPlan, serviceId: string, servers: readonly string[]): string[] {
  return [
    'node',
    `${APP_ROOT}/dist/cli/main.js`,
    'serve',
    '--config',
    serviceConfigPath(serviceId),
    '--host',
    '0.0.0.0',
    '--port',
    String(plan.port),
    ...servers.flatMap((s) => ['--server', s]),
  ];
}

/** Text files of the Docker build context, by relative path, plus what the user should know. */
export interface RenderedContext {
  readonly files: ReadonlyMap<string, string>;
  readonly installs: readonly ServerInstall[];
  readonly warnings: readonly string[];
}

/** The Node script that links `/opt/mcp/bin/<server>` to each installed package's program, failing the build when one is missing. */
const LINK_BINS_SCRIPT = `// Generated by mcp-fleet. Runs at image build time: links /opt/mcp/bin/<server>
// to the program each server runs, and fails the build if one is missing.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = process.env.MCP_INSTALL_ROOT ?? '/opt/mcp';
const installs = JSON.parse(readFileSync(join(root, 'install', 'servers.json'), 'utf8'));
mkdirSync(join(root, 'bin'), { recursive: true });
let failed = false;
for (const i of installs) {
  let target;
  if (i.kind === 'npm') {
    const dir = join(root, 'install', 'npm', 'node_modules', i.name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const unscoped = i.name.split('/').pop();
    const bins = typeof pkg.bin === 'string' ? { [unscoped]: pkg.bin } : (pkg.bin ?? {});
    const names = Object.keys(bins);
    const pick = i.bin ?? (names.length === 1 ? names[0] : names.find((n) => n === unscoped));
    if (pick === undefined || bins[pick] === undefined) {
      console.error(\`\${i.server}: package \${i.name} has no program to run (bins: \${names.join(', ') || 'none'}); use npx -p \${i.name} <bin>\`);
      failed = true;
      continue;
    }
    target = resolve(dir, bins[pick]);
    chmodSync(target, 0o755);
  } else {
    target = join(root, 'uv', 'bin', i.exe);
  }
  if (!existsSync(target)) {
    console.error(\`\${i.server}: \${target} was not installed\`);
    failed = true;
    continue;
  }
  const link = join(root, 'bin', i.server);
  rmSync(link, { force: true });
  symlinkSync(target, link);
  console.log(\`\${i.server} -> \${target}\`);
}
if (failed) process.exit(1);
`;

function shellQuote(s: string): string {
  return /^[A-Za-z0-9._\-=@/:[\],+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Options of {@link renderBuildContext}. */
export interface RenderOptions {
  /** The gateway comes with its package-lock.json (a git checkout), so the image runs `npm ci`. @default true */
  readonly gatewayLockfile?: boolean;
  /** `install/npm/package-lock.json` will be in the context (generated at synth), so the image runs `npm ci`. @default false */
  readonly serverLockfile?: boolean;
}

/**
 * Renders the Docker build context of a fleet: a Dockerfile (Node LTS slim + uv,
 * base images pinned by digest, servers preinstalled and pinned, installed and
 * run as the non-root `node` user, HEALTHCHECK on /health), the container
 * configs (whole fleet and one per service) and the install manifests.
 * Pure: writes nothing.
 */
export function renderBuildContext(config: FleetConfig, plan: DeployPlan, options: RenderOptions = {}): RenderedContext {
  const image = (config.deploy ?? DeploySchema.parse({})).image;
  const names = Object.keys(config.servers);
  const installs = names.map((n) => serverInstall(n, config.servers[n]!));
  const bases = baseImagesOf(image);
  const warnings: string[] = [...bases.warnings];
  for (const i of installs) {
    if (i.kind === 'as-is') {
      warnings.push(`servers.${i.server}: command "${config.servers[i.server]!.command}" is not npx or uvx, so nothing is preinstalled; the image must already provide it`);
    } else if (!i.pinned) {
      warnings.push(
        `servers.${i.server}: ${i.kind} package ${i.name} has no exact version, so each image build may get a different one; pin it in args (${i.kind === 'npm' ? `${i.name}@1.2.3` : `${i.name}==1.2.3`})`,
      );
    }
  }
  const npm = installs.filter((i) => i.kind === 'npm');
  const pypi = installs.filter((i) => i.kind === 'pypi');
  if (npm.length > 0 && options.serverLockfile !== true) {
    warnings.push('the npm servers are installed without a lockfile, so their dependencies may differ between builds; let synth generate one (it needs the npm registry)');
  }
  if (pypi.length > 0 && image.pythonResolvedAt === undefined) {
    warnings.push(
      `deploy.image.pythonResolvedAt: not set, so the dependencies of ${pypi.map((i) => i.name).join(', ')} resolve afresh on each build; set it to today's date (such as ${new Date().toISOString().slice(0, 10)}) to install the same tree every time`,
    );
  }
  const sessionCaps = new Map(plan.services.flatMap((s) => Object.entries(s.sessionCaps)));

  const files = new Map<string, string>();
  files.set(
    'install/npm/package.json',
    `${JSON.stringify({ name: 'mcp-fleet-servers', private: true, dependencies: Object.fromEntries(npm.map((i) => [i.name, i.version])) }, null, 2)}\n`,
  );
  files.set(
    'install/servers.json',
    `${JSON.stringify(
      installs.filter((i) => i.kind !== 'as-is').map((i) => (i.kind === 'npm' ? { server: i.server, kind: i.kind, name: i.name, ...(i.bin ? { bin: i.bin } : {}) } : { server: i.server, kind: i.kind, name: i.name, exe: i.exe })),
      null,
      2,
    )}\n`,
  );
  files.set('install/link-bins.mjs', LINK_BINS_SCRIPT);
  files.set('fleet.yaml', containerConfig(config, installs, names, sessionCaps));
  // Each service's own caps: a member also run by a virtual server's service may hold fewer sessions there.
  for (const s of plan.services) files.set(`services/${s.id}.yaml`, containerConfig(config, installs, s.servers, new Map(Object.entries(s.sessionCaps))));
  files.set('.dockerignore', '**/.git\n**/*.map\n');

  const excludeNewer = image.pythonResolvedAt === undefined ? '' : ` --exclude-newer ${image.pythonResolvedAt.length === 10 ? `${image.pythonResolvedAt}T00:00:00Z` : image.pythonResolvedAt}`;
  const lines = [
    '# syntax=docker/dockerfile:1',
    '# Generated by mcp-fleet from your config. Runs the mcp-fleet gateway with every',
    '# server preinstalled, so a task starts without downloading anything.',
    '# Base images are pinned by digest (deploy.image.baseImage / uvImage to change them).',
    `FROM ${bases.uv} AS uv`,
    '',
    `FROM ${bases.node}`,
    'COPY --from=uv /uv /uvx /usr/local/bin/',
    `ENV NODE_ENV=production \\`,
    `    UV_TOOL_DIR=${INSTALL_ROOT}/uv/tools \\`,
    `    UV_TOOL_BIN_DIR=${INSTALL_ROOT}/uv/bin \\`,
    `    UV_PYTHON_INSTALL_DIR=${INSTALL_ROOT}/python \\`,
    '    UV_PYTHON_PREFERENCE=only-managed \\',
    '    UV_COMPILE_BYTECODE=1 \\',
    '    UV_NO_CACHE=1 \\',
    '    PYTHONDONTWRITEBYTECODE=1 \\',
    '    npm_config_update_notifier=false',
    '',
    '# Everything below is installed, and later run, by the unprivileged "node" user of the base image.',
    `RUN mkdir -p ${APP_ROOT} ${INSTALL_ROOT} && chown node:node ${APP_ROOT} ${INSTALL_ROOT}`,
    'USER node',
    '',
    '# The gateway: a built mcp-fleet with its runtime dependencies only (the deploy',
    '# tooling, aws-cdk-lib and the AWS SDK, are optional dependencies and left out).',
    `WORKDIR ${APP_ROOT}`,
    `COPY --chown=node:node app/ ${APP_ROOT}/`,
    options.gatewayLockfile === false
      ? 'RUN npm install --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force'
      : 'RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force',
    '',
    '# The servers, installed now from the lockfile written at synth, never fetched at task start.',
    `COPY --chown=node:node install/ ${INSTALL_ROOT}/install/`,
  ];
  if (npm.length > 0) {
    const install = options.serverLockfile === true ? 'npm ci' : 'npm install';
    lines.push(`RUN cd ${INSTALL_ROOT}/install/npm && ${install} --omit=dev --no-audit --no-fund && npm cache clean --force`);
  }
  if (pypi.length > 0) {
    lines.push(`RUN uv python install ${image.pythonVersion}`);
    for (const i of pypi) {
      const withs = i.with.map((w) => ` --with ${shellQuote(w)}`).join('');
      lines.push(`RUN uv tool install --python ${image.pythonVersion}${excludeNewer}${withs} ${shellQuote(i.spec)}`);
    }
  }
  lines.push(
    `RUN node ${INSTALL_ROOT}/install/link-bins.mjs`,
    '',
    `COPY fleet.yaml ${APP_ROOT}/fleet.yaml`,
    `COPY services/ ${APP_ROOT}/services/`,
    '',
    '# On ECS the root filesystem is read-only and /tmp a task-local volume: home and caches live there.',
    'ENV HOME=/tmp',
    `EXPOSE ${plan.port}`,
    `HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \\`,
    `  CMD ["node", "-e", "fetch('http://127.0.0.1:${plan.port}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]`,
    `CMD ["node", "${APP_ROOT}/dist/cli/main.js", "serve", "--config", "${APP_ROOT}/fleet.yaml", "--host", "0.0.0.0", "--port", "${plan.port}"]`,
    '',
  );
  files.set('Dockerfile', lines.join('\n'));
  return { files, installs, warnings };
}

/** The root of the running mcp-fleet package (holds package.json and dist/). */
export function ownPackageRoot(): string {
  // src/deploy/image.ts and dist/deploy/image.js are both two levels below the root.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Options of {@link writeBuildContext}. */
export interface WriteBuildContextOptions {
  /** Directory to (re)create. */
  readonly outDir: string;
  /** mcp-fleet package to put in the image (needs `dist/`). @default the running package */
  readonly packageRoot?: string;
  /**
   * Write `install/npm/package-lock.json` for the npm servers now (`npm install
   * --package-lock-only`, which needs the npm registry), so the image installs
   * exactly that tree with `npm ci`. @default true
   */
  readonly lockServers?: boolean;
}

/** Resolves the npm servers' dependency tree into a package-lock.json in `dir` (no install, no scripts). */
export function lockNpmServers(dir: string): Promise<void> {
  return new Promise((resolveLock, reject) => {
    execFile(
      'npm',
      ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev'],
      { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        if (error === null) {
          resolveLock();
          return;
        }
        reject(
          new FleetError('IMAGE_LOCK_FAILED', `could not lock the npm servers' packages: ${stderr.trim().split('\n').slice(-3).join(' ') || error.message}`, {
            cause: error,
            hint: 'synth resolves the servers\' npm packages into a lockfile and needs the npm registry for it; check the package names and versions in args, and your network or npm registry settings',
          }),
        );
      },
    );
  });
}

/**
 * Writes the Docker build context of {@link renderBuildContext} to `outDir`,
 * with the gateway (package.json, package-lock.json and dist/ of mcp-fleet) under `app/`.
 */
export async function writeBuildContext(config: FleetConfig, plan: DeployPlan, options: WriteBuildContextOptions): Promise<RenderedContext> {
  const root = options.packageRoot ?? ownPackageRoot();
  const dist = join(root, 'dist', 'cli', 'main.js');
  try {
    await stat(dist);
  } catch (error) {
    throw new FleetError('IMAGE_NO_BUILD', `mcp-fleet is not built: ${dist} is missing, so the image would have no gateway`, {
      cause: error,
      hint: 'run `npm run build` in the mcp-fleet package, or set deploy.image.uri to an image you built',
    });
  }
  // A package installed from npm carries no package-lock.json; a git checkout does.
  const lockfile = await stat(join(root, 'package-lock.json')).then(
    () => true,
    () => false,
  );
  const lockServers = (options.lockServers ?? true) && Object.entries(config.servers).some(([n, s]) => serverInstall(n, s).kind === 'npm');
  const rendered = renderBuildContext(config, plan, { gatewayLockfile: lockfile, serverLockfile: lockServers });
  const warnings = [...rendered.warnings];
  if (!lockfile) warnings.push(`${root} has no package-lock.json, so the image resolves the gateway's dependencies from their version ranges at build time`);
  await rm(options.outDir, { recursive: true, force: true });
  for (const [path, text] of rendered.files) {
    await mkdir(dirname(join(options.outDir, path)), { recursive: true });
    await writeFile(join(options.outDir, path), text);
  }
  const app = join(options.outDir, 'app');
  await mkdir(app, { recursive: true });
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  // The image never builds: drop scripts so `npm ci` cannot run `prepare`.
  delete pkg['scripts'];
  await writeFile(join(app, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  if (lockfile) await cp(join(root, 'package-lock.json'), join(app, 'package-lock.json'));
  await cp(join(root, 'dist'), join(app, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') && !src.endsWith('.tsbuildinfo') });
  if (lockServers) await lockNpmServers(join(options.outDir, 'install', 'npm'));
  return { ...rendered, warnings };
}
