import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOCS_PATH, renderConfigDocs } from '../../scripts/config-docs.js';

describe('docs/CONFIG.md', () => {
  const generated = renderConfigDocs();

  it('is what the schema generates now (run npm run docs:config after changing src/config/*schema*.ts)', () => {
    const committed = readFileSync(CONFIG_DOCS_PATH, 'utf8');
    // A plain equality: a diff of a long file is hard to read, so say what to do first.
    expect(committed === generated, 'docs/CONFIG.md is out of date: run npm run docs:config').toBe(true);
  });

  it('lists fields from every part of the schema, with their defaults, examples and comments', () => {
    expect(generated).toMatch(/^\| `port` \| integer \(0\.\.65535\) \| `8808` \| `8808` \| Port to listen on\. \|$/m);
    expect(generated).toMatch(/^\| `command` \(required\) \| string \| {2}\| `npx` \| Program to run, such as `npx`, `uvx` or `node`\. \|$/m);
    expect(generated).toContain('## `servers.<name>`');
    expect(generated).toContain('## `deploy`');
    expect(generated).toContain('## `gateway.auth`');
    // An optional field without a zod default documents the @default of its comment.
    expect(generated).toMatch(/^\| `cwd` \| string \| the gateway's \|/m);
  });
});
