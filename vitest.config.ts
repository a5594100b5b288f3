import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites spawn real MCP servers; two workers fit the 2-core machine.
    maxWorkers: 2,
    pool: 'forks',
  },
});
