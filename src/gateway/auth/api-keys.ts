import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../../config/auth-schema.js';
import { FleetError } from '../../errors.js';

/** Prefix of keys made by `mcp-fleet keys new`; it tells the gateway to try the token as an API key. */
export const API_KEY_PREFIX = 'mcpf_';

/** A fresh API key and the digest that goes into the config. */
export interface GeneratedApiKey {
  /** The key itself: `mcpf_` and 32 random bytes in base64url. Shown once, stored nowhere by mcp-fleet. */
  readonly key: string;
  /** Lower-case SHA-256 hex digest of the key, for `gateway.auth.apiKeys[].sha256`. */
  readonly sha256: string;
}

/** SHA-256 of a UTF-8 string as lower-case hex. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Makes a new API key from 32 bytes of the system's secure random source. */
export function generateApiKey(random: (size: number) => Buffer = randomBytes): GeneratedApiKey {
  const key = `${API_KEY_PREFIX}${random(32).toString('base64url')}`;
  return { key, sha256: sha256Hex(key) };
}

/** An API key as the gateway holds it: a name, a digest, and where it may go. Never the key. */
export interface LoadedApiKey {
  /** Name from the config. */
  readonly name: string;
  /** SHA-256 digest of the key (32 bytes). */
  readonly digest: Buffer;
  /** Servers it may reach; undefined means all. */
  readonly servers: ReadonlySet<string> | undefined;
}

/** Where {@link loadApiKeys} reads keys given by `env` or `file`. */
export interface ApiKeySources {
  /** Environment with keys injected by name (ECS `secrets`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a key file as UTF-8. */
  readonly readFile: (path: string) => string;
}

/**
 * Resolves the configured keys to digests, once at start. A missing variable or
 * unreadable file is a config error that names the key and the source, never a value.
 */
export function loadApiKeys(keys: readonly ApiKeyConfig[], sources: ApiKeySources): LoadedApiKey[] {
  return keys.map((key) => {
    let digest: Buffer;
    if (key.sha256 !== undefined) {
      // The schema checks this too; a config built in code skips the schema, and a
      // short digest would make timingSafeEqual throw on every request.
      if (!/^[0-9a-fA-F]{64}$/.test(key.sha256)) {
        throw new FleetError('AUTH_KEY_INVALID', `API key "${key.name}": sha256 must be 64 hex digits (the digest, not the key)`);
      }
      digest = Buffer.from(key.sha256, 'hex');
    } else if (key.env !== undefined) {
      const value = sources.env[key.env]?.trim();
      if (value === undefined || value === '') {
        throw new FleetError('AUTH_KEY_MISSING', `API key "${key.name}": environment variable ${key.env} is not set or empty`, {
          hint: `Set ${key.env} to the key (for ECS, map it from Secrets Manager under the task's secrets), or use sha256 instead.`,
        });
      }
      digest = createHash('sha256').update(value, 'utf8').digest();
    } else if (key.file !== undefined) {
      let value: string;
      try {
        value = sources.readFile(key.file).trim();
      } catch (cause) {
        throw new FleetError('AUTH_KEY_MISSING', `API key "${key.name}": cannot read key file ${key.file}`, {
          cause,
          hint: 'Check that the file exists and the gateway may read it, or use sha256 instead.',
        });
      }
      if (value === '') {
        throw new FleetError('AUTH_KEY_MISSING', `API key "${key.name}": key file ${key.file} is empty`);
      }
      digest = createHash('sha256').update(value, 'utf8').digest();
    } else {
      // The schema rules this out; a hand-built config could still reach here.
      throw new FleetError('AUTH_KEY_MISSING', `API key "${key.name}" needs one of sha256, env or file`);
    }
    return { name: key.name, digest, servers: key.servers === undefined ? undefined : new Set(key.servers) };
  });
}

/**
 * Finds the key a presented token matches. The token is hashed and compared with
 * every digest in constant time, so neither the length of the token nor which
 * key is close leaks through timing; all keys are compared even after a match.
 */
export function matchApiKey(keys: readonly LoadedApiKey[], token: string): LoadedApiKey | undefined {
  const presented = createHash('sha256').update(token, 'utf8').digest();
  let found: LoadedApiKey | undefined;
  for (const key of keys) {
    // Both sides are SHA-256 digests, so the lengths are always equal, as timingSafeEqual requires.
    if (timingSafeEqual(presented, key.digest) && found === undefined) found = key;
  }
  return found;
}
