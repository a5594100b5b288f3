import { OAuthClientMetadataSchema } from '@modelcontextprotocol/core';
import { OAuthError, OAuthErrorCode, oauthMetadataResponse, type OAuthMetadata } from '@modelcontextprotocol/server';
import { AUTH_ENV, type AuthorizationServerConfig } from '../../../config/auth-schema.js';
import type { Logger } from '../../../log.js';
import { TokenBucketLimiter } from '../../limits.js';
import { canonicalResourceUrl } from '../resource-metadata.js';
import { ClientMetadataFetcher } from './cimd.js';
import { DynamoDbAuthStore } from './dynamodb-store.js';
import { ClientRegistry, redirectUriMatches, secretMatches, UnknownClientError, type ClientAuthMethod, type RegisteredClient } from './clients.js';
import { SigningKeys } from './keys.js';
import { consentPage, consentPageHeaders, errorPage, PAGE_HEADERS } from './pages.js';
import { digest, randomToken, readSecret, s256, sameSecret, SecretBox, upstreamIdentity, type SecretReaders } from './secrets.js';
import { AUTHORIZATION_SERVER_PATHS } from './paths.js';
import { FileAuthStore, type AuthStore } from './store.js';
import { TokenService, type AccessTokenCheck } from './tokens.js';
import { UpstreamError, UpstreamProvider, type UpstreamChecks } from './upstream.js';

/**
 * mcp-fleet's OAuth 2.1 authorization server: a facade in front of an OpenID
 * provider that MCP clients can complete sign-in with. It publishes RFC 8414
 * metadata, accepts clients by Client ID Metadata Document, RFC 7591 registration
 * or the config, runs the authorization-code flow with PKCE (S256 only), exact
 * redirect URIs and RFC 8707 resources, shows its own consent page (the provider
 * may remember the user; the client is new), lets the provider sign the user in,
 * and issues short-lived JWT access tokens and rotating refresh tokens.
 *
 * It is a web-standard handler: {@link AuthorizationServer.handle} answers its
 * own paths and returns undefined for any other.
 */

export { AUTHORIZATION_SERVER_PATHS, isAuthorizationServerPath } from './paths.js';

/** Maps a resource URL a client asks a token for to the server it names; undefined when it names none. */
export type ResourceResolver = (resource: URL) => { readonly server: string } | undefined;

/** Options of {@link createAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /** Receives sign-ins, registrations, refusals and replays; never secrets. */
  readonly logger: Logger;
  /** Environment the secrets are read from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads secret files. @default fs.readFileSync */
  readonly readFile?: (path: string) => string;
  /** The store. @default from the config (file or DynamoDB) */
  readonly store?: AuthStore;
  /** Extra CA certificates trusted when fetching client metadata documents. @default the system's */
  readonly metadataDocumentCa?: string | readonly string[];
  /** Clock. @default Date.now */
  readonly now?: () => number;
}

/** The authorization server. */
export interface AuthorizationServer {
  /** Its issuer identifier. */
  readonly issuer: string;
  /** Answers a request for one of its paths; undefined for any other path or host. Never throws. */
  handle(request: Request, resolveResource: ResourceResolver): Promise<Response | undefined>;
  /** Checks one of its access tokens for the endpoint at `resourceUrl`. */
  verifyAccessToken(token: string, resourceUrl: string): Promise<AccessTokenCheck>;
  /** Releases the store and connections. */
  close(): Promise<void>;
}

/** A sign-in in progress, between the authorization request and the provider's callback (`pending#<request id>`). */
interface PendingAuthorization {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly codeChallenge: string;
  readonly scopes: readonly string[];
  readonly resource: string;
  readonly server: string | undefined;
  /** Digest of the browser binding cookie: consent and callback must come from the browser that asked. */
  readonly browserDigest: string;
  /** Set once the user approved and was sent to the provider. */
  readonly upstream?: Omit<UpstreamChecks, 'state'>;
}

/** An issued authorization code (`code#<digest of the code>`). */
interface AuthorizationCode {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly scopes: readonly string[];
  readonly resource: string;
  readonly subject: string;
  readonly groups: readonly string[];
  /** The grant this code starts; a replayed code revokes it. */
  readonly grantId: string;
}

/** Name of the cookie that binds a sign-in to one browser. */
const BROWSER_COOKIE = 'mcpf_signin';
/** Largest form or JSON body read by the token, revocation and registration endpoints. */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * Builds the authorization server from its config. Secrets (its own, the provider's
 * client secret, client secrets, the registration token) are read here, once; a missing
 * one throws a FleetError naming it.
 */
export function createAuthorizationServer(config: AuthorizationServerConfig, options: AuthorizationServerOptions): AuthorizationServer {
  return new FacadeAuthorizationServer(config, options);
}

class FacadeAuthorizationServer implements AuthorizationServer {
  readonly issuer: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly store: AuthStore;
  private readonly box: SecretBox;
  private readonly clients: ClientRegistry;
  private readonly metadataFetcher: ClientMetadataFetcher | undefined;
  private readonly tokens: TokenService;
  private readonly upstream: UpstreamProvider;
  private readonly registrationLimiter: TokenBucketLimiter;
  private readonly registrationTokenDigest: string | undefined;
  private readonly issuerHost: string;
  private readonly secureCookies: boolean;

  constructor(
    private readonly config: AuthorizationServerConfig,
    options: AuthorizationServerOptions,
  ) {
    this.issuer = config.issuer;
    this.issuerHost = new URL(config.issuer).host;
    this.secureCookies = config.issuer.startsWith('https:');
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    const readers: SecretReaders = { env: options.env ?? process.env, ...(options.readFile ? { readFile: options.readFile } : {}) };
    this.box = new SecretBox(readSecret(config.secret, 'authorizationServer.secret', readers));
    this.store = options.store ?? createStore(config, readers.env);
    const staticClients: RegisteredClient[] = config.clients.map((c) => {
      const secret = c.secret === undefined ? undefined : readSecret(c.secret, `authorizationServer.clients "${c.clientId}" secret`, readers);
      return {
        clientId: c.clientId,
        name: c.name ?? c.clientId,
        redirectUris: c.redirectUris,
        authMethod: secret === undefined ? 'none' : 'client_secret_basic',
        ...(secret === undefined ? {} : { secretDigest: digest(secret) }),
        grantTypes: ['authorization_code', 'refresh_token'],
        source: 'config',
      };
    });
    const cimd = config.clientIdMetadataDocuments;
    this.metadataFetcher = cimd.enabled
      ? new ClientMetadataFetcher({
          allowedHosts: cimd.allowedHosts,
          maxBytes: cimd.maxBytes,
          timeoutMs: cimd.timeoutSeconds * 1000,
          cacheMs: cimd.cacheSeconds * 1000,
          allowPrivateAddresses: cimd.allowPrivateAddresses,
          ...(options.metadataDocumentCa === undefined ? {} : { ca: options.metadataDocumentCa as string | string[] }),
          now: this.now,
        })
      : undefined;
    this.clients = new ClientRegistry(this.store, {
      staticClients,
      metadata: this.metadataFetcher,
      allowedRedirectHosts: config.allowedRedirectHosts,
      dynamicClientTtlMs: config.registration.clientTtlDays * 86_400_000,
      now: this.now,
    });
    const keys = new SigningKeys(this.store, this.box, {
      rotationMs: config.signingKeyRotationDays * 86_400_000,
      tokenTtlMs: config.accessTokenTtlSeconds * 1000,
      now: this.now,
    });
    this.tokens = new TokenService(this.store, keys, {
      issuer: config.issuer,
      fleetResource: config.fleetResource,
      accessTokenTtlMs: config.accessTokenTtlSeconds * 1000,
      refreshTokenTtlMs: config.refreshTokenTtlSeconds * 1000,
      sessionMaxMs: config.sessionMaxSeconds * 1000,
      revocationCheckMs: config.revocationCheckSeconds * 1000,
      now: this.now,
    });
    this.jwks = () => keys.publicJwks();
    this.upstream = new UpstreamProvider(
      { ...config.upstream, ...upstreamIdentity(config, readers.env) },
      readSecret(config.upstream.clientSecret, 'authorizationServer.upstream.clientSecret', readers),
      `${config.issuer}${AUTHORIZATION_SERVER_PATHS.callback}`,
    );
    const perMinute = config.registration.perMinute;
    this.registrationLimiter = new TokenBucketLimiter({ ratePerSecond: perMinute / 60, burst: perMinute, now: this.now });
    const initial = config.registration.initialAccessToken;
    this.registrationTokenDigest =
      initial === undefined
        ? undefined
        : initial.sha256 !== undefined
          ? Buffer.from(initial.sha256, 'hex').toString('base64url')
          : digest(readSecret(initial.env !== undefined ? { env: initial.env } : { file: initial.file as string }, 'authorizationServer.registration.initialAccessToken', readers));
  }

  private readonly jwks: () => Promise<{ keys: unknown[] }>;

  async handle(request: Request, resolveResource: ResourceResolver): Promise<Response | undefined> {
    const url = new URL(request.url);
    // Its pages set cookies for, and its metadata names, the issuer's host alone.
    if (url.host !== this.issuerHost) return undefined;
    try {
      switch (url.pathname) {
        case AUTHORIZATION_SERVER_PATHS.metadata:
          return oauthMetadataResponse(request, { oauthMetadata: this.metadata(), resourceServerUrl: new URL(this.issuer), dangerouslyAllowInsecureIssuerUrl: true });
        case AUTHORIZATION_SERVER_PATHS.jwks:
          return Response.json(await this.jwks(), { headers: { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' } });
        case AUTHORIZATION_SERVER_PATHS.authorize:
          if (request.method === 'GET') return await this.authorize(url, request, resolveResource);
          if (request.method === 'POST') return await this.decide(request);
          return methodNotAllowed('GET, POST');
        case AUTHORIZATION_SERVER_PATHS.callback:
          return request.method === 'GET' ? await this.callback(url, request) : methodNotAllowed('GET');
        case AUTHORIZATION_SERVER_PATHS.token:
          return request.method === 'POST' ? await this.token(request) : methodNotAllowed('POST');
        case AUTHORIZATION_SERVER_PATHS.revoke:
          return request.method === 'POST' ? await this.revoke(request) : methodNotAllowed('POST');
        case AUTHORIZATION_SERVER_PATHS.register:
          if (!this.config.registration.enabled) return oauthErrorResponse(new OAuthError(OAuthErrorCode.InvalidRequest, 'dynamic client registration is off on this server'), 404);
          return request.method === 'POST' ? await this.register(request) : methodNotAllowed('POST');
        default:
          return undefined;
      }
    } catch (error) {
      if (error instanceof OAuthError) return oauthErrorResponse(error, error.code === OAuthErrorCode.InvalidClient ? 401 : 400);
      this.logger.error('authorization server failed', { path: url.pathname, error: error instanceof Error ? error.message : String(error) });
      return oauthErrorResponse(new OAuthError(OAuthErrorCode.ServerError, 'internal error of the authorization server'), 500);
    }
  }

  verifyAccessToken(token: string, resourceUrl: string): Promise<AccessTokenCheck> {
    return this.tokens.verify(token, resourceUrl);
  }

  async close(): Promise<void> {
    await this.metadataFetcher?.close();
    await this.store.close();
  }

  /** The RFC 8414 document. */
  private metadata(): OAuthMetadata {
    const p = AUTHORIZATION_SERVER_PATHS;
    return {
      issuer: this.issuer,
      authorization_endpoint: `${this.issuer}${p.authorize}`,
      token_endpoint: `${this.issuer}${p.token}`,
      ...(this.config.registration.enabled ? { registration_endpoint: `${this.issuer}${p.register}` } : {}),
      revocation_endpoint: `${this.issuer}${p.revoke}`,
      jwks_uri: `${this.issuer}${p.jwks}`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      scopes_supported: Object.keys(this.config.scopes),
      authorization_response_iss_parameter_supported: true,
      ...(this.clients.acceptsMetadataDocuments ? { client_id_metadata_document_supported: true } : {}),
    } as OAuthMetadata;
  }

  /** GET /oauth/authorize: checks the request, then shows the consent page. */
  private async authorize(url: URL, request: Request, resolveResource: ResourceResolver): Promise<Response> {
    const q = url.searchParams;
    for (const name of ['client_id', 'redirect_uri', 'response_type', 'code_challenge', 'code_challenge_method', 'state', 'scope', 'resource']) {
      if (q.getAll(name).length > 1) return this.errorPage('Invalid sign-in request', `The parameter ${name} is given more than once.`);
    }
    const clientId = q.get('client_id');
    if (clientId === null || clientId === '') return this.errorPage('Invalid sign-in request', 'The request names no client (client_id).');
    let client: RegisteredClient;
    try {
      client = await this.clients.find(clientId);
    } catch (error) {
      if (!(error instanceof UnknownClientError)) throw error;
      this.logger.info('sign-in refused: unknown client', { clientId: clientId.slice(0, 200), reason: error.message });
      return this.errorPage('Unknown client', error.message);
    }
    const redirectUri = q.get('redirect_uri');
    if (redirectUri === null || !redirectUriMatches(client.redirectUris, redirectUri)) {
      this.logger.info('sign-in refused: redirect URI not registered', { clientId });
      return this.errorPage('Invalid redirect URI', 'The redirect_uri is missing or is not one the client registered, so the answer cannot be sent back.');
    }
    const state = q.get('state') ?? undefined;
    const back = (code: string, description: string): Response => this.redirectToClient(redirectUri, { error: code, error_description: description, ...(state === undefined ? {} : { state }) });
    if (q.get('response_type') !== 'code') return back('unsupported_response_type', 'only response_type=code is supported');
    if (!client.grantTypes.includes('authorization_code')) return back('unauthorized_client', 'the client did not register the authorization_code grant');
    const challenge = q.get('code_challenge');
    if (challenge === null || q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
      return back('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256');
    }
    const target = this.resolveTarget(q.get('resource'), resolveResource);
    if (typeof target === 'string') return back('invalid_target', target);
    const scopes = this.requestedScopes(q.get('scope'));
    if (typeof scopes === 'string') return back('invalid_scope', scopes);

    const requestId = randomToken();
    const browser = randomToken();
    const pending: PendingAuthorization = {
      clientId,
      redirectUri,
      state,
      codeChallenge: challenge,
      scopes,
      resource: target.resource,
      server: target.server,
      browserDigest: digest(browser),
    };
    await this.store.put('pending', requestId, pending, this.now() + this.config.loginTimeoutSeconds * 1000);
    const redirect = new URL(redirectUri);
    const loopback = redirect.protocol === 'http:';
    const html = consentPage({
      clientName: client.name,
      clientId,
      target: target.server === undefined ? 'every server of this fleet' : `the MCP server "${target.server}"`,
      redirectHost: redirect.protocol === 'https:' || loopback ? redirect.host : `${redirect.protocol}//${redirect.host}`,
      loopback,
      scopes,
      requestId,
      action: `${this.issuer}${AUTHORIZATION_SERVER_PATHS.authorize}`,
    });
    return new Response(html, { status: 200, headers: { ...consentPageHeaders(redirect.protocol), 'set-cookie': this.browserCookie(requestId, browser) } });
  }

  /** POST /oauth/authorize: the user's answer on the consent page. */
  private async decide(request: Request): Promise<Response> {
    const form = await readForm(request);
    const requestId = form.get('request') ?? '';
    const record = requestId === '' ? undefined : await this.store.get<PendingAuthorization>('pending', requestId);
    if (record === undefined) return this.errorPage('Sign-in expired', 'This sign-in request is unknown or has expired.');
    const pending = record.data;
    if (!this.sameBrowser(request, requestId, pending)) {
      this.logger.warn('sign-in refused: consent from another browser', { clientId: pending.clientId });
      return this.errorPage('Sign-in refused', 'This answer did not come from the browser that started the sign-in.');
    }
    if (form.get('decision') !== 'approve') {
      await this.store.delete('pending', requestId);
      return this.redirectToClient(pending.redirectUri, { error: 'access_denied', error_description: 'the user declined', ...(pending.state === undefined ? {} : { state: pending.state }) });
    }
    const { url, checks } = await this.upstream.authorizationUrl(requestId);
    const updated: PendingAuthorization = { ...pending, upstream: { codeVerifier: checks.codeVerifier, nonce: checks.nonce } };
    if (!(await this.store.put('pending', requestId, updated, record.expiresAt, { ifVersion: record.version }))) {
      return this.errorPage('Sign-in expired', 'This sign-in request was already answered.');
    }
    return new Response(null, { status: 303, headers: { location: url.href, 'cache-control': 'no-store' } });
  }

  /** GET /oauth/callback: the provider's answer; on success an authorization code goes back to the client. */
  private async callback(url: URL, request: Request): Promise<Response> {
    const requestId = url.searchParams.get('state') ?? '';
    const consumed = requestId === '' ? undefined : await this.store.consume<PendingAuthorization>('pending', requestId);
    if (consumed === undefined || !consumed.first || consumed.record.data.upstream === undefined) {
      return this.errorPage('Sign-in expired', 'This sign-in is unknown, expired, or was already completed.');
    }
    const pending = consumed.record.data;
    await this.store.delete('pending', requestId);
    if (!this.sameBrowser(request, requestId, pending)) {
      this.logger.warn('sign-in refused: callback in another browser', { clientId: pending.clientId });
      return this.errorPage('Sign-in refused', 'The sign-in finished in another browser than the one that started it.');
    }
    const back = (params: Record<string, string>): Response =>
      this.redirectToClient(pending.redirectUri, { ...params, ...(pending.state === undefined ? {} : { state: pending.state }) });
    const callbackUrl = new URL(`${this.issuer}${AUTHORIZATION_SERVER_PATHS.callback}${url.search}`);
    if (url.searchParams.has('error')) {
      return back({ error: 'access_denied', error_description: 'the sign-in at the identity provider did not complete' });
    }
    let identity;
    try {
      identity = await this.upstream.complete(callbackUrl, { ...pending.upstream, state: requestId } as UpstreamChecks);
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      this.logger.warn('sign-in failed at the identity provider', { clientId: pending.clientId, reason: error.message });
      return back({ error: 'access_denied', error_description: 'the sign-in at the identity provider failed' });
    }
    const allowed = this.config.upstream.allowedGroups;
    if (allowed !== undefined && !identity.groups.some((g) => allowed.includes(g))) {
      this.logger.info('sign-in refused: user in none of the allowed groups', { subject: identity.subject, clientId: pending.clientId });
      return back({ error: 'access_denied', error_description: 'your account may not use this fleet' });
    }
    const scopes = pending.scopes.filter((scope) => {
      const groups = this.config.scopes[scope]?.groups;
      return groups === undefined || identity.groups.some((g) => groups.includes(g));
    });
    const code = randomToken();
    const grantId = randomToken(18);
    const stored: AuthorizationCode = {
      clientId: pending.clientId,
      redirectUri: pending.redirectUri,
      codeChallenge: pending.codeChallenge,
      scopes,
      resource: pending.resource,
      subject: identity.subject,
      groups: identity.groups,
      grantId,
    };
    await this.store.put('code', digest(code), stored, this.now() + this.config.authorizationCodeTtlSeconds * 1000);
    this.logger.info('user signed in', { subject: identity.subject, clientId: pending.clientId, server: pending.server ?? '(fleet)', scopes: scopes.join(' ') });
    return back({ code });
  }

  /** POST /oauth/token: authorization_code and refresh_token grants. */
  private async token(request: Request): Promise<Response> {
    const form = await readForm(request);
    const client = await this.authenticateClient(request, form);
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const code = form.get('code') ?? '';
      const consumed = code === '' ? undefined : await this.store.consume<AuthorizationCode>('code', digest(code));
      if (consumed === undefined) throw new OAuthError(OAuthErrorCode.InvalidGrant, 'the authorization code is unknown or expired');
      const issued = consumed.record.data;
      if (!consumed.first) {
        // RFC 6749 section 4.1.2: a code used twice revokes what it granted.
        await this.tokens.revokeGrant(issued.grantId);
        this.logger.warn('authorization code replayed: its grant is revoked', { clientId: issued.clientId, subject: issued.subject });
        throw new OAuthError(OAuthErrorCode.InvalidGrant, 'the authorization code was already used');
      }
      if (issued.clientId !== client.clientId) throw new OAuthError(OAuthErrorCode.InvalidGrant, 'the authorization code was issued to another client');
      if (form.get('redirect_uri') !== issued.redirectUri) throw new OAuthError(OAuthErrorCode.InvalidGrant, 'redirect_uri differs from the authorization request');
      const verifier = form.get('code_verifier') ?? '';
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || !sameSecret(s256(verifier), issued.codeChallenge)) {
        this.logger.info('token refused: PKCE verifier does not match', { clientId: client.clientId });
        throw new OAuthError(OAuthErrorCode.InvalidGrant, 'code_verifier does not match the code_challenge');
      }
      const resource = form.get('resource');
      if (resource !== null && canonicalResourceUrl(resource) !== canonicalResourceUrl(issued.resource)) {
        throw new OAuthError(OAuthErrorCode.InvalidTarget, 'resource differs from the authorization request');
      }
      const response = await this.tokens.startGrant(issued.grantId, {
        subject: issued.subject,
        groups: issued.groups,
        clientId: client.clientId,
        scopes: issued.scopes,
        resource: issued.resource,
      });
      return tokenResponse(response);
    }
    if (grantType === 'refresh_token') {
      if (!client.grantTypes.includes('refresh_token')) throw new OAuthError(OAuthErrorCode.UnauthorizedClient, 'the client did not register the refresh_token grant');
      const outcome = await this.tokens.refresh(form.get('refresh_token') ?? '', client.clientId);
      if (!outcome.ok) {
        if (outcome.reason === 'replayed') this.logger.warn('refresh token replayed: its grant is revoked', { clientId: client.clientId });
        throw new OAuthError(OAuthErrorCode.InvalidGrant, outcome.reason === 'expired' ? 'the sign-in has expired; sign in again' : 'the refresh token is invalid, expired or revoked');
      }
      const resource = form.get('resource');
      if (resource !== null && canonicalResourceUrl(resource) !== canonicalResourceUrl(outcome.grant.resource)) {
        throw new OAuthError(OAuthErrorCode.InvalidTarget, 'a refresh token only gives tokens for the resource it was granted for');
      }
      const asked = form.get('scope');
      const scopes = asked === null ? outcome.grant.scopes : asked.split(' ').filter((s) => s !== '');
      if (scopes.some((s) => !outcome.grant.scopes.includes(s))) throw new OAuthError(OAuthErrorCode.InvalidScope, 'a refresh cannot widen the granted scope');
      return tokenResponse(await this.tokens.issue(outcome.grantId, outcome.grant, outcome.refreshToken, scopes));
    }
    throw new OAuthError(OAuthErrorCode.UnsupportedGrantType, 'grant_type must be authorization_code or refresh_token');
  }

  /** POST /oauth/revoke (RFC 7009): revokes the grant of a refresh or access token of the calling client. */
  private async revoke(request: Request): Promise<Response> {
    const form = await readForm(request);
    const client = await this.authenticateClient(request, form);
    const token = form.get('token') ?? '';
    let grantId: string | undefined;
    const byRefresh = await this.tokens.grantOfRefreshToken(token);
    if (byRefresh !== undefined && byRefresh.grant.clientId === client.clientId) grantId = byRefresh.grantId;
    if (grantId === undefined && token.split('.').length === 3) {
      const check = await this.tokens.verify(token, undefined);
      if (check.ok && check.clientId === client.clientId) grantId = check.grantId;
    }
    if (grantId !== undefined) {
      await this.tokens.revokeGrant(grantId);
      this.logger.info('grant revoked by its client', { clientId: client.clientId });
    }
    // RFC 7009 section 2.2: an unknown or foreign token gets the same answer.
    return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } });
  }

  /** POST /oauth/register (RFC 7591). */
  private async register(request: Request): Promise<Response> {
    const decision = this.registrationLimiter.take('all');
    if (!decision.allowed) {
      this.logger.warn('client registration refused: over the registration rate', {});
      return oauthErrorResponse(new OAuthError(OAuthErrorCode.TooManyRequests, 'too many client registrations; retry later'), 429, { 'retry-after': String(decision.retryAfterSeconds) });
    }
    if (this.registrationTokenDigest !== undefined) {
      const header = request.headers.get('authorization') ?? '';
      const presented = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
      if (presented === undefined || !sameSecret(digest(presented), this.registrationTokenDigest)) {
        return oauthErrorResponse(new OAuthError(OAuthErrorCode.InvalidToken, 'registration needs the initial access token'), 401, { 'www-authenticate': 'Bearer error="invalid_token"' });
      }
    }
    const text = await readLimitedText(request);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'the registration body must be JSON client metadata');
    }
    const parsed = OAuthClientMetadataSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, `invalid client metadata: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
    }
    const metadata = parsed.data;
    if (metadata.redirect_uris.length === 0) throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, 'redirect_uris must list at least one URI');
    for (const uri of metadata.redirect_uris) {
      const problem = this.clients.redirectUriProblem(uri);
      if (problem !== undefined) throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, problem);
    }
    const grants = metadata.grant_types ?? ['authorization_code', 'refresh_token'];
    if (!grants.includes('authorization_code') || grants.some((g) => g !== 'authorization_code' && g !== 'refresh_token')) {
      throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'grant_types may be authorization_code and refresh_token only');
    }
    if ((metadata.response_types ?? ['code']).some((t) => t !== 'code')) throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'response_types may be code only');
    const method = (metadata.token_endpoint_auth_method ?? 'client_secret_basic') as ClientAuthMethod;
    if (!['none', 'client_secret_basic', 'client_secret_post'].includes(method)) {
      throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'token_endpoint_auth_method must be none, client_secret_basic or client_secret_post');
    }
    const secret = method === 'none' ? undefined : randomToken();
    const client = await this.clients.register({ ...metadata, grant_types: grants }, method, secret);
    this.logger.info('client registered', { clientId: client.clientId, name: client.name });
    return Response.json(
      {
        client_id: client.clientId,
        ...(secret === undefined ? {} : { client_secret: secret, client_secret_expires_at: 0 }),
        client_id_issued_at: Math.floor(this.now() / 1000),
        client_name: client.name,
        redirect_uris: client.redirectUris,
        grant_types: client.grantTypes,
        response_types: ['code'],
        token_endpoint_auth_method: method,
      },
      { status: 201, headers: { 'cache-control': 'no-store' } },
    );
  }

  /** The client of a token or revocation request: public by client_id, confidential by its secret (basic or post). */
  private async authenticateClient(request: Request, form: URLSearchParams): Promise<RegisteredClient> {
    let clientId = form.get('client_id') ?? undefined;
    let secret = form.get('client_secret') ?? undefined;
    let method: ClientAuthMethod = secret === undefined ? 'none' : 'client_secret_post';
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(request.headers.get('authorization') ?? '');
    if (basic !== null) {
      const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new OAuthError(OAuthErrorCode.InvalidClient, 'malformed Basic credentials');
      const basicId = decodeURIComponent(decoded.slice(0, colon));
      if (clientId !== undefined && clientId !== basicId) throw new OAuthError(OAuthErrorCode.InvalidClient, 'client_id differs from the Basic credentials');
      clientId = basicId;
      secret = decodeURIComponent(decoded.slice(colon + 1));
      method = 'client_secret_basic';
    }
    if (clientId === undefined || clientId === '') throw new OAuthError(OAuthErrorCode.InvalidClient, 'client authentication failed: no client_id');
    let client: RegisteredClient;
    try {
      client = await this.clients.find(clientId);
    } catch (error) {
      if (error instanceof UnknownClientError) throw new OAuthError(OAuthErrorCode.InvalidClient, 'client authentication failed: unknown client');
      throw error;
    }
    if (client.authMethod === 'none') {
      if (secret !== undefined) throw new OAuthError(OAuthErrorCode.InvalidClient, 'client authentication failed: a public client has no secret');
      return client;
    }
    // A confidential client may use either secret method (RFC 6749 section 2.3.1 lets servers accept both).
    if (method === 'none' || !secretMatches(client, secret)) throw new OAuthError(OAuthErrorCode.InvalidClient, 'client authentication failed');
    return client;
  }

  /** The resource a token is asked for: a server's endpoint URL, or the fleet resource; a string is the refusal. */
  private resolveTarget(resource: string | null, resolveResource: ResourceResolver): { resource: string; server: string | undefined } | string {
    const fleet = this.config.fleetResource;
    if (resource === null || resource === '') {
      if (fleet !== undefined) return { resource: fleet, server: undefined };
      return 'the resource parameter (RFC 8707) is required: the URL of the MCP server the token is for';
    }
    const canonical = canonicalResourceUrl(resource);
    if (canonical === undefined || resource.includes('#')) return 'resource must be an absolute http(s) URL without a fragment';
    if (fleet !== undefined && canonical === canonicalResourceUrl(fleet)) return { resource: canonical, server: undefined };
    const target = resolveResource(new URL(canonical));
    if (target === undefined) return `${resource} is not an MCP server of this fleet`;
    return { resource: canonical, server: target.server };
  }

  /** The scopes asked for (`scope` parameter), each one the server can grant; a string is the refusal. */
  private requestedScopes(scope: string | null): readonly string[] | string {
    const asked = (scope ?? '').split(' ').filter((s) => s !== '');
    const unknown = asked.filter((s) => this.config.scopes[s] === undefined);
    if (unknown.length > 0) return `unknown scope${unknown.length === 1 ? '' : 's'}: ${unknown.join(' ')}`;
    return asked.length > 0 ? asked : Object.keys(this.config.scopes).filter((s) => this.config.scopes[s]?.groups === undefined);
  }

  private browserCookie(requestId: string, value: string): string {
    // One cookie per sign-in, scoped to the authorization server's own paths; Lax so the provider's redirect back carries it.
    const name = `${BROWSER_COOKIE}_${requestId.slice(0, 16)}`;
    return `${this.secureCookies ? '__Secure-' : ''}${name}=${value}; Path=/oauth/; HttpOnly; SameSite=Lax; Max-Age=${this.config.loginTimeoutSeconds}${this.secureCookies ? '; Secure' : ''}`;
  }

  private sameBrowser(request: Request, requestId: string, pending: PendingAuthorization): boolean {
    const name = `${this.secureCookies ? '__Secure-' : ''}${BROWSER_COOKIE}_${requestId.slice(0, 16)}`;
    const cookies = request.headers.get('cookie') ?? '';
    for (const part of cookies.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return sameSecret(digest(part.slice(eq + 1).trim()), pending.browserDigest);
    }
    return false;
  }

  private redirectToClient(redirectUri: string, params: Record<string, string>): Response {
    const target = new URL(redirectUri);
    for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
    // RFC 9207: the issuer in every authorization response, so clients can detect mix-ups.
    target.searchParams.set('iss', this.issuer);
    return new Response(null, { status: 303, headers: { location: target.href, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' } });
  }

  private errorPage(title: string, detail: string): Response {
    return new Response(errorPage(title, detail), { status: 400, headers: PAGE_HEADERS });
  }
}

function createStore(config: AuthorizationServerConfig, env: Readonly<Record<string, string | undefined>>): AuthStore {
  // A deployment names the table it created; that wins over the config's store.
  const table = env[AUTH_ENV.table];
  const store = table === undefined || table === '' ? config.store : { type: 'dynamodb' as const, table };
  if (store.type === 'file') return new FileAuthStore(store.path);
  return new DynamoDbAuthStore({
    table: store.table,
    ...(store.region === undefined ? {} : { region: store.region }),
    ...(store.endpoint === undefined ? {} : { endpoint: store.endpoint }),
  });
}

/** An OAuth error answer (RFC 6749 section 5.2), never cached. */
function oauthErrorResponse(error: OAuthError, status: number, headers: Record<string, string> = {}): Response {
  return Response.json(error.toResponseObject(), { status, headers: { 'cache-control': 'no-store', ...headers } });
}

function tokenResponse(body: object): Response {
  return Response.json(body, { status: 200, headers: { 'cache-control': 'no-store', pragma: 'no-cache' } });
}

function methodNotAllowed(allow: string): Response {
  return Response.json(new OAuthError(OAuthErrorCode.MethodNotAllowed, `use ${allow}`).toResponseObject(), { status: 405, headers: { allow } });
}

async function readLimitedText(request: Request): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw new OAuthError(OAuthErrorCode.InvalidRequest, `the body is larger than ${MAX_BODY_BYTES} bytes`);
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new OAuthError(OAuthErrorCode.InvalidRequest, `the body is larger than ${MAX_BODY_BYTES} bytes`);
  return text;
}

async function readForm(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) throw new OAuthError(OAuthErrorCode.InvalidRequest, 'the body must be application/x-www-form-urlencoded');
  const form = new URLSearchParams(await readLimitedText(request));
  for (const name of new Set(form.keys())) {
    if (form.getAll(name).length > 1) throw new OAuthError(OAuthErrorCode.InvalidRequest, `the parameter ${name} is given more than once`);
  }
  return form;
}
