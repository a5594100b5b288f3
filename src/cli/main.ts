#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerImportCommand } from './commands/import.js';
import { registerKeysCommand } from './commands/keys.js';
import { registerServeCommand } from './commands/serve.js';
import { FleetError } from '../errors.js';
import { reportError } from './output.js';

/** Commands that need the AWS CDK and SDK (seconds to load, ~150 MiB): loaded only when asked for. */
const DEPLOY_COMMANDS = new Set(['synth', 'diff', 'deploy', 'destroy', 'status', 'logs', 'cost', 'client-config']);
/** Commands that never need the deploy code, so the gateway starts fast and small. */
const LOCAL_COMMANDS = new Set(['serve', 'import', 'keys']);

/** The subcommand named on the command line, if any. */
function subcommandOf(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((arg) => !arg.startsWith('-'));
}

/**
 * Builds the `mcp-fleet` command tree. The deploy commands are registered unless
 * argv names a local command, so `serve` never loads aws-cdk-lib.
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
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
  const sub = subcommandOf(argv);
  if (sub === undefined || DEPLOY_COMMANDS.has(sub) || !LOCAL_COMMANDS.has(sub)) {
    try {
      const { registerDeployCommands } = await import('./commands/deploy.js');
      registerDeployCommands(program);
    } catch (error) {
      if (!isMissingDeployTooling(error)) throw error;
      registerMissingDeployCommands(program, error);
    }
  }
  return program;
}

/** The deploy tooling is an optional dependency: the container image leaves it out (`npm ci --omit=optional`). */
function isMissingDeployTooling(error: unknown): boolean {
  const e = error as NodeJS.ErrnoException | undefined;
  return e?.code === 'ERR_MODULE_NOT_FOUND' && /aws-cdk-lib|@aws-cdk\/|@aws-sdk\/|constructs/.test(e.message);
}

/** Stands in for the deploy commands where their dependencies are not installed, saying how to get them. */
function registerMissingDeployCommands(program: Command, cause: unknown): void {
  for (const name of DEPLOY_COMMANDS) {
    program
      .command(name, { hidden: true })
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        throw new FleetError('DEPLOY_TOOLING_MISSING', `mcp-fleet ${name} needs the deploy tooling (aws-cdk-lib and the AWS SDK), which this installation left out`, {
          cause,
          hint: 'install mcp-fleet with its optional dependencies (npm install, without --omit=optional); the container image leaves them out on purpose',
        });
      });
  }
  program.addHelpText('after', '\nThe deploy commands (synth, deploy, status, ...) are not installed here: their optional dependencies were left out.\n');
}

/** Entry point: parses argv once and catches every error at the top. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const program = (await buildProgram(argv)).exitOverride();
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
