import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AUTH_ENV, type AuthorizationServerConfig, type SecretSource } from '../../../config/auth-schema.js';
import { FleetError } from '../../../errors.js';

/**
 * The few cryptographic pieces of the authorization server that are not JOSE:
 * reading secrets, digests of bearer secrets, encryption at rest, and signed values.
 */

/** Where {@link readSecret} looks. */
export interface SecretReaders {
  /** Environment. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a file as UTF-8. @default fs.readFileSync */
  readonly readFile?: (path: string) => string;
}

/**
 * Reads a secret from its source. `what` names it in the error (never the value).
 * An unset variable or unreadable file is a FleetError `AUTH_SECRET_MISSING`.
 */
export function readSecret(source: SecretSource, what: string, readers: SecretReaders): string {
  if (source.env !== undefined) {
    const value = readers.env[source.env]?.trim();
    if (value === undefined || value === '') {
      throw new FleetError('AUTH_SECRET_MISSING', `${what}: environment variable ${source.env} is not set or empty`, {
        hint: `Set ${source.env} (for ECS, map it from Secrets Manager under the task's secrets).`,
      });
    }
    return value;
  }
  const file = source.file as string;
  let value: string;
  try {
    value = (readers.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(file).trim();
  } catch (cause) {
    throw new FleetError('AUTH_SECRET_MISSING', `${what}: cannot read ${file}`, { cause, hint: 'Check that the file exists and the gateway may read it.' });
  }
  if (value === '') throw new FleetError('AUTH_SECRET_MISSING', `${what}: ${file} is empty`);
  return value;
}

/** A new random secret: `bytes` random bytes in base64url. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 of a string, base64url: how codes, refresh tokens and client secrets are stored. */
export function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** Compares two strings in time that does not depend on where they differ (both are hashed first, so lengths leak nothing either). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a, 'utf8').digest(), createHash('sha256').update(b, 'utf8').digest());
}

/** The S256 PKCE challenge of a verifier (RFC 7636 section 4.2). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * Keys derived from the configured secret: one to encrypt signing keys at rest
 * (AES-256-GCM), one to sign values handed to browsers (HMAC-SHA256).
 */
export class SecretBox {
  private readonly encryptionKey: Buffer;
  private readonly macKey: Buffer;

  constructor(secret: string) {
    if (secret.length < 32) {
      throw new FleetError('AUTH_SECRET_WEAK', 'the authorization server secret must be at least 32 characters', {
        hint: 'Generate one with: openssl rand -base64 36',
      });
    }
    const ikm = Buffer.from(secret, 'utf8');
    this.encryptionKey = Buffer.from(hkdfSync('sha256', ikm, 'mcp-fleet', 'auth-store-encryption', 32));
    this.macKey = Buffer.from(hkdfSync('sha256', ikm, 'mcp-fleet', 'auth-browser-mac', 32));
  }

  /** Encrypts `plaintext`; `context` binds the ciphertext to its use (it must be given again to open it). */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** Decrypts what {@link seal} made; throws when the secret or context differs or the data was altered. */
  open(sealed: string, context: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || iv === undefined || body === undefined || tag === undefined) throw new Error('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** HMAC of a value, base64url. */
  mac(value: string): string {
    return createHmac('sha256', this.macKey).update(value, 'utf8').digest('base64url');
  }
}

/**
 * Reads every secret the authorization server needs, so a missing one stops the
 * gateway at start with a FleetError naming it (the server itself loads later).
 */
export function checkAuthorizationServerSecrets(config: AuthorizationServerConfig, readers: SecretReaders): void {
  upstreamIdentity(config, readers.env);
  new SecretBox(readSecret(config.secret, 'authorizationServer.secret', readers));
  readSecret(config.upstream.clientSecret, 'authorizationServer.upstream.clientSecret', readers);
  for (const client of config.clients) {
    if (client.secret !== undefined) readSecret(client.secret, `authorizationServer.clients "${client.clientId}" secret`, readers);
  }
  const initial = config.registration.initialAccessToken;
  if (initial?.env !== undefined) readSecret({ env: initial.env }, 'authorizationServer.registration.initialAccessToken', readers);
  if (initial?.file !== undefined) readSecret({ file: initial.file }, 'authorizationServer.registration.initialAccessToken', readers);
}

/**
 * The provider's issuer and the gateway's client id there: from the config, else from
 * the environment a deployment sets (`deploy.auth.cognito`). Missing: a FleetError.
 */
export function upstreamIdentity(config: AuthorizationServerConfig, env: Readonly<Record<string, string | undefined>>): { issuer: string; clientId: string } {
  const issuer = config.upstream.issuer ?? env[AUTH_ENV.upstreamIssuer];
  const clientId = config.upstream.clientId ?? env[AUTH_ENV.upstreamClientId];
  if (issuer === undefined || issuer === '' || clientId === undefined || clientId === '') {
    throw new FleetError('AUTH_UPSTREAM_MISSING', 'authorizationServer.upstream needs issuer and clientId', {
      hint: `Set them in the config, or ${AUTH_ENV.upstreamIssuer} and ${AUTH_ENV.upstreamClientId} in the environment (the deployment does with deploy.auth.cognito).`,
    });
  }
  return { issuer, clientId };
}
