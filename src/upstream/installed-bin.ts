import { closeSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { FleetConfig, ServerConfig } from '../config/schema.js';

/**
 * `npx <package>` costs three processes and about 140 MiB per server (npm's
 * CLI, a shell, then the server). When the package is already installed where
 * npx would look (a `node_modules` above the config or the working directory),
 * the gateway can run its bin with the current node directly: the same program,
 * one process. Anything this module does not understand keeps npx.
 */

/** A package bin found for an `npx` command line, and the command that runs it directly. */
export interface InstalledBin {
  /** The current node (`process.execPath`). */
  readonly command: string;
  /** The bin's script, then the server's own arguments. */
  readonly args: string[];
  /** The package that provides the bin. */
  readonly packageName: string;
  /** Its installed version. */
  readonly version: string;
  /** Absolute path of the bin's script. */
  readonly binPath: string;
}

/** npx flags that take no value and do not change which program runs. */
const NPX_FLAGS = new Set(['-y', '--yes', '--no-install', '--no', '-q', '--quiet', '--silent', '--prefer-offline', '--prefer-online', '--no-audit', '--no-fund', '--no-update-notifier']);
/** An exact version, the only pin compared here (a range would need npm's semver rules: npx decides then). */
const EXACT_VERSION = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/;
const PACKAGE_NAME = /^(?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;

interface PackageSpec {
  readonly name: string;
  readonly version: string | undefined;
}

/** `name`, `name@1.2.3`, `@scope/name@latest`; undefined for a path, URL, git or alias spec. */
function parseSpec(spec: string): PackageSpec | undefined {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? undefined : spec.slice(at + 1);
  if (!PACKAGE_NAME.test(name)) return undefined;
  return { name, version: version === '' || version === 'latest' ? undefined : version };
}

/** The package directories named `name` above each of `dirs`, nearest first. */
function* packageDirs(name: string, dirs: readonly string[]): Generator<string> {
  for (const start of dirs) {
    let dir = resolve(start);
    for (;;) {
      yield join(dir, 'node_modules', name);
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
}

interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly bin?: string | Record<string, string>;
}

function readPackage(dir: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** The bin script of `pkg`: the one named `binName`, else its only one, else the one named like the package. */
function binOf(pkg: PackageJson, dir: string, binName: string | undefined): string | undefined {
  const unscoped = (pkg.name ?? '').replace(/^@[^/]+\//, '');
  if (typeof pkg.bin === 'string') return binName === undefined || binName === unscoped ? join(dir, pkg.bin) : undefined;
  if (pkg.bin === undefined) return undefined;
  const entries = Object.entries(pkg.bin);
  const chosen = binName !== undefined ? pkg.bin[binName] : entries.length === 1 ? entries[0]![1] : pkg.bin[unscoped];
  return chosen === undefined ? undefined : join(dir, chosen);
}

/** True when the file is a script node runs: a JavaScript extension or a node shebang. */
function isNodeScript(file: string): boolean {
  if (/\.[cm]?js$/.test(file)) return true;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(128);
    const n = readSync(fd, head, 0, head.length, 0);
    return /^#!.*\bnode\b/.test(head.subarray(0, n).toString('utf8').split('\n')[0] ?? '');
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The installed package that provides `spec` (a package, or a bin name as `npx --no-install <bin>` takes). */
function findInstalled(spec: PackageSpec, binName: string | undefined, dirs: readonly string[]): Omit<InstalledBin, 'command' | 'args'> | undefined {
  for (const dir of packageDirs(spec.name, dirs)) {
    const pkg = readPackage(dir);
    if (pkg === undefined) continue;
    // The nearest install is the one npx would run: a wrong version there means npx, not a farther copy.
    if (spec.version !== undefined && pkg.version !== spec.version) return undefined;
    const bin = binOf(pkg, dir, binName);
    if (bin === undefined || !isNodeScript(bin)) return undefined;
    return { packageName: pkg.name ?? spec.name, version: pkg.version ?? 'unknown', binPath: realpathSync(bin) };
  }
  // `npx mcp-server-everything` names a bin, not a package: npx finds it in node_modules/.bin.
  if (spec.version !== undefined || binName !== undefined || spec.name.startsWith('@')) return undefined;
  for (const dir of packageDirs(join('.bin', spec.name), dirs)) {
    let target: string;
    try {
      target = realpathSync(dir);
    } catch {
      continue;
    }
    if (!isNodeScript(target)) return undefined;
    let pkgDir = dirname(target);
    while (readPackage(pkgDir)?.name === undefined && dirname(pkgDir) !== pkgDir) pkgDir = dirname(pkgDir);
    const pkg = readPackage(pkgDir);
    return { packageName: pkg?.name ?? spec.name, version: pkg?.version ?? 'unknown', binPath: target };
  }
  return undefined;
}

/**
 * The direct command for an `npx` command line whose package is installed above
 * one of `dirs` (and at the pinned version, when an exact one is given); undefined
 * when the command is not npx, when the line uses npx options this does not know,
 * or when the package is not installed: then npx runs as configured.
 */
export function installedNpxBin(command: string, args: readonly string[], dirs: readonly string[]): InstalledBin | undefined {
  if (!/^npx(\.cmd)?$/.test(basename(command))) return undefined;
  let packageSpec: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (NPX_FLAGS.has(arg)) continue;
    if (arg === '-p' || arg === '--package') {
      // More than one --package, or one without a value: leave it to npx.
      if (packageSpec !== undefined || args[i + 1] === undefined) return undefined;
      packageSpec = args[++i];
      continue;
    }
    if (arg.startsWith('--package=')) {
      if (packageSpec !== undefined) return undefined;
      packageSpec = arg.slice('--package='.length);
      continue;
    }
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('-')) return undefined;
    break;
  }
  const first = args[i];
  if (first === undefined) return undefined;
  const spec = parseSpec(packageSpec ?? first);
  if (spec === undefined) return undefined;
  const found = findInstalled(spec, packageSpec === undefined ? undefined : first, dirs);
  if (found === undefined) return undefined;
  return { command: process.execPath, args: [found.binPath, ...args.slice(i + 1)], ...found };
}

/** A server whose `npx` command was replaced by its installed bin. */
export interface DirectServer extends InstalledBin {
  /** Server name. */
  readonly server: string;
}

/**
 * The config with every `npx` server whose package is installed here run by
 * node directly (see {@link installedNpxBin}); a server's own `cwd` is searched
 * first, then `dirs` (the config's directory, the working directory).
 */
export function runInstalledBinsDirectly(config: FleetConfig, dirs: readonly string[]): { config: FleetConfig; direct: DirectServer[] } {
  const direct: DirectServer[] = [];
  const servers: Record<string, ServerConfig> = {};
  for (const [name, server] of Object.entries(config.servers)) {
    const found = installedNpxBin(server.command, server.args, server.cwd === undefined ? dirs : [server.cwd, ...dirs]);
    if (found === undefined) {
      servers[name] = server;
      continue;
    }
    servers[name] = { ...server, command: found.command, args: found.args };
    direct.push({ server: name, ...found });
  }
  return { config: { ...config, servers }, direct };
}
