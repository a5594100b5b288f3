import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfigToFleet, detectClientFormat, toServerName, type ImportResult } from '../../src/config/import.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = join(root, 'test/fixtures/client-configs');

async function readFixture(name: string): Promise<unknown> {
  return JSON.parse(await readFile(join(fixtures, name), 'utf8')) as unknown;
}

/** Detects the format of a fixture and converts it, asserting the detected format. */
async function importFixture(name: string, expectedFormat: ReturnType<typeof detectClientFormat>): Promise<ImportResult> {
  const raw = await readFixture(name);
  const format = detectClientFormat(raw);
  expect(format).toBe(expectedFormat);
  return clientConfigToFleet(raw, format!);
}

/** The imported config passes the real schema (references unresolved, as `import` writes them). */
function expectValid(result: ImportResult): void {
  expect(result.problems).toEqual([]);
  expect(() => parseConfig(result.config, 'imported', { resolveEnv: false })).not.toThrow();
}

describe('clientConfigToFleet: client formats', () => {
  it('Claude Desktop: renames, keeps ${NAME} references, skips disabled and remote entries', async () => {
    const result = await importFixture('claude_desktop_config.json', 'mcpServers');
    expectValid(result);
    expect(result.config.servers).toEqual({
      filesystem: {
        command: 'npx',
        args: ['-y', '@modelcontextprotocol/server-filesystem', '/Users/me/Desktop', '/Users/me/Downloads'],
      },
      github: {
        command: 'npx',
        args: ['-y', '@modelcontextprotocol/server-github'],
        env: { GITHUB_PERSONAL_ACCESS_TOKEN: '${GITHUB_TOKEN}' },
      },
      'aws-docs': { command: 'uvx', args: ['awslabs.aws-documentation-mcp-server@latest'], env: { FASTMCP_LOG_LEVEL: 'ERROR' } },
    });
    expect(result.warnings).toEqual([
      'mcpServers.GitHub: renamed to "github" (server names are URL paths)',
      'mcpServers.AWS Docs: renamed to "aws-docs" (server names are URL paths)',
      'mcpServers.sentry: skipped, it is disabled in the client config',
      'mcpServers.linear: skipped, it is already a remote server (https://mcp.linear.app/sse); keep it in your client config as it is',
    ]);
  });

  it('Claude Code ~/.claude.json: user and project servers, one copy of a repeated server, a suffix for a clash', async () => {
    const result = await importFixture('claude.json', 'claude-code');
    expectValid(result);
    expect(Object.keys(result.config.servers)).toEqual(['memory', 'postgres', 'playwright', 'postgres-2']);
    expect(result.config.servers['postgres']?.args?.at(-1)).toBe('${DATABASE_URL:-postgresql://localhost/web}');
    expect(result.config.servers['postgres-2']?.args?.at(-1)).toBe('postgresql://localhost/api');
    expect(result.warnings).toEqual([
      'projects["/home/me/src/api"].mcpServers.postgres: renamed to "postgres-2" (server names are URL paths)',
      'projects["/home/me/src/api"].mcpServers.playwright: skipped, it is the same server as "playwright"',
    ]);
  });

  it('Claude Code .mcp.json: stdio entries kept, the http entry refused as already remote', async () => {
    const result = await importFixture('.mcp.json', 'mcpServers');
    expectValid(result);
    expect(result.config.servers).toEqual({
      context7: { command: 'npx', args: ['-y', '@upstash/context7-mcp'], env: { CONTEXT7_API_KEY: '${CONTEXT7_API_KEY}' } },
      searxng: { command: 'npx', args: ['-y', 'mcp-searxng'], env: { SEARXNG_URL: '${SEARXNG_URL:-http://localhost:8080}' } },
    });
    expect(result.warnings).toEqual([expect.stringMatching(/^mcpServers\.notion: skipped, it is already a remote server/)]);
  });

  it('Cursor: ${env:NAME} becomes ${NAME} and ${userHome} becomes ${HOME} (regression: copied literally)', async () => {
    const result = await importFixture('cursor/mcp.json', 'mcpServers');
    expectValid(result);
    expect(result.config.servers['brave-search']?.env).toEqual({ BRAVE_API_KEY: '${BRAVE_API_KEY}' });
    expect(result.config.servers['sqlite']?.args).toEqual(['mcp-server-sqlite', '--db-path', '${HOME}/data/app.db']);
    expect(result.config.servers).not.toHaveProperty('figma');
  });

  it('VS Code: servers key, ${input:id} and ${env:NAME} become ${NAME}, editor variables are warned about', async () => {
    const result = await importFixture('vscode/mcp.json', 'vscode');
    expectValid(result);
    expect(Object.keys(result.config.servers)).toEqual(['perplexity', 'fetch', 'git']);
    expect(result.config.servers['perplexity']?.env).toEqual({ PERPLEXITY_API_KEY: '${PERPLEXITY_KEY}' });
    expect(result.config.servers['fetch']?.env).toEqual({ HTTP_PROXY: '${HTTP_PROXY}' });
    const warnings = result.warnings.join('\n');
    expect(warnings).toContain('VS Code input "perplexity-key" became ${PERPLEXITY_KEY}; export PERPLEXITY_KEY');
    expect(warnings).toContain('servers.git.args[2]: uses ${workspaceFolder}, which only the editor knows');
    expect(warnings).toContain('servers.github: skipped, it is already a remote server (https://api.githubcopilot.com/mcp/)');
  });

  it('does not take an mcp-fleet config for a client config', () => {
    expect(detectClientFormat({ servers: { fetch: { command: 'uvx' } } })).toBeUndefined();
    expect(detectClientFormat({ version: 1, servers: { fetch: { command: 'uvx', type: 'stdio' } } })).toBeUndefined();
  });
});

describe('clientConfigToFleet: names and entries', () => {
  it.each([
    ['AWS Docs', 'aws-docs'],
    ['github.com/org/repo', 'github-com-org-repo'],
    ['--Weird__Name--', 'weird-name'],
    ['Файлы', 'server'],
    ['x'.repeat(50), 'x'.repeat(40)],
  ])('makes %j a valid server name', (name, expected) => {
    expect(toServerName(name)).toBe(expected);
  });

  it('gives colliding names a numbered suffix that still fits 40 characters', () => {
    const long = 'a'.repeat(45);
    const result = clientConfigToFleet(
      { mcpServers: { [`${long}1`]: { command: 'a' }, [`${long}2`]: { command: 'b' }, 'My Server': { command: 'c' }, 'my-server': { command: 'd' } } },
      'mcpServers',
    );
    expectValid(result);
    expect(Object.keys(result.config.servers)).toEqual(['a'.repeat(40), `${'a'.repeat(38)}-2`, 'my-server', 'my-server-2']);
  });

  it('imports a server named "constructor" under its own name (regression: Object.prototype clash)', () => {
    const result = clientConfigToFleet({ mcpServers: { constructor: { command: 'npx' } } }, 'mcpServers');
    expect(Object.keys(result.config.servers)).toEqual(['constructor']);
    expect(result.warnings).toEqual([]);
  });

  it('refuses a file with only remote and disabled entries', () => {
    const result = clientConfigToFleet(
      {
        mcpServers: {
          notion: { type: 'http', url: 'https://mcp.notion.com/mcp' },
          old: { type: 'sse', url: 'https://example.com/sse' },
          off: { command: 'npx', disabled: true },
        },
      },
      'mcpServers',
    );
    expect(result.problems).toEqual(['no stdio server to import: every entry was remote, disabled or empty']);
    expect(result.warnings).toHaveLength(3);
  });

  it('names entries it cannot import and says what to do', () => {
    const result = clientConfigToFleet(
      { mcpServers: { a: { args: ['x'] }, b: 'npx', c: { command: 'npx', args: '-y pkg' }, ok: { command: 'npx' } } },
      'mcpServers',
    );
    expect(result.problems).toEqual([
      'mcpServers.a: has no command, so it cannot run in a gateway; add "command" or remove the entry',
      'mcpServers.b: is not an object with a command; remove it or give it a command',
      'mcpServers.c.args: is not a list; write the arguments as a JSON array of strings',
    ]);
  });

  it('warns about a literal secret-looking env value without showing it', () => {
    const secret = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
    const result = clientConfigToFleet(
      { mcpServers: { github: { command: 'npx', env: { GITHUB_PERSONAL_ACCESS_TOKEN: secret, LOG_LEVEL: 'debug' } } } },
      'mcpServers',
    );
    expect(result.warnings).toEqual([expect.stringMatching(/^mcpServers\.github\.env\.GITHUB_PERSONAL_ACCESS_TOKEN: holds a literal value/)]);
    expect(result.warnings.join('\n')).not.toContain(secret);
  });
});

describe('mcp-fleet import (CLI, spawned)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-fleet-import-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the CLI from source, as a user would run the built one. */
  function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolvePromise) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args],
        { cwd: root, env: { ...process.env, NO_COLOR: '1' }, timeout: 20_000 },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
          resolvePromise({ code, stdout, stderr });
        },
      );
    });
  }

  it('prints a loadable YAML config with a header on stdout, and warnings on stderr', async () => {
    const { code, stdout, stderr } = await cli('import', join(fixtures, 'claude_desktop_config.json'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^# mcp-fleet config imported from .*claude_desktop_config\.json/);
    expect(stdout).toContain('# Serve it with: mcp-fleet serve --config fleet.yaml');
    expect(stdout).toContain('GITHUB_PERSONAL_ACCESS_TOKEN: ${GITHUB_TOKEN}');
    expect(stderr).toContain('warning: mcpServers.linear: skipped, it is already a remote server');
    expect(stderr).toContain('imported 3 servers (filesystem, github, aws-docs)');

    // What it printed is a config that serve would load.
    const out = join(dir, 'from-stdout.yaml');
    await writeFile(out, stdout);
    const config = await loadConfig(out, { env: { GITHUB_TOKEN: 'token-value' } });
    expect(Object.keys(config.servers)).toEqual(['filesystem', 'github', 'aws-docs']);
    expect(config.servers['github']?.env).toEqual({ GITHUB_PERSONAL_ACCESS_TOKEN: 'token-value' });
  });

  it('refuses to overwrite an existing --out without --force, and overwrites it with --force', async () => {
    const out = join(dir, 'fleet.yaml');
    await writeFile(out, 'keep me\n');
    const refused = await cli('import', join(fixtures, 'vscode/mcp.json'), '--out', out);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: ${out} already exists; not overwritten`);
    expect(refused.stderr).toContain('Pass --force to overwrite it');
    expect(await readFile(out, 'utf8')).toBe('keep me\n');

    const forced = await cli('import', join(fixtures, 'vscode/mcp.json'), '--out', out, '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe('');
    expect(forced.stderr).toContain(`serve it with: mcp-fleet serve --config ${out}`);
    const written = await readFile(out, 'utf8');
    expect(written).toContain(`# Serve it with: mcp-fleet serve --config ${out}`);
    expect(written).toContain('PERPLEXITY_API_KEY: ${PERPLEXITY_KEY}');
  });
});
