import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../../log.js';
import { errorReply } from './errors.js';
import { BytesReply, StreamReply, type Reply, type StreamSink } from './reply.js';
import { NodeRequest, type InboundRequest } from './request.js';

/**
 * The one adapter between Node's HTTP server and the gateway. A request becomes
 * a {@link NodeRequest} (nothing built that is not read); a {@link BytesReply}
 * is written with its head in one write; a {@link StreamReply} writes events
 * straight to the socket, with the socket's backlog as the stream's backpressure.
 */

/** What the adapter serves: the gateway's own entry point. */
export interface RequestHandler {
  /** Answers one request. Never throws. */
  handle(request: InboundRequest): Promise<Reply>;
}

/** Options of {@link listen}. */
export interface ListenOptions {
  /** Address to bind. */
  readonly host: string;
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** Keep-alive timeout of idle connections; above the load balancer's idle timeout. */
  readonly keepAliveTimeoutMs: number;
  /** Largest body read before answering 413 (the gateway reads bodies through the request). */
  readonly maxBodyBytes: number;
  /** Where errors that escape the gateway are logged. @default silent */
  readonly logger?: Logger;
}

/** A listening gateway. */
export type ListeningGateway = BoundServer;

/**
 * What one event held for a client that does not read costs besides its bytes:
 * Node's entries for its chunks, its Buffer and the callback (measured: a flood
 * of 110-byte events held some 800 bytes each). Counted in the backlog, so that
 * a stream of tiny events is cut at about the memory its limit allows.
 */
const UNSENT_EVENT_BYTES = 512;

/** A {@link StreamSink} over a Node response: one write per event; the socket's unsent bytes and events as backlog. */
function nodeSink(res: ServerResponse): StreamSink {
  /** Events written but not yet handed to the socket (each write's callback says when). */
  let unsent = 0;
  const sent = (): void => {
    unsent--;
  };
  return {
    write(chunks) {
      if (res.writableEnded || res.destroyed) return;
      unsent++;
      if (chunks.length === 1) {
        res.write(chunks[0] as string | Buffer, sent);
        return;
      }
      res.cork();
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) res.write(chunks[i] as string | Buffer);
      res.write(chunks[last] as string | Buffer, sent);
      process.nextTick(() => res.uncork());
    },
    get backlog() {
      return res.writableLength + unsent * UNSENT_EVENT_BYTES;
    },
    end() {
      if (!res.writableEnded) res.end();
    },
    destroy() {
      res.destroy();
    },
    onClose(listener) {
      if (res.destroyed || res.writableFinished) listener();
      else res.once('close', listener);
    },
  };
}

/** The reply's headers and a content-length, as the flat name/value list `writeHead` takes (no object to build). */
function headLines(reply: BytesReply, length: number | undefined): (string | number)[] {
  const lines: (string | number)[] = [];
  const headers = reply.headers;
  for (const name in headers) lines.push(name, headers[name] as string);
  if (length !== undefined) lines.push('content-length', length);
  return lines;
}

/** Writes a complete answer: head and body in one go. */
function writeBytes(reply: BytesReply, res: ServerResponse, head: boolean): void {
  const body = reply.body;
  if (body === null) {
    res.writeHead(reply.status, headLines(reply, reply.status !== 204 && reply.status !== 304 ? 0 : undefined));
    res.end();
    return;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    res.writeHead(reply.status, headLines(reply, typeof body === 'string' ? Buffer.byteLength(body) : body.length));
    // end() corks the socket: the head and the bytes leave in one writev, with no decode and re-encode of the body.
    res.end(head ? undefined : body);
    return;
  }
  const pieces = body as readonly Buffer[];
  let length = 0;
  for (const piece of pieces) length += piece.length;
  res.writeHead(reply.status, headLines(reply, length));
  if (head) {
    res.end();
    return;
  }
  // Corked: the head and every piece leave in one writev.
  res.cork();
  for (let i = 0; i < pieces.length - 1; i++) res.write(pieces[i] as Buffer);
  res.end(pieces[pieces.length - 1]);
  res.uncork();
}

/** Pipes a web-standard Response (the rare paths that still make one). */
async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
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

/** Writes any reply to a Node response. */
export async function writeReply(reply: Reply, res: ServerResponse, method: string): Promise<void> {
  if (reply instanceof BytesReply) {
    writeBytes(reply, res, method === 'HEAD');
    return;
  }
  if (reply instanceof StreamReply) {
    res.writeHead(reply.status, reply.headers);
    // Node holds the head back until the first body write; a stream may have nothing to say for a while.
    res.flushHeaders();
    reply.start(nodeSink(res));
    return;
  }
  await writeResponse(reply, res);
}

/** Serves a gateway on a Node HTTP server. */
export function listen(handler: RequestHandler, options: ListenOptions): Promise<ListeningGateway> {
  const logger = options.logger ?? silentLogger;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const request = new NodeRequest(req, res);
    handler.handle(request).then(
      (reply) => writeReply(reply, res, request.method),
      (error: unknown) => writeReply(errorReply(error, logger), res, request.method),
    ).catch((error: unknown) => {
      logger.error('failed to write an answer', { error: error instanceof Error ? error.message : String(error) });
      res.destroy();
    });
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
