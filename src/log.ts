import pino from 'pino';
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

/** How `serve` writes its log: one JSON object per line, or a readable coloured line for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

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

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Least severe level written. @default 'info' */
  readonly level?: LogLevel;
  /** JSON lines or readable lines. @default 'json' */
  readonly format?: LogFormat;
  /** Where each line goes. @default process.stdout */
  readonly write?: (line: string) => void;
  /** Colours in the pretty format. @default when stdout is a terminal and NO_COLOR is unset */
  readonly colour?: boolean;
  /** Fields on every record. */
  readonly fields?: LogFields;
}

/** Options of {@link createJsonLogger}. */
export type JsonLoggerOptions = Omit<LoggerOptions, 'format' | 'colour'>;

/**
 * A logger on pino. JSON records are `{"level":"info","time":"<ISO 8601>",...fields,"msg"}`
 * (the level as a word: the deployed log alarms match `"level":"error"`).
 * Fields whose names look secret are redacted by {@link redact} before pino sees
 * them; a child's fields are merged with each record's (a record's win), so a
 * key appears once per line.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'json';
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const colour = options.colour ?? (process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined);
  const stream: pino.DestinationStream = { write: format === 'pretty' ? (line: string) => write(prettyLine(line, colour)) : write };
  const root = pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return wrap(root, options.fields ?? {});
}

/** A logger writing one JSON object per line: `{"level","time",...fields,"msg"}`. */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  return createLogger({ ...options, format: 'json' });
}

function wrap(root: pino.Logger, base: LogFields): Logger {
  const hasBase = Object.keys(base).length > 0;
  const log =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      // The level check first: a disabled level costs no merge and no redaction.
      if (!root.isLevelEnabled(level)) return;
      root[level](redact(hasBase ? { ...base, ...fields } : (fields ?? {})), message);
    };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => wrap(root, { ...base, ...fields }),
    enabled: (level) => root.isLevelEnabled(level),
  };
}

const LEVEL_STYLE: Record<string, { label: string; code: number }> = {
  debug: { label: 'DEBUG', code: 2 },
  info: { label: 'INFO ', code: 32 },
  warn: { label: 'WARN ', code: 33 },
  error: { label: 'ERROR', code: 31 },
};

/**
 * One JSON record rendered for a person: `HH:MM:SS.mmm LEVEL [server] message key=value ...`,
 * coloured by level when `colour`. Strings with spaces are quoted, objects are JSON.
 */
export function prettyLine(json: string, colour: boolean): string {
  const paint = (code: number, s: string): string => (colour ? `\u001b[${code}m${s}\u001b[0m` : s);
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, msg, server, ...rest } = record;
  const style = LEVEL_STYLE[String(level)] ?? { label: String(level).toUpperCase().padEnd(5), code: 0 };
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const parts = [paint(2, clock), paint(style.code, style.label)];
  if (server !== undefined) parts.push(paint(36, `[${String(server)}]`));
  parts.push(String(msg ?? ''));
  for (const [key, value] of Object.entries(rest)) parts.push(`${paint(2, `${key}=`)}${prettyValue(value)}`);
  return `${parts.join(' ')}\n`;
}

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
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
