import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { registerKeysCommand } from '../../src/cli/commands/keys.js';
import { AuthSchema } from '../../src/config/auth-schema.js';
import { sha256Hex } from '../../src/gateway/auth/index.js';

async function run(args: string[]): Promise<string> {
  let out = '';
  const program = new Command('mcp-fleet').exitOverride();
  registerKeysCommand(program, (t) => {
    out += t;
  });
  await program.parseAsync(['node', 'mcp-fleet', ...args]);
  return out;
}

describe('mcp-fleet keys new', () => {
  it('prints a fresh key, its digest, and a config snippet that accepts it', async () => {
    const out = await run(['keys', 'new', '--name', 'ci']);
    const key = /^key: +(\S+)$/m.exec(out)?.[1];
    const digest = /^sha256: +(\S+)$/m.exec(out)?.[1];
    expect(key).toMatch(/^mcpf_[A-Za-z0-9_-]{43}$/);
    expect(digest).toBe(sha256Hex(key ?? ''));
    const snippet = parseYaml(out.slice(out.indexOf('gateway:'))) as { gateway: { auth: unknown } };
    expect(AuthSchema.parse(snippet.gateway.auth).apiKeys).toEqual([{ name: 'ci', sha256: digest }]);
  });

  it('prints JSON with --json, and a new key on every run', async () => {
    const a = JSON.parse(await run(['keys', 'new', '--json'])) as { name: string; key: string; sha256: string };
    const b = JSON.parse(await run(['keys', 'new', '--json'])) as { key: string };
    expect(a.name).toBe('default');
    expect(a.sha256).toBe(sha256Hex(a.key));
    expect(b.key).not.toBe(a.key);
  });

  it('refuses a name that cannot go into logs', async () => {
    await expect(run(['keys', 'new', '--name', 'bad name'])).rejects.toThrow(/API key name/);
  });
});
