import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { clientConfigToFleet, detectClientFormat } from './import.js';
import { FleetConfigSchema, type FleetConfig } from './schema.js';

/** Options of {@link loadConfig} and {@link parseConfig}. */
export interface LoadConfigOptions {
  /** Environment that `${NAME}` references read. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Replace `${NAME}` references with values from `env`. `serve` does; `synth` and
   * `deploy` do not, since a reference there becomes a secret of the task.
   * @default true
   */
  readonly resolveEnv?: boolean;
  /** Receives what was skipped or changed when a client config is read. */
  readonly onWarning?: (message: string) => void;
}

/** Field paths whose values may hold secrets: never echoed in error messages. */
function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((p) => p === 'env' || p === 'headers' || (typeof p === 'string' && /secret|token|password/i.test(p)));
}

/** Formats a field path as `servers.fetch.args[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(top level)' : out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  // A shown object may hold an env or headers map further down; hide those values too.
  const s = JSON.stringify(value, (key: string, v: unknown) =>
    (key === 'env' || key === 'headers') && v !== null && typeof v === 'object' ? '(hidden)' : v,
  );
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

const ENV_REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of `raw`; `$${` is a
 * literal `${`. Returns one problem per reference to an unset variable.
 */
export function interpolateEnv(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>>,
): { value: unknown; problems: string[] } {
  const problems: string[] = [];
  const walk = (v: unknown, path: PropertyKey[]): unknown => {
    if (typeof v === 'string') {
      return v.replace(ENV_REF, (match, name: string | undefined, fallback: string | undefined) => {
        if (name === undefined) return '${';
        const found = env[name];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        problems.push(
          `${formatPath(path)}: references \${${name}}, which is not set; export ${name} before starting, or give a default as \${${name}:-value}`,
        );
        return match;
      });
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...path, k])]));
    }
    return v;
  };
  return { value: walk(raw, []), problems };
}

/** Turns zod issues into one line each: field path, bad value, and the fix. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): string[] {
  return issues.map((issue) => {
    const where = formatPath(issue.path);
    const value = isSecretPath(issue.path) ? '(value hidden)' : show(valueAt(raw, issue.path));
    switch (issue.code) {
      case 'unrecognized_keys':
        return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or fix the spelling`;
      case 'invalid_type':
        if (valueAt(raw, issue.path) === undefined) return `${where}: is required (${issue.expected}); add it`;
        return `${where}: is ${value}, but must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
      case 'invalid_key':
        return `${where}: ${issue.issues[0]?.message ?? issue.message}`;
      default:
        return `${where}: is ${value}; ${issue.message}`;
    }
  });
}

/**
 * Validates an already-parsed config object (our format or a client's
 * `mcpServers` file). Throws {@link ConfigError} listing every problem.
 */
export function parseConfig(raw: unknown, file: string, options: LoadConfigOptions = {}): FleetConfig {
  let input = raw;
  const format = detectClientFormat(raw);
  if (format !== undefined) {
    const converted = clientConfigToFleet(raw, format);
    if (converted.problems.length > 0) throw new ConfigError(file, converted.problems);
    for (const warning of converted.warnings) options.onWarning?.(warning);
    input = converted.config;
  }
  if (input === null || input === undefined) {
    throw new ConfigError(file, ['the file is empty; list your stdio servers under servers:, each with a command']);
  }
  const problems: string[] = [];
  // Errors show values as written (`${TOKEN}`), never as resolved: a resolved value may be a secret.
  const asWritten = input;
  if (options.resolveEnv ?? true) {
    const interpolated = interpolateEnv(input, options.env ?? process.env);
    problems.push(...interpolated.problems);
    input = interpolated.value;
  }
  const parsed = FleetConfigSchema.safeParse(input);
  if (!parsed.success) problems.push(...describeIssues(parsed.error.issues, asWritten));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);
  return parsed.data;
}

/** Parses YAML or JSON text into a plain value, or throws {@link ConfigError}. */
export function parseConfigText(text: string, file: string): unknown {
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(file, [`is not valid YAML or JSON: ${message}`], { cause: error });
  }
}

/**
 * Reads, interpolates and validates a config file (YAML, JSON, or a client's
 * `mcpServers` JSON). Throws {@link ConfigError} naming every problem.
 */
export async function loadConfig(file: string, options: LoadConfigOptions = {}): Promise<FleetConfig> {
  return parseConfig(await readConfigFile(file), file, options);
}

/**
 * Reads a YAML or JSON file into a plain value, without validating it. Throws
 * {@link ConfigError} if the file is missing, unreadable or not YAML/JSON.
 * @param missingHint what to do when the file does not exist. @default 'pass an existing file with --config'
 */
export async function readConfigFile(file: string, missingHint = 'pass an existing file with --config'): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `no such file; ${missingHint}` : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError(file, [why], { cause: error });
  }
  return parseConfigText(text, file);
}
