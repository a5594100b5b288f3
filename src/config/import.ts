import type { FleetConfigInput } from './schema.js';

/**
 * Conversion of MCP client config files (Claude Desktop, Claude Code, Cursor,
 * VS Code) into an mcp-fleet config.
 */

/** The client config layouts mcp-fleet reads. */
export type ClientFormat = 'mcpServers' | 'claude-code' | 'vscode';

/** How each {@link ClientFormat} is named to a user. */
export const CLIENT_FORMAT_LABELS: Readonly<Record<ClientFormat, string>> = {
  mcpServers: 'an mcpServers config (Claude Desktop, Cursor or Claude Code .mcp.json)',
  'claude-code': 'a Claude Code ~/.claude.json (user and per-project servers)',
  vscode: 'a VS Code mcp.json',
};

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

/** Longest server name the schema accepts. */
const MAX_NAME_LENGTH = 40;

/**
 * Makes a client's server name URL-safe (`AWS Docs` -> `aws-docs`), at most
 * `maxLength` characters.
 */
export function toServerName(name: string, maxLength = MAX_NAME_LENGTH): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, maxLength)
    .replace(/-+$/g, '');
  return cleaned === '' ? 'server' : cleaned;
}

/** A name not yet taken in `taken`: `name`, else `name-2`, `name-3`..., still within the length limit. */
function uniqueName(name: string, taken: Readonly<Record<string, unknown>>): string {
  if (!Object.hasOwn(taken, name)) return name;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = `${toServerName(name, MAX_NAME_LENGTH - suffix.length)}${suffix}`;
    if (!Object.hasOwn(taken, candidate)) return candidate;
  }
}

/** Variables VS Code and Cursor fill in themselves; a gateway has no such thing. */
const EDITOR_VARIABLES = /\$\{(workspaceFolder|workspaceFolderBasename|workspaceRoot|file|cwd|pathSeparator|\/)\}/;

/**
 * Rewrites editor references to mcp-fleet's `${NAME}`: `${env:NAME}` (VS Code,
 * Cursor) and `${userHome}` (to `${HOME}`) everywhere; `${input:id}` (VS Code
 * prompts) to `${ID}`, with a warning since that variable must now be exported.
 */
function convertRefs(value: string, warn: (msg: string) => void, where: string): string {
  const converted = value
    .replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => `\${${name}}`)
    .replace(/\$\{userHome\}/g, '${HOME}')
    .replace(/\$\{input:([^}]+)\}/g, (_m, id: string) => {
      const name = id.toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
      warn(`${where}: VS Code input "${id}" became \${${name}}; export ${name} where the gateway runs`);
      return `\${${name}}`;
    });
  const editorVariable = EDITOR_VARIABLES.exec(converted);
  if (editorVariable) {
    warn(`${where}: uses ${editorVariable[0]}, which only the editor knows; replace it with a path before serving`);
  }
  return converted;
}

/** Env keys whose values are usually credentials. */
const SECRET_KEY = /TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|(^|_)PAT($|_)|(^|_)AUTH($|_)/i;

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

  // Claude Code repeats one server in many projects: import it once.
  const seen = new Map<string, string>();

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
    if (entry['disabled'] === true) {
      warn(`${where}: skipped, it is disabled in the client config`);
      continue;
    }
    if (typeof entry['command'] !== 'string' || entry['command'] === '') {
      problems.push(`${where}: has no command, so it cannot run in a gateway; add "command" or remove the entry`);
      continue;
    }
    if ('args' in entry && !Array.isArray(entry['args'])) {
      problems.push(`${where}.args: is not a list; write the arguments as a JSON array of strings`);
      continue;
    }
    if ('env' in entry && !isObject(entry['env'])) {
      problems.push(`${where}.env: is not an object; write it as {"NAME": "value"}`);
      continue;
    }

    // Warnings about one entry are held back until we know it is not a duplicate.
    const entryWarnings: string[] = [];
    const note = (msg: string): void => void entryWarnings.push(msg);
    const command = convertRefs(entry['command'], note, `${where}.command`);
    const args = ((entry['args'] as unknown[] | undefined) ?? []).map((a, i) =>
      convertRefs(String(a), note, `${where}.args[${i}]`),
    );
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries((entry['env'] as Record<string, unknown> | undefined) ?? {})) {
      const converted = convertRefs(String(value), note, `${where}.env.${key}`);
      env[key] = converted;
      if (SECRET_KEY.test(key) && !converted.includes('${')) {
        note(
          `${where}.env.${key}: holds a literal value that looks like a secret and is copied as it is; ` +
            `to keep it out of the file, write \${${key}} instead and export ${key} where the gateway runs`,
        );
      }
    }
    const cwd = typeof entry['cwd'] === 'string' ? convertRefs(entry['cwd'], note, `${where}.cwd`) : undefined;
    const server = {
      command,
      ...(args.length > 0 ? { args } : {}),
      ...(Object.keys(env).length > 0 ? { env } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
    };

    const base = toServerName(originalName);
    const fingerprint = JSON.stringify([base, server]);
    const duplicateOf = seen.get(fingerprint);
    if (duplicateOf !== undefined) {
      warn(`${where}: skipped, it is the same server as "${duplicateOf}"`);
      continue;
    }
    const name = uniqueName(base, servers);
    seen.set(fingerprint, name);
    if (name !== originalName) warn(`${where}: renamed to "${name}" (server names are URL paths)`);
    warnings.push(...entryWarnings);
    if ('envFile' in entry) warn(`${where}: envFile is not imported; put its variables in env as \${NAME} references`);
    servers[name] = server;
  }
  if (Object.keys(servers).length === 0 && problems.length === 0) {
    problems.push('no stdio server to import: every entry was remote, disabled or empty');
  }
  return { config: { servers }, problems, warnings };
}
