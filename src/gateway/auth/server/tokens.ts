import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { classifyTokenError, type TokenFailureReason } from '../oauth.js';
import { canonicalResourceUrl } from '../resource-metadata.js';
import { SIGNING_ALGORITHM, type SigningKeys } from './keys.js';
import { digest, randomToken, sameSecret } from './secrets.js';
import type { AuthStore } from './store.js';

/**
 * Grants, access tokens and refresh tokens. A grant is one sign-in of one user for
 * one client and one resource; its refresh token rotates on every use (the previous
 * ones are remembered, so a replayed one revokes the grant, OAuth 2.1 section 4.3.1),
 * and revoking it makes every access token of it useless within
 * `revocationCheckSeconds` (each token names its grant in `sid`).
 */

/** One sign-in, as stored (`grant#<id>`). */
export interface Grant {
  /** The user: the upstream subject. */
  readonly subject: string;
  /** The user's upstream groups at sign-in. */
  readonly groups: readonly string[];
  /** The client it was granted to. */
  readonly clientId: string;
  /** Scopes granted. */
  readonly scopes: readonly string[];
  /** The resource (audience) its tokens are for: a server's URL or the fleet resource. */
  readonly resource: string;
  /** Epoch ms of the sign-in. */
  readonly createdAt: number;
  /** SHA-256 digest of the current refresh token's secret. */
  readonly refreshDigest: string;
  /** Digests of earlier refresh tokens of this grant (a replay of one revokes the grant). */
  readonly previousDigests: readonly string[];
}

/** What {@link TokenService.issue} answers, as the token endpoint sends it. */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly refresh_token: string;
  readonly scope: string;
}

/** A checked access token of this server. */
export type AccessTokenCheck =
  | { readonly ok: true; readonly subject: string; readonly scopes: readonly string[]; readonly groups: readonly string[]; readonly clientId: string; readonly grantId: string }
  | { readonly ok: false; readonly reason: TokenFailureReason | 'token-revoked' };

/** The outcome of redeeming a refresh token. */
export type RefreshOutcome =
  | { readonly ok: true; readonly grantId: string; readonly grant: Grant; readonly refreshToken: string }
  | { readonly ok: false; readonly reason: 'unknown' | 'wrong-client' | 'replayed' | 'expired' };

/** Options of {@link TokenService}. */
export interface TokenServiceOptions {
  /** `iss` of the tokens. */
  readonly issuer: string;
  /** The fleet-wide resource, accepted as audience on every server. */
  readonly fleetResource: string | undefined;
  /** Access token lifetime. */
  readonly accessTokenTtlMs: number;
  /** Refresh token idle lifetime. */
  readonly refreshTokenTtlMs: number;
  /** Longest life of a grant. */
  readonly sessionMaxMs: number;
  /** How long a replica trusts a grant lookup. */
  readonly revocationCheckMs: number;
  /** Clock. @default Date.now */
  readonly now?: () => number;
}

/** How many earlier refresh tokens of a grant are remembered for replay detection. */
const REMEMBERED_REFRESH_TOKENS = 20;

/** Issues, rotates, checks and revokes the authorization server's tokens. */
export class TokenService {
  private readonly now: () => number;
  private readonly alive = new Map<string, { readonly until: number; readonly alive: boolean }>();

  constructor(
    private readonly store: AuthStore,
    private readonly keys: SigningKeys,
    private readonly options: TokenServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Stores a new grant (id chosen when its authorization code was made) and issues its first tokens. */
  async startGrant(grantId: string, grant: Omit<Grant, 'refreshDigest' | 'previousDigests' | 'createdAt'>): Promise<TokenResponse> {
    const secret = randomToken();
    const stored: Grant = { ...grant, createdAt: this.now(), refreshDigest: digest(secret), previousDigests: [] };
    const written = await this.store.put('grant', grantId, stored, this.grantExpiry(stored), { ifAbsent: true });
    if (!written) throw new Error('grant id already used');
    return this.issue(grantId, stored, `${grantId}.${secret}`, stored.scopes);
  }

  /**
   * Redeems a refresh token (`<grant id>.<secret>`) of `clientId`: the grant's refresh
   * token is replaced (compare-and-set, so two uses of one token cannot both win). A
   * token that was already replaced is a replay: the grant is revoked.
   */
  async refresh(refreshToken: string, clientId: string): Promise<RefreshOutcome> {
    const dot = refreshToken.indexOf('.');
    if (dot <= 0) return { ok: false, reason: 'unknown' };
    const grantId = refreshToken.slice(0, dot);
    const presented = digest(refreshToken.slice(dot + 1));
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const record = await this.store.get<Grant>('grant', grantId);
      if (record === undefined) return { ok: false, reason: 'unknown' };
      const grant = record.data;
      if (!sameSecret(presented, grant.refreshDigest)) {
        if (grant.previousDigests.some((d) => sameSecret(presented, d))) {
          await this.revokeGrant(grantId);
          return { ok: false, reason: 'replayed' };
        }
        return { ok: false, reason: 'unknown' };
      }
      if (grant.clientId !== clientId) return { ok: false, reason: 'wrong-client' };
      if (this.now() - grant.createdAt >= this.options.sessionMaxMs) return { ok: false, reason: 'expired' };
      const secret = randomToken();
      const next: Grant = {
        ...grant,
        refreshDigest: digest(secret),
        previousDigests: [grant.refreshDigest, ...grant.previousDigests].slice(0, REMEMBERED_REFRESH_TOKENS),
      };
      if (await this.store.put('grant', grantId, next, this.grantExpiry(next), { ifVersion: record.version })) {
        return { ok: true, grantId, grant: next, refreshToken: `${grantId}.${secret}` };
      }
      // Another request changed the grant meanwhile: read it again (this token may now be a replay).
    }
    return { ok: false, reason: 'unknown' };
  }

  /** Signs an access token of a grant and packs the token response. */
  async issue(grantId: string, grant: Grant, refreshToken: string, scopes: readonly string[]): Promise<TokenResponse> {
    const { kid, key } = await this.keys.signingKey();
    const now = this.now();
    const ttlSeconds = Math.floor(this.options.accessTokenTtlMs / 1000);
    const accessToken = await new SignJWT({ scope: scopes.join(' '), client_id: grant.clientId, groups: [...grant.groups], sid: grantId })
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid, typ: 'at+jwt' })
      .setIssuer(this.options.issuer)
      .setSubject(grant.subject)
      .setAudience(grant.resource)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + ttlSeconds)
      .setJti(randomToken(16))
      .sign(key);
    return { access_token: accessToken, token_type: 'Bearer', expires_in: ttlSeconds, refresh_token: refreshToken, scope: scopes.join(' ') };
  }

  /** Revokes a grant: its refresh token stops working at once, its access tokens within the revocation check interval. */
  async revokeGrant(grantId: string): Promise<void> {
    await this.store.delete('grant', grantId);
    this.alive.set(grantId, { until: Number.POSITIVE_INFINITY, alive: false });
  }

  /** The grant a refresh token names when the token is its current or a previous one; for revocation. */
  async grantOfRefreshToken(refreshToken: string): Promise<{ readonly grantId: string; readonly grant: Grant } | undefined> {
    const dot = refreshToken.indexOf('.');
    if (dot <= 0) return undefined;
    const grantId = refreshToken.slice(0, dot);
    const record = await this.store.get<Grant>('grant', grantId);
    if (record === undefined) return undefined;
    const presented = digest(refreshToken.slice(dot + 1));
    const known = sameSecret(presented, record.data.refreshDigest) || record.data.previousDigests.some((d) => sameSecret(presented, d));
    return known ? { grantId, grant: record.data } : undefined;
  }

  /**
   * Checks an access token for `resourceUrl` (the endpoint called): signature with the
   * key ring, `iss`, `typ`, `exp`, audience (the endpoint's canonical URL or the fleet
   * resource), and that its grant was not revoked.
   */
  async verify(token: string, resourceUrl: string | undefined): Promise<AccessTokenCheck> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.verificationKeys(), {
        issuer: this.options.issuer,
        algorithms: [SIGNING_ALGORITHM],
        typ: 'at+jwt',
        requiredClaims: ['exp', 'sub', 'sid', 'aud'],
        currentDate: new Date(this.now()),
        clockTolerance: 5,
      }));
    } catch (error) {
      return { ok: false, reason: classifyTokenError(error, { errors }) };
    }
    if (resourceUrl !== undefined && !this.audienceMatches(payload, resourceUrl)) return { ok: false, reason: 'wrong-audience' };
    const grantId = payload['sid'] as string;
    if (!(await this.grantAlive(grantId))) return { ok: false, reason: 'token-revoked' };
    const scopes = typeof payload['scope'] === 'string' ? payload['scope'].split(' ').filter((s) => s !== '') : [];
    const groups = Array.isArray(payload['groups']) ? payload['groups'].filter((g): g is string => typeof g === 'string') : [];
    return { ok: true, subject: payload.sub as string, scopes, groups, clientId: String(payload['client_id'] ?? ''), grantId };
  }

  private audienceMatches(payload: JWTPayload, resourceUrl: string): boolean {
    const auds = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    const expected = canonicalResourceUrl(resourceUrl);
    const fleet = this.options.fleetResource === undefined ? undefined : canonicalResourceUrl(this.options.fleetResource);
    return auds.some((aud) => {
      const canonical = canonicalResourceUrl(aud);
      return canonical !== undefined && (canonical === expected || (fleet !== undefined && canonical === fleet));
    });
  }

  private async grantAlive(grantId: string): Promise<boolean> {
    const now = this.now();
    const cached = this.alive.get(grantId);
    if (cached !== undefined && (cached.until > now || !cached.alive)) return cached.alive;
    const alive = (await this.store.get('grant', grantId)) !== undefined;
    if (this.alive.size > 10_000) this.alive.clear();
    this.alive.set(grantId, { until: now + this.options.revocationCheckMs, alive });
    return alive;
  }

  private grantExpiry(grant: Grant): number {
    return Math.min(this.now() + this.options.refreshTokenTtlMs, grant.createdAt + this.options.sessionMaxMs);
  }
}
