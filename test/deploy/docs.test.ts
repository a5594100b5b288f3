import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LOAD_BALANCER_IDLE_TIMEOUT_SECONDS } from '../../src/config/timeouts.js';

const DEPLOY_MD = readFileSync(fileURLToPath(new URL('../../docs/DEPLOY.md', import.meta.url)), 'utf8');

/** The first fenced block after `## Architecture`. */
function architectureDiagram(): string[] {
  const section = DEPLOY_MD.slice(DEPLOY_MD.indexOf('## Architecture'));
  const start = section.indexOf('```\n') + 4;
  return section.slice(start, section.indexOf('```', start)).split('\n');
}

describe('docs/DEPLOY.md', () => {
  it('draws the architecture with boxes whose right edges line up', () => {
    const lines = architectureDiagram();
    const boxed = lines.filter((l) => l.startsWith('+') || l.startsWith('|'));
    expect(boxed.length).toBeGreaterThan(10);
    const widths = new Set(boxed.map((l) => [...l].length));
    expect([...widths]).toHaveLength(1);
    for (const l of boxed) expect(l.endsWith('|') || l.endsWith('+')).toBe(true);
  });

  it('states the idle timeout the stack sets', () => {
    expect(architectureDiagram().join('\n')).toContain(`idle timeout ${LOAD_BALANCER_IDLE_TIMEOUT_SECONDS} s`);
  });
});
