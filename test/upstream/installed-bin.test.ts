import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { installedNpxBin, runInstalledBinsDirectly } from '../../src/upstream/installed-bin.js';
import { REPO_ROOT } from '../gateway/helpers.js';

// The example fleet's servers are devDependencies, so they are installed in the
// repository's node_modules: exactly what a user who ran `npm ci` has.

const require = createRequire(import.meta.url);
const EVERYTHING_BIN = realpathSync(require.resolve('@modelcontextprotocol/server-everything/dist/index.js'));
const MEMORY = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-memory/package.json'), 'utf8')) as { version: string };

let elsewhere: string;

beforeAll(async () => {
  elsewhere = await mkdtemp(join(tmpdir(), 'mcp-fleet-npx-'));
});

afterAll(async () => {
  await rm(elsewhere, { recursive: true, force: true });
});

describe('installedNpxBin', () => {
  it('GIVEN npx --no-install <bin name> of an installed package THEN node runs its bin directly', () => {
    expect(installedNpxBin('npx', ['--no-install', 'mcp-server-everything'], [REPO_ROOT])).toEqual({
      command: process.execPath,
      args: [EVERYTHING_BIN],
      packageName: '@modelcontextprotocol/server-everything',
      version: expect.any(String),
      binPath: EVERYTHING_BIN,
    });
  });

  it('GIVEN npx -y <package>@<installed version> args THEN node runs its bin with the args', () => {
    const found = installedNpxBin('/usr/bin/npx', ['-y', `@modelcontextprotocol/server-memory@${MEMORY.version}`, '--flag'], [REPO_ROOT]);
    expect(found?.command).toBe(process.execPath);
    expect(found?.args.slice(1)).toEqual(['--flag']);
    expect(found).toMatchObject({ packageName: '@modelcontextprotocol/server-memory', version: MEMORY.version });
  });

  it('GIVEN -p <package> <bin> THEN that bin of the package runs', () => {
    expect(installedNpxBin('npx', ['-p', '@modelcontextprotocol/server-everything', 'mcp-server-everything', 'stdio'], [REPO_ROOT])?.args).toEqual([EVERYTHING_BIN, 'stdio']);
  });

  it('GIVEN another pinned version, a package not installed, or a directory without it THEN npx keeps running it', () => {
    expect(installedNpxBin('npx', ['-y', '@modelcontextprotocol/server-memory@0.0.1'], [REPO_ROOT])).toBeUndefined();
    expect(installedNpxBin('npx', ['-y', '@modelcontextprotocol/server-memory@^2026.1.0'], [REPO_ROOT])).toBeUndefined();
    expect(installedNpxBin('npx', ['-y', 'mcp-fleet-surely-not-installed-package'], [REPO_ROOT])).toBeUndefined();
    expect(installedNpxBin('npx', ['--no-install', 'mcp-server-everything'], [elsewhere])).toBeUndefined();
  });

  it('GIVEN a command that is not npx, or npx options it does not know THEN nothing changes', () => {
    expect(installedNpxBin('uvx', ['mcp-server-everything'], [REPO_ROOT])).toBeUndefined();
    expect(installedNpxBin('npx', ['--registry', 'https://example.invalid', 'mcp-server-everything'], [REPO_ROOT])).toBeUndefined();
    expect(installedNpxBin('npx', ['github:someone/server'], [REPO_ROOT])).toBeUndefined();
  });

  it('GIVEN a package whose bin is a shell script THEN npx keeps running it', async () => {
    const pkg = join(elsewhere, 'node_modules', 'shell-bin-server');
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'shell-bin-server', version: '1.0.0', bin: 'run.sh' }));
    await writeFile(join(pkg, 'run.sh'), '#!/bin/sh\necho hi\n');
    expect(installedNpxBin('npx', ['shell-bin-server'], [elsewhere])).toBeUndefined();
  });
});

describe('runInstalledBinsDirectly on examples/fleet.yaml', () => {
  it('GIVEN the example fleet WHEN served from the repository THEN both servers run with node, and the rest of their config is kept', async () => {
    const config = await loadConfig(join(REPO_ROOT, 'examples/fleet.yaml'), { env: {} });
    const { config: direct, direct: notes } = runInstalledBinsDirectly(config, [join(REPO_ROOT, 'examples'), REPO_ROOT]);
    expect(notes.map((n) => [n.server, n.packageName])).toEqual([
      ['everything', '@modelcontextprotocol/server-everything'],
      ['memory', '@modelcontextprotocol/server-memory'],
    ]);
    expect(direct.servers['everything']?.command).toBe(process.execPath);
    expect(direct.servers['memory']?.env).toEqual(config.servers['memory']?.env);
    expect(config.servers['memory']?.command).toBe('npx');
  });
});
