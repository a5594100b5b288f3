import type { Command } from 'commander';

/** Registers `serve`. */
export function registerServeCommand(_program: Command): void {}
