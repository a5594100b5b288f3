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
    /** SHA-256 hex digest of the key (as `mcp-fleet keys new` prints). The key itself never enters the config. @example 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 */
    sha256: Sha256HexSchema.optional(),
    /** Environment variable holding the key itself (ECS `secrets` injection from Secrets Manager or SSM). */
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'env must be the name of an environment variable, such as MCP_FLEET_KEY_CI' })
      .optional(),
    /** File holding the key itself (a mounted secret); surrounding white space is ignored. @example /run/secrets/mcp-fleet-api-key */
    file: z.string().min(1).optional(),
    /** Servers this key may reach. @default all servers @example ["fetch", "searxng"] */
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

/** A group name of the identity provider, as it appears in a groups claim. */
export const GroupNameSchema = z.string().min(1).max(256);

const SecureUrlSchema = z.string().refine(isHttpsOrLoopback, {
  message: 'must be an https:// URL (http:// is accepted only for localhost and 127.0.0.1, for testing)',
});

/** The gateway as an OAuth 2.1 resource server: it validates JWT access tokens of one authorization server. */
export const OAuthSchema = z
  .object({
    /**
     * Issuer identifier of the authorization server; tokens must carry exactly this `iss`.
     * @default `authorizationServer.issuer` when the built-in authorization server is on (then leave it out)
     * @example https://login.example.com
     */
    issuer: SecureUrlSchema.optional(),
    /** URL of the issuer's JSON Web Key Set. @default discovered from the issuer's RFC 8414 or OpenID metadata @example https://login.example.com/.well-known/jwks.json */
    jwksUri: SecureUrlSchema.optional(),
    /** Authorization servers listed in the Protected Resource Metadata. @default [issuer] @example ["https://login.example.com"] */
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
    /** Scopes required per server name, instead of `requiredScopes`. @default {} @example {"fetch": ["mcp:fetch"]} */
    serverScopes: z.record(z.string(), z.array(ScopeSchema)).default({}),
    /**
     * Groups allowed per server name: a token must name at least one of them in its
     * groups claim (`groupsClaim`) to use that server. Servers not listed need no group.
     * @default {}
     * @example {"aws-docs": ["engineering"]}
     */
    serverGroups: z.record(z.string(), z.array(GroupNameSchema).min(1, { message: 'list at least one group; leave the server out to need none' })).default({}),
    /** Claim of the access token that lists the caller's groups (a string array, or a space-separated string). */
    groupsClaim: z.string().min(1).default('groups'),
    /** `scopes_supported` of the Protected Resource Metadata. @default the scopes required for that server @example ["mcp:tools"] */
    scopesSupported: z.array(ScopeSchema).optional(),
    /**
     * Required `typ` header of access tokens, such as `at+jwt` (RFC 9068). Set it when
     * the issuer marks access tokens, so ID tokens of the same issuer are refused.
     * @default not checked
     * @example at+jwt
     */
    tokenType: z.string().min(1).optional(),
    /** Accepted signature algorithms. @default all asymmetric JWS algorithms @example ["RS256"] */
    algorithms: z.array(JwsAlgorithmSchema).min(1).optional(),
    /** Leeway for `exp`, `nbf` and `iat` against clock skew. */
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /** Least time between two JWKS fetches triggered by an unknown key id (bounds what a forged `kid` costs). */
    jwksCooldownSeconds: z.number().min(0).default(30),
    /** Longest time a fetched JWKS is used before it is fetched again. */
    jwksCacheMaxAgeSeconds: z.number().positive().default(600),
    /** Time allowed for a JWKS or metadata fetch. */
    jwksTimeoutSeconds: z.number().positive().default(5),
    /** `resource_name` of the Protected Resource Metadata. @default none @example Acme MCP fleet */
    resourceName: z.string().min(1).optional(),
    /** `resource_documentation` of the Protected Resource Metadata. @default none @example https://wiki.example.com/mcp */
    resourceDocumentation: z.url().optional(),
  })
  .strict();

/**
 * Environment variables through which a deployment hands the authorization server
 * what exists only once deployed (a contract between `src/deploy/` and the gateway).
 */
export const AUTH_ENV = {
  /** DynamoDB table of the store; when set, the store is that table, whatever `store` says. */
  table: 'MCP_FLEET_AUTH_TABLE',
  /** Issuer of the OpenID provider, when `upstream.issuer` is left out. */
  upstreamIssuer: 'MCP_FLEET_UPSTREAM_ISSUER',
  /** Client id at the OpenID provider, when `upstream.clientId` is left out. */
  upstreamClientId: 'MCP_FLEET_UPSTREAM_CLIENT_ID',
} as const;

/** Where a secret comes from: an environment variable (ECS `secrets`) or a mounted file. Never the secret itself. */
export const SecretSourceSchema = z
  .object({
    /** Environment variable holding the secret. @example OIDC_CLIENT_SECRET */
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'env must be the name of an environment variable, such as MCP_FLEET_AUTH_SECRET' })
      .optional(),
    /** File holding the secret; surrounding white space is ignored. @example /run/secrets/oidc-client-secret */
    file: z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => (s.env === undefined) !== (s.file === undefined), {
    message: 'a secret needs exactly one of env (a variable name) or file (a path); the secret itself never goes into the config',
  });

function isOriginOnly(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '' && !value.endsWith('/');
  } catch {
    return false;
  }
}

/** The login behind the authorization server: an OpenID Connect provider (Cognito, Okta, Entra ID, Google, Keycloak, ...). */
export const UpstreamOidcSchema = z
  .object({
    /**
     * Issuer of the OpenID provider, e.g. `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCd`. Its discovery document is read at the first sign-in.
     * @default the environment variable MCP_FLEET_UPSTREAM_ISSUER (set by the deployment when `deploy.auth.cognito` creates the user pool)
     * @example https://login.example.com
     */
    issuer: SecureUrlSchema.optional(),
    /**
     * Client id of the gateway at the provider (a confidential web client whose callback is `<issuer>/oauth/callback`).
     * @default the environment variable MCP_FLEET_UPSTREAM_CLIENT_ID (set by the deployment with `deploy.auth.cognito`)
     * @example mcp-fleet
     */
    clientId: z.string().min(1, { message: 'clientId is the id of the app client that the gateway uses at the OpenID provider' }).optional(),
    /** Client secret of the gateway at the provider. */
    clientSecret: SecretSourceSchema,
    /** Scopes asked of the provider. */
    scopes: z.array(ScopeSchema).default(['openid', 'email', 'profile']),
    /** Claim of the provider's ID token (or userinfo) that names the user; it becomes the principal `oauth:<value>`. */
    subjectClaim: z.string().min(1).default('sub'),
    /** Claim that lists the user's groups (`cognito:groups` for Cognito, `groups` for Okta, Entra ID and Keycloak). */
    groupsClaim: z.string().min(1).default('groups'),
    /** Only members of one of these groups may sign in. @default everyone the provider signs in @example ["engineering"] */
    allowedGroups: z.array(GroupNameSchema).min(1).optional(),
    /** Read the userinfo endpoint too (for providers that keep groups out of the ID token). */
    fetchUserinfo: z.boolean().default(false),
    /** Time allowed for each request to the provider. */
    timeoutSeconds: z.number().positive().max(60).default(10),
  })
  .strict();

/** A client registered in the config (for clients that can be given a client id, or confidential ones). */
export const StaticClientSchema = z
  .object({
    /** Client id the client sends. @example acme-desktop-app */
    clientId: z.string().regex(/^[\x21-\x7E]{1,255}$/, { message: 'a clientId is 1-255 printable ASCII characters without spaces' }),
    /** Name shown on the consent page. @default the client id @example Acme desktop app */
    name: z.string().min(1).max(100).optional(),
    /** Exact redirect URIs (loopback ones match on any port, RFC 8252). @example ["http://127.0.0.1:33418/callback"] */
    redirectUris: z.array(z.string().min(1)).min(1, { message: 'list the redirect URIs the client uses' }),
    /** Secret of a confidential client (sent with client_secret_basic or client_secret_post). @default none: a public client (PKCE only) */
    secret: SecretSourceSchema.optional(),
  })
  .strict();

/** Where tokens, clients and keys are kept. */
export const AuthStoreSchema = z.discriminatedUnion('type', [
  z
    .object({
      /** A local JSON file (one gateway process; the default). */
      type: z.literal('file'),
      /** Path of the file; created with mode 0600. */
      path: z.string().min(1).default('.mcp-fleet/auth-store.json'),
    })
    .strict(),
  z
    .object({
      /** An Amazon DynamoDB table shared by every replica (partition key `pk`, TTL attribute `expiresAt`). */
      type: z.literal('dynamodb'),
      /** Table name. @example mcp-fleet-auth */
      table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, { message: 'table must be a DynamoDB table name (3-255 of letters, digits, _ . -)' }),
      /** AWS region. @default the SDK's (AWS_REGION) @example eu-west-1 */
      region: z.string().min(1).optional(),
      /** Endpoint override, for a local DynamoDB-compatible server. @default AWS @example http://127.0.0.1:8000 */
      endpoint: z.url().optional(),
    })
    .strict(),
]);

/**
 * The built-in OAuth 2.1 authorization server (`gateway.auth.authorizationServer`): MCP
 * clients register (Client ID Metadata Documents, dynamic registration, or the config),
 * sign in through an OpenID provider, and get short-lived access tokens for one server
 * (or the fleet) and rotating refresh tokens.
 */
export const AuthorizationServerSchema = z
  .object({
    /**
     * Public origin of the authorization server, such as `https://mcp.example.com` (no path):
     * the `iss` of its tokens. Requests for that host must reach the gateway.
     * @example https://mcp.example.com
     */
    issuer: SecureUrlSchema.refine(isOriginOnly, { message: 'issuer must be an origin such as https://mcp.example.com, without path, query or trailing slash' }),
    /** The OpenID provider where users sign in. */
    upstream: UpstreamOidcSchema,
    /**
     * A resource identifier for the whole fleet: a token asked for it works on every
     * server (still subject to per-server scopes and groups). @default none: tokens are for one server each
     * @example https://mcp.example.com
     */
    fleetResource: SecureUrlSchema.optional(),
    /**
     * Scopes clients may be granted; a scope with `groups` is granted only to members of one
     * of them. Scopes required by `oauth.requiredScopes` and `oauth.serverScopes` must be listed.
     * @default {}
     */
    scopes: z
      .record(
        ScopeSchema,
        z
          .object({
            /** Groups whose members may be granted the scope. @default anyone signed in @example ["engineering"] */
            groups: z.array(GroupNameSchema).min(1).optional(),
          })
          .strict(),
      )
      .default({}),
    /** Clients registered in the config. */
    clients: z.array(StaticClientSchema).default([]),
    /** RFC 7591 dynamic client registration (deprecated by MCP, still used by many clients). */
    registration: z
      .object({
        /** Serve `/oauth/register`. */
        enabled: z.boolean().default(true),
        /** Require `Authorization: Bearer <token>` on registration, the token given by SHA-256 digest, env or file. @default open registration */
        initialAccessToken: z
          .object({
            /** SHA-256 digest (hex) of the token. @example 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 */
            sha256: Sha256HexSchema.optional(),
            /** Environment variable holding the token. @example MCP_FLEET_REGISTRATION_TOKEN */
            env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
            /** File holding the token. @example /run/secrets/registration-token */
            file: z.string().min(1).optional(),
          })
          .strict()
          .refine((t) => [t.sha256, t.env, t.file].filter((v) => v !== undefined).length === 1, {
            message: 'initialAccessToken needs exactly one of sha256, env or file',
          })
          .optional(),
        /** Registrations accepted per minute by one gateway process, from all callers together (a flood gets 429). */
        perMinute: z.number().int().positive().default(30),
        /** A registered client unused for this long is forgotten. */
        clientTtlDays: z.number().positive().default(90),
      })
      .strict()
      .default({ enabled: true, perMinute: 30, clientTtlDays: 90 }),
    /** OAuth Client ID Metadata Documents: an https URL as client_id, whose document the server fetches. */
    clientIdMetadataDocuments: z
      .object({
        /** Accept URL client ids. */
        enabled: z.boolean().default(true),
        /** Hosts whose documents are accepted (`claude.ai`, `*.example.com`). @default any public host */
        allowedHosts: z.array(z.string().regex(/^(\*\.)?[a-z0-9.-]+$/i, { message: 'a host pattern is a host name, optionally starting with *.' })).default([]),
        /** Largest document accepted. */
        maxBytes: z.number().int().positive().max(65536).default(5120),
        /** Time allowed for fetching a document. */
        timeoutSeconds: z.number().positive().max(30).default(5),
        /** Longest time a fetched document is reused (shorter when its Cache-Control says so). */
        cacheSeconds: z.number().int().min(0).max(86400).default(600),
        /**
         * Fetch documents from private, loopback and link-local addresses too. Off by default:
         * a URL client id is chosen by whoever calls, and must not reach the gateway's network.
         */
        allowPrivateAddresses: z.boolean().default(false),
      })
      .strict()
      .default({ enabled: true, allowedHosts: [], maxBytes: 5120, timeoutSeconds: 5, cacheSeconds: 600, allowPrivateAddresses: false }),
    /**
     * Redirect URI hosts accepted for clients registered dynamically or by metadata document
     * (`claude.ai`, `*.example.com`); loopback and app schemes (`cursor://`) are always accepted. @default any https host
     */
    allowedRedirectHosts: z.array(z.string().regex(/^(\*\.)?[a-z0-9.-]+$/i, { message: 'a host pattern is a host name, optionally starting with *.' })).default([]),
    /** Lifetime of access tokens (short: they cannot be recalled before they expire, only their refresh). */
    accessTokenTtlSeconds: z.number().int().min(30).max(3600).default(600),
    /** A refresh token unused for this long expires. */
    refreshTokenTtlSeconds: z.number().int().min(60).default(14 * 86400),
    /** Longest life of one sign-in: after it the user signs in again. */
    sessionMaxSeconds: z.number().int().min(60).default(90 * 86400),
    /** Lifetime of an authorization code. */
    authorizationCodeTtlSeconds: z.number().int().min(10).max(600).default(60),
    /** Time a user has to finish signing in. */
    loginTimeoutSeconds: z.number().int().min(60).max(3600).default(600),
    /** A new signing key is made this often; old keys stay published until their tokens expired. */
    signingKeyRotationDays: z.number().positive().default(30),
    /** Secret (at least 32 characters) that encrypts the signing keys at rest and signs consent forms. */
    secret: SecretSourceSchema.default({ env: 'MCP_FLEET_AUTH_SECRET' }),
    /** Where clients, grants, codes and keys are kept. */
    store: AuthStoreSchema.default({ type: 'file', path: '.mcp-fleet/auth-store.json' }),
    /** Longest time a replica trusts that a sign-in was not revoked (each request checks the store at most this often per sign-in). */
    revocationCheckSeconds: z.number().min(0).max(300).default(5),
  })
  .strict();

/** Authentication settings of the gateway (`gateway.auth`). Leave the section out to run without auth. */
export const AuthSchema = z
  .object({
    /** Named API keys accepted as `Authorization: Bearer <key>`. */
    apiKeys: z.array(ApiKeySchema).default([]),
    /** OAuth 2.1 bearer tokens (JWT) from one authorization server. @default off */
    oauth: OAuthSchema.optional(),
    /** The built-in authorization server, in front of an OpenID provider. @default off */
    authorizationServer: AuthorizationServerSchema.optional(),
  })
  .strict()
  .superRefine((auth, ctx) => {
    if (auth.apiKeys.length === 0 && auth.oauth === undefined && auth.authorizationServer === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'gateway.auth needs at least one entry under apiKeys, an oauth section or an authorizationServer section; remove gateway.auth to run without auth',
      });
    }
    const server = auth.authorizationServer;
    if (auth.oauth !== undefined && auth.oauth.issuer === undefined && server === undefined) {
      ctx.addIssue({ code: 'custom', path: ['oauth', 'issuer'], message: 'oauth.issuer is required: the URL of the authorization server whose tokens are accepted (or configure authorizationServer)' });
    }
    if (server !== undefined && auth.oauth !== undefined) {
      if (auth.oauth.issuer !== undefined && auth.oauth.issuer !== server.issuer) {
        ctx.addIssue({
          code: 'custom',
          path: ['oauth', 'issuer'],
          input: auth.oauth.issuer,
          message: `with authorizationServer on, tokens come from ${server.issuer}: leave oauth.issuer out`,
        });
      }
      for (const field of ['jwksUri', 'authorizationServers', 'audiences'] as const) {
        const value = auth.oauth[field];
        if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
          ctx.addIssue({ code: 'custom', path: ['oauth', field], message: `oauth.${field} does not apply with authorizationServer on (its keys and audiences are its own); remove it` });
        }
      }
    }
    if (server !== undefined) {
      const grantable = new Set(Object.keys(server.scopes));
      const required = [
        ...(auth.oauth?.requiredScopes ?? []).map((s) => ({ scope: s, path: ['oauth', 'requiredScopes'] })),
        ...Object.entries(auth.oauth?.serverScopes ?? {}).flatMap(([name, list]) => list.map((s) => ({ scope: s, path: ['oauth', 'serverScopes', name] }))),
      ];
      for (const { scope, path } of required) {
        if (!grantable.has(scope)) {
          ctx.addIssue({
            code: 'custom',
            path,
            input: scope,
            message: `scope "${scope}" is required but authorizationServer.scopes does not list it, so no token could carry it; add "${scope}: {}" under authorizationServer.scopes`,
          });
        }
      }
      const ids = new Set<string>();
      for (const [i, client] of server.clients.entries()) {
        if (ids.has(client.clientId)) {
          ctx.addIssue({ code: 'custom', path: ['authorizationServer', 'clients', i, 'clientId'], message: `clientId "${client.clientId}" is listed twice` });
        }
        ids.add(client.clientId);
      }
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
        /** Sustained requests per second. @example 10 */
        requestsPerSecond: z.number().positive(),
        /** Requests allowed in a burst above the sustained rate. @default 2 × requestsPerSecond, at least 1 @example 20 */
        burst: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** Most open client sessions per principal, across servers. @default off @example 20 */
    maxSessionsPerKey: z.number().int().positive().optional(),
    /** Requests one child process works on at once; more wait in a queue. */
    maxInFlightPerChild: z.number().int().positive().default(16),
    /** Requests that may wait for a child; past it the client gets 503 with Retry-After. */
    maxQueuedPerChild: z.number().int().min(0).default(64),
    /** Longest wait in that queue before the client gets 503. */
    queueTimeoutSeconds: z.number().positive().default(30),
    /**
     * Bytes one SSE stream may hold unsent for a client that does not read, each
     * unsent event counted with 512 bytes of bookkeeping besides its own; past it
     * the stream is dropped (and the reason logged). Also the most a session keeps,
     * oldest dropped first, of what its server says while no stream is open. @default 8 MiB
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

/**
 * What `mcp-fleet deploy` creates for the built-in authorization server (`deploy.auth`):
 * always a DynamoDB table for its store and a generated secret; with `cognito`, an
 * Amazon Cognito user pool and app client as the OpenID provider (otherwise the
 * config's `upstream.issuer` is used, and its client secret comes from `deploy.secrets`).
 */
export const DeployAuthSchema = z
  .object({
    /** Create a Cognito user pool and app client as the provider. @default none: use `upstream.issuer` */
    cognito: z
      .object({
        /** Prefix of the Cognito hosted sign-in domain (`<prefix>.auth.<region>.amazoncognito.com`), globally unique. @example acme-mcp-login */
        domainPrefix: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, { message: 'domainPrefix is lower-case letters, digits and "-", such as acme-mcp-login' }),
        /** User pool groups to create (for `oauth.serverGroups` and scope groups). */
        groups: z.array(GroupNameSchema).default([]),
        /** Let people create their own accounts. Off: an administrator creates users. */
        selfSignUp: z.boolean().default(false),
        /** Multi-factor authentication of the user pool. */
        mfa: z.enum(['off', 'optional', 'required']).default('optional'),
      })
      .strict()
      .optional(),
    /** Keep the store table (sign-ins, clients, keys) when the stack is destroyed. */
    retainTable: z.boolean().default(false),
  })
  .strict();

/** Parsed `deploy.auth`. */
export type DeployAuthConfig = z.infer<typeof DeployAuthSchema>;

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
  for (const field of ['serverScopes', 'serverGroups'] as const) {
    for (const server of Object.keys(auth.oauth?.[field] ?? {})) {
      if (!known.has(server)) {
        issues.push({ path: ['oauth', field, server], input: server, message: `oauth.${field} names server "${server}", which is not defined (servers: ${list})` });
      }
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
/** Parsed settings of the built-in authorization server. */
export type AuthorizationServerConfig = z.infer<typeof AuthorizationServerSchema>;
/** Where a secret is read from. */
export type SecretSource = z.infer<typeof SecretSourceSchema>;
/** Parsed store settings. */
export type AuthStoreConfig = z.infer<typeof AuthStoreSchema>;
/** Parsed limits. */
export type LimitsConfig = z.infer<typeof LimitsSchema>;
/** Parsed metrics settings. */
export type MetricsConfig = z.infer<typeof MetricsSchema>;
