import type { Command } from 'commander';
import { FleetError } from '../../errors.js';
import type { GeneratedApiKey } from '../../gateway/auth/api-keys.js';

/** The text `keys new` prints: the key, its digest, and the config lines that accept it. */
export function formatNewKey(name: string, generated: GeneratedApiKey): string {
  return [
    `key:    ${generated.key}`,
    `sha256: ${generated.sha256}`,
    '',
    '# The key is shown only now; mcp-fleet stores only its digest. Give the key to the client',
    '# as "Authorization: Bearer <key>", and add this to the config:',
    'gateway:',
    '  auth:',
    '    apiKeys:',
    `      - name: ${name}`,
    `        sha256: ${generated.sha256}`,
    '',
  ].join('\n');
}

/** Registers `keys new`. */
export function registerKeysCommand(program: Command, write: (text: string) => void = (t) => void process.stdout.write(t)): void {
  const keys = program.command('keys').description('make API keys for the gateway');
  keys
    .command('new')
    .description('print a new random API key, its SHA-256 digest, and the config snippet that accepts it')
    .option('--name <name>', 'name of the key, shown in logs and metrics', 'default')
    .option('--json', 'print {"name","key","sha256"} as JSON')
    .action(async (opts: { name: string; json?: boolean }) => {
      // The schema (zod) loads only when a key is made, not with the command tree.
      const [{ ApiKeyNameSchema }, { generateApiKey }] = await Promise.all([import('../../config/auth-schema.js'), import('../../gateway/auth/api-keys.js')]);
      const name = ApiKeyNameSchema.safeParse(opts.name);
      if (!name.success) {
        throw new FleetError('KEY_NAME_INVALID', `--name ${JSON.stringify(opts.name)}: ${name.error.issues[0]?.message ?? 'invalid'}`);
      }
      const generated = generateApiKey();
      write(opts.json ? `${JSON.stringify({ name: name.data, ...generated })}\n` : formatNewKey(name.data, generated));
    });
}
