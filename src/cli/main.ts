#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { deployToolingInstalled } from './deploy-tooling.js';
import { reportError } from './output.js';

/**
 * The deploy commands. Their module is small; the AWS CDK and SDK they use
 * (seconds to load, ~150 MiB) load inside the actions that need them.
 */
const DEPLOY_COMMANDS = new Set(['synth', 'diff', 'deploy', 'destroy', 'status', 'logs', 'cost', 'client-config']);
/** Commands that never need the deploy code, so the gateway starts fast and small. */
const LOCAL_COMMANDS = new Set(['serve', 'import', 'keys']);

/** The subcommand named on the command line, if any. */
function subcommandOf(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((arg) => !arg.startsWith('-'));
}

/** The version in package.json (two levels up from both src/cli and dist/cli). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/**
 * Builds the `mcp-fleet` command tree. The deploy commands are registered unless
 * argv names a local command, so `serve` does not even load their module; none
 * of them loads aws-cdk-lib or the AWS SDK before its action runs.
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('mcp-fleet')
    .description(
      'Serve stdio MCP servers over HTTP (Streamable HTTP in every MCP era, and HTTP+SSE),\n' +
        'and deploy the same fleet to AWS ECS Fargate with the AWS CDK, from one config file.',
    )
    .version(packageVersion(), '-V, --version', 'print the version of mcp-fleet')
    .option('--debug', 'show stack traces of errors')
    .showHelpAfterError('(run with --help for usage)');
  const sub = subcommandOf(argv);
  // `--version` needs no command at all: it loads neither zod nor yaml nor the commands.
  if (sub === undefined && argv.slice(2).some((arg) => arg === '--version' || arg === '-V')) return program;
  const [{ registerServeCommand }, { registerImportCommand }, { registerKeysCommand }] = await Promise.all([
    import('./commands/serve.js'),
    import('./commands/import.js'),
    import('./commands/keys.js'),
  ]);
  registerServeCommand(program);
  registerImportCommand(program);
  registerKeysCommand(program);
  if (sub === undefined || DEPLOY_COMMANDS.has(sub) || !LOCAL_COMMANDS.has(sub)) {
    const { registerDeployCommands } = await import('./commands/deploy.js');
    registerDeployCommands(program);
    // Their actions fail with DEPLOY_TOOLING_MISSING there; the help says so up front.
    if (!deployToolingInstalled()) {
      program.addHelpText('after', '\nThe deploy commands (synth, deploy, status, ...) cannot run here: their optional dependencies (aws-cdk-lib, the AWS SDK) were left out.\n');
    }
  }
  return program;
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
