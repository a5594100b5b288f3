#!/usr/bin/env node
// Bundles the web console (web/console/) into dist/console/ with esbuild: app.js
// (preact, htm, uPlot and the console, minified), app.css and index.html. Run by
// `npm run build`; the gateway serves these files and fetches nothing at run time.
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds the console into `outDir` (default dist/console) and returns the size in
 * bytes of each file written.
 * @param {{ outDir?: string }} [options]
 * @returns {Promise<Record<string, number>>}
 */
export async function buildConsole(options = {}) {
  const outDir = options.outDir ?? join(root, 'dist', 'console');
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: { app: join(root, 'web', 'console', 'main.js') },
    outdir: outDir,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: root,
  });
  await copyFile(join(root, 'web', 'console', 'index.html'), join(outDir, 'index.html'));
  const sizes = {};
  for (const name of await readdir(outDir)) sizes[name] = (await stat(join(outDir, name))).size;
  return sizes;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sizes = await buildConsole();
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  console.log(`console bundle: ${Object.entries(sizes).map(([n, s]) => `${n} ${(s / 1024).toFixed(1)} KiB`).join(', ')} (total ${(total / 1024).toFixed(1)} KiB)`);
}
