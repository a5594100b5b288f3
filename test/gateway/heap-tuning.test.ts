import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { tuneHeapForRequests } from '../../src/gateway/heap-tuning.js';

// `serve` turns V8's allocation-site pretenuring off (test/gateway/hot-path-memory.test.ts
// shows why) and lets the old generation grow to three times its live size
// (test/gateway/large-payload-gc.test.ts); an operator who set either in the node
// flags keeps that.

const PRETENURING_OFF = '--no-allocation-site-pretenuring';
const GROWING = '--heap-growing-percent=200';

describe('tuneHeapForRequests', () => {
  it('GIVEN pretenuring named in the node flags or in NODE_OPTIONS, either way WHEN tuning THEN only the other setting is applied', () => {
    expect(tuneHeapForRequests(['--allocation-site-pretenuring'], undefined)).toEqual([GROWING]);
    expect(tuneHeapForRequests(['--max-old-space-size=512', '--no-allocation_site_pretenuring'], undefined)).toEqual([GROWING]);
    expect(tuneHeapForRequests([], '--enable-source-maps --no-allocation-site-pretenuring')).toEqual([GROWING]);
  });

  it('GIVEN the growing factor named in the node flags, either form WHEN tuning THEN it is left alone', () => {
    expect(tuneHeapForRequests(['--heap-growing-percent=50'], undefined)).toEqual([PRETENURING_OFF]);
    expect(tuneHeapForRequests(['--heap_growing_percent=0', '--allocation-site-pretenuring'], undefined)).toEqual([]);
  });

  it('GIVEN no such flag WHEN tuning THEN both are set and the process runs on', () => {
    expect(tuneHeapForRequests(['--enable-source-maps'], '--max-old-space-size=512')).toEqual([PRETENURING_OFF, GROWING]);
    // The flags are set at run time: V8 accepts them and the heap still answers.
    expect(getHeapStatistics().used_heap_size).toBeGreaterThan(0);
  });
});
