import * as oidc from 'openid-client';
import type { AuthorizationServerConfig } from '../../../config/auth-schema.js';

/**
 * The OpenID Connect provider where users sign in (Cognito, Okta, Entra ID, Google,
 * Keycloak, ...). The authorization server is its confidential client: it sends the
 * browser there with its own state, nonce and PKCE, and on the callback redeems the
 * code (openid-client checks state, nonce, issuer, audience and the ID token's
 * signature), then reads the user's subject and groups.
 */

/** The user that signed in at the provider. */
export interface UpstreamIdentity {
  /** The configured subject claim's value (the principal becomes `oauth:<subject>`). */
  readonly subject: string;
  /** Groups from the configured groups claim. */
  readonly groups: readonly string[];
  /** Email, when the provider gave one (shown in logs as the principal's label only at debug). */
  readonly email?: string;
}

/** What a sign-in at the provider must be checked against on the way back. */
export interface UpstreamChecks {
  /** PKCE verifier sent (as its challenge) with the request. */
  readonly codeVerifier: string;
  /** `state` sent with the request. */
  readonly state: string;
  /** `nonce` sent with the request. */
  readonly nonce: string;
}

/** Why the provider's answer is not accepted; the message may be shown to the user (no secrets). */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
}

/** The provider's settings, with issuer and client id resolved (from the config or the deployment's environment). */
type Upstream = AuthorizationServerConfig['upstream'] & { readonly issuer: string; readonly clientId: string };

/** The gateway as a client of the OpenID provider. */
export class UpstreamProvider {
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(
    private readonly config: Upstream,
    private readonly clientSecret: string,
    /** The callback URL registered at the provider: `<issuer>/oauth/callback`. */
    readonly callbackUrl: string,
  ) {}

  /** Where to send the browser to sign in with `state` (unguessable), and what to check on the way back. */
  async authorizationUrl(state: string): Promise<{ readonly url: URL; readonly checks: UpstreamChecks }> {
    const configuration = await this.discover();
    const checks: UpstreamChecks = { codeVerifier: oidc.randomPKCECodeVerifier(), state, nonce: oidc.randomNonce() };
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.callbackUrl,
      scope: this.config.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      state: checks.state,
      nonce: checks.nonce,
    });
    return { url, checks };
  }

  /** Redeems the provider's answer (the full callback URL) and reads the user; throws {@link UpstreamError}. */
  async complete(callback: URL, checks: UpstreamChecks): Promise<UpstreamIdentity> {
    const configuration = await this.discover();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      throw new UpstreamError(`the sign-in at the identity provider did not complete: ${messageOf(error)}`);
    }
    let claims: Record<string, unknown> = { ...(tokens.claims() ?? {}) };
    if (this.config.fetchUserinfo) {
      try {
        const info = await oidc.fetchUserInfo(configuration, tokens.access_token, String(claims['sub']));
        claims = { ...claims, ...info };
      } catch (error) {
        throw new UpstreamError(`cannot read the user's profile at the identity provider: ${messageOf(error)}`);
      }
    }
    const subject = claims[this.config.subjectClaim];
    if (typeof subject !== 'string' || subject === '') {
      throw new UpstreamError(`the identity provider did not name the user in the claim "${this.config.subjectClaim}" (authorizationServer.upstream.subjectClaim)`);
    }
    const rawGroups = claims[this.config.groupsClaim];
    const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === 'string') : typeof rawGroups === 'string' ? rawGroups.split(/[\s,]+/).filter((g) => g !== '') : [];
    const email = typeof claims['email'] === 'string' ? claims['email'] : undefined;
    return { subject, groups, ...(email === undefined ? {} : { email }) };
  }

  /** Reads the provider's discovery document once; a failure is retried by the next sign-in. */
  private discover(): Promise<oidc.Configuration> {
    if (this.configuration === undefined) {
      const issuer = new URL(this.config.issuer);
      const insecure = issuer.protocol === 'http:';
      const pending = oidc
        .discovery(issuer, this.config.clientId, this.clientSecret, undefined, {
          timeout: this.config.timeoutSeconds,
          // http is accepted by the config only for loopback issuers (tests, local providers).
          ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
        })
        .catch((error: unknown) => {
          if (this.configuration === pending) this.configuration = undefined;
          throw new UpstreamError(`cannot read the identity provider's discovery document at ${this.config.issuer}: ${messageOf(error)}`);
        });
      this.configuration = pending;
    }
    return this.configuration;
  }
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const detail = (error as { error_description?: unknown }).error_description;
  return typeof detail === 'string' ? `${error.message} (${detail})` : error.message;
}
