import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ClientCapabilities, JSONRPCRequest, Notification, Progress, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { GATEWAY_INFO } from '../../protocol.js';

/**
 * One member of a virtual server as one client session of it: an SDK client
 * speaking 2025-era Streamable HTTP to the member's own endpoint, in process
 * (no socket), through the gateway's pipeline after authentication. So a
 * member keeps its child policy, queue, limits and timeouts: a virtual session
 * is, to each member, just another session of the same principal.
 */

/** Sends one request to a member's endpoint, in process, as the virtual server's caller. */
export type MemberFetch = (request: Request) => Promise<Response>;

/** What a link reports to the virtual server that owns it. */
export interface MemberLinkEvents {
  /** A notification the member sent on its own (list_changed, log lines, resource updates). */
  onNotification(member: string, notification: Notification): void;
  /** A request of the member to the client (sampling, elicitation, roots); its answer goes back to the member. */
  onRequest(member: string, request: JSONRPCRequest, signal: AbortSignal): Promise<Record<string, unknown>>;
}

/** A member that cannot be reached: not started, crashed at start, or refusing sessions. */
export class MemberUnavailableError extends Error {
  readonly code = 'member-unavailable';
  constructor(
    readonly member: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`server "${member}" is unavailable: ${reason}`, options);
    this.name = 'MemberUnavailableError';
  }
}

/** Any result, kept as the member wrote it (the SDK's own schemas would drop nothing, but neither add anything). */
const AnyResult = z.looseObject({});

/** The SDK client parts a link uses. */
interface SdkClientModules {
  readonly Client: typeof import('@modelcontextprotocol/sdk/client/index.js').Client;
  readonly StreamableHTTPClientTransport: typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js').StreamableHTTPClientTransport;
  readonly StreamableHTTPError: typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js').StreamableHTTPError;
  readonly McpError: typeof import('@modelcontextprotocol/sdk/types.js').McpError;
}

/**
 * The SDK client, loaded by the first member connection rather than by `serve`'s
 * start: its modules (with their own zod schemas) are about a quarter of the
 * gateway's start-up CPU, and a fleet may never see a virtual session.
 */
let sdkClientLoading: Promise<SdkClientModules> | undefined;
let sdkClient: SdkClientModules | undefined;

function loadSdkClient(): Promise<SdkClientModules> {
  sdkClientLoading ??= Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]).then(([client, http, types]) => {
    sdkClient = {
      Client: client.Client,
      StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
      StreamableHTTPError: http.StreamableHTTPError,
      McpError: types.McpError,
    };
    return sdkClient;
  });
  return sdkClientLoading;
}

/** A member's JSON-RPC error (the SDK's `McpError`), or undefined for any other failure. */
export function memberRpcError(error: unknown): { code: number; message: string; data?: unknown } | undefined {
  // No link has connected before the SDK is loaded, so no member error can exist without it.
  return sdkClient !== undefined && error instanceof sdkClient.McpError ? error : undefined;
}

/** The base URL of in-process member requests (never resolved: the fetch goes to the gateway itself). */
const INTERNAL_ORIGIN = 'http://mcp-fleet.internal';

/** A lazily connected client session of one member. */
export class MemberLink {
  private connecting: Promise<Client> | undefined;
  private client: Client | undefined;
  private transport: StreamableHTTPClientTransport | undefined;
  private closed = false;

  constructor(
    /** The member server's name. */
    readonly member: string,
    private readonly fetchMember: MemberFetch,
    private readonly capabilities: ClientCapabilities,
    private readonly events: MemberLinkEvents,
    private readonly timeoutMs: number,
  ) {}

  /** The member's capabilities, once connected. */
  get serverCapabilities(): ServerCapabilities | undefined {
    return this.client?.getServerCapabilities();
  }

  /** The member's instructions, once connected. */
  get instructions(): string | undefined {
    return this.client?.getInstructions();
  }

  /** Connects when not connected (one attempt at a time); rejects with {@link MemberUnavailableError}. */
  async connect(): Promise<Client> {
    if (this.closed) throw new MemberUnavailableError(this.member, 'the virtual session is closed');
    if (this.client) return this.client;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /**
   * Sends one request to the member and returns its result unchanged. A member
   * that cannot be reached rejects with {@link MemberUnavailableError}; a JSON-RPC
   * error of the member rejects with the SDK's `McpError`.
   */
  async request(method: string, params: Record<string, unknown> | undefined, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect();
      try {
        return await client.request({ method, ...(params === undefined ? {} : { params }) } as never, AnyResult, {
          timeout: this.timeoutMs,
          resetTimeoutOnProgress: true,
          ...options,
        });
      } catch (error) {
        if (!isSessionGone(error)) throw error;
        // The member's session ended under us (a per-session child exited, or it was reaped). The request
        // was refused before the member saw it, so it is sent once more on a new session.
        this.drop(client);
        if (attempt > 0) throw new MemberUnavailableError(this.member, describe(error), { cause: error });
      }
    }
  }

  /** Ends the member session. */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    const transport = this.transport;
    this.client = undefined;
    // DELETE the member session, so a per-session member stops its child now rather than at the idle timeout.
    if (transport) await transport.terminateSession().catch(() => undefined);
    if (client) await closeQuietly(client);
  }

  private async open(): Promise<Client> {
    const { Client, StreamableHTTPClientTransport } = await loadSdkClient();
    const client = new Client({ name: `${GATEWAY_INFO.name}-virtual`, version: GATEWAY_INFO.version }, { capabilities: this.capabilities });
    client.fallbackNotificationHandler = async (notification) => this.events.onNotification(this.member, notification);
    client.fallbackRequestHandler = async (request, extra) => this.events.onRequest(this.member, request, extra.signal) as never;
    client.onclose = () => {
      if (this.client === client) this.client = undefined;
    };
    const transport = new StreamableHTTPClientTransport(new URL(`${INTERNAL_ORIGIN}/servers/${this.member}/mcp`), {
      fetch: async (url, init) => this.fetchMember(new Request(url, init)),
    });
    try {
      await client.connect(transport, { timeout: this.timeoutMs });
    } catch (error) {
      await closeQuietly(client);
      throw new MemberUnavailableError(this.member, describe(error), { cause: error });
    }
    if (this.closed) {
      await closeQuietly(client);
      throw new MemberUnavailableError(this.member, 'the virtual session is closed');
    }
    this.client = client;
    this.transport = transport;
    return client;
  }

  private drop(client: Client): void {
    if (this.client === client) this.client = undefined;
    void closeQuietly(client);
  }
}

/** Progress of a member's call, as the SDK reports it. */
export type MemberProgress = Progress;

/**
 * True for errors that mean the member session no longer exists: the transport's
 * HTTP 404 (the gateway's "session not found"). Not the SDK's -32001, which is
 * also its code for a request the caller cancelled or timed out.
 */
function isSessionGone(error: unknown): boolean {
  return sdkClient !== undefined && error instanceof sdkClient.StreamableHTTPError && error.code === 404;
}

/** A short cause for a client, from an SDK or HTTP error (the JSON-RPC message in an HTTP error body when there is one). */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const json = /\{.*\}/s.exec(message)?.[0];
  if (json !== undefined) {
    try {
      const parsed = JSON.parse(json) as { error?: { message?: unknown } };
      if (typeof parsed.error?.message === 'string') return parsed.error.message;
    } catch {
      // not JSON after all
    }
  }
  return message;
}

async function closeQuietly(client: Client): Promise<void> {
  try {
    await client.close();
  } catch {
    // closing is best effort: the member session is reaped by idle timeout otherwise
  }
}
