import { describe, expect, it } from 'vitest';
import { renderChart, renderMarkdown } from '../bench/report.js';
import { QUICK_OPTIONS, runBench } from '../bench/runner.js';
import { killAllSpawned, SYSTEMS } from '../bench/systems.js';

// The full benchmark (`npm run bench`) takes minutes and is not part of `npm test`;
// this one pass with tiny counts keeps every system adapter, both load clients
// and the report writer working.
describe('bench smoke run', () => {
  it(
    'GIVEN every system WHEN the quick bench runs THEN each available system answers both load clients with the right echo and the report renders',
    async () => {
      try {
        const result = await runBench(QUICK_OPTIONS);
        const available = result.systems.filter((s) => !s.unavailable).map((s) => s.id);
        expect(available).toEqual(expect.arrayContaining(['direct', 'supergateway', 'mcp-proxy']));

        // A variant that differs only in start-up (mcp-fleet-cold) runs the first-result phase alone.
        const measuresLoad = (id: string): boolean => SYSTEMS.find((s) => s.id === id)?.phases?.includes('throughput') ?? true;
        for (const system of available.filter(measuresLoad)) {
          for (const client of QUICK_OPTIONS.clients) {
            const cells = result.throughput.filter((r) => r.system === system && r.client === client);
            expect(cells.length, `${system} with the ${client} client`).toBe(QUICK_OPTIONS.concurrency.length * QUICK_OPTIONS.payloadBytes.length);
            for (const cell of cells) {
              expect(cell.calls, `${system} ${client} ${cell.payloadBytes} B`).toBeGreaterThan(0);
              expect(cell.cpuMsPerCall).toBeGreaterThanOrEqual(0);
            }
          }
          expect(result.memory.some((m) => m.system === system && m.sessions === 1 && m.rssMiB > 0)).toBe(true);
        }
        expect(result.firstResult.filter((r) => r.client === 'cold start').map((r) => r.system)).toEqual(
          expect.arrayContaining(available.filter((id) => id !== 'direct')),
        );
        expect(result.errors).toEqual([]);

        const markdown = renderMarkdown(result, 'chart.svg');
        expect(markdown).toContain('## Workload `echo`');
        expect(markdown).toContain('| 100 B | 1 | mcp-proxy |');
        expect(renderChart(result)).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
      } finally {
        killAllSpawned();
      }
    },
    90_000,
  );
});
