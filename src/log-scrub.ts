import type { LogFields, Logger } from './log.js';

/**
 * Scrubbing of known secret values from log records: a child that holds a
 * caller's credential (`servers.<name>.fromRequest`) logs through one of these,
 * so a server that prints its environment or echoes a token to stderr does not
 * put the value in the gateway's log.
 */

/** Values shorter than this are not scrubbed (they would blot out ordinary words); see docs/SECURITY.md. */
export const MIN_SCRUBBED_LENGTH = 6;

/**
 * A logger that replaces each of `secrets` with `[redacted]` in the message and
 * every string field, for a child that holds a caller's values: a server that
 * prints its environment or echoes a token to stderr does not put it in the log.
 */
export function scrubbingLogger(inner: Logger, secrets: readonly string[]): Logger {
  const scrubbed = secrets.filter((s) => s.length >= MIN_SCRUBBED_LENGTH);
  if (scrubbed.length === 0) return inner;
  const scrub = (text: string): string => {
    let out = text;
    for (const secret of scrubbed) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
    return out;
  };
  const fields = (record: LogFields | undefined): LogFields | undefined => {
    if (record === undefined) return undefined;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record)) out[key] = typeof value === 'string' ? scrub(value) : value instanceof Error ? scrub(value.message) : value;
    return out;
  };
  return {
    debug: (message, record) => inner.debug(scrub(message), fields(record)),
    info: (message, record) => inner.info(scrub(message), fields(record)),
    warn: (message, record) => inner.warn(scrub(message), fields(record)),
    error: (message, record) => inner.error(scrub(message), fields(record)),
    child: (record) => scrubbingLogger(inner.child(fields(record) ?? {}), secrets),
    enabled: (level) => inner.enabled(level),
  };
}
