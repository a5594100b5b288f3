import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { validateClientMetadataUrl } from '@modelcontextprotocol/client';
import { OAuthClientMetadataSchema } from '@modelcontextprotocol/core';
import type { OAuthClientMetadata } from '@modelcontextprotocol/server';
import ipaddr from 'ipaddr.js';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ConnectionOptions } from 'node:tls';

/**
 * Fetches OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
 * a client whose `client_id` is an https URL is described by the JSON document at
 * that URL. The URL is chosen by whoever calls the authorization endpoint, so the
 * fetch is fenced: https only, hosts from an allow-list, no private, loopback or
 * link-local addresses (checked on the address actually connected to, so DNS
 * rebinding cannot slip one in), no redirects, a size and a time limit, and a
 * bounded cache (successes and failures) so one URL cannot be made to hammer a host.
 */

/** Options of {@link ClientMetadataFetcher}. */
export interface ClientMetadataFetcherOptions {
  /** Host patterns accepted (`claude.ai`, `*.example.com`); empty: any host. */
  readonly allowedHosts: readonly string[];
  /** Largest document in bytes. */
  readonly maxBytes: number;
  /** Time allowed per fetch. */
  readonly timeoutMs: number;
  /** Longest reuse of a fetched document. */
  readonly cacheMs: number;
  /** Accept private and loopback addresses (for an intranet, or tests). */
  readonly allowPrivateAddresses: boolean;
  /** Extra trusted CA certificates (PEM), for hosts with a private CA. @default the system's */
  readonly ca?: ConnectionOptions['ca'];
  /** Clock. @default Date.now */
  readonly now?: () => number;
}

/** Why a document was refused: one line fit for an error page (never the document). */
export class ClientMetadataError extends Error {
  override readonly name = 'ClientMetadataError';
}

/** A failure is remembered this long, so a bad URL is not fetched again on every try. */
const FAILURE_CACHE_MS = 30_000;
/** Most cached entries; the oldest go first. */
const CACHE_ENTRIES = 1000;

/** True for an address that is routable on the public internet (not private, loopback, link-local, CGNAT, multicast, reserved). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // process() turns IPv4-mapped IPv6 (::ffff:10.0.0.1) into the IPv4 address it carries.
  return ipaddr.process(address).range() === 'unicast';
}

/** True when `host` matches one of the patterns (`*.example.com` matches sub-domains only). */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  const h = host.toLowerCase();
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

/** Fetches, validates and caches client metadata documents. */
export class ClientMetadataFetcher {
  private readonly cache = new Map<string, { readonly until: number; readonly result: OAuthClientMetadata | ClientMetadataError }>();
  private readonly agent: Agent;
  private readonly now: () => number;

  constructor(private readonly options: ClientMetadataFetcherOptions) {
    this.now = options.now ?? Date.now;
    const allowPrivate = options.allowPrivateAddresses;
    const guardedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
      dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) return callback(error, '', 0);
        const refused = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address));
        if (refused !== undefined) {
          return callback(new ClientMetadataError(`${hostname} resolves to a private or reserved address (${refused.address})`), '', 0);
        }
        if (lookupOptions.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        const first = addresses[0] as LookupAddress;
        return callback(null, first.address, first.family);
      });
    };
    this.agent = new Agent({
      connect: { lookup: guardedLookup, timeout: options.timeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connections: 4,
    });
  }

  /** True for a client id that names a metadata document (an https URL). */
  static isMetadataUrl(clientId: string): boolean {
    return clientId.startsWith('https://');
  }

  /** The validated document of `clientId`, from the cache or fetched; throws {@link ClientMetadataError}. */
  async resolve(clientId: string): Promise<OAuthClientMetadata> {
    const cached = this.cache.get(clientId);
    if (cached !== undefined && cached.until > this.now()) {
      if (cached.result instanceof ClientMetadataError) throw cached.result;
      return cached.result;
    }
    let result: { document: OAuthClientMetadata; maxAgeMs: number } | ClientMetadataError;
    try {
      result = await this.fetchDocument(clientId);
    } catch (error) {
      result = error instanceof ClientMetadataError ? error : new ClientMetadataError(`cannot fetch the client metadata document: ${describe(error)}`);
    }
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    if (result instanceof ClientMetadataError) {
      this.cache.set(clientId, { until: this.now() + FAILURE_CACHE_MS, result });
      throw result;
    }
    const ttl = Math.min(result.maxAgeMs, this.options.cacheMs);
    if (ttl > 0) this.cache.set(clientId, { until: this.now() + ttl, result: result.document });
    return result.document;
  }

  /** Closes idle connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async fetchDocument(clientId: string): Promise<{ document: OAuthClientMetadata; maxAgeMs: number }> {
    try {
      validateClientMetadataUrl(clientId);
    } catch (error) {
      throw new ClientMetadataError(`a URL client_id must be an https URL with a path: ${describe(error)}`);
    }
    const url = new URL(clientId);
    if (url.username !== '' || url.password !== '' || url.hash !== '' || clientId.includes('/./') || clientId.includes('/../')) {
      throw new ClientMetadataError('a URL client_id must not carry credentials, a fragment or dot segments');
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!hostAllowed(host, this.options.allowedHosts)) {
      throw new ClientMetadataError(`client metadata documents from ${host} are not accepted here (clientIdMetadataDocuments.allowedHosts)`);
    }
    // An address literal never goes through the lookup, so it is checked here.
    if (isIP(host) !== 0 && !this.options.allowPrivateAddresses && !isPublicAddress(host)) {
      throw new ClientMetadataError(`${host} is a private or reserved address`);
    }
    const response = await undiciFetch(url, {
      dispatcher: this.agent,
      redirect: 'manual',
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new ClientMetadataError(`the client metadata document answered HTTP ${response.status} (redirects are not followed)`);
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > this.options.maxBytes) {
      await response.body?.cancel();
      throw new ClientMetadataError(`the client metadata document is larger than ${this.options.maxBytes} bytes`);
    }
    const text = await readLimited(response.body, this.options.maxBytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ClientMetadataError('the client metadata document is not JSON');
    }
    if (typeof json !== 'object' || json === null || (json as Record<string, unknown>)['client_id'] !== clientId) {
      throw new ClientMetadataError('the client metadata document must name its own URL as client_id');
    }
    const parsed = OAuthClientMetadataSchema.safeParse(json);
    if (!parsed.success) {
      throw new ClientMetadataError(`the client metadata document is not valid client metadata (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''})`);
    }
    const method = parsed.data.token_endpoint_auth_method ?? 'none';
    if (method !== 'none') {
      throw new ClientMetadataError(`token_endpoint_auth_method "${method}" is not supported for metadata-document clients (use none, with PKCE)`);
    }
    return { document: parsed.data, maxAgeMs: maxAgeOf(response.headers.get('cache-control')) };
  }
}

/** max-age of a Cache-Control header in ms; no-store/no-cache: 0; none given: unbounded (the configured cap applies). */
function maxAgeOf(header: string | null): number {
  if (header === null) return Number.POSITIVE_INFINITY;
  if (/\bno-(store|cache)\b/i.test(header)) return 0;
  const match = /\bmax-age=(\d+)/i.exec(header);
  return match === null ? Number.POSITIVE_INFINITY : Number(match[1]) * 1000;
}

async function readLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string> {
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new ClientMetadataError(`the client metadata document is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
