import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequestRaw } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { FleetConfigSchema, type FleetConfigInput } from '../../src/config/schema.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/app.js';
import { listen } from '../../src/gateway/http/node.js';
import type { Logger } from '../../src/log.js';

/**
 * Shared pieces of the gateway's end-to-end suite: real stdio servers from npm and a
 * fixture, a real gateway on a real 127.0.0.1 socket, the official SDK v1 clients,
 * and bounded waits instead of sleeps.
 */

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

/** Entry point of `@modelcontextprotocol/server-everything` (run with `node`, faster than npx). */
export const EVERYTHING_ENTRY = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
/** Entry point of `@modelcontextprotocol/server-memory`. */
export const MEMORY_ENTRY = require.resolve('@modelcontextprotocol/server-memory/dist/index.js');
/** The test fixture server: tools `echo`, `crash` (stderr, then exit 3) and `hang`. */
export const CRASHY_ENTRY = join(here, '..', 'fixtures', 'crashy-server.mjs');
/** The repository root (the CLI runs from here). */
export const REPO_ROOT = join(here, '..', '..');

/**
 * A unique argument to put on every child's command line: stdio servers ignore
 * it, and {@link processesWithMarker} finds leftover processes by it.
 */
export function newMarker(label: string): string {
  return `--mcp-fleet-test-marker=${label}-${randomUUID()}`;
}

/** Pids of live processes whose command line contains `marker` (Linux `/proc`). */
export function processesWithMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      // A zombie has an empty cmdline; it is gone as far as users can tell.
      if (cmdline.includes(marker)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** True once no process has this pid any more (`kill(pid, 0)` fails; a zombie still counts as there). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long. @default 15000 */
  readonly timeoutMs?: number;
  /** Poll interval. @default 25 */
  readonly intervalMs?: number;
  /** What is awaited, for the failure message. */
  readonly what?: string;
}

/**
 * Polls `predicate` until it returns a truthy value and resolves with it; rejects
 * after a bounded time. A condition to wait on, never a sleep to hope by.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}

/** Makes an SDK v1 client accept every elicitation with `content`; the questions it was asked collect in the returned list. */
export function answerElicitations(client: Client, content: Record<string, string>): string[] {
  const questions: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    questions.push(String(request.params.message));
    return { action: 'accept', content };
  });
  return questions;
}

/** Rejects when `promise` does not settle within `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A gateway listening on 127.0.0.1 with a free port. */
export interface TestGateway {
  /** The in-process gateway. */
  readonly gateway: Gateway;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** `<url>/servers/<name>/mcp` */
  mcpUrl(server: string): URL;
  /** `<url>/servers/<name>/sse` */
  sseUrl(server: string): URL;
  /** Drains the gateway (ending sessions, stopping children) and closes the socket. */
  close(): Promise<void>;
}

/**
 * Parses `input` with the real config schema, creates the gateway, probes every
 * server, and listens on a free 127.0.0.1 port.
 */
export async function startGateway(
  input: FleetConfigInput,
  options: GatewayOptions & { readonly probe?: boolean } = {},
): Promise<TestGateway> {
  const config = FleetConfigSchema.parse(input);
  const gateway = createGateway(config, options);
  const listening = await listen(gateway, {
    host: '127.0.0.1',
    port: 0,
    keepAliveTimeoutMs: 5_000,
    maxBodyBytes: config.gateway.maxBodyBytes,
  });
  if (options.probe ?? true) await gateway.start();
  const url = listening.url;
  return {
    gateway,
    url,
    port: listening.port,
    mcpUrl: (server) => new URL(`${url}/servers/${server}/mcp`),
    sseUrl: (server) => new URL(`${url}/servers/${server}/sse`),
    close: async () => {
      await gateway.drain(2_000);
      await listening.close();
    },
  };
}

/** A connected SDK v1 client and its transport. */
export interface Connected<T> {
  /** The client. */
  readonly client: Client;
  /** Its transport. */
  readonly transport: T;
}

/** Connects an SDK v1 client over Streamable HTTP. */
export async function connectStreamable(
  url: URL,
  capabilities: ClientCapabilities = {},
): Promise<Connected<StreamableHTTPClientTransport>> {
  const client = new Client({ name: 'mcp-fleet-e2e', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(url);
  await client.connect(transport);
  return { client, transport };
}

/** Connects an SDK v1 client over HTTP+SSE (the 2024-11-05 transport). */
export async function connectSse(url: URL, capabilities: ClientCapabilities = {}): Promise<Connected<SSEClientTransport>> {
  const client = new Client({ name: 'mcp-fleet-e2e-sse', version: '1.0.0' }, { capabilities });
  const transport = new SSEClientTransport(url);
  await client.connect(transport);
  return { client, transport };
}

/** Headers of a well-formed Streamable HTTP POST. */
export const POST_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

/** An `initialize` request body. */
export function initializeBody(id: number | string = 1, protocolVersion = '2025-06-18'): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-fetch', version: '1.0.0' } },
  });
}

/** The text of the first text content block of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.find((c) => c.type === 'text')?.text ?? '';
}

/** A raw HTTP answer. */
export interface RawResponse {
  /** Status code. */
  readonly status: number;
  /** Headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as text. */
  readonly body: string;
}

/**
 * One HTTP request over `node:http`, which (unlike `fetch`) lets a test set the
 * `Host` header, as a client of a host-routed server would.
 */
export function httpRequest(
  url: string | URL,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequestRaw(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * The JSON-RPC messages of a Streamable HTTP answer, whether the gateway sent
 * plain JSON or an SSE stream.
 */
export function rpcMessagesOf(response: RawResponse): Record<string, unknown>[] {
  const type = String(response.headers['content-type'] ?? '');
  if (type.startsWith('text/event-stream')) {
    return response.body
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice('data: '.length)) as Record<string, unknown>);
  }
  const parsed = JSON.parse(response.body) as unknown;
  return (Array.isArray(parsed) ? parsed : [parsed]) as Record<string, unknown>[];
}

/** The 2026-07-28 protocol revision tests speak. */
export const MODERN_REVISION = '2026-07-28';

/** Options of {@link modernRequest}. */
export interface ModernRequestOptions {
  /** JSON-RPC id. @default 1 */
  readonly id?: number | string;
  /** `params` besides `_meta`. */
  readonly params?: Record<string, unknown>;
  /** Client capabilities declared in `_meta`. @default {} */
  readonly capabilities?: Record<string, unknown>;
  /** Extra or overriding headers (`null` removes one). */
  readonly headers?: Record<string, string | null>;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
}

/** A raw 2026-07-28 answer: status, content type and every JSON-RPC message (JSON or SSE). */
export interface ModernAnswer {
  readonly status: number;
  readonly contentType: string | null;
  readonly messages: Record<string, any>[];
  /** The last message (the final answer of a request). */
  readonly final: Record<string, any> | undefined;
}

/** One raw 2026-07-28 request with the headers a conforming client sends. */
export async function modernRequest(url: URL | string, method: string, options: ModernRequestOptions = {}): Promise<ModernAnswer> {
  const params = options.params ?? {};
  const name = typeof params['name'] === 'string' ? params['name'] : typeof params['uri'] === 'string' ? params['uri'] : undefined;
  const merged: Record<string, string | null> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN_REVISION,
    'mcp-method': method,
    ...(name !== undefined ? { 'mcp-name': name } : {}),
    ...options.headers,
  };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== null) headers[k] = v;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    ...(options.signal ? { signal: options.signal } : {}),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: options.id ?? 1,
      method,
      params: {
        ...params,
        _meta: {
          ...((params['_meta'] as Record<string, unknown> | undefined) ?? {}),
          'io.modelcontextprotocol/protocolVersion': MODERN_REVISION,
          'io.modelcontextprotocol/clientCapabilities': options.capabilities ?? {},
        },
      },
    }),
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  let messages: Record<string, any>[] = [];
  if (contentType?.includes('application/json')) messages = [JSON.parse(text) as Record<string, any>];
  else if (contentType?.includes('text/event-stream')) {
    messages = text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Record<string, any>);
  }
  return { status: response.status, contentType, messages, final: messages[messages.length - 1] };
}

/** A logger that keeps every record, for tests that check what was logged (and what was not). */
/** One record of a {@link recordingLogger}. */
export interface LogRecord {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A logger that keeps every record; `onRecord` sees each as it is logged, while the logging code still runs. */
export function recordingLogger(onRecord?: (record: LogRecord) => void): Logger & { readonly records: LogRecord[] } {
  const records: LogRecord[] = [];
  const record = (level: string, base: Record<string, unknown>) => (message: string, fields?: Record<string, unknown>) => {
    const entry = { level, message, fields: { ...base, ...fields } };
    records.push(entry);
    onRecord?.(entry);
  };
  const make = (base: Record<string, unknown>): Logger => ({
    debug: record('debug', base),
    info: record('info', base),
    warn: record('warn', base),
    error: record('error', base),
    child: (fields) => make({ ...base, ...fields }),
    enabled: () => true,
  });
  return Object.assign(make({}), { records });
}
