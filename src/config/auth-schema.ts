import { z } from 'zod';

/**
 * Authentication settings of the gateway (`gateway.auth`). Owned by the auth
 * module (`src/gateway/auth/`).
 */
export const AuthSchema = z
  .object({
    /** Named API keys accepted as `Authorization: Bearer <key>`. */
    apiKeys: z
      .array(
        z
          .object({
            /** Name of the key, shown in logs and metrics (never the key). */
            name: z.string().min(1),
            /** SHA-256 hex digest of the key (as `mcp-fleet keys new` prints). */
            sha256: z.string().optional(),
            /** Environment variable holding the key itself (ECS secrets injection). */
            env: z.string().optional(),
            /** File holding the key itself. */
            file: z.string().optional(),
            /** Servers this key may reach. @default all */
            servers: z.array(z.string()).optional(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

/** Parsed auth settings. */
export type AuthConfig = z.infer<typeof AuthSchema>;
