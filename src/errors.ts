/**
 * Local errors of mcp-fleet. Three families are kept apart:
 * - {@link FleetError}: local failures (config, spawn, deploy), with a stable string `code`;
 * - JSON-RPC wire errors (numeric codes) live in `src/protocol.ts`;
 * - HTTP errors (status) live in `src/gateway/http/errors.ts`.
 */

/**
 * Who has to act to fix an error: the user (bad input), the user's environment
 * (missing AWS credentials, an AWS call refused, a tool not installed), or us (a
 * bug). Only `program` is reported as a bug in mcp-fleet.
 */
export type Fault = 'user' | 'environment' | 'program';

/** Options of a {@link FleetError}. */
export interface FleetErrorOptions {
  /** The error that caused this one. */
  readonly cause?: unknown;
  /** Who is at fault. @default 'user' */
  readonly fault?: Fault;
  /** What the user can do about it, shown after the message. */
  readonly hint?: string;
}

/** A local error with a stable code, a cause and who is at fault. */
export class FleetError extends Error {
  /** Stable, machine-readable code such as `CONFIG_INVALID`. */
  readonly code: string;
  /** Who is at fault. */
  readonly fault: Fault;
  /** What the user can do about it. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: FleetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FleetError';
    this.code = code;
    this.fault = options.fault ?? 'user';
    this.hint = options.hint;
  }
}

/** Thrown when a config file cannot be read or does not validate. Lists every problem. */
export class ConfigError extends FleetError {
  /** One line per problem: field path, bad value, fix. */
  readonly problems: readonly string[];

  constructor(file: string, problems: readonly string[], options: FleetErrorOptions = {}) {
    super(
      'CONFIG_INVALID',
      `${file}: ${problems.length === 1 ? '1 problem' : `${problems.length} problems`}\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      options,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
