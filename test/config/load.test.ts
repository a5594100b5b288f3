import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { interpolateEnv, loadConfig, parseConfig } from '../../src/config/load.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-fleet-load-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCount = 0;
/** Writes `text` to a fresh file in the temp dir and returns its path. */
async function fixture(text: string, ext = 'yaml'): Promise<string> {
  const file = join(dir, `config-${++fileCount}.${ext}`);
  await writeFile(file, text);
  return file;
}

/** Runs `load` and returns the ConfigError it throws (fails the test if it does not throw one). */
async function configError(load: () => unknown): Promise<ConfigError> {
  try {
    await load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but the config loaded');
}

const SECRET = 'sk-live-7f3a9c1e5b2d4f6a8c0e';

describe('loadConfig: valid files', () => {
  it('loads a YAML file and fills in defaults', async () => {
    const file = await fixture(`
servers:
  fetch:
    command: uvx
    args: [mcp-server-fetch]
    hostnames: [Fetch.Example.com]
`);
    const config = await loadConfig(file, { env: {} });
    expect(config.version).toBe(1);
    expect(config.gateway).toMatchObject({ host: '127.0.0.1', port: 8808, logLevel: 'info', allowedHosts: [] });
    expect(config.servers['fetch']).toEqual({
      command: 'uvx',
      args: ['mcp-server-fetch'],
      env: {},
      hostnames: ['fetch.example.com'],
      pool: { min: 1, max: 4 },
      spares: 1,
      maxSessions: 100,
      startupTimeoutSeconds: 30,
      requestTimeoutSeconds: 300,
    });
  });

  it('loads a JSON file', async () => {
    const file = await fixture(
      JSON.stringify({ gateway: { port: 9000 }, servers: { memory: { command: 'npx', policy: 'shared' } } }),
      'json',
    );
    const config = await loadConfig(file, { env: {} });
    expect(config.gateway.port).toBe(9000);
    expect(config.servers['memory']).toMatchObject({ command: 'npx', args: [], policy: 'shared' });
  });
});

describe('loadConfig: ${NAME} references', () => {
  it('resolves ${NAME} and ${NAME:-default}, and keeps $${ as a literal ${', async () => {
    const file = await fixture(`
servers:
  github:
    command: npx
    args: ["--api=\${API_URL:-https://api.github.com}", "--literal=$\${NOT_A_REF}"]
    env:
      GITHUB_TOKEN: \${GH_TOKEN}
`);
    const config = await loadConfig(file, { env: { GH_TOKEN: SECRET } });
    expect(config.servers['github']?.env).toEqual({ GITHUB_TOKEN: SECRET });
    expect(config.servers['github']?.args).toEqual(['--api=https://api.github.com', '--literal=${NOT_A_REF}']);
  });

  it('keeps references as written when resolveEnv is false (synth and deploy)', async () => {
    const file = await fixture('servers:\n  github:\n    command: npx\n    env:\n      GITHUB_TOKEN: ${GH_TOKEN}\n');
    const config = await loadConfig(file, { env: {}, resolveEnv: false });
    expect(config.servers['github']?.env).toEqual({ GITHUB_TOKEN: '${GH_TOKEN}' });
  });

  it('names the field, the variable and the fix when a variable is not set', async () => {
    const file = await fixture('servers:\n  github:\n    command: npx\n    env:\n      GITHUB_TOKEN: ${GH_TOKEN}\n');
    const error = await configError(() => loadConfig(file, { env: {} }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.problems).toHaveLength(1);
    const [problem] = error.problems;
    expect(problem).toContain('servers.github.env.GITHUB_TOKEN');
    expect(problem).toContain('${GH_TOKEN}');
    expect(problem).toMatch(/export GH_TOKEN/);
    expect(problem).toContain('${GH_TOKEN:-value}');
  });

  it('interpolateEnv reports every unset variable with its path', () => {
    const { value, problems } = interpolateEnv({ a: ['${ONE}', 'x'], b: { c: '${TWO}-${THREE:-3}' } }, {});
    expect(value).toEqual({ a: ['${ONE}', 'x'], b: { c: '${TWO}-3' } });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^a\[0\]: references \$\{ONE\}/);
    expect(problems[1]).toMatch(/^b\.c: references \$\{TWO\}/);
  });
});

describe('loadConfig: secrets never appear in errors', () => {
  it('hides a literal env value of the wrong type', async () => {
    const file = await fixture(`servers:\n  github:\n    command: npx\n    env:\n      GITHUB_TOKEN: [${SECRET}]\n`);
    const error = await configError(() => loadConfig(file, { env: {} }));
    expect(error.problems.join('\n')).toContain('servers.github.env.GITHUB_TOKEN');
    expect(error.message).not.toContain(SECRET);
  });

  it('shows a reference as written, not the secret it resolved to (regression: args written as a string)', async () => {
    const file = await fixture('servers:\n  github:\n    command: npx\n    args: "--token=${GH_TOKEN}"\n');
    const error = await configError(() => loadConfig(file, { env: { GH_TOKEN: SECRET } }));
    expect(error.problems).toEqual(['servers.github.args: is "--token=${GH_TOKEN}", but must be an array']);
    expect(error.message).not.toContain(SECRET);
  });

  it('hides env maps inside a larger value that is shown (regression: servers written as a list)', async () => {
    const file = await fixture(`servers:\n  - command: npx\n    env:\n      GITHUB_TOKEN: ${SECRET}\n`);
    const error = await configError(() => loadConfig(file, { env: {} }));
    expect(error.problems[0]).toMatch(/^servers: is .*must be a record/);
    expect(error.message).not.toContain(SECRET);
  });
});

describe('loadConfig: invalid files', () => {
  it('names an unknown field (a typo) and says to fix the spelling', async () => {
    const file = await fixture('servers:\n  fetch:\n    command: uvx\n    agrs: [mcp-server-fetch]\n');
    const error = await configError(() => loadConfig(file, { env: {} }));
    expect(error.problems).toEqual(['servers.fetch: unknown field "agrs"; remove it or fix the spelling']);
  });

  it.each([
    ['upper case', 'Fetch'],
    ['a slash', 'tools/fetch'],
  ])('rejects a server name with %s, naming the field and the rule', async (_what, name) => {
    const error = await configError(() => parseConfig({ servers: { [name]: { command: 'uvx' } } }, 'fleet.yaml', { env: {} }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain(`servers.${name}`);
    expect(error.problems[0]).toContain('lower-case letters, digits and "-"');
  });

  it('rejects one host name used by two servers, naming both', async () => {
    const file = await fixture(`
servers:
  fetch: { command: uvx, hostnames: [tools.example.com] }
  time: { command: uvx, hostnames: [Tools.Example.com] }
`);
    const error = await configError(() => loadConfig(file, { env: {} }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('servers.time.hostnames[0]');
    expect(error.problems[0]).toContain('already used by server "fetch"');
  });

  it('rejects a config with no servers', async () => {
    const file = await fixture('servers: {}\n');
    const error = await configError(() => loadConfig(file, { env: {} }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^servers: .*list at least one server/);
  });

  it('says an empty file is empty', async () => {
    const file = await fixture('');
    const error = await configError(() => loadConfig(file, { env: {} }));
    expect(error.problems[0]).toMatch(/the file is empty/);
  });

  it('names a missing file and what to pass', async () => {
    const file = join(dir, 'no-such-fleet.yaml');
    const error = await configError(() => loadConfig(file));
    expect(error.message).toContain(file);
    expect(error.problems).toEqual(['no such file; pass an existing file with --config']);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('reports invalid YAML with its position', async () => {
    const file = await fixture('servers:\n  fetch:\n    command: uvx\n   args: [a\n');
    const error = await configError(() => loadConfig(file));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^is not valid YAML or JSON: .*line \d+/);
  });

  it('reports several problems at once in one ConfigError', async () => {
    const file = await fixture(`
gateway:
  port: 99999
servers:
  Bad_Name: { command: uvx }
  fetch: { command: "", polcy: shared, env: { TOKEN: "\${MISSING_TOKEN}" } }
`);
    const error = await configError(() => loadConfig(file, { env: {} }));
    const problems = error.problems.join('\n');
    expect(error.problems.length).toBeGreaterThanOrEqual(5);
    expect(problems).toContain('servers.fetch.env.TOKEN: references ${MISSING_TOKEN}');
    expect(problems).toContain('gateway.port');
    expect(problems).toContain('servers.Bad_Name');
    expect(problems).toContain('servers.fetch: unknown field "polcy"');
    expect(problems).toContain('servers.fetch.command');
    expect(error.message).toContain(`${error.problems.length} problems`);
  });
});

describe('loadConfig: client configs', () => {
  it('loads a Claude Desktop mcpServers file unchanged, skipping remote entries with a warning', async () => {
    const file = await fixture(
      JSON.stringify({
        mcpServers: {
          memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] },
          github: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: '${GH_TOKEN}' } },
          linear: { url: 'https://mcp.linear.app/sse' },
        },
      }),
      'json',
    );
    const warnings: string[] = [];
    const config = await loadConfig(file, { env: { GH_TOKEN: SECRET }, onWarning: (w) => warnings.push(w) });
    expect(Object.keys(config.servers)).toEqual(['memory', 'github']);
    expect(config.servers['memory']?.args).toEqual(['-y', '@modelcontextprotocol/server-memory']);
    expect(config.servers['github']?.env).toEqual({ GITHUB_TOKEN: SECRET });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/mcpServers\.linear: skipped, it is already a remote server \(https:\/\/mcp\.linear\.app\/sse\)/);
  });
});

describe('gateway.cluster.secret', () => {
  const base = { servers: { a: { command: 'x' } } };

  it('GIVEN a ${NAME} reference WHEN read for deploy (not resolved) THEN it is accepted', () => {
    const config = parseConfig({ ...base, gateway: { cluster: { secret: '${FLEET_SECRET}' } } }, 'fleet.yaml', { resolveEnv: false });
    expect(config.gateway.cluster?.secret).toBe('${FLEET_SECRET}');
  });

  it('GIVEN a short secret WHEN read THEN the error names the field and the fix, never the value', () => {
    expect(() => parseConfig({ ...base, gateway: { cluster: { secret: 'hunter2-short' } } }, 'fleet.yaml', { resolveEnv: false })).toThrow(
      /gateway\.cluster\.secret: is \(value hidden\); the fleet secret must be at least 32 characters/,
    );
    expect(() => parseConfig({ ...base, gateway: { cluster: { secret: '${S}' } } }, 'fleet.yaml', { env: { S: 'hunter2-short' } })).toThrow(
      /^(?![\s\S]*hunter2)[\s\S]*at least 32 characters/,
    );
  });
});
