import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usedAfterCollection } from '../heap.js';
import { ChildAnswer, ResultMembers } from '../../src/upstream/channel.js';
import { LineSplitter, TextLines } from '../../src/upstream/framing.js';
import { findRequestId, peekResponse, withIdAt } from '../../src/upstream/wire.js';

/**
 * The relay's byte-level fast paths must give exactly what parsing and
 * re-serializing would, and decline anything else; the framing must be linear
 * and bounded however a line is cut into chunks.
 */

const join = (pieces: string | readonly Buffer[]): string => (typeof pieces === 'string' ? pieces : Buffer.concat(pieces as Buffer[]).toString('utf8'));

/** The two shapes SDKs write a response in. */
const shapes = {
  typescript: (id: number, result: unknown) => `{"result":${JSON.stringify(result)},"jsonrpc":"2.0","id":${id}}`,
  python: (id: number, result: unknown) => `{"jsonrpc":"2.0","id":${id},"result":${JSON.stringify(result)}}`,
};

describe('peekResponse and ChildAnswer', () => {
  const results = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 5 });
  const ids = fc.integer({ min: 1, max: 2 ** 40 });
  const clientIds = fc.oneof(fc.integer({ min: -1000, max: 1e9 }), fc.string());

  for (const [shape, write] of Object.entries(shapes)) {
    it(`GIVEN any result in the ${shape} shape THEN the id is read from the bytes and swapped exactly (property)`, () => {
      fc.assert(
        fc.property(ids, results, clientIds, (id, result, clientId) => {
          const line = Buffer.from(write(id, result));
          const peek = peekResponse(line);
          expect(peek?.id).toBe(id);
          const answer = new ChildAnswer(line, peek);
          // What the child meant is what JSON says (-0 is written 0).
          const sent = JSON.parse(JSON.stringify(result)) as unknown;
          expect(JSON.parse(join(answer.withId(JSON.stringify(clientId))))).toEqual({ jsonrpc: '2.0', id: clientId, result: sent });
        }),
        { numRuns: 300 },
      );
    });

    it(`GIVEN any result in the ${shape} shape THEN 2026-07-28 members are put in front, existing ones kept (property)`, () => {
      fc.assert(
        fc.property(ids, results, clientIds, fc.boolean(), (id, result, clientId, cacheable) => {
          const line = Buffer.from(write(id, result));
          const members: Record<string, unknown> = cacheable ? { resultType: 'complete', ttlMs: 0, cacheScope: 'private' } : { resultType: 'complete' };
          const text = join(new ChildAnswer(line, peekResponse(line)).withIdAndResultMembers(JSON.stringify(clientId), new ResultMembers(members)));
          const sent = JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
          expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: clientId, result: { ...members, ...sent } });
        }),
        { numRuns: 300 },
      );
    });
  }

  for (const [shape, write] of Object.entries(shapes)) {
    it(`GIVEN a large result in the ${shape} shape WHEN 2026-07-28 members are put in front THEN its bytes are passed on, not copied`, () => {
      const line = Buffer.from(write(42, { content: [{ type: 'text', text: 'x'.repeat(64 * 1024) }] }));
      const pieces = new ChildAnswer(line, peekResponse(line)).withIdAndResultMembers('"c-1"', new ResultMembers({ resultType: 'complete' }));
      expect(typeof pieces).not.toBe('string');
      // Every byte of the child's line but its id is in a view of the line itself.
      const viewed = (pieces as readonly Buffer[]).filter((p) => p.buffer === line.buffer && p.byteOffset >= line.byteOffset).reduce((n, p) => n + p.length, 0);
      expect(viewed).toBe(line.length - '42'.length);
      expect(JSON.parse(join(pieces))).toMatchObject({ id: 'c-1', result: { resultType: 'complete' } });
    });
  }

  for (const [shape, write] of Object.entries(shapes)) {
    for (const [size, filler] of [['short', 'x'], ['long', 'x'.repeat(8 * 1024)]] as const) {
      it(`GIVEN a ${size} ${shape} result that names a member already WHEN members are put in front THEN the child's value is kept, not doubled`, () => {
        const line = Buffer.from(write(3, { content: [{ type: 'text', text: filler }], resultType: 'own' }));
        const text = join(new ChildAnswer(line, peekResponse(line)).withIdAndResultMembers('4', new ResultMembers({ resultType: 'complete', ttlMs: 0 })));
        expect(text.match(/"resultType"/g)).toHaveLength(1);
        expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: 4, result: { resultType: 'own', ttlMs: 0, content: [{ type: 'text', text: filler }] } });
      });
    }
  }

  it('declines what it cannot read exactly: string ids, spaces, requests, extra members, leading zeros', () => {
    for (const line of [
      '{"jsonrpc":"2.0","id":"7","result":{}}',
      '{"jsonrpc": "2.0", "id": 7, "result": {}}',
      '{"jsonrpc":"2.0","id":7,"method":"ping"}',
      '{"result":{},"jsonrpc":"2.0","id":7,"x":1}',
      '{"result":{},"jsonrpc":"2.0","id":07}',
      '{"result":{},"jsonrpc":"2.0","id":[7]}',
      '{"jsonrpc":"2.0","id":7.5,"result":{}}',
    ]) {
      expect(peekResponse(Buffer.from(line)), line).toBeUndefined();
    }
  });

  it('reads an error answer too', () => {
    const line = Buffer.from('{"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"no"}}');
    const answer = new ChildAnswer(line, peekResponse(line));
    expect(answer.isError).toBe(true);
    expect(JSON.parse(join(answer.withId('"a"')))).toEqual({ jsonrpc: '2.0', id: 'a', error: { code: -32601, message: 'no' } });
  });
});

describe('findRequestId', () => {
  it('GIVEN a request written by an SDK (id first or last) THEN the id is swapped exactly (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.string()), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }), fc.boolean(), (id, params, idLast) => {
        const message = idLast ? { method: 'tools/call', params, jsonrpc: '2.0', id } : { jsonrpc: '2.0', id, method: 'tools/call', params };
        const body = Buffer.from(JSON.stringify(message));
        const span = findRequestId(body, JSON.stringify(id));
        expect(span).toBeDefined();
        expect(JSON.parse(join(withIdAt(body, span!, '42')))).toEqual({ ...(JSON.parse(JSON.stringify(message)) as object), id: 42 });
      }),
      { numRuns: 300 },
    );
  });

  it('declines a body with a newline, spaces around the id, or an id it cannot find', () => {
    expect(findRequestId(Buffer.from('{"jsonrpc":"2.0","id":1,\n"method":"x"}'), '1')).toBeUndefined();
    expect(findRequestId(Buffer.from('{"jsonrpc":"2.0", "id": 1, "method":"x"}'), '1')).toBeUndefined();
    expect(findRequestId(Buffer.from('{"method":"x","params":{"id":1}}'), '1')).toBeUndefined();
  });
});

/** `whole` cut at the given points (each taken modulo its length, then in order). */
function cutAt<T extends { readonly length: number; slice(start: number, end: number): T }>(whole: T, cuts: readonly number[]): T[] {
  const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
  const chunks: T[] = [];
  let at = 0;
  for (const p of [...points, whole.length]) {
    chunks.push(whole.slice(at, p));
    at = p;
  }
  return chunks;
}

describe('LineSplitter', () => {
  function split(chunks: readonly Buffer[], max: number): { lines: string[]; overflows: number[] } {
    const lines: string[] = [];
    const overflows: number[] = [];
    const splitter = new LineSplitter(max, { line: (b) => void lines.push(b.toString('utf8')), overflow: (n) => void overflows.push(n) });
    for (const chunk of chunks) splitter.push(chunk);
    return { lines, overflows };
  }

  it('GIVEN any text cut anywhere THEN it finds the same non-blank lines (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', 'é', '{', '}', ' ', '\r') }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (texts, cuts) => {
        const chunks = cutAt(Buffer.from(texts.map((t) => `${t}\n`).join('')), cuts);
        const expected = texts.map((t) => (t.endsWith('\r') ? t.slice(0, -1) : t)).filter((t) => t.replace(/[ \r]/g, '') !== '');
        expect(split(chunks, 1 << 20).lines).toEqual(expected);
      }),
    );
  });

  it('GIVEN a line past the limit in many chunks THEN it is dropped as it streams in, once, and the next line is whole', () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const chunks = [...Array.from({ length: 40 }, () => chunk), Buffer.from('x\n{"ok":1}\n')];
    const { lines, overflows } = split(chunks, 1024 * 1024);
    expect(overflows).toHaveLength(1);
    expect(lines).toEqual(['{"ok":1}']);
  });

  it('holds at most the limit while a line streams in, and copies each byte once (a 40 MB line costs one concat)', () => {
    let held = 0;
    const splitter = new LineSplitter(64 * 1024 * 1024, { line: () => {}, overflow: () => {} });
    const chunk = Buffer.alloc(64 * 1024, 'y');
    const concat = Buffer.concat;
    let concats = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      concats++;
      return concat(list, total);
    }) as typeof Buffer.concat;
    try {
      for (let i = 0; i < 640; i++) {
        splitter.push(chunk);
        held = Math.max(held, splitter.pendingBytes);
      }
      splitter.push(Buffer.from('\n'));
    } finally {
      Buffer.concat = concat;
    }
    expect(held).toBe(640 * 64 * 1024);
    expect(concats).toBe(1);
  });

  /** Each byte in its own ArrayBuffer, as a read of one byte from a pipe arrives. */
  const dripped = (text: Buffer): Buffer[] => [...text].map((byte) => Buffer.from(new Uint8Array([byte]).buffer));

  it('GIVEN lines that arrive a byte per read, or mixed with large reads THEN every line is whole and exact (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ unit: fc.constantFrom('a', 'é', '€', '{', ' '), minLength: 1, maxLength: 3000 }), fc.boolean()), { minLength: 1, maxLength: 4 }), (lines) => {
        const chunks = lines.flatMap(([text, drip]) => {
          const bytes = Buffer.from(`${text}x\n`);
          return drip ? dripped(bytes) : [bytes.subarray(0, bytes.length >> 1), bytes.subarray(bytes.length >> 1)];
        });
        expect(split(chunks, 1 << 20).lines).toEqual(lines.map(([text]) => `${text}x`));
      }),
      { numRuns: 30 },
    );
  });

  it('GIVEN a hostile child that drips a line a byte per read WHEN the line is pending THEN about the line is held, not a Buffer per byte', () => {
    const length = 200_000;
    const lines: number[] = [];
    const splitter = new LineSplitter(1 << 20, { line: (b) => void lines.push(b.length), overflow: () => {} });
    const before = usedAfterCollection();
    // Each read is the splitter's alone once pushed, as a stream's chunk is.
    for (let i = 0; i < length; i++) splitter.push(Buffer.from(new Uint8Array([0x64]).buffer));
    const grown = usedAfterCollection() - before;
    // A Buffer per byte held some 190 bytes per byte of the line (38 MB here).
    expect(grown).toBeLessThan(4 * length);
    splitter.push(Buffer.from('\n'));
    expect(lines).toEqual([length]);
  });
});

describe('TextLines (a child\'s stderr)', () => {
  function lines(chunks: readonly string[], max: number): string[] {
    const out: string[] = [];
    const text = new TextLines(max, (line) => void out.push(line));
    for (const chunk of chunks) text.push(chunk);
    text.end();
    return out;
  }

  it('GIVEN any text cut anywhere THEN its lines are those of the whole text, each longer one in pieces of the limit (property)', () => {
    const pieces = (line: string, max: number): string[] => (line === '' ? [''] : (line.match(new RegExp(`[^]{1,${max}}`, 'g')) ?? []));
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'é', '\n', ' ', '\r') }), fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 1, max: 6 }), (whole, cuts, max) => {
        const chunks = cutAt(whole, cuts);
        const all = whole.split('\n');
        const last = all.pop() as string;
        const expected = [...all, ...(last === '' ? [] : [last])].flatMap((line) => pieces(line, max));
        expect(lines(chunks, max)).toEqual(expected);
      }),
    );
  });

  it('GIVEN a hostile child that drips stderr a character per read THEN each character is searched about once, not the held line again per character', () => {
    const length = 64 * 1024;
    let searched = 0;
    const { indexOf, split } = String.prototype;
    String.prototype.indexOf = function (this: string, search: string, from?: number) {
      searched += this.length - (from ?? 0);
      return indexOf.call(this, search, from);
    };
    String.prototype.split = function (this: string, ...args: Parameters<typeof split>) {
      searched += this.length;
      return split.apply(this, args);
    } as typeof split;
    const out: string[] = [];
    try {
      const text = new TextLines(1 << 20, (line) => void out.push(line));
      for (let i = 0; i < length; i++) text.push('e');
      text.push('\n');
    } finally {
      String.prototype.indexOf = indexOf;
      String.prototype.split = split;
    }
    expect(out).toEqual(['e'.repeat(length)]);
    // Searching the held line again for each character: 2 billion characters here.
    expect(searched).toBeLessThan(3 * length);
  });
});
