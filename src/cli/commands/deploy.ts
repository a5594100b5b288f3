import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AwsClients } from '../../deploy/aws.js';
import { CLIENT_KINDS } from '../../deploy/client-kinds.js';
import type { AwsAccessCheck } from '../aws-access.js';
import type { ClientConfigOptions, CostOptions, DeployOptions, DestroyOptions, DiffOptions, LogsOptions, StatusOptions, SynthOptions } from './deploy-actions.js';

// The command tree only: what each command does is in deploy-actions.ts, which
// loads (with the config schema, the plan and the cost model) when one of them
// runs, so `--help` and the other commands never pay for it; the AWS SDK and
// the CDK load later still, inside the actions that call AWS
// (test/cli/startup.test.ts).
const actions = () => import('./deploy-actions.js');

/** Where the deploy commands write: data to `out`, progress to `err`. Injectable for tests. */
export interface DeployCliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Asks a yes/no question. @default a readline prompt on a TTY, refusal otherwise */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** AWS clients. @default created from --profile and --region */
  readonly clients?: (options: { profile?: string; region?: string }) => AwsClients;
  /** Checks AWS credentials and region before any AWS work. @default the AWS SDK's credential chain */
  readonly awsAccess?: AwsAccessCheck;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('a non-negative number');
  return n;
}

/** `10m`, `2h`, `1d` → milliseconds. */
function parseDuration(value: string): number {
  const m = /^(\d+)([smhd])$/.exec(value);
  if (!m) throw new InvalidArgumentError('a duration such as 30s, 10m, 2h or 1d');
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function withCommon(command: Command, account = false): Command {
  command
    .requiredOption('-c, --config <file>', 'fleet config (YAML or JSON)')
    .option('--profile <name>', 'AWS profile for credentials')
    .option('--region <region>', 'AWS region (default: deploy.region, then the profile)');
  if (account) command.option('--account <id>', 'AWS account id (default: deploy.account, then the credentials)');
  return command;
}

/**
 * Registers synth, diff, deploy, destroy, status, logs, cost and client-config.
 * @param io where they write @default stdout and stderr, with a spinner when stderr is a terminal
 */
export function registerDeployCommands(program: Command, io?: DeployCliIo): void {
  withCommon(program.command('synth').description('write the CloudFormation template of the fleet to cdk.out/ (offline) and print a summary'), true)
    .option('-o, --out <dir>', 'cloud assembly directory', 'cdk.out')
    .option('--verbose', 'show the CDK toolkit debug messages')
    .action(async (options: SynthOptions) => (await actions()).synth(options, io));

  withCommon(program.command('diff').description('show what deploying would change in the deployed stack'), true)
    .option('-o, --out <dir>', 'cloud assembly directory', 'cdk.out')
    .action(async (options: DiffOptions) => (await actions()).diff(options, io));

  withCommon(program.command('deploy').description('build the image and deploy the fleet with CloudFormation; prints the endpoints and client config'), true)
    .option('-o, --out <dir>', 'cloud assembly directory', 'cdk.out')
    .option('--token-env <name>', 'environment variable holding the API key, for the printed client config', 'MCP_FLEET_TOKEN')
    .action(async (options: DeployOptions) => (await actions()).deploy(options, io));

  withCommon(program.command('destroy').description('delete the fleet stack and everything in it (asks first)'), true)
    .option('-y, --yes', 'do not ask for confirmation')
    .option('-o, --out <dir>', 'cloud assembly directory', 'cdk.out')
    .action(async (options: DestroyOptions) => (await actions()).destroy(options, io));

  withCommon(program.command('status').description('show services, tasks, target health, and a live MCP tools/list of each endpoint'))
    .option('--token <key>', 'API key for tools/list (prefer --token-env)')
    .option('--token-env <name>', 'environment variable holding the API key', 'MCP_FLEET_TOKEN')
    .option('--no-probe', 'skip the live tools/list')
    .action(async (options: StatusOptions) => (await actions()).status(options, io));

  withCommon(program.command('logs').description("print a server's logs from CloudWatch Logs").argument('<server>', 'server name'))
    .option('-f, --follow', 'keep printing new lines (Ctrl-C stops)')
    .option('--since <duration>', 'how far back to start, such as 10m, 2h or 1d', parseDuration, 600_000)
    .action(async (server: string, options: LogsOptions) => (await actions()).logs(server, options, io));

  withCommon(program.command('cost').description('estimate the monthly AWS cost of the fleet from published prices'))
    .option('--lcu <n>', 'average load balancer capacity units', positiveNumber, 1)
    .option('--log-gb <n>', 'log GB per service per month', positiveNumber, 1)
    .option('--requests <n>', 'client requests per month, all servers (X-Ray traces with deploy.telemetry.adot)', positiveNumber, 1_000_000)
    .option('--json', 'print the estimate as JSON')
    .action(async (options: CostOptions) => (await actions()).cost(options, io));

  withCommon(program.command('client-config').description('print ready-to-paste MCP client config for the fleet'))
    .addOption(new Option('--for <client>', 'the MCP client').choices([...CLIENT_KINDS]).makeOptionMandatory())
    .option('--local', 'the gateway on this machine (mcp-fleet serve) instead of the deployed fleet')
    .option('--port <port>', 'port of the local gateway (default: gateway.port)', (v) => {
      const port = Number(v);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('a port from 1 to 65535');
      return port;
    })
    .option('--url <base>', 'base URL of the deployed load balancer or domain (default: from the stack outputs)')
    .option('--token-env <name>', 'environment variable that holds the API key', 'MCP_FLEET_TOKEN')
    .option('--show-token', 'write the API key itself (read from --token-env) into the output')
    .option('--json', 'claude-code: print .mcp.json instead of `claude mcp add` commands')
    .option('--api-key', 'send an API key even when the fleet signs clients in with OAuth')
    .action(async (options: ClientConfigOptions) => (await actions()).clientConfig(options, io));
}
