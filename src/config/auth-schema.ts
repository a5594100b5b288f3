import { z } from 'zod';

/**
 * Security and operations settings of the gateway: `gateway.auth`,
 * `gateway.limits` and `gateway.metrics`. Owned by the auth module
 * (`src/gateway/auth/`, `src/gateway/limits.ts`, `src/gateway/metrics.ts`).
 *
 * This file must not import `./schema.js`: that file imports this one, and the
 * cycle would leave constants undefined at load time.
 */

/** Name of an API key: it appears in logs and metrics, so it is short and plain. */
export const ApiKeyNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
  message: 'an API key name is 1-64 letters, digits, ".", "_" or "-" (it appears in logs and metrics)',
});

/** A lower-case SHA-256 hex digest, as `mcp-fleet keys new` prints. */
export const Sha256HexSchema = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .pipe(
    z.string().regex(/^[0-9a-f]{64}$/, {
      message: 'sha256 must be the 64 hex digits of the key digest that `mcp-fleet keys new` prints, not the key itself',
    }),
  );

/** One accepted API key. Exactly one of `sha256`, `env` and `file` says where it comes from. */
export const ApiKeySchema = z
  .object({
    /** Name of the key, shown in logs and metrics (never the key). */
    name: ApiKeyNameSchema,
    /** SHA-256 hex digest of the key (as `mcp-fleet keys new` prints). The key itself never enters the config. */
    sha256: Sha256HexSchema.optional(),
    /** Environment variable holding the key itself (ECS `secrets` injection from Secrets Manager or SSM). */
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'env must be the name of an environment variable, such as MCP_FLEET_KEY_CI' })
      .optional(),
    /** File holding the key itself (a mounted secret); surrounding white space is ignored. */
    file: z.string().min(1).optional(),
    /** Servers this key may reach. @default all servers */
    servers: z.array(z.string().min(1)).min(1, { message: 'servers must list at least one server; leave it out to allow all' }).optional(),
  })
  .strict()
  .superRefine((key, ctx) => {
    const sources = [key.sha256, key.env, key.file].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `API key "${key.name}" needs exactly one of sha256, env or file (it has ${sources})`,
      });
    }
  });

/** JWS algorithms accepted for access tokens: asymmetric only, so the gateway never holds a signing secret. */
export const JwsAlgorithmSchema = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

/** An OAuth scope token (RFC 6749 section 3.3). */
export const ScopeSchema = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, {
  message: 'a scope is one word of printable ASCII without spaces, quotes or backslashes, such as mcp:tools',
});

function isHttpsOrLoopback(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.protocol === 'https:') return true;
    return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

const SecureUrlSchema = z.string().refine(isHttpsOrLoopback, {
  message: 'must be an https:// URL (http:// is accepted only for localhost and 127.0.0.1, for testing)',
});

/** The gateway as an OAuth 2.1 resource server: it validates JWT access tokens of one authorization server. */
export const OAuthSchema = z
  .object({
    /** Issuer identifier of the authorization server; tokens must carry exactly this `iss`. */
    issuer: SecureUrlSchema,
    /** URL of the issuer's JSON Web Key Set. @default discovered from the issuer's RFC 8414 or OpenID metadata */
    jwksUri: SecureUrlSchema.optional(),
    /** Authorization servers listed in the Protected Resource Metadata. @default [issuer] */
    authorizationServers: z.array(SecureUrlSchema).min(1).optional(),
    /**
     * Audiences accepted besides the canonical URL of the MCP endpoint being called
     * (for authorization servers without RFC 8707 resource indicators). Every
     * listed audience is accepted for every server, so prefer the default.
     * @default [] (only the endpoint's own URL)
     */
    audiences: z.array(z.string().min(1)).default([]),
    /** Scopes every token must carry. @default [] */
    requiredScopes: z.array(ScopeSchema).default([]),
    /** Scopes required per server name, instead of `requiredScopes`. @default {} */
    serverScopes: z.record(z.string(), z.array(ScopeSchema)).default({}),
    /** `scopes_supported` of the Protected Resource Metadata. @default the scopes required for that server */
    scopesSupported: z.array(ScopeSchema).optional(),
    /**
     * Required `typ` header of access tokens, such as `at+jwt` (RFC 9068). Set it when
     * the issuer marks access tokens, so ID tokens of the same issuer are refused.
     * @default not checked
     */
    tokenType: z.string().min(1).optional(),
    /** Accepted signature algorithms. @default all asymmetric JWS algorithms */
    algorithms: z.array(JwsAlgorithmSchema).min(1).optional(),
    /** Leeway for `exp`, `nbf` and `iat` against clock skew. */
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /** Least time between two JWKS fetches triggered by an unknown key id (bounds what a forged `kid` costs). */
    jwksCooldownSeconds: z.number().min(0).default(30),
    /** Longest time a fetched JWKS is used before it is fetched again. */
    jwksCacheMaxAgeSeconds: z.number().positive().default(600),
    /** Time allowed for a JWKS or metadata fetch. */
    jwksTimeoutSeconds: z.number().positive().default(5),
    /** `resource_name` of the Protected Resource Metadata. @default none */
    resourceName: z.string().min(1).optional(),
    /** `resource_documentation` of the Protected Resource Metadata. @default none */
    resourceDocumentation: z.url().optional(),
  })
  .strict();

/** Authentication settings of the gateway (`gateway.auth`). Leave the section out to run without auth. */
export const AuthSchema = z
  .object({
    /** Named API keys accepted as `Authorization: Bearer <key>`. */
    apiKeys: z.array(ApiKeySchema).default([]),
    /** OAuth 2.1 bearer tokens (JWT) from one authorization server. @default off */
    oauth: OAuthSchema.optional(),
  })
  .strict()
  .superRefine((auth, ctx) => {
    if (auth.apiKeys.length === 0 && auth.oauth === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'gateway.auth needs at least one entry under apiKeys or an oauth section; remove gateway.auth to run without auth',
      });
    }
    const seen = new Set<string>();
    for (const [i, key] of auth.apiKeys.entries()) {
      if (seen.has(key.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['apiKeys', i, 'name'],
          input: key.name,
          message: `API key name "${key.name}" is used twice; give each key its own name`,
        });
      }
      seen.add(key.name);
    }
  });

/** Per-key limits and back-pressure (`gateway.limits`). Every limit is off unless set. */
export const LimitsSchema = z
  .object({
    /** Token-bucket rate limit per principal (API key, OAuth subject, or all anonymous callers together). @default off */
    rate: z
      .object({
        /** Sustained requests per second. */
        requestsPerSecond: z.number().positive(),
        /** Requests allowed in a burst above the sustained rate. @default 2 × requestsPerSecond, at least 1 */
        burst: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** Most open client sessions per principal, across servers. @default off */
    maxSessionsPerKey: z.number().int().positive().optional(),
    /** Requests one child process works on at once; more wait in a queue. */
    maxInFlightPerChild: z.number().int().positive().default(16),
    /** Requests that may wait for a child; past it the client gets 503 with Retry-After. */
    maxQueuedPerChild: z.number().int().min(0).default(64),
    /** Longest wait in that queue before the client gets 503. */
    queueTimeoutSeconds: z.number().positive().default(30),
    /**
     * Bytes one SSE stream may hold unsent for a client that does not read; past it
     * the stream is dropped (and the reason logged). @default 8 MiB
     */
    maxStreamBufferBytes: z.number().int().min(64 * 1024).default(8 * 1024 * 1024),
  })
  .strict();

/** Prometheus metrics (`gateway.metrics`), served on their own port so they are never public by accident. */
export const MetricsSchema = z
  .object({
    /** Serve `/metrics`. @default false */
    enabled: z.boolean().default(false),
    /** Address of the metrics listener. Inside a container this is 0.0.0.0. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Port of the metrics listener; never the gateway's port. */
    port: z.number().int().min(0).max(65535).default(9464),
    /** Path of the metrics document. */
    path: z.string().startsWith('/').default('/metrics'),
  })
  .strict();

/** A reference from `gateway.auth` to a server that the config does not define. */
export interface AuthServerReferenceIssue {
  /** Path below `gateway.auth`, e.g. `['apiKeys', 0, 'servers', 1]`. */
  readonly path: (string | number)[];
  /** The server name referred to. */
  readonly input: string;
  /** What is wrong and what to do. */
  readonly message: string;
}

/**
 * Finds server names in `apiKeys[].servers` and `oauth.serverScopes` that are
 * not in `serverNames`, for the whole-config check (a typo there would silently
 * lock a key out or leave a server on the default scopes).
 */
export function authServerReferenceIssues(auth: AuthConfig, serverNames: readonly string[]): AuthServerReferenceIssue[] {
  const known = new Set(serverNames);
  const list = [...known].join(', ');
  const issues: AuthServerReferenceIssue[] = [];
  for (const [i, key] of auth.apiKeys.entries()) {
    for (const [j, server] of (key.servers ?? []).entries()) {
      if (!known.has(server)) {
        issues.push({ path: ['apiKeys', i, 'servers', j], input: server, message: `API key "${key.name}" names server "${server}", which is not defined (servers: ${list})` });
      }
    }
  }
  for (const server of Object.keys(auth.oauth?.serverScopes ?? {})) {
    if (!known.has(server)) {
      issues.push({ path: ['oauth', 'serverScopes', server], input: server, message: `oauth.serverScopes names server "${server}", which is not defined (servers: ${list})` });
    }
  }
  return issues;
}

/** Parsed auth settings. */
export type AuthConfig = z.infer<typeof AuthSchema>;
/** One parsed API key entry. */
export type ApiKeyConfig = z.infer<typeof ApiKeySchema>;
/** Parsed OAuth settings. */
export type OAuthConfig = z.infer<typeof OAuthSchema>;
/** Parsed limits. */
export type LimitsConfig = z.infer<typeof LimitsSchema>;
/** Parsed metrics settings. */
export type MetricsConfig = z.infer<typeof MetricsSchema>;
