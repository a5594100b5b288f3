/**
 * Plain value lists that the config schema and the CLI share. This module must
 * stay free of zod and of every other import: the command tree offers these
 * lists as option choices, and `mcp-fleet --help` must not load the schema to
 * print them (test/cli/startup.test.ts).
 */

/** Log levels, most verbose first: `gateway.logLevel` and `serve --log-level`. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
