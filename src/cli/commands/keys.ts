import type { Command } from 'commander';

/** Registers `keys new`. */
export function registerKeysCommand(_program: Command): void {}
