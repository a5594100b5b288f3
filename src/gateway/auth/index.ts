import { readFileSync } from 'node:fs';
import type { AuthConfig } from '../../config/auth-schema.js';
import type { Logger } from '../../log.js';
import type { InboundRequest } from '../http/request.js';
import { API_KEY_PREFIX, loadApiKeys, matchApiKey, type LoadedApiKey } from './api-keys.js';
import { authErrorResponse, buildWwwAuthenticate, type BearerChallenge } from './challenge.js';
import { createJwtVerifier, type JwtVerifier, type TokenFailureReason } from './oauth.js';
import {
  canonicalResourceUrl,
  protectedResourceMetadataResponse,
  protectedResourceMetadataUrl,
  resourcePathOfMetadataRequest,
} from './resource-metadata.js';

export { API_KEY_PREFIX, generateApiKey, sha256Hex, type GeneratedApiKey } from './api-keys.js';
export { authErrorResponse, buildWwwAuthenticate, UNAUTHORIZED_RPC_CODE, type BearerChallenge, type BearerError } from './challenge.js';
export { scopesOf, type TokenFailureReason } from './oauth.js';
export {
  buildProtectedResourceMetadata,
  canonicalResourceUrl,
  PROTECTED_RESOURCE_METADATA_PATH,
  protectedResourceMetadataUrl,
  protectedResourceMetadataResponse,
  resourcePathOfMetadataRequest,
  type ProtectedResourceMetadataInput,
} from './resource-metadata.js';

/** Who is calling: an API key (by name), an OAuth subject, or nobody in particular. */
export interface Principal {
  /** Stable id for limits and logs: `key:<name>`, `oauth:<sub>` or `anonymous`. Never a secret. */
  readonly id: string;
  /** How the caller authenticated. */
  readonly kind: 'api-key' | 'oauth' | 'anonymous';
  /** Scopes granted (OAuth only; empty otherwise). */
  readonly scopes: readonly string[];
}

/** Why a request was refused; stable and low-cardinality, fit for a metric label. */
export type AuthFailureReason = 'missing-credentials' | 'invalid-api-key' | 'server-not-allowed' | 'insufficient-scope' | TokenFailureReason;

/** The verdict on one request: a principal, or the response to send instead. */
export type AuthOutcome =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly response: Response; readonly reason: AuthFailureReason };

/** The MCP endpoint a request is for. */
export interface AuthTarget {
  /** Server name from the config. */
  readonly server: string;
  /** Canonical URL of the MCP endpoint, e.g. `https://fetch.example.com/mcp`; the token audience must match it. */
  readonly resourceUrl: string;
}

/** Checks the credentials of gateway requests and serves the OAuth resource metadata. */
export interface Authenticator {
  /**
   * Decides whether `request` may reach `target`. resourceUrl: the canonical URL
   * of the MCP endpoint being called, e.g. https://fetch.example.com/mcp or
   * http://127.0.0.1:8808/servers/fetch/mcp
   */
  authenticate(request: InboundRequest, target: AuthTarget): Promise<AuthOutcome>;
  /**
   * Answers GET /.well-known/oauth-protected-resource[/...] when OAuth is
   * configured; undefined when the path is not one of ours (or OAuth is off).
   * `resolveResource` maps the resource path (`/servers/x/mcp`, `/mcp`, or `''`
   * for the root document) to its server and canonical URL.
   */
  metadata(request: InboundRequest, resolveResource: (path: string) => AuthTarget | undefined): Response | undefined;
  /** Releases what the authenticator holds; call once on shutdown. */
  close(): void;
}

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Receives failures (reason, server, key name), never credentials. */
  readonly logger: Logger;
  /** Environment read by API keys given as `env`. @default process.env */
  readonly env?: Record<string, string | undefined>;
  /** Reads API keys given as `file`. @default fs.readFileSync(path, 'utf8') */
  readonly readFile?: (p: string) => string;
}

const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', kind: 'anonymous', scopes: Object.freeze([]) as readonly string[] });

/** RFC 6750 b64token: the only token syntax a Bearer header may carry. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Fixed messages per token failure; they never quote the token. */
const TOKEN_MESSAGES: Record<TokenFailureReason, string> = {
  'malformed-token': 'The access token is not a well-formed JWT',
  'token-expired': 'The access token has expired',
  'token-not-yet-valid': 'The access token is not valid yet',
  'wrong-issuer': 'The access token was issued by another authorization server',
  'wrong-audience': 'The access token was not issued for this MCP server',
  'bad-signature': 'The access token signature is invalid',
  'unknown-key': 'The access token is signed with a key the authorization server does not publish',
  'wrong-token-type': 'The token is not an access token',
  'invalid-token': 'The access token is invalid',
  'issuer-unavailable': 'The authorization server cannot be reached to check the access token; try again shortly',
};

/**
 * The token of an `Authorization: Bearer <token>` header: undefined when there is
 * no Bearer credential, null when the header claims Bearer but is malformed.
 */
export function bearerToken(header: string | null): string | null | undefined {
  if (header === null) return undefined;
  const match = /^\s*bearer(?:\s+(.*))?$/is.exec(header);
  if (match === null) return undefined;
  const token = match[1]?.trim() ?? '';
  return B64TOKEN.test(token) ? token : null;
}

/**
 * Builds the gateway's authenticator. With no config every caller is anonymous.
 * API keys given by `env` or `file` are read here, once; a missing one throws a
 * FleetError (code `AUTH_KEY_MISSING`) naming the key and its source.
 */
export function createAuthenticator(config: AuthConfig | undefined, options: AuthenticatorOptions): Authenticator {
  if (config === undefined) {
    return {
      authenticate: () => Promise.resolve({ ok: true, principal: ANONYMOUS }),
      metadata: () => undefined,
      close: () => {},
    };
  }
  const logger = options.logger;
  const keys: LoadedApiKey[] = loadApiKeys(config.apiKeys, {
    env: options.env ?? process.env,
    readFile: options.readFile ?? ((p) => readFileSync(p, 'utf8')),
  });
  const oauth = config.oauth;
  const verifier: JwtVerifier | undefined = oauth === undefined ? undefined : createJwtVerifier(oauth, { logger });

  const requiredScopes = (server: string): readonly string[] => oauth?.serverScopes[server] ?? oauth?.requiredScopes ?? [];

  const challenge = (target: AuthTarget, extra: Omit<BearerChallenge, 'resourceMetadata' | 'realm'> = {}): string =>
    buildWwwAuthenticate(
      oauth === undefined
        ? { realm: 'mcp-fleet', ...extra }
        : { resourceMetadata: protectedResourceMetadataUrl(target.resourceUrl), scope: requiredScopes(target.server), ...extra },
    );

  const refuse = (
    target: AuthTarget,
    status: number,
    reason: AuthFailureReason,
    message: string,
    headers: Record<string, string>,
    fields: Record<string, unknown> = {},
  ): AuthOutcome => {
    // Every MCP client's first request comes without credentials (that is how it discovers OAuth), so that one is routine.
    const level = reason === 'missing-credentials' ? 'debug' : 'info';
    logger[level]('request refused by auth', { server: target.server, reason, ...fields });
    return { ok: false, reason, response: authErrorResponse(status, message, headers) };
  };

  return {
    async authenticate(request, target) {
      const token = bearerToken(request.headers.get('authorization'));
      if (token === undefined) {
        return refuse(target, 401, 'missing-credentials', 'Authentication required: send Authorization: Bearer <token>', {
          'www-authenticate': challenge(target),
        });
      }
      if (token === null) {
        return refuse(target, 401, 'malformed-token', 'The Authorization header is not a valid Bearer credential', {
          'www-authenticate': challenge(target, { error: 'invalid_token', errorDescription: 'malformed Bearer credential' }),
        });
      }

      const key = keys.length > 0 ? matchApiKey(keys, token) : undefined;
      if (key !== undefined) {
        if (key.servers !== undefined && !key.servers.has(target.server)) {
          return refuse(target, 403, 'server-not-allowed', `API key "${key.name}" may not use server "${target.server}"`, {}, { key: key.name });
        }
        return { ok: true, principal: { id: `key:${key.name}`, kind: 'api-key', scopes: [] } };
      }
      if (verifier === undefined || (keys.length > 0 && token.startsWith(API_KEY_PREFIX))) {
        return refuse(target, 401, 'invalid-api-key', 'Invalid API key', {
          'www-authenticate': challenge(target, { error: 'invalid_token', errorDescription: 'unknown API key' }),
        });
      }

      const check = await verifier.verify(token, target.resourceUrl);
      if (!check.ok) {
        if (check.reason === 'issuer-unavailable') {
          return refuse(target, 503, check.reason, TOKEN_MESSAGES[check.reason], { 'retry-after': '5' });
        }
        return refuse(target, 401, check.reason, TOKEN_MESSAGES[check.reason], {
          'www-authenticate': challenge(target, { error: 'invalid_token', errorDescription: TOKEN_MESSAGES[check.reason] }),
        });
      }
      const required = requiredScopes(target.server);
      const missing = required.filter((s) => !check.scopes.includes(s));
      if (missing.length > 0) {
        return refuse(
          target,
          403,
          'insufficient-scope',
          `The access token lacks the scope${missing.length === 1 ? '' : 's'} ${missing.join(' ')}`,
          { 'www-authenticate': challenge(target, { error: 'insufficient_scope', errorDescription: `requires ${required.join(' ')}` }) },
          { subject: check.subject },
        );
      }
      return { ok: true, principal: { id: `oauth:${check.subject}`, kind: 'oauth', scopes: check.scopes } };
    },

    metadata(request, resolveResource) {
      if (oauth === undefined) return undefined;
      const path = resourcePathOfMetadataRequest(new URL(request.url).pathname);
      if (path === undefined) return undefined;
      const target = resolveResource(path);
      if (target === undefined) return undefined;
      const scopes = oauth.scopesSupported ?? requiredScopes(target.server);
      return protectedResourceMetadataResponse(
        {
          resource: canonicalResourceUrl(target.resourceUrl) ?? target.resourceUrl,
          authorizationServers: oauth.authorizationServers ?? [oauth.issuer],
          scopesSupported: scopes,
          ...(oauth.resourceName === undefined ? {} : { resourceName: oauth.resourceName }),
          ...(oauth.resourceDocumentation === undefined ? {} : { resourceDocumentation: oauth.resourceDocumentation }),
        },
        request.method,
      );
    },

    close() {
      // jose's remote key sets hold no sockets or timers; nothing to release today.
    },
  };
}
