import { describe, expect, it } from 'vitest';
import { spliceResult } from '../../src/gateway/modern/endpoint.js';

/** The relay's fast path must produce exactly what parsing and re-serializing would. */
describe('spliceResult', () => {
  const cases: { line: string; cacheable: boolean }[] = [
    { line: '{"result":{"content":[{"type":"text","text":"Echo: x \\"result\\":{}"}]},"jsonrpc":"2.0","id":17}', cacheable: false },
    { line: '{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}', cacheable: true },
    { line: '{"result":{},"jsonrpc":"2.0","id":4}', cacheable: false },
    { line: '{"result":{"ttlMs":5000,"tools":[]},"jsonrpc":"2.0","id":5}', cacheable: true },
  ];

  for (const { line, cacheable } of cases) {
    it(`GIVEN ${line.slice(0, 40)}... THEN it equals the re-serialized answer`, () => {
      const message = JSON.parse(line);
      const spliced = spliceResult(line, message, 'client-1', true, cacheable);
      expect(spliced).toBeDefined();
      const expected = {
        jsonrpc: '2.0',
        id: 'client-1',
        result: { ...(cacheable ? { ttlMs: 0, cacheScope: 'private' } : {}), ...message.result, resultType: 'complete' },
      };
      expect(JSON.parse(spliced as string)).toEqual(expected);
    });
  }

  it('GIVEN a line of another shape (spaces, extra members) THEN it declines, and the caller serializes', () => {
    const spaced = '{"jsonrpc": "2.0", "id": 1, "result": {}}';
    expect(spliceResult(spaced, JSON.parse(spaced), 1, true, false)).toBeUndefined();
    const extra = '{"result":{},"jsonrpc":"2.0","id":1,"x":1}';
    expect(spliceResult(extra, JSON.parse(extra), 1, true, false)).toBeUndefined();
  });
});
