import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { ROOT } from './systems.js';

/**
 * Builds mcp-fleet from src/ into a scratch directory for the bench smoke test:
 * every module transpiled on its own (no type check: `npm test` type-checks
 * first), so the test measures the source it runs with, in seconds, without
 * touching dist/ that other tests may be running.
 */

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Transpiles src/ to `<outDir>/dist/` with a copy of package.json beside it; returns the CLI entry. */
export function buildFleet(outDir: string): string {
  rmSync(outDir, { recursive: true, force: true });
  const src = join(ROOT, 'src');
  for (const file of sources(src)) {
    const output = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, esModuleInterop: true },
      reportDiagnostics: false,
    });
    const target = join(outDir, 'dist', relative(src, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output.outputText);
  }
  // Code that reads its own package.json finds it where it would in a package.
  copyFileSync(join(ROOT, 'package.json'), join(outDir, 'package.json'));
  return join(outDir, 'dist', 'cli', 'main.js');
}
