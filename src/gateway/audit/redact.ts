/**
 * Redaction of audited arguments: values under secret-looking keys, and under the
 * keys an operator lists in `gateway.audit.redact`, become `[redacted]`, at any
 * depth, before a record is written.
 */

/** Keys whose values are always redacted. */
const SECRET_KEY = /pass(word|wd|phrase)?|secret|token|api[-_]?key|auth|credential|cookie|session|private[-_]?key|signature|bearer|otp|pin$/i;

/** The replacement of a redacted value. */
export const REDACTED = '[redacted]';

/** Deepest nesting walked; deeper values are replaced (a hostile argument cannot make the walk expensive). */
const MAX_DEPTH = 32;

/** A compiled `redact` list. */
export interface ArgumentRedactor {
  /** A copy of `value` with the secret-looking and configured keys redacted. */
  redact(value: unknown): unknown;
}

/** One `redact` entry: a glob of one key at any depth, or a dotted path of globs from the top. */
interface Rule {
  readonly path: readonly RegExp[];
  readonly anyDepth: boolean;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** Compiles the configured `redact` entries. */
export function createArgumentRedactor(entries: readonly string[]): ArgumentRedactor {
  const rules: Rule[] = entries.map((entry) => {
    const segments = entry.split('.').filter((s) => s !== '');
    return { path: segments.map(globToRegExp), anyDepth: segments.length === 1 };
  });
  const matches = (path: readonly string[]): boolean => {
    const key = path[path.length - 1] as string;
    if (SECRET_KEY.test(key)) return true;
    for (const rule of rules) {
      if (rule.anyDepth) {
        if ((rule.path[0] as RegExp).test(key)) return true;
      } else if (rule.path.length === path.length && rule.path.every((re, i) => re.test(path[i] as string))) return true;
    }
    return false;
  };
  const walk = (value: unknown, path: string[]): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (path.length >= MAX_DEPTH) return REDACTED;
    if (Array.isArray(value)) return value.map((item) => walk(item, path));
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const next = [...path, key];
      out[key] = matches(next) ? REDACTED : walk(inner, next);
    }
    return out;
  };
  return { redact: (value) => walk(value, []) };
}
