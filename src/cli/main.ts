#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerDeployCommands } from './commands/deploy.js';
import { registerImportCommand } from './commands/import.js';
import { registerKeysCommand } from './commands/keys.js';
import { registerServeCommand } from './commands/serve.js';
import { reportError } from './output.js';

/** Builds the `mcp-fleet` command tree. Exported so tests can drive it in-process. */
export function buildProgram(): Command {
  const program = new Command('mcp-fleet')
    .description(
      'Serve stdio MCP servers over HTTP (Streamable HTTP in every MCP era, and HTTP+SSE),\n' +
        'and deploy the same fleet to AWS ECS Fargate with the AWS CDK, from one config file.',
    )
    .option('--debug', 'show stack traces of errors')
    .showHelpAfterError('(run with --help for usage)');
  registerServeCommand(program);
  registerImportCommand(program);
  registerKeysCommand(program);
  registerDeployCommands(program);
  return program;
}

/** Entry point: parses argv once and catches every error at the top. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    reportError(error, Boolean(program.opts()['debug']));
    process.exitCode = 1;
  }
}

await main();
