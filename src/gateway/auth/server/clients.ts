import { randomUUID } from 'node:crypto';
import type { OAuthClientMetadata } from '@modelcontextprotocol/server';
import { hostAllowed, type ClientMetadataFetcher, ClientMetadataError } from './cimd.js';
import { digest, sameSecret } from './secrets.js';
import type { AuthStore } from './store.js';

/**
 * The clients the authorization server knows: registered in the config, registered
 * dynamically (RFC 7591, kept in the store), or described by a Client ID Metadata
 * Document (an https URL as client id). One redirect URI policy for all.
 */

/** How a client authenticates at the token endpoint. */
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

/** A client as the authorization server uses it. */
export interface RegisteredClient {
  /** The client id. */
  readonly clientId: string;
  /** Name for the consent page. */
  readonly name: string;
  /** Exact redirect URIs (loopback ones match on any port). */
  readonly redirectUris: readonly string[];
  /** How it authenticates; `none` is a public client (PKCE only). */
  readonly authMethod: ClientAuthMethod;
  /** SHA-256 digest (base64url) of its secret, for confidential clients. */
  readonly secretDigest?: string;
  /** Grants it may use. */
  readonly grantTypes: readonly string[];
  /** Where the registration comes from. */
  readonly source: 'config' | 'dynamic' | 'metadata-document';
}

/** Hosts treated as loopback for redirect URIs (RFC 8252 section 7.3). */
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** Schemes that must never be redirected to. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'about:', 'blob:', 'ws:', 'wss:', 'ftp:', 'http:', 'https:']);

/**
 * Checks a redirect URI a client registers; undefined when fine, else why not.
 * https with an allowed host, http on loopback only (RFC 8252 7.3), or an app's
 * own scheme (`cursor://...`, RFC 8252 7.1); never a fragment.
 */
export function redirectUriProblem(uri: string, allowedHosts: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${uri} is not an absolute URI`;
  }
  if (url.hash !== '' || uri.includes('#')) return `${uri} has a fragment`;
  if (url.protocol === 'https:') {
    if (url.username !== '' || url.password !== '') return `${uri} carries credentials`;
    return hostAllowed(url.hostname, allowedHosts) ? undefined : `redirect URIs on ${url.hostname} are not accepted here (authorizationServer.allowedRedirectHosts)`;
  }
  if (url.protocol === 'http:') return LOOPBACK.has(url.hostname) ? undefined : `${uri} uses http on a host that is not loopback; use https`;
  if (!/^[a-z][a-z0-9+.-]*:$/.test(url.protocol) || FORBIDDEN_SCHEMES.has(url.protocol)) return `${uri} uses a scheme that cannot be a redirect URI`;
  return undefined;
}

/**
 * True when `presented` is one of `registered`: character for character, except
 * that a loopback http URI may use any port (native apps listen on an ephemeral one).
 */
export function redirectUriMatches(registered: readonly string[], presented: string): boolean {
  if (registered.includes(presented)) return true;
  const bare = withoutLoopbackPort(presented);
  return bare !== undefined && registered.some((r) => withoutLoopbackPort(r) === bare);
}

/** A loopback http URI with its port taken out (`http://127.0.0.1/cb`), else undefined; nothing else is normalised. */
function withoutLoopbackPort(uri: string): string | undefined {
  const match = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::\d{1,5})?([/?][^#]*)?$/.exec(uri);
  return match === null ? undefined : `http://${match[1]}${match[2] ?? ''}`;
}

/** Options of {@link ClientRegistry}. */
export interface ClientRegistryOptions {
  /** Clients from the config (secrets already read and digested). */
  readonly staticClients: readonly RegisteredClient[];
  /** Resolver of URL client ids; undefined when metadata documents are off. */
  readonly metadata: ClientMetadataFetcher | undefined;
  /** Host patterns accepted in redirect URIs of dynamic and metadata-document clients. */
  readonly allowedRedirectHosts: readonly string[];
  /** Lifetime of a dynamically registered client since its last use. */
  readonly dynamicClientTtlMs: number;
  /** Clock. @default Date.now */
  readonly now?: () => number;
}

/** Why a client could not be found; the message is shown on an error page (no secrets). */
export class UnknownClientError extends Error {
  override readonly name = 'UnknownClientError';
}

/** Looks clients up and registers new ones. */
export class ClientRegistry {
  private readonly byId: Map<string, RegisteredClient>;
  private readonly now: () => number;

  constructor(
    private readonly store: AuthStore,
    private readonly options: ClientRegistryOptions,
  ) {
    this.byId = new Map(options.staticClients.map((c) => [c.clientId, c]));
    this.now = options.now ?? Date.now;
  }

  /** Whether Client ID Metadata Documents are accepted. */
  get acceptsMetadataDocuments(): boolean {
    return this.options.metadata !== undefined;
  }

  /** The client of `clientId`; throws {@link UnknownClientError} with the reason. */
  async find(clientId: string): Promise<RegisteredClient> {
    const configured = this.byId.get(clientId);
    if (configured !== undefined) return configured;
    if (clientId.startsWith('https://')) {
      if (this.options.metadata === undefined) throw new UnknownClientError('URL client ids (Client ID Metadata Documents) are not accepted by this server');
      let document: OAuthClientMetadata;
      try {
        document = await this.options.metadata.resolve(clientId);
      } catch (error) {
        throw new UnknownClientError(error instanceof ClientMetadataError ? error.message : 'the client metadata document cannot be used');
      }
      for (const uri of document.redirect_uris) {
        const problem = redirectUriProblem(uri, this.options.allowedRedirectHosts);
        if (problem !== undefined) throw new UnknownClientError(`the client metadata document lists a redirect URI that is refused: ${problem}`);
      }
      return {
        clientId,
        name: document.client_name ?? new URL(clientId).host,
        redirectUris: document.redirect_uris,
        authMethod: 'none',
        grantTypes: document.grant_types ?? ['authorization_code', 'refresh_token'],
        source: 'metadata-document',
      };
    }
    const record = await this.store.get<RegisteredClient>('client', clientId);
    if (record === undefined) throw new UnknownClientError('unknown client_id: register the client again');
    // Sliding lifetime: a client in use is kept; an abandoned registration expires.
    if (record.expiresAt - this.now() < this.options.dynamicClientTtlMs / 2) {
      void this.store.put('client', clientId, record.data, this.now() + this.options.dynamicClientTtlMs).catch(() => {});
    }
    return record.data;
  }

  /**
   * Registers a client from RFC 7591 metadata that the caller validated, and returns it
   * with its secret (shown once; only its digest is kept).
   */
  async register(metadata: OAuthClientMetadata, authMethod: ClientAuthMethod, secret: string | undefined): Promise<RegisteredClient> {
    const client: RegisteredClient = {
      clientId: `mcpf-client-${randomUUID()}`,
      name: (metadata.client_name ?? 'Unnamed MCP client').slice(0, 100),
      redirectUris: metadata.redirect_uris,
      authMethod,
      ...(secret === undefined ? {} : { secretDigest: digest(secret) }),
      grantTypes: metadata.grant_types ?? ['authorization_code', 'refresh_token'],
      source: 'dynamic',
    };
    await this.store.put('client', client.clientId, client, this.now() + this.options.dynamicClientTtlMs, { ifAbsent: true });
    return client;
  }

  /** Problems of a redirect URI for a client registered dynamically. */
  redirectUriProblem(uri: string): string | undefined {
    return redirectUriProblem(uri, this.options.allowedRedirectHosts);
  }
}

/** Checks a presented client secret against the stored digest in constant time. */
export function secretMatches(client: RegisteredClient, presented: string | undefined): boolean {
  if (client.secretDigest === undefined || presented === undefined) return false;
  return sameSecret(digest(presented), client.secretDigest);
}
