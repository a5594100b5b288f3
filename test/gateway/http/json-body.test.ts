import fc from 'fast-check';
import { getHeapSpaceStatistics } from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectGarbage } from '../../heap.js';
import { LARGE_BODY_BYTES, parseJsonBody } from '../../../src/gateway/http/json-body.js';
import { readJsonBody } from '../../../src/gateway/http/request.js';

/**
 * A large body's long string values are decoded from its bytes instead of parsed
 * from its text: whatever the body, the result (or the refusal) must be exactly
 * `JSON.parse`'s.
 */

/** Characters a long value is made of: plain ones, and every kind that needs care. */
const pieces = fc.constantFrom('a', 'b', ' ', 'é', '€', '😀', '"', '\\', '\n', '\t', '\u0001', '\u007f', '/', ':', '{', '}');
/** A long value: a run of `chars`, repeated past the size where values are cut out. */
const longValue = (chars: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.array(chars, { minLength: 1, maxLength: 12 }).map((run) => run.join('').repeat(Math.ceil((80 * 1024) / run.join('').length)));
const longValues = longValue(pieces);
const plainLongValues = longValue(fc.constantFrom('a', 'Z', ' ', 'é', '€', '😀', '/', ':', '{', '}', '\u007f'));

/** Pads a body to the large-body size with a long plain value, so the large-body path is taken. */
function large(params: Record<string, unknown>): Buffer {
  const padding = 'p'.repeat(LARGE_BODY_BYTES);
  return Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { ...params, padding } }));
}

function outcome(parse: () => unknown): { value: unknown } | { error: true } {
  try {
    return { value: parse() };
  } catch {
    return { error: true };
  }
}

describe('parseJsonBody', () => {
  it('GIVEN any large body with long values of any characters THEN the result equals JSON.parse of its text (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(longValues, plainLongValues), { minLength: 1, maxLength: 3 }), fc.jsonValue({ maxDepth: 3 }), (values, extra) => {
        const body = large({ name: 'echo', arguments: { message: values[0], list: values.slice(1), extra } });
        expect(parseJsonBody(body)).toEqual(JSON.parse(body.toString('utf8')));
      }),
      { numRuns: 40 },
    );
  });

  it('GIVEN a large body whose long string is a key, the whole body, or inside arrays THEN the result equals JSON.parse', () => {
    const long = 'k'.repeat(100 * 1024);
    const bodies = [
      Buffer.from(JSON.stringify({ [long]: long, padding: 'p'.repeat(LARGE_BODY_BYTES) })),
      Buffer.from(JSON.stringify('s'.repeat(LARGE_BODY_BYTES + 10))),
      Buffer.from(JSON.stringify([long, [long, { a: long }], 'x'.repeat(LARGE_BODY_BYTES)])),
      Buffer.from(`{ "a" : "${long}" ,\n\t"b":\r\n"${'q'.repeat(LARGE_BODY_BYTES)}"   }`),
    ];
    for (const body of bodies) expect(parseJsonBody(body)).toEqual(JSON.parse(body.toString('utf8')));
  });

  it('GIVEN a large body that is not JSON THEN it is refused as JSON.parse refuses it, and the error names none of the gateway own text', () => {
    const long = 'v'.repeat(LARGE_BODY_BYTES);
    const bad = [
      // A control byte inside a long value, unescaped.
      `{"a":"${long}\u0001${long}"}`,
      `{"a":"${long}\t"}`,
      // Broken structure around a long value.
      `{"a":"${long}" "b":1}`,
      `{"a":"${long}"`,
      `{"a":"${long}"}}`,
      `{"a":x"${long}"}`,
      `"${long}`,
      // A long value as a bare token.
      `{"a":${long}}`,
    ];
    for (const text of bad) {
      expect(outcome(() => JSON.parse(text))).toEqual({ error: true });
      let message = '';
      try {
        parseJsonBody(Buffer.from(text));
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain('mcp-fleet-');
    }
  });

  it('GIVEN a large body with bytes that are not UTF-8 in a long value THEN the value decodes as JSON.parse of the text would (replacement characters)', () => {
    const long = Buffer.from('w'.repeat(LARGE_BODY_BYTES));
    const body = Buffer.concat([Buffer.from('{"a":"'), long, Buffer.from([0xff, 0xc3, 0x28]), long, Buffer.from('"}')]);
    expect(parseJsonBody(body)).toEqual(JSON.parse(body.toString('utf8')));
  });

  it('GIVEN a string that looks like the placeholder THEN it stays the client string', () => {
    const body = large({ a: 'mcp-fleet-0', b: 'mcp-fleet-00000000000000000000000000000000-0' });
    expect(parseJsonBody(body)).toEqual(JSON.parse(body.toString('utf8')));
  });

  it('GIVEN a large body with __proto__ holding a long value, and nesting deeper than the call stack THEN the result is JSON.parse own', () => {
    const long = 'o'.repeat(LARGE_BODY_BYTES);
    const proto = parseJsonBody(Buffer.from(`{"__proto__":"${long}","b":"${long}"}`)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toBe(long);
    expect(proto['b']).toBe(long);
    const depth = 200_000;
    const deep = parseJsonBody(Buffer.from(`{"b":${'['.repeat(depth)}"${long}"${']'.repeat(depth)},"a":"${long}"}`)) as { a: string; b: unknown };
    expect(deep.a).toBe(long);
    let inner: unknown = deep.b;
    for (let i = 0; i < depth; i++) inner = (inner as unknown[])[0];
    expect(inner).toBe(long);
  });

  it('GIVEN a small body THEN it is JSON.parse of its text', () => {
    for (const text of ['{"a":1}', '[1,2]', '"x"', '{"a":"\\u0041"}']) expect(parseJsonBody(Buffer.from(text))).toEqual(JSON.parse(text));
    expect(outcome(() => parseJsonBody(Buffer.from('{"a":')))).toEqual({ error: true });
  });
});

describe('parseJsonBody of a hostile large body: its work stays that of JSON.parse', () => {
  afterEach(() => vi.restoreAllMocks());

  it('GIVEN half a long value and half many small values WHEN parsed THEN no function is called per value (JSON.parse gets no reviver)', () => {
    const body = Buffer.from(`{"m":"${'x'.repeat(2 * LARGE_BODY_BYTES)}","l":[${new Array(800_000).fill(1).join(',')}]}`);
    const expected = JSON.parse(body.toString('utf8')) as unknown;
    const parse = vi.spyOn(JSON, 'parse');
    expect(parseJsonBody(body)).toEqual(expected);
    // A reviver runs once per value of the body: 800,001 calls here, ten times JSON.parse's own work.
    expect(parse.mock.calls.filter((call) => call[1] !== undefined)).toEqual([]);
  });

  it('GIVEN a large body of many short strings WHEN parsed THEN the scan for long values stops after about one search per 256 bytes and the body is parsed as sent', () => {
    const body = Buffer.from(`{"m":"${'x'.repeat(2 * LARGE_BODY_BYTES)}","l":[${new Array(400_000).fill('"ab"').join(',')}]}`);
    const expected = JSON.parse(body.toString('utf8')) as unknown;
    const search = vi.spyOn(Buffer.prototype, 'indexOf');
    expect(parseJsonBody(body)).toEqual(expected);
    // Two searches per string, 800,000 of them, cost more than JSON.parse of the whole body.
    // The budget: one search per 256 bytes, and 33 that check the one long value for escapes and control bytes.
    expect(search.mock.calls.length).toBeLessThanOrEqual(body.length / 256 + 1 + 33);
  });
});

describe('readJsonBody of a large body', () => {
  it('GIVEN an 8 MiB tools/call WHEN it is read THEN the heap holds one copy of the long value, not the body text as well', async () => {
    const message = 'z'.repeat(8 * 1024 * 1024);
    const text = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message } } });
    const request = new Request('http://127.0.0.1/mcp', { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
    collectGarbage();
    const before = largeObjectBytes();
    const { body } = await readJsonBody(request, 16 * 1024 * 1024);
    const grown = largeObjectBytes() - before;
    expect((body as { params: { arguments: { message: string } } }).params.arguments.message).toBe(message);
    // Parsing the body's text holds the text and the value: twice the message, until a collection.
    expect(grown).toBeGreaterThanOrEqual(message.length);
    expect(grown).toBeLessThan(1.5 * message.length);
  });
});

/** Bytes in V8's large-object spaces (old and young), where strings of megabytes live. */
function largeObjectBytes(): number {
  return getHeapSpaceStatistics()
    .filter((space) => space.space_name === 'large_object_space' || space.space_name === 'new_large_object_space')
    .reduce((sum, space) => sum + space.space_used_size, 0);
}
