/**
 * What the console does to text it did not write itself (a child's stderr) and to
 * config values, so that no secret value reaches a browser.
 */

/** Shown in place of a secret. */
export const MASK = '••••';

const NAMED_SECRET = /\b([A-Za-z0-9_.-]*(?:token|secret|password|passwd|pwd|api[_-]?key|apikey|authorization|credential|cookie|session[_-]?id|private[_-]?key)[A-Za-z0-9_.-]*)(["']?\s*[:=]\s*["']?)([^\s"',;&]+)/gi;
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*/gi;
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi;
/** Well-known key shapes: mcp-fleet keys, AWS access key ids, GitHub, Slack, OpenAI/Anthropic-style keys, JWTs. */
const KNOWN_KEYS = /\b(?:mcpf_[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{16,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})/g;
/** A long unbroken run of base64/hex characters with letters and digits mixed: most likely a key. */
const HIGH_ENTROPY = /\b(?=[A-Za-z0-9+/_-]*[0-9])(?=[A-Za-z0-9+/_-]*[A-Za-z])[A-Za-z0-9+/_-]{32,}={0,2}/g;

/**
 * Redacts secret-looking values from one line: `name=value` pairs whose name
 * says secret, Bearer/Basic credentials, URL passwords, well-known key shapes,
 * long random-looking strings, and every value in `known` (the child's configured
 * env values, for instance) of 6 characters or more.
 */
export function redactLine(line: string, known: readonly string[] = []): string {
  let out = line;
  for (const value of known) {
    if (value.length >= 6) out = out.split(value).join(MASK);
  }
  // Credentials after a scheme first: `Authorization: Bearer x` must lose x, not only the word Bearer.
  return out
    .replace(BEARER, (_m, scheme: string) => `${scheme} ${MASK}`)
    .replace(NAMED_SECRET, (_m, name: string, sep: string) => `${name}${sep}${MASK}`)
    .replace(URL_USERINFO, (_m, scheme: string) => `${scheme}${MASK}@`)
    .replace(KNOWN_KEYS, MASK)
    .replace(HIGH_ENTROPY, MASK);
}

/** The names of an environment with every value masked. */
export function maskEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.keys(env).map((k) => [k, MASK]));
}

/** Command-line arguments with secret-looking values redacted (`--token=x`, `--api-key x`, known key shapes). */
export function redactArgs(args: readonly string[], known: readonly string[] = []): string[] {
  const out: string[] = [];
  let hideNext = false;
  for (const arg of args) {
    if (hideNext) {
      out.push(MASK);
      hideNext = false;
      continue;
    }
    if (/^--?[A-Za-z0-9_-]*(token|secret|password|key|credential)[A-Za-z0-9_-]*$/i.test(arg)) hideNext = true;
    out.push(redactLine(arg, known));
  }
  return out;
}
