import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { Client as UndiciClient } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as HttpTransportV2,
} from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioTransportV2 } from '@modelcontextprotocol/client/stdio';

/**
 * The load clients of the bench: a light raw client (undici over HTTP, bare
 * JSON lines over stdio) whose own CPU cost is small enough not to cap the
 * system under test, and the official SDK clients users run: v1
 * (`@modelcontextprotocol/sdk`) and v2 (`@modelcontextprotocol/client`).
 */

/** Where a client connects: a stdio command it spawns itself, or an HTTP endpoint. */
export type Target =
  | {
      readonly kind: 'stdio';
      readonly command: string;
      readonly args: readonly string[];
      /** Pids of the children the clients spawned and still hold: the direct baseline's "system". */
      readonly pids: Set<number>;
    }
  | {
      readonly kind: 'streamable-http';
      readonly url: string;
      /** `sessions`: 2025-era initialize handshake and `Mcp-Session-Id`; `modern`: stateless 2026-07-28. */
      readonly protocol: HttpProtocol;
    };

/** How a client talks to an HTTP endpoint. */
export type HttpProtocol = 'sessions' | 'modern';

/** The tool a session calls, and the arguments that carry a message of a given size. */
export interface ToolSpec {
  readonly name: string;
  arguments(message: string): Record<string, unknown>;
}

/** One client session that calls one tool. */
export interface BenchSession {
  /** Calls the tool with `message` and resolves with the text of the result's first content item. */
  call(message: string): Promise<string>;
  /** Ends the session (DELETE over HTTP, stdin end over stdio); never throws. */
  close(): Promise<void>;
}

/** A kind of load client. */
export interface LoadClient {
  readonly id: LoadClientId;
  readonly label: string;
  /** Whether it speaks `protocol` (SDK v1 has no 2026-07-28 support). */
  speaks(protocol: HttpProtocol | 'stdio'): boolean;
  /** Connects, handshakes and returns a ready session. */
  open(target: Target, tool: ToolSpec, timeoutMs: number): Promise<BenchSession>;
}

/** Ids of the load clients: raw, SDK v1, SDK v2. */
export type LoadClientId = 'raw' | 'sdk' | 'sdk2';

const CLIENT_INFO = { name: 'mcp-fleet-bench', version: '1.0.0' };
/** The session-era protocol revision the raw client asks for; every system under test speaks it. */
const RAW_PROTOCOL_VERSION = '2025-06-18';
/** The stateless revision. */
const MODERN_PROTOCOL_VERSION = '2026-07-28';
/** The per-request `_meta` envelope of a 2026-07-28 request. */
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
  'io.modelcontextprotocol/clientCapabilities': {},
};

function firstText(result: unknown): string {
  const content = (result as { content?: Array<{ type?: string; text?: string }> } | undefined)?.content;
  const first = content?.[0];
  if (first?.type !== 'text' || typeof first.text !== 'string') {
    throw new Error(`tool result has no text content: ${JSON.stringify(result).slice(0, 200)}`);
  }
  return first.text;
}

function rpcResult(message: JsonRpcMessage, method: string): unknown {
  if (message.error) throw new Error(`${method} failed: ${message.error.code} ${message.error.message}`);
  return message.result;
}

interface JsonRpcMessage {
  readonly jsonrpc: '2.0';
  readonly id?: number | string | null;
  readonly method?: string;
  readonly result?: unknown;
  readonly error?: { code: number; message: string };
}

/** A session over an SDK stdio transport; its child counts as the direct baseline's system while it is open. */
function stdioSession(
  target: Extract<Target, { kind: 'stdio' }>,
  pid: number | null,
  call: (message: string) => Promise<string>,
  close: () => Promise<void>,
): BenchSession {
  if (pid !== null) target.pids.add(pid);
  return {
    call,
    close: async () => {
      await close().catch(() => undefined);
      if (pid !== null) target.pids.delete(pid);
    },
  };
}

/** The official SDK v1 client over `StreamableHTTPClientTransport` or `StdioClientTransport`; it speaks the session eras only. */
export const sdkClient: LoadClient = {
  id: 'sdk',
  label: `SDK v1 (@modelcontextprotocol/sdk)`,
  speaks: (protocol) => protocol !== 'modern',
  async open(target, tool, timeoutMs) {
    if (target.kind === 'streamable-http' && target.protocol === 'modern') {
      throw new Error('the SDK v1 client does not speak the 2026-07-28 protocol');
    }
    const client = new Client(CLIENT_INFO);
    const call = async (message: string): Promise<string> =>
      firstText(await client.callTool({ name: tool.name, arguments: tool.arguments(message) }, undefined, { timeout: timeoutMs }));
    if (target.kind === 'stdio') {
      const transport = new StdioClientTransport({ command: target.command, args: [...target.args], stderr: 'ignore' });
      await client.connect(transport, { timeout: timeoutMs });
      return stdioSession(target, transport.pid, call, () => client.close());
    }
    const transport = new StreamableHTTPClientTransport(new URL(target.url));
    await client.connect(transport, { timeout: timeoutMs });
    return {
      call,
      close: async () => {
        await transport.terminateSession().catch(() => undefined);
        await client.close().catch(() => undefined);
      },
    };
  },
};

/**
 * The official SDK v2 client: its default (legacy) negotiation against session
 * endpoints, pinned to 2026-07-28 against modern ones; `StdioClientTransport` for
 * the direct baseline.
 */
export const sdk2Client: LoadClient = {
  id: 'sdk2',
  label: `SDK v2 (@modelcontextprotocol/client)`,
  speaks: () => true,
  async open(target, tool, timeoutMs) {
    const modern = target.kind === 'streamable-http' && target.protocol === 'modern';
    const client = new ClientV2(CLIENT_INFO, modern ? { versionNegotiation: { mode: { pin: MODERN_PROTOCOL_VERSION } } } : {});
    const call = async (message: string): Promise<string> =>
      firstText(await client.callTool({ name: tool.name, arguments: tool.arguments(message) }, { timeout: timeoutMs }));
    if (target.kind === 'stdio') {
      const transport = new StdioTransportV2({ command: target.command, args: [...target.args], stderr: 'ignore' });
      await client.connect(transport, { timeout: timeoutMs });
      return stdioSession(target, transport.pid, call, () => client.close());
    }
    const transport = new HttpTransportV2(new URL(target.url));
    await client.connect(transport, { timeout: timeoutMs });
    return {
      call,
      close: async () => {
        if (!modern) await transport.terminateSession().catch(() => undefined);
        await client.close().catch(() => undefined);
      },
    };
  },
};

/** Reads one JSON-RPC response with `id` out of a JSON or an SSE (`data:` lines) body. */
export function parseRpcBody(contentType: string, body: string, id: number): JsonRpcMessage {
  if (!contentType.includes('text/event-stream')) {
    const parsed = JSON.parse(body) as JsonRpcMessage | JsonRpcMessage[];
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    const found = messages.find((m) => m.id === id);
    if (!found) throw new Error(`no response with id ${id} in JSON body`);
    return found;
  }
  let data: string[] = [];
  const events: string[] = [];
  for (const line of body.split(/\r?\n/)) {
    if (line === '') {
      if (data.length > 0) events.push(data.join('\n'));
      data = [];
    } else if (line.startsWith('data:')) {
      data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    }
  }
  if (data.length > 0) events.push(data.join('\n'));
  for (const event of events) {
    const message = JSON.parse(event) as JsonRpcMessage;
    if (message.id === id) return message;
  }
  throw new Error(`no response with id ${id} in SSE body`);
}

class RawHttpSession implements BenchSession {
  private nextId = 1;
  private sessionId: string | undefined;
  private readonly http: UndiciClient;
  private readonly path: string;

  constructor(
    url: URL,
    private readonly tool: ToolSpec,
    private readonly timeoutMs: number,
    private readonly protocol: HttpProtocol,
  ) {
    // One keep-alive connection per session, as a real client holds.
    this.http = new UndiciClient(url.origin, {
      pipelining: 1,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connectTimeout: timeoutMs,
    });
    this.path = url.pathname + url.search;
  }

  private headers(method?: string): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (this.protocol === 'modern') {
      // 2026-07-28 routes on headers that mirror the body.
      headers['mcp-protocol-version'] = MODERN_PROTOCOL_VERSION;
      if (method !== undefined) headers['mcp-method'] = method;
      if (method === 'tools/call') headers['mcp-name'] = this.tool.name;
    } else if (this.sessionId !== undefined) {
      headers['mcp-session-id'] = this.sessionId;
      headers['mcp-protocol-version'] = RAW_PROTOCOL_VERSION;
    }
    return headers;
  }

  private async post(payload: { readonly method: string; readonly [key: string]: unknown }, id: number | undefined): Promise<JsonRpcMessage | undefined> {
    const response = await this.http.request({
      method: 'POST',
      path: this.path,
      headers: this.headers(payload.method),
      body: JSON.stringify(payload),
    });
    const body = await response.body.text();
    if (response.statusCode >= 300) {
      throw new Error(`HTTP ${response.statusCode} from ${this.path}: ${body.slice(0, 200)}`);
    }
    const sessionHeader = response.headers['mcp-session-id'];
    if (typeof sessionHeader === 'string') this.sessionId = sessionHeader;
    if (id === undefined) return undefined;
    return parseRpcBody(String(response.headers['content-type'] ?? ''), body, id);
  }

  async initialize(): Promise<void> {
    const id = this.nextId++;
    if (this.protocol === 'modern') {
      // No session: the only handshake a stateless client makes is discovery.
      const discover = await this.post({ jsonrpc: '2.0', id, method: 'server/discover', params: { _meta: MODERN_META } }, id);
      rpcResult(discover!, 'server/discover');
      return;
    }
    const init = await this.post(
      {
        jsonrpc: '2.0',
        id,
        method: 'initialize',
        params: { protocolVersion: RAW_PROTOCOL_VERSION, capabilities: {}, clientInfo: CLIENT_INFO },
      },
      id,
    );
    rpcResult(init!, 'initialize');
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, undefined);
  }

  async call(message: string): Promise<string> {
    const id = this.nextId++;
    const params =
      this.protocol === 'modern'
        ? { name: this.tool.name, arguments: this.tool.arguments(message), _meta: MODERN_META }
        : { name: this.tool.name, arguments: this.tool.arguments(message) };
    const response = await this.post({ jsonrpc: '2.0', id, method: 'tools/call', params }, id);
    return firstText(rpcResult(response!, 'tools/call'));
  }

  async close(): Promise<void> {
    try {
      if (this.sessionId !== undefined) {
        const response = await this.http.request({ method: 'DELETE', path: this.path, headers: this.headers() });
        await response.body.dump();
      }
    } catch {
      // Ending a session is best effort: the system is stopped after the run anyway.
    }
    await this.http.close().catch(() => undefined);
  }
}

class RawStdioSession implements BenchSession {
  private nextId = 1;
  /** Pieces of a line not yet ended; searched for a newline only as they arrive (8 MiB lines stay linear). */
  private partial: Buffer[] = [];
  private readonly pending = new Map<number, { resolve: (m: JsonRpcMessage) => void; reject: (e: Error) => void }>();
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;

  constructor(
    private readonly target: Extract<Target, { kind: 'stdio' }>,
    private readonly tool: ToolSpec,
    private readonly timeoutMs: number,
  ) {
    this.child = spawn(target.command, [...target.args], { stdio: ['pipe', 'pipe', 'ignore'] });
    if (this.child.pid !== undefined) target.pids.add(this.child.pid);
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.on('exit', () => this.failAll(new Error('stdio server exited')));
    this.child.on('error', (err) => this.failAll(err));
    this.child.stdin.on('error', (err) => this.failAll(err));
  }

  private onData(chunk: Buffer): void {
    let rest = chunk;
    let newline: number;
    while ((newline = rest.indexOf(0x0a)) >= 0) {
      this.partial.push(rest.subarray(0, newline));
      rest = rest.subarray(newline + 1);
      const line = Buffer.concat(this.partial).toString('utf8').trim();
      this.partial = [];
      if (line === '') continue;
      const message = JSON.parse(line) as JsonRpcMessage;
      if (typeof message.id !== 'number') continue;
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      waiter?.resolve(message);
    }
    if (rest.length > 0) this.partial.push(rest);
  }

  private failAll(err: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }

  private request(method: string, params: object): Promise<JsonRpcMessage> {
    const id = this.nextId++;
    return new Promise<JsonRpcMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }

  async initialize(): Promise<void> {
    rpcResult(
      await this.request('initialize', {
        protocolVersion: RAW_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: CLIENT_INFO,
      }),
      'initialize',
    );
    this.child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
  }

  async call(message: string): Promise<string> {
    return firstText(rpcResult(await this.request('tools/call', { name: this.tool.name, arguments: this.tool.arguments(message) }), 'tools/call'));
  }

  async close(): Promise<void> {
    const pid = this.child.pid;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    if (pid !== undefined) this.target.pids.delete(pid);
  }
}

/** The light client: undici with one keep-alive connection per session, or bare JSON lines over stdio. */
export const rawClient: LoadClient = {
  id: 'raw',
  label: 'raw (undici, one keep-alive connection per session)',
  speaks: () => true,
  async open(target, tool, timeoutMs) {
    const session =
      target.kind === 'stdio'
        ? new RawStdioSession(target, tool, timeoutMs)
        : new RawHttpSession(new URL(target.url), tool, timeoutMs, target.protocol);
    try {
      await session.initialize();
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  },
};

/** Every load client, raw first. */
export const LOAD_CLIENTS: readonly LoadClient[] = [rawClient, sdkClient, sdk2Client];
