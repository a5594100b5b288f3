import { readFileSync } from 'node:fs';
import { OAuthSchema, type AuthConfig } from '../../config/auth-schema.js';
import type { Logger } from '../../log.js';
import { readBody, type InboundRequest } from '../http/request.js';
import { API_KEY_PREFIX, loadApiKeys, matchApiKey, type LoadedApiKey } from './api-keys.js';
import { authErrorResponse, buildWwwAuthenticate, type BearerChallenge } from './challenge.js';
import { createJwtVerifier, type JwtVerifier, type TokenFailureReason } from './oauth.js';
import type { AuthorizationServer, AuthorizationServerOptions, ResourceResolver } from './server/index.js';
import { checkAuthorizationServerSecrets } from './server/secrets.js';
import { AUTHORIZATION_SERVER_PATHS } from './server/paths.js';
import {
  canonicalResourceUrl,
  protectedResourceMetadataResponse,
  protectedResourceMetadataUrl,
  resourcePathOfMetadataRequest,
} from './resource-metadata.js';

export { API_KEY_PREFIX, generateApiKey, sha256Hex, type GeneratedApiKey } from './api-keys.js';
export { authErrorResponse, buildWwwAuthenticate, UNAUTHORIZED_RPC_CODE, type BearerChallenge, type BearerError } from './challenge.js';
export { scopesOf, type TokenFailureReason } from './oauth.js';
export { isAuthorizationServerPath } from './server/paths.js';
export type { ResourceResolver } from './server/index.js';
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
  /** Groups the token names (OAuth only; empty otherwise). @default [] */
  readonly groups?: readonly string[];
  /**
   * The verified token's claims (OAuth only), for `servers.<name>.fromRequest`
   * variables taken from a claim. Kept in memory for the request; never logged.
   */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** Why a request was refused; stable and low-cardinality, fit for a metric label. */
export type AuthFailureReason =
  | 'missing-credentials'
  | 'invalid-api-key'
  | 'server-not-allowed'
  | 'insufficient-scope'
  | 'not-in-group'
  | 'token-revoked'
  | TokenFailureReason;

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
  /**
   * Answers the authorization server's paths (`/oauth/...`, its RFC 8414 metadata,
   * and the 2025-03-26 default `/authorize`, `/token`, `/register`): the built-in
   * authorization server when it is on; otherwise a 404 that says where sign-in
   * happens instead (an external issuer, or an API key).
   */
  authorizationServer(request: InboundRequest, resolveResource: ResourceResolver): Promise<Response>;
  /** Resolves once the authorization server (when configured) has loaded its store; rejects with the reason it cannot. */
  ready(): Promise<void>;
  /** Releases what the authenticator holds; call once on shutdown. */
  close(): Promise<void>;
}

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Receives failures (reason, server, key name), never credentials. */
  readonly logger: Logger;
  /** Environment read by API keys given as `env`. @default process.env */
  readonly env?: Record<string, string | undefined>;
  /** Reads API keys given as `file`. @default fs.readFileSync(path, 'utf8') */
  readonly readFile?: (p: string) => string;
  /** Options of the built-in authorization server (a store, extra CAs, a clock), for tests. @default from the config */
  readonly authorizationServer?: Partial<Pick<AuthorizationServerOptions, 'store' | 'metadataDocumentCa' | 'now'>>;
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

/** Largest body read for the authorization server (its endpoints take small forms and JSON). */
const AUTHORIZATION_SERVER_MAX_BODY = 64 * 1024;

/** The web `Request` the authorization server reads (the gateway's core passes a lighter request). */
async function toWebRequest(request: InboundRequest): Promise<Request> {
  if (request instanceof Request) return request;
  const headers = new Headers();
  request.headers.forEach((value, key) => headers.append(key, value));
  const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await readBody(request, AUTHORIZATION_SERVER_MAX_BODY);
  return new Request(request.url, { method: request.method, headers, signal: request.signal, ...(body === undefined ? {} : { body }) });
}

/** The answer on OAuth paths of a gateway where sign-in works otherwise; 404, with the way to authenticate. */
function noOAuthHere(description: string): Response {
  return Response.json(
    { error: 'not_found', error_description: description },
    { status: 404, headers: { 'cache-control': 'no-store', 'access-control-allow-origin': '*' } },
  );
}

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
 * FleetError (code `AUTH_KEY_MISSING`) naming the key and its source. With
 * `authorizationServer` on, the built-in authorization server is created here too,
 * and its own tokens are the OAuth tokens accepted.
 */
export function createAuthenticator(config: AuthConfig | undefined, options: AuthenticatorOptions): Authenticator {
  if (config === undefined) {
    const open = 'This gateway does not use OAuth or any other authentication: MCP requests need no credentials.';
    return {
      authenticate: () => Promise.resolve({ ok: true, principal: ANONYMOUS }),
      metadata: (request) => (resourcePathOfMetadataRequest(new URL(request.url).pathname) === undefined ? undefined : noOAuthHere(open)),
      authorizationServer: () => Promise.resolve(noOAuthHere(open)),
      ready: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }
  const logger = options.logger;
  const keys: LoadedApiKey[] = loadApiKeys(config.apiKeys, {
    env: options.env ?? process.env,
    readFile: options.readFile ?? ((p) => readFileSync(p, 'utf8')),
  });
  const serverConfig = config.authorizationServer;
  let facade: Promise<AuthorizationServer> | undefined;
  if (serverConfig !== undefined) {
    // Missing secrets stop the start here; the module (and its OAuth libraries) loads only for fleets that use it.
    checkAuthorizationServerSecrets(serverConfig, { env: options.env ?? process.env, ...(options.readFile ? { readFile: options.readFile } : {}) });
    facade = import('./server/index.js').then((m) =>
      m.createAuthorizationServer(serverConfig, {
        logger: logger.child({ component: 'authorization-server' }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.readFile === undefined ? {} : { readFile: options.readFile }),
        ...options.authorizationServer,
      }),
    );
    facade.catch(() => {});
  }
  // With the built-in authorization server on, `oauth` (optional) only says which scopes and groups each server needs.
  const oauth = config.oauth ?? (facade === undefined ? undefined : OAuthSchema.parse({}));
  const issuer = serverConfig?.issuer ?? oauth?.issuer;
  const external: JwtVerifier | undefined = oauth === undefined || facade !== undefined || issuer === undefined ? undefined : createJwtVerifier({ ...oauth, issuer }, { logger });
  const verify = async (
    token: string,
    resourceUrl: string,
  ): Promise<
    { ok: true; subject: string; scopes: readonly string[]; groups: readonly string[]; claims?: Readonly<Record<string, unknown>> } | { ok: false; reason: AuthFailureReason }
  > => {
    if (facade !== undefined) return (await facade).verifyAccessToken(token, resourceUrl);
    if (external === undefined) return { ok: false, reason: 'invalid-token' };
    const check = await external.verify(token, resourceUrl);
    if (!check.ok) return check;
    const raw = check.claims[oauth?.groupsClaim ?? 'groups'];
    const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : typeof raw === 'string' ? raw.split(' ').filter((g) => g !== '') : [];
    return { ...check, groups };
  };

  const requiredScopes = (server: string): readonly string[] => oauth?.serverScopes[server] ?? oauth?.requiredScopes ?? [];
  const authorizationServers = serverConfig === undefined ? (oauth?.authorizationServers ?? (issuer === undefined ? [] : [issuer])) : [serverConfig.issuer];

  const challenge = (target: AuthTarget, extra: Omit<BearerChallenge, 'resourceMetadata' | 'realm'> = {}): string =>
    buildWwwAuthenticate(
      oauth === undefined
        ? { realm: 'mcp-fleet', ...extra }
        : { resourceMetadata: protectedResourceMetadataUrl(target.resourceUrl), scope: requiredScopes(target.server), ...extra },
    );
  const credentialHint =
    oauth === undefined
      ? 'this gateway expects an API key: send Authorization: Bearer <key> (an operator makes one with `mcp-fleet keys new`)'
      : keys.length > 0
        ? 'send Authorization: Bearer <token>, with an OAuth access token or an API key'
        : 'send Authorization: Bearer <token>, with an OAuth access token (MCP clients sign in by themselves)';

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
        return refuse(target, 401, 'missing-credentials', `Authentication required: ${credentialHint}`, {
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
      if (oauth === undefined || (keys.length > 0 && token.startsWith(API_KEY_PREFIX))) {
        return refuse(target, 401, 'invalid-api-key', oauth === undefined ? `Invalid API key: ${credentialHint}` : 'Invalid API key', {
          'www-authenticate': challenge(target, { error: 'invalid_token', errorDescription: 'unknown API key' }),
        });
      }

      const check = await verify(token, target.resourceUrl);
      if (!check.ok) {
        if (check.reason === 'issuer-unavailable') {
          return refuse(target, 503, check.reason, TOKEN_MESSAGES[check.reason], { 'retry-after': '5' });
        }
        const message = check.reason in TOKEN_MESSAGES ? TOKEN_MESSAGES[check.reason as TokenFailureReason] : 'The access token was revoked; sign in again';
        return refuse(target, 401, check.reason, message, {
          'www-authenticate': challenge(target, { error: 'invalid_token', errorDescription: message }),
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
      const groups = oauth?.serverGroups[target.server];
      if (groups !== undefined && !check.groups.some((g) => groups.includes(g))) {
        return refuse(
          target,
          403,
          'not-in-group',
          `Server "${target.server}" is only for members of ${groups.join(', ')}`,
          // No scope to ask for: another token of the same user would be refused too.
          { 'www-authenticate': buildWwwAuthenticate({ error: 'insufficient_scope', errorDescription: `requires membership in ${groups.join(' or ')}`, resourceMetadata: protectedResourceMetadataUrl(target.resourceUrl) }) },
          { subject: check.subject },
        );
      }
      // The built-in authorization server's tokens carry no claims beyond these.
      const claims = check.claims ?? { sub: check.subject, groups: check.groups };
      return { ok: true, principal: { id: `oauth:${check.subject}`, kind: 'oauth', scopes: check.scopes, groups: check.groups, claims } };
    },

    metadata(request, resolveResource) {
      const path = resourcePathOfMetadataRequest(new URL(request.url).pathname);
      if (path === undefined) return undefined;
      if (oauth === undefined) return noOAuthHere(`This gateway does not use OAuth: ${credentialHint}.`);
      const target = resolveResource(path);
      if (target === undefined) return undefined;
      const scopes = oauth.scopesSupported ?? requiredScopes(target.server);
      return protectedResourceMetadataResponse(
        {
          resource: canonicalResourceUrl(target.resourceUrl) ?? target.resourceUrl,
          authorizationServers,
          scopesSupported: scopes,
          ...(oauth.resourceName === undefined ? {} : { resourceName: oauth.resourceName }),
          ...(oauth.resourceDocumentation === undefined ? {} : { resourceDocumentation: oauth.resourceDocumentation }),
        },
        request.method,
      );
    },

    async authorizationServer(request, resolveResource) {
      const server = await facade;
      const answer = server === undefined ? undefined : await server.handle(await toWebRequest(request), resolveResource);
      if (answer !== undefined) return answer;
      if (serverConfig !== undefined) {
        return noOAuthHere(`The authorization server of this fleet is ${serverConfig.issuer}; its metadata is at ${serverConfig.issuer}${AUTHORIZATION_SERVER_PATHS.metadata}.`);
      }
      if (oauth !== undefined) return noOAuthHere(`This gateway does not issue tokens; its authorization server is ${authorizationServers.join(', ')}.`);
      return noOAuthHere(`This gateway does not use OAuth: ${credentialHint}.`);
    },

    async ready() {
      await facade;
    },

    async close() {
      // jose's remote key sets hold no sockets or timers; the authorization server holds its store.
      await (await facade?.catch(() => undefined))?.close();
    },
  };
}
