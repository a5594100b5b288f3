// node:fs as it is, plus a minimal fs.globSync (Node 22) for Node 20: the
// conformance suite uses it only as globSync('**/checks.json', { cwd }) when
// scoring a results folder (tier-check). Matching is Node's own
// path.matchesGlob (in Node 20 since 20.17); only `cwd` and a function
// `exclude` are supported, and paths come back relative to cwd.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export * from 'node:fs';
export { default } from 'node:fs';

/**
 * @param {string | string[]} pattern
 * @param {{ cwd?: string | URL, exclude?: (p: string) => boolean }} [options]
 * @returns {string[]}
 */
export function globSync(pattern, options = {}) {
  const patterns = Array.isArray(pattern) ? pattern : [pattern];
  const cwd = options.cwd instanceof URL ? fileURLToPath(options.cwd) : (options.cwd ?? process.cwd());
  const entries = /** @type {string[]} */ (fs.readdirSync(cwd, { recursive: true, encoding: 'utf8' }));
  return entries.filter(
    (entry) => patterns.some((p) => path.matchesGlob(entry, p)) && !(typeof options.exclude === 'function' && options.exclude(entry)),
  );
}
