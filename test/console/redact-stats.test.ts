import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/gateway/auth/index.js';
import { maskEnv, redactArgs, redactLine } from '../../src/gateway/console/redact.js';
import { RequestStats } from '../../src/gateway/console/stats.js';

/** What the console shows of a child's stderr and config, and the numbers of its overview. */

describe('redactLine', () => {
  it('removes secret-looking values a server may print on stderr', () => {
    const key = generateApiKey().key;
    const cases: [string, string][] = [
      ['connecting with api_key=abc123def456 to upstream', 'abc123def456'],
      ['Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl', 'eyJhbGciOi'],
      ['GITHUB_TOKEN: "ghp_0123456789abcdefghijABCDEFGHIJ"', 'ghp_0123456789'],
      ['db at postgres://app:hunter2pass@db.internal:5432/x', 'hunter2pass'],
      [`using key ${key}`, key],
      ['aws AKIAABCDEFGHIJKLMNOP found', 'AKIAABCDEFGHIJKLMNOP'],
      ['password=correct-horse', 'correct-horse'],
      ['random 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 here', '9f86d081884c7d65'],
    ];
    for (const [line, secret] of cases) expect(redactLine(line), line).not.toContain(secret);
  });

  it('removes the values of the child configured env, and keeps ordinary text readable', () => {
    expect(redactLine('loaded shh-its-a-secret from env', ['shh-its-a-secret'])).toBe('loaded •••• from env');
    expect(redactLine('Knowledge Graph MCP Server running on stdio')).toBe('Knowledge Graph MCP Server running on stdio');
    expect(redactLine('listening on /tmp/mcp-fleet-memory.json (pid 4242)')).toBe('listening on /tmp/mcp-fleet-memory.json (pid 4242)');
  });

  it('masks every env value and secret-looking arguments', () => {
    expect(maskEnv({ A: 'x', B: 'y' })).toEqual({ A: '••••', B: '••••' });
    expect(redactArgs(['serve', '--api-key', 'k3y-value', '--token=abc123xyz', 'plain'])).toEqual(['serve', '--api-key', '••••', '--token=••••', 'plain']);
  });
});

describe('RequestStats', () => {
  it('gives rates, error rate and percentiles over the window, and forgets what fell out of it', () => {
    let now = 1_000_000_000_000;
    const stats = new RequestStats(() => now);
    for (let i = 0; i < 98; i++) stats.record('a', 200, 10, 'tools/call');
    stats.record('a', 500, 900, 'tools/call');
    stats.record('a', 429, 1, 'tools/list');
    const summary = stats.summary('a', 60);
    expect(summary.requests).toBe(100);
    expect(summary.errorRate).toBeCloseTo(0.02);
    expect(summary.p50Ms).toBeGreaterThanOrEqual(10);
    expect(summary.p50Ms).toBeLessThan(15);
    expect(summary.p99Ms).toBeGreaterThanOrEqual(10);
    expect(summary.series.t).toHaveLength(60);
    expect(summary.series.calls.at(-1)).toBe(100);
    expect(stats.recentErrors('a').map((e) => e.status)).toEqual([500, 429]);
    expect(stats.summary('b').requests).toBe(0);
    now += 301_000;
    expect(stats.summary('a', 300).requests).toBe(0);
    stats.record('a', 200, 2, 'tools/call');
    expect(stats.summary('a', 300).requests).toBe(1);
  });
});
