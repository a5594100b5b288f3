import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, FleetError } from '../../errors.js';
import type { ClientFormat } from '../../config/import.js';
import type { FleetConfigInput } from '../../config/schema.js';
import { info, warn } from '../output.js';

/** Options of `mcp-fleet import`, as commander parses them. */
interface ImportOptions {
  readonly out?: string;
  readonly force?: boolean;
}

const HELP_AFTER = `
Reads the MCP servers of a client config and writes them as an mcp-fleet config:
  Claude Desktop   claude_desktop_config.json      (mcpServers)
  Claude Code      ~/.claude.json, .mcp.json       (mcpServers, and per-project servers)
  Cursor           ~/.cursor/mcp.json              (mcpServers, \${env:NAME})
  VS Code          .vscode/mcp.json                (servers, \${input:id}, \${env:NAME})

\${NAME} references are kept and resolved when the gateway starts; VS Code's
\${env:NAME} becomes \${NAME} and \${input:id} becomes \${ID}. Remote (url) entries are
skipped: they already speak HTTP, so keep them in your client config.

Examples:
  $ mcp-fleet import ~/Library/Application\\ Support/Claude/claude_desktop_config.json --out fleet.yaml
  $ mcp-fleet import .vscode/mcp.json > fleet.yaml
  $ mcp-fleet serve --config fleet.yaml`;

/** Renders an imported config as YAML with a header saying where it came from and how to serve it. */
export async function renderImportedYaml(config: FleetConfigInput, source: string, format: ClientFormat, outFile?: string): Promise<string> {
  const [{ stringify: stringifyYaml }, { CLIENT_FORMAT_LABELS }] = await Promise.all([import('yaml'), import('../../config/import.js')]);
  const header = [
    `# mcp-fleet config imported from ${source},`,
    `# read as ${CLIENT_FORMAT_LABELS[format]}.`,
    `# Serve it with: mcp-fleet serve --config ${outFile ?? 'fleet.yaml'}`,
    '# ${NAME} references are read from the environment when the gateway starts.',
  ];
  return `${header.join('\n')}\n${stringifyYaml(config, { lineWidth: 0 })}`;
}

/** Reads, converts and validates a client config; the YAML text and how many servers it holds. */
async function importFile(file: string, outFile: string | undefined): Promise<{ yaml: string; names: string[] }> {
  // The converter, the loader and the schema (zod, yaml) load here, not with the command tree.
  const [{ clientConfigToFleet, detectClientFormat }, { parseConfig, readConfigFile }] = await Promise.all([import('../../config/import.js'), import('../../config/load.js')]);
  const raw = await readConfigFile(file, 'pass the path of a client config such as claude_desktop_config.json');
  const format = detectClientFormat(raw);
  if (format === undefined) {
    throw new ConfigError(file, [
      'is not an MCP client config: it has no "mcpServers" (Claude Desktop, Claude Code, Cursor) or VS Code "servers" with "type"; ' +
        'if it is an mcp-fleet config already, serve it with mcp-fleet serve --config',
    ]);
  }
  const result = clientConfigToFleet(raw, format);
  for (const warning of result.warnings) warn(warning);
  if (result.problems.length > 0) throw new ConfigError(file, result.problems);
  // The real schema, without resolving ${NAME}: the output keeps the references.
  parseConfig(result.config, `${file} (converted)`, { resolveEnv: false });
  return { yaml: await renderImportedYaml(result.config, file, format, outFile), names: Object.keys(result.config.servers) };
}

async function writeOutput(outFile: string, text: string, force: boolean): Promise<void> {
  try {
    await writeFile(outFile, text, { flag: force ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FleetError('OUTPUT_EXISTS', `${outFile} already exists; not overwritten`, {
        cause: error,
        hint: 'Pass --force to overwrite it, or choose another --out.',
      });
    }
    throw new FleetError('OUTPUT_UNWRITABLE', `cannot write ${outFile}`, { cause: error });
  }
}

/** Registers `import <file> [--out fleet.yaml] [--force]`. */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('convert a Claude Desktop, Claude Code, Cursor or VS Code MCP config into an mcp-fleet config')
    .argument('<file>', 'the client config to read')
    .option('-o, --out <file>', 'write the config to this file instead of stdout')
    .option('-f, --force', 'overwrite the --out file if it exists')
    .addHelpText('after', HELP_AFTER)
    .action(async (file: string, options: ImportOptions) => {
      if (options.out !== undefined && resolve(options.out) === resolve(file)) {
        throw new FleetError('OUTPUT_IS_INPUT', `--out ${options.out} is the file being imported; it would be overwritten`, {
          hint: 'Choose another --out, such as fleet.yaml.',
        });
      }
      const { yaml, names } = await importFile(file, options.out);
      const summary = `imported ${names.length} server${names.length === 1 ? '' : 's'} (${names.join(', ')}) from ${basename(file)}`;
      if (options.out === undefined) {
        process.stdout.write(yaml);
        info(summary);
        return;
      }
      await writeOutput(options.out, yaml, options.force === true);
      info(`${summary} into ${options.out}; serve it with: mcp-fleet serve --config ${options.out}`);
    });
}
