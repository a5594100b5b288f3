import type { createRemoteJWKSet, JWTPayload } from 'jose';
import type { OAuthConfig } from '../../config/auth-schema.js';
import type { Logger } from '../../log.js';
import { canonicalResourceUrl } from './resource-metadata.js';

type Jose = typeof import('jose');
let joseLoading: Promise<Jose> | undefined;

/**
 * jose, loaded when a verifier is created rather than at `serve`'s start: a
 * gateway without OAuth never needs its 46 modules.
 */
function loadJose(): Promise<Jose> {
  joseLoading ??= import('jose');
  return joseLoading;
}

/** Why a bearer token was refused; stable, low-cardinality (fit for a metric label). */
export type TokenFailureReason =
  | 'malformed-token'
  | 'token-expired'
  | 'token-not-yet-valid'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'bad-signature'
  | 'unknown-key'
  | 'wrong-token-type'
  | 'invalid-token'
  | 'issuer-unavailable';

/** Result of checking one access token. */
export type TokenCheck =
  | { readonly ok: true; readonly subject: string; readonly scopes: readonly string[]; readonly claims: JWTPayload }
  | { readonly ok: false; readonly reason: TokenFailureReason };

/** Validates JWT access tokens of one authorization server for a given resource. */
export interface JwtVerifier {
  /** Checks signature (keys from the issuer's JWKS), `iss`, `aud` against `resourceUrl`, `exp` and `nbf`. */
  verify(token: string, resourceUrl: string): Promise<TokenCheck>;
}

/** Asymmetric algorithms accepted when the config lists none; HMAC is never accepted. */
const DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** The scopes a token grants, from `scope` (RFC 9068, space-separated) or `scp` (string or array). */
export function scopesOf(claims: JWTPayload): string[] {
  const out = new Set<string>();
  const add = (value: unknown): void => {
    const list: unknown[] = typeof value === 'string' ? value.split(' ') : Array.isArray(value) ? value : [];
    for (const s of list) if (typeof s === 'string' && s !== '') out.add(s);
  };
  add(claims['scope']);
  add(claims['scp']);
  return [...out];
}

/** The metadata URLs to try for an issuer, in the order MCP clients use (RFC 8414 section 3.1, then OpenID). */
export function authorizationServerMetadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  const origin = `${url.protocol}//${url.host}`;
  const urls = [`${origin}/.well-known/oauth-authorization-server${path}`, `${origin}/.well-known/openid-configuration${path}`];
  if (path !== '') urls.push(`${origin}${path}/.well-known/openid-configuration`);
  return urls;
}

/** Finds `jwks_uri` in the issuer's metadata; the document must name the same issuer (RFC 8414 section 3.3). */
async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<URL> {
  const problems: string[] = [];
  for (const candidate of authorizationServerMetadataUrls(issuer)) {
    try {
      const response = await fetch(candidate, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status !== 200) {
        problems.push(`${candidate}: HTTP ${response.status}`);
        continue;
      }
      const doc = (await response.json()) as Record<string, unknown>;
      if (doc['issuer'] !== issuer) {
        problems.push(`${candidate}: names issuer ${JSON.stringify(doc['issuer'])}`);
        continue;
      }
      const jwksUri = doc['jwks_uri'];
      if (typeof jwksUri !== 'string') {
        problems.push(`${candidate}: has no jwks_uri`);
        continue;
      }
      return new URL(jwksUri);
    } catch (error) {
      problems.push(`${candidate}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`no usable authorization server metadata for ${issuer} (${problems.join('; ')})`);
}

/** Maps a jose verification error to a refusal reason; anything else (network, store) means the issuer's keys are unavailable. */
export function classifyTokenError(error: unknown, { errors }: Pick<Jose, 'errors'>): TokenFailureReason {
  if (error instanceof errors.JWTExpired) return 'token-expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'wrong-issuer';
    if (error.claim === 'aud') return 'wrong-audience';
    if (error.claim === 'nbf') return 'token-not-yet-valid';
    if (error.claim === 'typ') return 'wrong-token-type';
    return 'invalid-token';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad-signature';
  if (error instanceof errors.JWKSNoMatchingKey) return 'unknown-key';
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSEAlgNotAllowed ||
    error instanceof errors.JOSENotSupported ||
    error instanceof errors.JWKInvalid ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return 'malformed-token';
  }
  // Timeouts, network errors, a non-200 or unparsable JWKS: the issuer is at fault, not the token.
  return 'issuer-unavailable';
}

function audienceMatches(claims: JWTPayload, resourceUrl: string, extra: readonly string[]): boolean {
  const expected = canonicalResourceUrl(resourceUrl);
  const auds = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  return auds.some((aud) => extra.includes(aud) || (expected !== undefined && canonicalResourceUrl(aud) === expected));
}

/** Options of {@link createJwtVerifier}. */
export interface JwtVerifierOptions {
  /** Where discovery and JWKS problems are reported (never tokens). */
  readonly logger: Logger;
}

/**
 * A verifier of the issuer's JWT access tokens. Keys come from the issuer's JWKS
 * through jose's `createRemoteJWKSet`, which caches them and fetches again when a
 * token names an unknown key id (key rotation), at most once per cooldown.
 */
export function createJwtVerifier(config: OAuthConfig & { readonly issuer: string }, options: JwtVerifierOptions): JwtVerifier {
  const timeoutMs = config.jwksTimeoutSeconds * 1000;
  // Loaded now, ahead of the first token; a failure surfaces on that token's check.
  loadJose().catch(() => undefined);
  const makeJwks = async (url: URL): Promise<ReturnType<typeof createRemoteJWKSet>> =>
    (await loadJose()).createRemoteJWKSet(url, {
      timeoutDuration: timeoutMs,
      cooldownDuration: config.jwksCooldownSeconds * 1000,
      cacheMaxAge: config.jwksCacheMaxAgeSeconds * 1000,
    });
  const configuredJwksUri = config.jwksUri === undefined ? undefined : new URL(config.jwksUri);
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  const keySet = (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    if (jwks === undefined) {
      const pending = configuredJwksUri === undefined ? discoverJwksUri(config.issuer, timeoutMs).then(makeJwks) : makeJwks(configuredJwksUri);
      // A failed discovery is retried by the next request rather than remembered.
      pending.catch(() => {
        if (jwks === pending) jwks = undefined;
      });
      jwks = pending;
    }
    return jwks;
  };

  return {
    async verify(token, resourceUrl) {
      const { jwtVerify, errors } = await loadJose();
      let resolver: ReturnType<typeof createRemoteJWKSet>;
      try {
        resolver = await keySet();
      } catch (error) {
        options.logger.warn('cannot discover the JWKS of the OAuth issuer', { issuer: config.issuer, error });
        return { ok: false, reason: 'issuer-unavailable' };
      }
      try {
        const { payload } = await jwtVerify(token, resolver, {
          issuer: config.issuer,
          algorithms: config.algorithms ?? DEFAULT_ALGORITHMS,
          clockTolerance: config.clockToleranceSeconds,
          requiredClaims: ['exp'],
          ...(config.tokenType === undefined ? {} : { typ: config.tokenType }),
        });
        if (!audienceMatches(payload, resourceUrl, config.audiences)) return { ok: false, reason: 'wrong-audience' };
        const subject = typeof payload.sub === 'string' ? payload.sub : typeof payload['client_id'] === 'string' ? payload['client_id'] : 'unknown';
        return { ok: true, subject, scopes: scopesOf(payload), claims: payload };
      } catch (error) {
        const reason = classifyTokenError(error, { errors });
        if (reason === 'issuer-unavailable') {
          options.logger.warn('cannot fetch the JWKS of the OAuth issuer', { issuer: config.issuer, error });
        }
        return { ok: false, reason };
      }
    },
  };
}
