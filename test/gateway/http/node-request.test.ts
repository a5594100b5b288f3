import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { usedAfterCollection } from '../../heap.js';
import { BytesReply } from '../../../src/gateway/http/reply.js';
import { listen, type ListeningGateway } from '../../../src/gateway/http/node.js';
import { readBody, type InboundRequest } from '../../../src/gateway/http/request.js';

/**
 * The request signal of the Node adapter means "the client went away before its
 * answer": a request answered in full must not see it abort (an abort costs a
 * DOMException and an event per request, and would tell listeners a lie).
 */

let gateway: ListeningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('NodeRequest.signal', () => {
  it('stays unaborted when the answer was sent in full', async () => {
    const seen: InboundRequest[] = [];
    gateway = await listen(
      {
        async handle(request) {
          seen.push(request);
          void request.signal;
          return new BytesReply(200, { 'content-type': 'application/json' }, '{}');
        },
      },
      { host: '127.0.0.1', port: 0, keepAliveTimeoutMs: 5000, maxBodyBytes: 1024 },
    );
    // The response's close comes after the client saw its end: wait for that close itself.
    const closed = new Promise<void>((resolve) => gateway!.server.once('request', (_req, res) => res.once('close', () => resolve())));
    expect(await post(`${gateway.url}/x`, '{}')).toBe(200);
    await closed;
    expect(seen).toHaveLength(1);
    expect(seen[0]!.signal.aborted).toBe(false);
  });

  it('aborts when the client goes away before the answer', async () => {
    let aborted: Promise<void> | undefined;
    gateway = await listen(
      {
        handle(request) {
          aborted = new Promise((resolve) => request.signal.addEventListener('abort', () => resolve(), { once: true }));
          return new Promise<never>(() => {});
        },
      },
      { host: '127.0.0.1', port: 0, keepAliveTimeoutMs: 5000, maxBodyBytes: 1024 },
    );
    const req = httpRequest(`${gateway.url}/x`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => undefined);
    req.end('{}');
    for (let i = 0; i < 100 && aborted === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    req.destroy();
    await expect(aborted).resolves.toBeUndefined();
  });
});

describe('NodeRequest.body', () => {
  it('GIVEN a client that drips its body a byte per packet WHEN the body is pending THEN about the body is held, not a Buffer per byte', async () => {
    const length = 200_000;
    let received: Promise<Buffer> | undefined;
    gateway = await listen(
      {
        async handle(request) {
          received = readBody(request, 1024 * 1024);
          return new BytesReply(200, { 'content-type': 'text/plain' }, String((await received).length));
        },
      },
      { host: '127.0.0.1', port: 0, keepAliveTimeoutMs: 5000, maxBodyBytes: 1024 * 1024 },
    );
    const socket = connect(gateway.port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk: Buffer) => void (answer += chunk.toString('latin1')));
    socket.write(`POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`);
    const byte = Buffer.from('b');
    const before = usedAfterCollection();
    // One byte per turn of the loop: the server reads each as its own chunk, as from a client that sends a packet per byte.
    for (let i = 0; i < length - 1; i++) {
      socket.write(byte);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const grown = usedAfterCollection() - before;
    socket.end(byte);
    await new Promise((resolve) => socket.once('close', resolve));
    expect((await received!).length).toBe(length);
    expect(answer).toMatch(new RegExp(`\\r\\n\\r\\n${length}$`));
    // A Buffer per byte held some 190 bytes per byte of the body (38 MB here).
    expect(grown).toBeLessThan(8 * length);
  }, 60_000);
});
