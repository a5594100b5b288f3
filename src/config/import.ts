import type { FleetConfigInput } from './schema.js';

/**
 * Conversion of MCP client config files (Claude Desktop, Claude Code, Cursor,
 * VS Code) into an mcp-fleet config.
 */

/** The client config layouts mcp-fleet reads. */
export type ClientFormat = 'mcpServers' | 'claude-code' | 'vscode';

/** Result of {@link clientConfigToFleet}. */
export interface ImportResult {
  /** The mcp-fleet config (without defaults filled in). */
  readonly config: FleetConfigInput;
  /** Entries that cannot be imported, each with why and what to do: the import fails if any. */
  readonly problems: string[];
  /** Entries that were skipped or changed on the way, each with why. */
  readonly warnings: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Tells which client layout a parsed file has, or `undefined` for an mcp-fleet config.
 * `mcpServers` is Claude Desktop, Cursor and Claude Code's `.mcp.json`; `claude-code`
 * is `~/.claude.json` with per-project servers; `vscode` is `.vscode/mcp.json`.
 */
export function detectClientFormat(raw: unknown): ClientFormat | undefined {
  if (!isObject(raw)) return undefined;
  if (isObject(raw['projects']) && Object.values(raw['projects']).some((p) => isObject(p) && 'mcpServers' in p)) {
    return 'claude-code';
  }
  if ('mcpServers' in raw) return 'mcpServers';
  if ('gateway' in raw || 'version' in raw || 'deploy' in raw) return undefined;
  const servers = raw['servers'];
  if ('inputs' in raw || (isObject(servers) && Object.values(servers).some((s) => isObject(s) && 'type' in s))) {
    return 'vscode';
  }
  return undefined;
}

/** Makes a client's server name URL-safe (`AWS Docs` -> `aws-docs`). */
export function toServerName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return cleaned === '' ? 'server' : cleaned;
}

/** Rewrites VS Code's `${env:NAME}` and `${input:id}` to mcp-fleet's `${NAME}`. */
function convertVsCodeRefs(value: string, warn: (msg: string) => void, where: string): string {
  return value
    .replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => `\${${name}}`)
    .replace(/\$\{input:([^}]+)\}/g, (_m, id: string) => {
      const name = id.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
      warn(`${where}: VS Code input "${id}" became \${${name}}; export ${name} where the gateway runs`);
      return `\${${name}}`;
    });
}

function collectEntries(raw: Record<string, unknown>, format: ClientFormat): [string, string, unknown][] {
  const entries: [string, string, unknown][] = [];
  if (format === 'vscode') {
    for (const [name, entry] of Object.entries(isObject(raw['servers']) ? raw['servers'] : {})) {
      entries.push([`servers.${name}`, name, entry]);
    }
    return entries;
  }
  for (const [name, entry] of Object.entries(isObject(raw['mcpServers']) ? raw['mcpServers'] : {})) {
    entries.push([`mcpServers.${name}`, name, entry]);
  }
  if (format === 'claude-code' && isObject(raw['projects'])) {
    for (const [project, settings] of Object.entries(raw['projects'])) {
      if (!isObject(settings) || !isObject(settings['mcpServers'])) continue;
      for (const [name, entry] of Object.entries(settings['mcpServers'])) {
        entries.push([`projects["${project}"].mcpServers.${name}`, name, entry]);
      }
    }
  }
  return entries;
}

/**
 * Converts a client config into an mcp-fleet config. Remote entries (a `url`, or
 * type `http`/`sse`) are refused: they are servers already, and belong in the
 * client config as they are. Env values keep their `${NAME}` references.
 */
export function clientConfigToFleet(raw: unknown, format: ClientFormat): ImportResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  const servers: Record<string, NonNullable<FleetConfigInput['servers']>[string]> = {};
  if (!isObject(raw)) return { config: { servers }, problems: ['the file does not hold a JSON object'], warnings };
  const warn = (msg: string): void => void warnings.push(msg);

  for (const [where, originalName, entry] of collectEntries(raw, format)) {
    if (!isObject(entry)) {
      problems.push(`${where}: is not an object with a command; remove it or give it a command`);
      continue;
    }
    const type = typeof entry['type'] === 'string' ? entry['type'] : 'stdio';
    if ('url' in entry || ['http', 'sse', 'streamable-http', 'streamableHttp'].includes(type)) {
      warn(
        `${where}: skipped, it is already a remote server (${typeof entry['url'] === 'string' ? entry['url'] : type}); keep it in your client config as it is`,
      );
      continue;
    }
    if (typeof entry['command'] !== 'string' || entry['command'] === '') {
      problems.push(`${where}: has no command, so it cannot run in a gateway; add "command" or remove the entry`);
      continue;
    }
    if (entry['disabled'] === true) {
      warn(`${where}: skipped, it is disabled in the client config`);
      continue;
    }
    let name = toServerName(originalName);
    if (name in servers) {
      let n = 2;
      while (`${name}-${n}` in servers) n++;
      name = `${name}-${n}`;
    }
    if (name !== originalName) warn(`${where}: renamed to "${name}" (server names are URL paths)`);

    const refs = (v: string, at: string): string => (format === 'vscode' ? convertVsCodeRefs(v, warn, at) : v);
    const args = Array.isArray(entry['args']) ? entry['args'].map((a, i) => refs(String(a), `${where}.args[${i}]`)) : [];
    const env: Record<string, string> = {};
    if (isObject(entry['env'])) {
      for (const [key, value] of Object.entries(entry['env'])) env[key] = refs(String(value), `${where}.env.${key}`);
    }
    if ('envFile' in entry) warn(`${where}: envFile is not imported; put its variables in env as \${NAME} references`);
    servers[name] = {
      command: entry['command'],
      ...(args.length > 0 ? { args } : {}),
      ...(Object.keys(env).length > 0 ? { env } : {}),
      ...(typeof entry['cwd'] === 'string' ? { cwd: entry['cwd'] } : {}),
    };
  }
  if (Object.keys(servers).length === 0 && problems.length === 0) {
    problems.push('no stdio server to import: every entry was remote, disabled or empty');
  }
  return { config: { servers }, problems, warnings };
}
