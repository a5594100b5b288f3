import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { tuneHeapForRequests } from '../../src/gateway/heap-tuning.js';

// `serve` turns V8's allocation-site pretenuring off (test/gateway/hot-path-memory.test.ts
// shows why); an operator who set it either way in the node flags keeps that.

describe('tuneHeapForRequests', () => {
  it('GIVEN pretenuring named in the node flags or in NODE_OPTIONS, either way WHEN tuning THEN the setting is left alone', () => {
    expect(tuneHeapForRequests(['--allocation-site-pretenuring'], undefined)).toBe(false);
    expect(tuneHeapForRequests(['--max-old-space-size=512', '--no-allocation_site_pretenuring'], undefined)).toBe(false);
    expect(tuneHeapForRequests([], '--enable-source-maps --no-allocation-site-pretenuring')).toBe(false);
  });

  it('GIVEN no such flag WHEN tuning THEN pretenuring is turned off and the process runs on', () => {
    expect(tuneHeapForRequests(['--enable-source-maps'], '--max-old-space-size=512')).toBe(true);
    // The flag is set at run time: V8 accepts it and the heap still answers.
    expect(getHeapStatistics().used_heap_size).toBeGreaterThan(0);
  });
});
