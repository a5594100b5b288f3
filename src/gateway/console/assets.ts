import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BytesReply } from '../http/reply.js';

/**
 * The console's static files (`dist/console/`: index.html, app.js, app.css),
 * bundled by `npm run build` (scripts/build-console.mjs) and read from disk once.
 * Nothing is fetched from elsewhere at run time, so the console works offline.
 */

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Headers of every console page and file: no framing, no sniffing, no referrer, scripts and styles only from the gateway. */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** Where the bundle lives: `<package>/dist/console` (this file is three levels below the package root, in src/ and in dist/). */
export function consoleAssetsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'console');
}

/** The console's static files, loaded on first use. */
export class ConsoleAssets {
  private files: Promise<Map<string, Buffer>> | undefined;

  constructor(private readonly dir: string = consoleAssetsDir()) {}

  /** The file `name` (a plain file name of the bundle), or undefined. */
  async file(name: string): Promise<BytesReply | undefined> {
    this.files ??= this.load();
    const files = await this.files;
    const body = files.get(name);
    if (body === undefined) return undefined;
    const type = TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
    return new BytesReply(200, { ...CONSOLE_SECURITY_HEADERS, 'content-type': type, 'cache-control': name === 'index.html' ? 'no-cache' : 'public, max-age=300' }, body);
  }

  /** The page shown when the bundle is missing (a source checkout that was not built). */
  static missing(): BytesReply {
    const text = 'The mcp-fleet console is enabled but its files are not built: run `npm run build` in the mcp-fleet package.\n';
    return new BytesReply(503, { ...CONSOLE_SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, text);
  }

  private async load(): Promise<Map<string, Buffer>> {
    const files = new Map<string, Buffer>();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return files;
    }
    // Only plain file names of the bundle are ever served: no path from the request reaches the file system.
    for (const name of names) {
      if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) && TYPES[name.slice(name.lastIndexOf('.'))] !== undefined) {
        files.set(name, await readFile(join(this.dir, name)));
      }
    }
    return files;
  }
}
