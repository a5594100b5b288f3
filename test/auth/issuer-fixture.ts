import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** A signing key of the fixture issuer. */
interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

/** Options of {@link TestIssuer.sign}. */
export interface SignOptions {
  /** Sign with the key used before the last rotation. @default the current key */
  readonly previousKey?: boolean;
  /** Put this kid in the header instead of the key's own. */
  readonly kid?: string;
  /** Issuer claim. @default the fixture's issuer */
  readonly issuer?: string;
  /** `typ` header. @default 'at+jwt' */
  readonly typ?: string;
  /** Expiry, as jose's setExpirationTime takes it (number = epoch seconds). @default '5m' */
  readonly expiresAt?: number | string;
}

/**
 * A local OAuth authorization server for tests: real keys made with jose, a
 * JWKS and RFC 8414 metadata served over HTTP on 127.0.0.1, key rotation on demand.
 */
export interface TestIssuer {
  /** Issuer identifier, e.g. http://127.0.0.1:41234 */
  readonly issuer: string;
  /** URL of the JWKS. */
  readonly jwksUri: string;
  /** How many times the JWKS was fetched. */
  readonly jwksFetches: number;
  /** Makes a new key; the JWKS then publishes only the new one. */
  rotate(): Promise<void>;
  /** Signs an access token. */
  sign(claims: JWTPayload, options?: SignOptions): Promise<string>;
  /** Stops the server. */
  close(): Promise<void>;
}

async function makeKey(alg: 'RS256' | 'ES256', n: number): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const kid = `key-${n}`;
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** Starts an issuer on 127.0.0.1 with a random port. */
export async function startIssuer(alg: 'RS256' | 'ES256' = 'ES256'): Promise<TestIssuer> {
  let generation = 1;
  let current = await makeKey(alg, generation);
  let previous: SigningKey | undefined;
  let jwksFetches = 0;
  let issuer = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks.json') {
      jwksFetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [current.jwk] }));
    } else if (req.url === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks.json` }));
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksUri: `${issuer}/jwks.json`,
    get jwksFetches() {
      return jwksFetches;
    },
    async rotate() {
      previous = current;
      generation += 1;
      current = await makeKey(alg, generation);
    },
    async sign(claims, options = {}) {
      const key = options.previousKey ? previous : current;
      if (key === undefined) throw new Error('no previous key: rotate first');
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: options.kid ?? key.kid, typ: options.typ ?? 'at+jwt' })
        .setIssuer(options.issuer ?? issuer)
        .setIssuedAt()
        .setExpirationTime(options.expiresAt ?? '5m')
        .sign(key.privateKey);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A URL on 127.0.0.1 where nothing listens (the port was just released). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}
