import type { LogLevel } from './config/schema.js';

/** Structured fields of a log record. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A structured logger. The library logs through one of these and never prints. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, fields?: LogFields): void;
  /** Normal operation. */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong but the gateway carries on. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed. */
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every record. */
  child(fields: LogFields): Logger;
  /** Whether records of `level` are written. */
  enabled(level: LogLevel): boolean;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /authorization|token|secret|password|api[-_]?key|cookie/i;

/** Replaces values of secret-looking fields with `[redacted]`. */
export function redact(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : value instanceof Error ? value.message : value;
  }
  return out;
}

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Least severe level written. @default 'info' */
  readonly level?: LogLevel;
  /** Where each JSON line goes. @default process.stdout */
  readonly write?: (line: string) => void;
  /** Fields on every record. */
  readonly fields?: LogFields;
}

/** A logger writing one JSON object per line: `{"time","level","msg",...fields}`. */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const base = options.fields ?? {};
  const log =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      if (RANK[level] < min) return;
      const record = { time: new Date().toISOString(), level, msg: message, ...redact({ ...base, ...fields }) };
      write(`${JSON.stringify(record)}\n`);
    };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => createJsonLogger({ ...options, fields: { ...base, ...fields } }),
    enabled: (level) => RANK[level] >= min,
  };
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
  enabled: () => false,
};
