import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Gateway } from './app.js';

/**
 * The one adapter between Node's HTTP server and the gateway's web-standard
 * `Request -> Response` handler.
 */

/** Options of {@link listen}. */
export interface ListenOptions {
  /** Address to bind. */
  readonly host: string;
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** Keep-alive timeout of idle connections; above the load balancer's idle timeout. */
  readonly keepAliveTimeoutMs: number;
  /** Largest body read before answering 413. */
  readonly maxBodyBytes: number;
}

/** A listening gateway. */
export type ListeningGateway = BoundServer;

function toRequest(req: IncomingMessage, body: Buffer | undefined, signal: AbortSignal): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    try {
      headers.append(raw[i] as string, raw[i + 1] as string);
    } catch {
      // A header value the Fetch API refuses (control characters): drop it.
    }
  }
  const host = req.headers.host ?? 'localhost';
  return new Request(`http://${host.replace(/[^A-Za-z0-9.\-:[\]]/g, '')}${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers,
    signal,
    ...(body === undefined ? {} : { body }),
  });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  // Node holds the head back until the first body write; an SSE stream may have
  // nothing to say for a keep-alive interval, and clients wait for the head.
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) res.flushHeaders();
  const reader = response.body.getReader();
  const onClose = (): void => void reader.cancel().catch(() => {});
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) {
        // A client that goes away while its buffer is full never drains: stop waiting on close too.
        await new Promise<void>((resolve) => {
          const resume = (): void => {
            res.off('drain', resume);
            res.off('close', resume);
            resolve();
          };
          res.on('drain', resume);
          res.on('close', resume);
        });
      }
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}

/** Serves a gateway on a Node HTTP server. */
export function listen(gateway: Gateway, options: ListenOptions): Promise<ListeningGateway> {
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    try {
      let body: Buffer | undefined;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const read = await readBody(req, options.maxBodyBytes);
        if (read === 'too-large') {
          res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
          res.end(
            JSON.stringify({
              jsonrpc: '2.0',
              id: null,
              error: { code: -32600, message: `Payload Too Large: the body exceeds ${options.maxBodyBytes} bytes (gateway.maxBodyBytes)` },
            }),
          );
          return;
        }
        body = read;
      }
      const response = await gateway.fetch(toRequest(req, body, abort.signal));
      await writeResponse(response, res);
    } catch {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'Internal error' } }));
      } else {
        res.destroy();
      }
    }
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.headersTimeout = options.keepAliveTimeoutMs + 1000;
  // Bounds the time to receive a whole request (headers and body), so a client that
  // trickles a body cannot hold a connection forever; responses (SSE) are not bounded.
  server.requestTimeout = server.headersTimeout + 60_000;
  return bindServer(server, options.host, options.port, 1000);
}

/** A server bound to an address. */
export interface BoundServer {
  /** The Node server. */
  readonly server: Server;
  /** `http://host:port` it listens on. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** Stops accepting, ends idle connections at once and the others after the grace, and resolves when all are closed. */
  close(): Promise<void>;
}

/** Binds `server` to `host:port`; `close` gives open connections `forceAfterMs` before cutting them. */
export function bindServer(server: Server, host: string, port: number, forceAfterMs: number): Promise<BoundServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        server,
        port: address.port,
        url: `http://${shown}:${address.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
            if (forceAfterMs <= 0) server.closeAllConnections();
            else setTimeout(() => server.closeAllConnections(), forceAfterMs).unref();
          }),
      });
    });
  });
}
