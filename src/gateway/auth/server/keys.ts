import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type JWTVerifyGetKey } from 'jose';
import type { SecretBox } from './secrets.js';
import type { AuthStore } from './store.js';

/**
 * The signing keys of the authorization server's access tokens: ES256 keys kept in
 * the store (the private half encrypted with the configured secret), rotated every
 * `rotationMs`; a retired key stays published until the tokens it signed expired.
 * Every replica reads the same key set, so any replica can verify any token.
 */

/** Algorithm of the access tokens. */
export const SIGNING_ALGORITHM = 'ES256';

interface StoredKey {
  readonly kid: string;
  readonly publicJwk: JWK;
  /** The private JWK, sealed with {@link SecretBox.seal} under the context `signing-key:<kid>`. */
  readonly sealedPrivateJwk: string;
  readonly createdAt: number;
}

interface KeySet {
  readonly keys: readonly StoredKey[];
}

/** Options of {@link SigningKeys}. */
export interface SigningKeysOptions {
  /** A new key is made when the newest is older than this. */
  readonly rotationMs: number;
  /** Lifetime of access tokens: a key stays published this long (twice, for skew) after a newer one took over. */
  readonly tokenTtlMs: number;
  /** Clock. @default Date.now */
  readonly now?: () => number;
}

/** How long a replica reuses the key set it read before reading it again. */
const KEY_SET_CACHE_MS = 60_000;
/** The key set record never expires by itself. */
const FOREVER = Number.MAX_SAFE_INTEGER;

/** The key ring: the key to sign with now, and every key whose tokens may still be alive. */
export class SigningKeys {
  private cached: { set: KeySet; version: number; readAt: number } | undefined;
  private readonly privateKeys = new Map<string, Promise<CryptoKey>>();
  private rotating: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly store: AuthStore,
    private readonly box: SecretBox,
    private readonly options: SigningKeysOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The key to sign with: the newest, after making a new one when it is due. */
  async signingKey(): Promise<{ readonly kid: string; readonly key: CryptoKey }> {
    let set = await this.load(false);
    if (this.rotationDue(set)) {
      this.rotating ??= this.rotate().finally(() => (this.rotating = undefined));
      await this.rotating;
      set = await this.load(false);
    }
    const newest = newestOf(set) as StoredKey;
    let key = this.privateKeys.get(newest.kid);
    if (key === undefined) {
      key = importJWK(JSON.parse(this.box.open(newest.sealedPrivateJwk, `signing-key:${newest.kid}`)) as JWK, SIGNING_ALGORITHM) as Promise<CryptoKey>;
      this.privateKeys.set(newest.kid, key);
    }
    return { kid: newest.kid, key: await key };
  }

  /** The public keys, as the JWKS document publishes them. */
  async publicJwks(): Promise<{ keys: JWK[] }> {
    const set = await this.load(false);
    return { keys: set.keys.map((k) => k.publicJwk) };
  }

  /**
   * A key resolver for jose's `jwtVerify`: an unknown `kid` makes it read the key set
   * again (another replica may have rotated), at most once per call.
   */
  verificationKeys(): JWTVerifyGetKey {
    return async (header, token) => {
      let set = await this.load(false);
      if (header.kid !== undefined && !set.keys.some((k) => k.kid === header.kid)) set = await this.load(true);
      return createLocalJWKSet({ keys: set.keys.map((k) => k.publicJwk) })(header, token);
    };
  }

  private rotationDue(set: KeySet): boolean {
    const newest = newestOf(set);
    return newest === undefined || this.now() - newest.createdAt >= this.options.rotationMs;
  }

  private async load(fresh: boolean): Promise<KeySet> {
    const now = this.now();
    if (!fresh && this.cached !== undefined && now - this.cached.readAt < KEY_SET_CACHE_MS) return this.cached.set;
    const record = await this.store.get<KeySet>('keys', 'signing');
    const set = record?.data ?? { keys: [] };
    this.cached = { set, version: record?.version ?? 0, readAt: now };
    return set;
  }

  /** Adds a new key and drops the ones no live token can name; replicas racing here each retry on the other's write. */
  private async rotate(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const set = await this.load(true);
      if (!this.rotationDue(set)) return;
      const version = this.cached?.version ?? 0;
      const now = this.now();
      const kid = randomUUID();
      const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
      const fresh: StoredKey = {
        kid,
        publicJwk: { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALGORITHM, use: 'sig' },
        sealedPrivateJwk: this.box.seal(JSON.stringify(await exportJWK(privateKey)), `signing-key:${kid}`),
        createdAt: now,
      };
      // A key stays while a token it signed may be alive: until twice the token lifetime after the next key took over.
      const sorted = [...set.keys].sort((a, b) => a.createdAt - b.createdAt);
      const kept = sorted.filter((key, i) => {
        const successor = sorted[i + 1]?.createdAt ?? now;
        return now - successor < 2 * this.options.tokenTtlMs;
      });
      const next: KeySet = { keys: [...kept, fresh] };
      const written = await this.store.put('keys', 'signing', next, FOREVER, version === 0 ? { ifAbsent: true } : { ifVersion: version });
      if (written) {
        this.cached = { set: next, version: version + 1, readAt: now };
        return;
      }
    }
  }
}

function newestOf(set: KeySet): StoredKey | undefined {
  let newest: StoredKey | undefined;
  for (const key of set.keys) if (newest === undefined || key.createdAt > newest.createdAt) newest = key;
  return newest;
}
