#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { deployToolingInstalled } from './deploy-tooling.js';
import { reportError } from './output.js';

/**
 * Commands that never need the deploy code, so the gateway starts fast and small,
 * each with the loader of its registration. A command named on the command line
 * is parsed with its own module alone: the others are not needed to parse it.
 */
const LOCAL_COMMANDS: ReadonlyMap<string, () => Promise<(program: Command) => void>> = new Map([
  ['serve', async () => (await import('./commands/serve.js')).registerServeCommand],
  ['import', async () => (await import('./commands/import.js')).registerImportCommand],
  ['keys', async () => (await import('./commands/keys.js')).registerKeysCommand],
]);

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
 * Builds the `mcp-fleet` command tree. When argv names a local command, only that
 * command is registered, so `serve` loads neither the other commands' modules nor
 * the deploy commands'. Otherwise (`--help`, `help <cmd>`, a deploy command)
 * every command is. Registering a command loads commander and small constant
 * modules only: the config schema, yaml, the deploy plan, aws-cdk-lib and the AWS
 * SDK load inside the actions that use them (test/cli/startup.test.ts).
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
  const local = sub === undefined ? undefined : LOCAL_COMMANDS.get(sub);
  if (local !== undefined) {
    (await local())(program);
    return program;
  }
  // Every command (`--help`, `help <cmd>`, a deploy command): loaded together, registered in the order help lists them.
  const registers = await Promise.all([
    ...[...LOCAL_COMMANDS.values()].map((load) => load()),
    import('./commands/deploy.js').then((deploy) => deploy.registerDeployCommands),
  ]);
  for (const register of registers) register(program);
  // The deploy actions fail with DEPLOY_TOOLING_MISSING there; the help says so up front.
  if (!deployToolingInstalled()) {
    program.addHelpText('after', '\nThe deploy commands (synth, deploy, status, ...) cannot run here: their optional dependencies (aws-cdk-lib, the AWS SDK) were left out.\n');
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
