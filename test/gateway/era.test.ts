import { classifyInboundRequest } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { classifyPost, isClaimlessLegacyMessage } from '../../src/gateway/era.js';

/**
 * The era decision's shortcut for claim-less 2025-era messages must give the
 * SDK classifier's answer, never another: every body below that the shortcut
 * takes, the classifier calls legacy too (with the same initialize verdict).
 */

const CLAIM = 'io.modelcontextprotocol/protocolVersion';
const ENVELOPE = {
  [CLAIM]: '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

const bodies: unknown[] = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } },
  { jsonrpc: '2.0', id: 'a', method: 'tools/list' },
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: { progressToken: 7 } } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: { progressToken: 'p' } } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: { progressToken: 1.5 } } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: { traceparent: '00-0-0-01' } } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: ENVELOPE } },
  { jsonrpc: '2.0', id: 1, method: 'initialize', params: { _meta: ENVELOPE } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: { [CLAIM]: 5 } } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: { 'io.modelcontextprotocol/related-task': { taskId: 't' } } } },
  { jsonrpc: '2.0', method: 'notifications/message', params: { _meta: ENVELOPE } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: null } },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: [] },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: null },
  { jsonrpc: '2.0', id: null, method: 'tools/call' },
  { jsonrpc: '2.0', id: 1.5, method: 'tools/call' },
  { jsonrpc: '2.0', id: 2 ** 60, method: 'tools/call' },
  { jsonrpc: '2.0', id: true, method: 'tools/call' },
  { jsonrpc: '2.0', id: 1, method: 7 },
  { jsonrpc: '1.0', id: 1, method: 'tools/call' },
  { id: 1, method: 'tools/call' },
  { jsonrpc: '2.0', id: 1, method: 'tools/call', extra: true },
  { jsonrpc: '2.0', id: 1, result: {} },
  { jsonrpc: '2.0', id: 1, error: { code: -1, message: 'no' } },
  [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }],
  [],
  null,
  'text',
  42,
  {},
];

const headerSets: (string | undefined)[] = [undefined, '2025-06-18', '2025-03-26', '2024-11-05', '2025-11-25', '2026-07-28', '2027-01-01', 'bogus', ''];

describe('isClaimlessLegacyMessage', () => {
  it('takes only what the SDK classifier calls legacy, with the same initialize verdict', () => {
    let taken = 0;
    for (const body of bodies) {
      for (const version of headerSets) {
        if (!isClaimlessLegacyMessage(body, version)) continue;
        taken++;
        const outcome = classifyInboundRequest({ httpMethod: 'POST', ...(version !== undefined ? { protocolVersionHeader: version } : {}), body });
        expect({ body, version, kind: outcome.kind }).toEqual({ body, version, kind: 'legacy' });
        const reason = outcome.kind === 'legacy' ? outcome.reason : undefined;
        expect({ body, version, initialize: reason === 'initialize' }).toEqual({ body, version, initialize: (body as { method?: unknown }).method === 'initialize' });
      }
    }
    // The shortcut is the common case, not a corner: every plain 2025-era message above, under each 2025-era header.
    expect(taken).toBe(8 * 5);
  });

  it('leaves a revision claim, a modern header and a malformed message to the classifier', () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } };
    expect(isClaimlessLegacyMessage(call, undefined)).toBe(true);
    expect(isClaimlessLegacyMessage(call, '2026-07-28')).toBe(false);
    expect(isClaimlessLegacyMessage({ ...call, params: { name: 'echo', _meta: ENVELOPE } }, undefined)).toBe(false);
    expect(isClaimlessLegacyMessage({ ...call, id: null }, undefined)).toBe(false);
    expect(isClaimlessLegacyMessage([call], undefined)).toBe(false);
  });

  it('gives classifyPost the same decision either way', () => {
    const headers = (version?: string) => new Headers(version === undefined ? {} : { 'mcp-protocol-version': version });
    const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo' } };
    expect(classifyPost(headers(), call)).toEqual({ era: 'legacy', messages: [call], batch: false, initialize: false });
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18' } };
    expect(classifyPost(headers('2025-06-18'), init)).toMatchObject({ era: 'legacy', initialize: true });
    expect(() => classifyPost(headers('2026-07-28'), call)).toThrow(/envelope/);
  });
});

describe('classifyPost: remembered verdicts of 2026-07-28 requests', () => {
  type Outcome = { era: string; revision?: string; initialize?: boolean } | { status: number; code: number; message: string };
  const attempt = (headers: Headers, body: unknown): Outcome => {
    try {
      const decision = classifyPost(headers, body);
      return decision.era === 'modern' ? { era: decision.era, revision: decision.revision } : { era: decision.era, initialize: decision.initialize };
    } catch (error) {
      const e = error as { status: number; rpcCode: number; message: string };
      return { status: e.status, code: e.rpcCode, message: e.message };
    }
  };
  const call = (meta: unknown, extra: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', _meta: meta }, ...extra });
  const modernBodies: Record<string, unknown>[] = [
    call(ENVELOPE),
    call({ ...ENVELOPE, progressToken: 4 }),
    call({ ...ENVELOPE, progressToken: 1.5 }),
    call({ ...ENVELOPE, progressToken: -0 }),
    call({ ...ENVELOPE, 'x-ext': null }),
    call({ ...ENVELOPE, 'x-ext': Infinity }),
    call({ ...ENVELOPE, 'io.modelcontextprotocol/related-task': { taskId: 5 } }),
    call({ ...ENVELOPE, 'io.modelcontextprotocol/clientInfo': { name: 't' } }),
    call({ ...ENVELOPE, 'io.modelcontextprotocol/clientCapabilities': 'none' }),
    call({ ...ENVELOPE, [CLAIM]: '2025-06-18' }),
    call({ [CLAIM]: '2026-07-28' }),
    call(ENVELOPE, { id: null }),
    call(ENVELOPE, { extra: 1 }),
    { jsonrpc: '2.0', id: 1, method: 'initialize', params: { _meta: ENVELOPE } },
    { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: ENVELOPE } },
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: ENVELOPE } },
  ];
  const versions = [undefined, '2026-07-28', ' 2026-07-28 ', '2025-06-18', '2027-01-01'];
  let probes = 0;
  /** The body with one more `_meta` key that no rule reads: never seen before, so the SDK classifier decides it. */
  const unseen = (body: Record<string, unknown>) => {
    const copy = structuredClone(body) as { params: { _meta: Record<string, unknown> } };
    copy.params._meta['x-probe'] = ++probes;
    return copy;
  };

  it('answers a request from memory as the SDK classifier answers it', () => {
    let remembered = 0;
    for (const body of modernBodies) {
      const method = body['method'] as string;
      for (const version of versions) {
        for (const methodHeader of [undefined, method, 'tools/list']) {
          for (const name of [undefined, 'echo', 'other']) {
            const headers = new Headers({
              ...(version !== undefined ? { 'mcp-protocol-version': version } : {}),
              ...(methodHeader !== undefined ? { 'mcp-method': methodHeader } : {}),
              ...(name !== undefined ? { 'mcp-name': name } : {}),
            });
            const reference = attempt(headers, unseen(body));
            attempt(headers, structuredClone(body));
            const again = attempt(headers, structuredClone(body));
            expect({ body, version, methodHeader, name, outcome: again }).toEqual({ body, version, methodHeader, name, outcome: reference });
            if ('era' in reference && reference.era === 'modern') remembered++;
          }
        }
      }
    }
    // Not vacuous: many of these are 2026-07-28 requests, answered from memory the second time.
    expect(remembered).toBeGreaterThan(20);
  });

  it('still checks each request\'s own headers once its envelope is known', () => {
    const headers = (name: string) => new Headers({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name });
    expect(classifyPost(headers('echo'), call(ENVELOPE))).toMatchObject({ era: 'modern', revision: '2026-07-28' });
    expect(() => classifyPost(headers('other'), call(ENVELOPE))).toThrow(/Mcp-Name header value 'other' does not match body value 'echo'/);
    expect(() => classifyPost(new Headers({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' }), call(ENVELOPE))).toThrow(/Mcp-Name header is required/);
  });
});
