import type { Command } from 'commander';

/** Registers `import`. */
export function registerImportCommand(_program: Command): void {}
