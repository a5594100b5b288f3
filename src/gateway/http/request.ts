import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeldBytes } from '../../held-bytes.js';
import { ErrorCode } from '../../protocol.js';
import { HttpError, payloadTooLarge } from './errors.js';
import { parseJsonBody } from './json-body.js';

/**
 * What the gateway reads of a request: a subset of the web-standard `Request`,
 * so a `Request` is one (tests and in-process callers pass those), and the Node
 * adapter passes a {@link NodeRequest} that builds nothing it is not asked for.
 */

/** The headers of a request, read-only. A web `Headers` is one. */
export interface HeaderReader {
  get(name: string): string | null;
  has(name: string): boolean;
  forEach(callback: (value: string, key: string) => void): void;
}

/** A request as the gateway reads it. A web `Request` is one. */
export interface InboundRequest {
  /** HTTP method. */
  readonly method: string;
  /** Absolute URL (`http://host/path?query`). */
  readonly url: string;
  /** Headers (lower-case names). */
  readonly headers: HeaderReader;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
}

/**
 * Where a request's abort signal can be had when it is needed: a request is one.
 * Passed instead of the signal itself, so a call that never waits never makes
 * one (an AbortController and a close listener per request on the hot path).
 */
export interface SignalSource {
  readonly signal: AbortSignal;
}

/**
 * Calls `listener` once if the client goes away before its answer was sent in
 * full. On the Node adapter that is one close listener, with no AbortController.
 */
export function whenClientGone(source: SignalSource, listener: () => void): void {
  if (source instanceof NodeRequest) {
    source.onClientGone(listener);
    return;
  }
  const signal = source.signal;
  if (signal.aborted) listener();
  else signal.addEventListener('abort', listener, { once: true });
}

/** The path of a request, without its query (cheaper than a URL parse). */
export function pathOf(request: InboundRequest): string {
  if (request instanceof NodeRequest) return request.path;
  const url = request.url;
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start === -1) return '/';
  const query = url.indexOf('?', start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

/** One query parameter of a request. */
export function queryParam(request: InboundRequest, name: string): string | null {
  const url = request.url;
  const query = url.indexOf('?');
  if (query === -1) return null;
  return new URLSearchParams(url.slice(query + 1)).get(name);
}

/**
 * Reads a request's body, refusing one over `limit` bytes with 413 (without
 * reading past the limit when the client declared its length).
 */
export async function readBody(request: InboundRequest, limit: number): Promise<Buffer> {
  if (request instanceof NodeRequest) return request.body(limit);
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw payloadTooLarge(limit);
  const web = request as Request;
  if (!web.body) return Buffer.alloc(0);
  const chunks = new HeldBytes();
  const reader = web.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (chunks.length + value.length > limit) {
      void reader.cancel().catch(() => {});
      throw payloadTooLarge(limit);
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return chunks.take();
}

/** Reads a body and parses it as JSON: 413 past `limit`, 400 with -32700 when it is not JSON. */
export async function readJsonBody(request: InboundRequest, limit: number): Promise<{ body: unknown; raw: Buffer }> {
  const raw = await readBody(request, limit);
  try {
    return { body: parseJsonBody(raw), raw };
  } catch (error) {
    throw new HttpError(400, ErrorCode.ParseError, `Parse error: ${(error as Error).message}`);
  }
}

/** The headers of a Node request, read in place. */
class NodeHeaders implements HeaderReader {
  constructor(
    private readonly raw: IncomingMessage['headers'],
    private readonly hostOverride: string | undefined,
  ) {}

  get(name: string): string | null {
    if (name === 'host' && this.hostOverride !== undefined) return this.hostOverride;
    const value = this.raw[name];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  forEach(callback: (value: string, key: string) => void): void {
    for (const key of Object.keys(this.raw)) {
      const value = this.get(key);
      if (value !== null) callback(value, key);
    }
  }
}

/**
 * A request as the Node adapter hands it to the gateway: the URL, the headers
 * and the abort signal are made only when something reads them. A request in
 * absolute form (`POST http://host/path`) names its host in the target, which
 * wins over the Host header (RFC 9112, section 3.2.2).
 */
export class NodeRequest implements InboundRequest {
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  private readonly target: string;
  private readonly hostValue: string | undefined;
  private headerReader: NodeHeaders | undefined;
  private controller: AbortController | undefined;
  private bodyPromise: Promise<Buffer> | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    this.method = req.method ?? 'GET';
    let target = req.url ?? '/';
    let host: string | undefined;
    if (!target.startsWith('/')) {
      // Absolute form: the target's authority is the host. Anything unparsable routes nowhere.
      try {
        const url = new URL(target);
        host = url.host;
        target = `${url.pathname}${url.search}`;
      } catch {
        host = '';
        target = '/';
      }
    }
    this.target = target;
    this.hostValue = host;
    const query = target.indexOf('?');
    this.path = query === -1 ? target : target.slice(0, query);
  }

  get url(): string {
    return `http://${this.headers.get('host') ?? 'localhost'}${this.target}`;
  }

  get headers(): HeaderReader {
    this.headerReader ??= new NodeHeaders(this.req.headers, this.hostValue);
    return this.headerReader;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      this.onClientGone(() => controller.abort());
    }
    return this.controller.signal;
  }

  /** Calls `listener` once if the response closes before it was sent in full (the client went away). */
  onClientGone(listener: () => void): void {
    const res = this.res;
    if (res.writableFinished) return;
    if (res.destroyed) {
      listener();
      return;
    }
    res.once('close', () => {
      if (!res.writableFinished) listener();
    });
  }

  /** The body, read once, refused past `limit` bytes. */
  body(limit: number): Promise<Buffer> {
    this.bodyPromise ??= new Promise((resolve, reject) => {
      const declared = Number(this.req.headers['content-length'] ?? '0');
      if (declared > limit) {
        reject(payloadTooLarge(limit));
        return;
      }
      // A client that drips its body a byte per packet is held as about the body's size (see HeldBytes).
      const chunks = new HeldBytes();
      this.req.on('data', (chunk: Buffer) => {
        if (chunks.length + chunk.length > limit) {
          this.req.removeAllListeners('data');
          this.req.resume();
          reject(payloadTooLarge(limit));
          return;
        }
        chunks.push(chunk);
      });
      let complete = false;
      this.req.once('end', () => {
        complete = true;
        resolve(chunks.take());
      });
      this.req.once('error', reject);
      this.req.once('close', () => {
        if (!complete) reject(new HttpError(400, ErrorCode.InvalidRequest, 'Bad Request: the client went away before sending the whole body'));
      });
    });
    return this.bodyPromise;
  }
}
