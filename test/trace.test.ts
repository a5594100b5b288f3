import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTraceparent, newTraceparent, parseTraceparent, withTraceparent } from '../src/gateway/trace.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

describe('parseTraceparent', () => {
  it('parses the spec example', () => {
    expect(parseTraceparent(TP)).toEqual({
      version: '00',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: '01',
      sampled: true,
    });
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['upper-case hex', TP.toUpperCase()],
    ['all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`],
    ['all-zero parent id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`],
    ['version ff', `ff${TP.slice(2)}`],
    ['version 00 with extra field', `${TP}-extra`],
    ['short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01'],
    ['later version glued to more text', `01${TP.slice(2)}x`],
    ['not hex', '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01'],
  ])('rejects %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('reads a later version by its first four fields', () => {
    expect(parseTraceparent(`cc${TP.slice(2)}-what-the-future-holds`)?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('round-trips any valid id pair through format and parse (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{16}$/), fc.boolean(), (traceId, parentId, sampled) => {
        fc.pre(/[1-9a-f]/.test(traceId) && /[1-9a-f]/.test(parentId));
        expect(parseTraceparent(formatTraceparent({ traceId, parentId, sampled }))).toEqual({
          version: '00',
          traceId,
          parentId,
          flags: sampled ? '01' : '00',
          sampled,
        });
      }),
    );
  });

  it('makes valid new root contexts', () => {
    const tp = newTraceparent(true);
    expect(parseTraceparent(tp)?.sampled).toBe(true);
    expect(newTraceparent()).not.toBe(tp);
  });
});

describe('withTraceparent', () => {
  it('GIVEN a request WHEN a traceparent is added THEN params._meta carries it and the input is untouched', () => {
    const message = deepFreeze({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: {}, _meta: { progressToken: 7 } } });
    const out = withTraceparent(message, TP);
    expect(out).toEqual({ ...message, params: { ...message.params, _meta: { progressToken: 7, traceparent: TP } } });
    expect(message.params._meta).toEqual({ progressToken: 7 });
  });

  it('creates params and _meta when the message has none', () => {
    expect(withTraceparent({ jsonrpc: '2.0', id: 1, method: 'ping' }, TP)).toEqual({
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
      params: { _meta: { traceparent: TP } },
    });
  });

  it('adds a valid tracestate along with it', () => {
    const out = withTraceparent({ jsonrpc: '2.0', method: 'notifications/initialized' }, TP, { tracestate: 'vendor=abc' });
    expect(out).toMatchObject({ params: { _meta: { traceparent: TP, tracestate: 'vendor=abc' } } });
  });

  it('normalises a later-version header to version 00', () => {
    const out = withTraceparent({ jsonrpc: '2.0', id: 1, method: 'ping' }, `cc${TP.slice(2)}-more`);
    expect(out).toMatchObject({ params: { _meta: { traceparent: TP } } });
  });

  it('keeps a valid traceparent the message already carries, unless told to overwrite', () => {
    const own = '00-11111111111111111111111111111111-2222222222222222-00';
    const message = deepFreeze({ jsonrpc: '2.0', id: 1, method: 'ping', params: { _meta: { traceparent: own } } });
    expect(withTraceparent(message, TP)).toBe(message);
    expect(withTraceparent(message, TP, { overwrite: true })).toMatchObject({ params: { _meta: { traceparent: TP } } });
  });

  it('returns unchanged: invalid header, responses, positional params, non-object _meta', () => {
    const request = deepFreeze({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(withTraceparent(request, 'garbage')).toBe(request);
    expect(withTraceparent(request, null)).toBe(request);
    const response = deepFreeze({ jsonrpc: '2.0', id: 1, result: {} });
    expect(withTraceparent(response, TP)).toBe(response);
    const positional = deepFreeze({ jsonrpc: '2.0', id: 1, method: 'x', params: [1, 2] });
    expect(withTraceparent(positional, TP)).toBe(positional);
    const badMeta = deepFreeze({ jsonrpc: '2.0', id: 1, method: 'x', params: { _meta: 'no' } });
    expect(withTraceparent(badMeta, TP)).toBe(badMeta);
  });

  it('treats each message of a batch on its own', () => {
    const batch = deepFreeze([
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, result: {} },
    ]);
    const out = withTraceparent(batch, TP);
    expect(out[0]).toMatchObject({ params: { _meta: { traceparent: TP } } });
    expect(out[1]).toBe(batch[1]);
  });
});
