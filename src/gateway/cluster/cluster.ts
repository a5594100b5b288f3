import { Readable } from 'node:stream';
import type { Logger } from '../../log.js';
import { Header } from '../../protocol.js';
import { sessionNotFound } from '../http/errors.js';
import type { InboundRequest } from '../http/request.js';
import { OwnershipSigner, requestStateKey } from './ownership.js';
import { normalize, parseHostPort, PeerSet } from './peers.js';

/**
 * Several gateway replicas behind a plain round-robin load balancer. A legacy
 * session id (and an HTTP+SSE session id, and an MRTR requestState) names the
 * replica that owns it, signed with the fleet secret; a replica that receives a
 * request for another replica's session forwards it there over the private
 * network, streams included. If the owner is gone the client gets the spec's 404
 * and starts a new session.
 */

/** Header marking a request already forwarded once (no second hop, no loops). */
export const FORWARDED_HEADER = Header.forwarded;

/** Settings of a {@link Cluster}. */
export interface ClusterSettings {
  /** The fleet secret, the same on every replica. */
  readonly secret: string;
  /** How peers reach this replica (`http://10.0.1.5:8808`). */
  readonly advertise: string;
  /** Static peer URLs. */
  readonly peers: readonly string[];
  /** `host:port` whose A records are the replicas. */
  readonly peersDns?: string | undefined;
  /** DNS refresh interval. */
  readonly refreshMs: number;
}

/** Where a request for a session goes. */
export type Placement = { readonly kind: 'local' } | { readonly kind: 'remote'; readonly owner: string };

/** This replica's view of the fleet. */
export class Cluster {
  /** This replica's URL. */
  readonly self: string;
  /** Key for MRTR requestState, shared by all replicas. */
  readonly stateKey: Buffer;
  private readonly signer: OwnershipSigner;
  private readonly peers: PeerSet;

  constructor(
    settings: ClusterSettings,
    private readonly logger: Logger,
  ) {
    this.self = normalize(settings.advertise);
    this.signer = new OwnershipSigner(settings.secret);
    this.stateKey = requestStateKey(settings.secret);
    const dnsName = settings.peersDns === undefined ? undefined : parseHostPort(settings.peersDns);
    this.peers = new PeerSet(this.self, settings.peers, dnsName, settings.refreshMs, logger);
  }

  /** Starts peer discovery. */
  start(): Promise<void> {
    return this.peers.start();
  }

  /** Stops peer discovery. */
  stop(): void {
    this.peers.stop();
  }

  /** A new session id owned by this replica. */
  mintSessionId(): string {
    return this.signer.mint(this.self);
  }

  /**
   * Where a session lives. A forged id, or one naming a replica that is not a
   * known peer, is a session that does not exist: 404.
   */
  async place(id: string | null, request: InboundRequest): Promise<Placement> {
    if (id === null || id === '') return { kind: 'local' };
    const read = this.signer.read(id);
    if (read.kind === 'plain') return { kind: 'local' };
    if (read.kind === 'forged') throw sessionNotFound();
    const owner = normalize(read.owner);
    if (owner === this.self) return { kind: 'local' };
    // A request that already took one hop is answered here: the owner it named is not us.
    if (request.headers.has(FORWARDED_HEADER)) throw sessionNotFound();
    if (!(await this.peers.isPeer(owner))) throw sessionNotFound();
    return { kind: 'remote', owner };
  }

  /** Where an MRTR call parked under `owner` (read from a verified requestState) is answered. */
  async placeOwner(owner: string | undefined, request: InboundRequest): Promise<Placement> {
    if (owner === undefined || normalize(owner) === this.self || request.headers.has(FORWARDED_HEADER)) return { kind: 'local' };
    if (!(await this.peers.isPeer(owner))) return { kind: 'local' };
    return { kind: 'remote', owner: normalize(owner) };
  }

  /**
   * Sends the request to its owner and streams the answer back. The `Host` and
   * credentials go along, so the owner routes and authorizes it as the first
   * replica did. An owner that cannot be reached means the session is gone: 404.
   */
  async forward(request: InboundRequest, owner: string, body: Buffer | undefined): Promise<Response> {
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      if (key !== 'connection' && key !== 'keep-alive' && key !== 'transfer-encoding' && key !== 'content-length') headers[key] = value;
    });
    headers[FORWARDED_HEADER] = this.self;
    const payload = body;
    try {
      // Loaded on the first hand-off: a single replica never needs it (undici is a sixth of the start-up).
      const { request: undiciRequest } = await import('undici');
      const answer = await undiciRequest(`${owner}${url.pathname}${url.search}`, {
        method: request.method as 'GET' | 'POST' | 'DELETE',
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        signal: request.signal,
        headersTimeout: 30_000,
        bodyTimeout: 0,
      });
      const out = new Headers();
      for (const [key, value] of Object.entries(answer.headers)) {
        if (value === undefined || key === 'connection' || key === 'keep-alive' || key === 'transfer-encoding') continue;
        for (const v of Array.isArray(value) ? value : [value]) out.append(key, v);
      }
      const stream = Readable.toWeb(answer.body) as ReadableStream<Uint8Array>;
      const empty = answer.statusCode === 202 || answer.statusCode === 204 || request.method === 'HEAD';
      if (empty) await answer.body.dump();
      return new Response(empty ? null : stream, { status: answer.statusCode, headers: out });
    } catch (error) {
      if (request.signal.aborted) throw error;
      this.logger.warn('session owner unreachable; answering 404 so the client starts a new session', {
        owner,
        error: (error as Error).message,
      });
      throw sessionNotFound();
    }
  }
}


/**
 * The URL peers reach this replica at: the configured one, else
 * `MCP_FLEET_ADVERTISE_URL`, else (on ECS) the task's private IP from the
 * container metadata endpoint, else loopback.
 */
export async function resolveAdvertiseUrl(
  configured: string | undefined,
  port: number,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  if (configured) return normalize(configured);
  const fromEnv = env['MCP_FLEET_ADVERTISE_URL'];
  if (fromEnv) return normalize(fromEnv);
  const metadata = env['ECS_CONTAINER_METADATA_URI_V4'];
  if (metadata) {
    try {
      const task = (await (await fetch(`${metadata}/task`, { signal: AbortSignal.timeout(2000) })).json()) as {
        Containers?: { Networks?: { IPv4Addresses?: string[] }[] }[];
      };
      const ip = task.Containers?.[0]?.Networks?.[0]?.IPv4Addresses?.[0];
      if (ip) return `http://${ip}:${port}`;
    } catch {
      // fall through to loopback
    }
  }
  return `http://127.0.0.1:${port}`;
}
