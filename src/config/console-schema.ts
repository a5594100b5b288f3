import { z } from 'zod';
import { ApiKeyNameSchema, ScopeSchema, Sha256HexSchema } from './auth-schema.js';

/**
 * The web console (`gateway.console`): a page and a JSON API under one path of
 * the gateway, for operators. Owned by `src/gateway/console/`.
 *
 * This file must not import `./schema.js` (that file imports this one).
 */

/** The console's default path. */
export const DEFAULT_CONSOLE_PATH = '/_console';

/** One admin key of the console. Exactly one of `sha256`, `env` and `file` says where it comes from. */
export const ConsoleAdminKeySchema = z
  .object({
    /** Name of the key, shown as the console's principal (`key:<name>`) and in logs; never the key. */
    name: ApiKeyNameSchema,
    /** SHA-256 hex digest of the key (as `mcp-fleet keys new` prints). */
    sha256: Sha256HexSchema.optional(),
    /** Environment variable holding the key (ECS `secrets` from Secrets Manager or SSM). */
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'env must be the name of an environment variable, such as MCP_FLEET_CONSOLE_KEY' })
      .optional(),
    /** File holding the key (a mounted secret); surrounding white space is ignored. */
    file: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((key, ctx) => {
    const sources = [key.sha256, key.env, key.file].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      ctx.addIssue({ code: 'custom', message: `console admin key "${key.name}" needs exactly one of sha256, env or file (it has ${sources})` });
    }
  });

/** Settings of the web console (`gateway.console`). Off unless `enabled`. */
export const ConsoleSchema = z
  .object({
    /** Serve the console. @default false */
    enabled: z.boolean().default(false),
    /** Path of the console (its API is under `<path>/api`). */
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, {
        message: 'path is an absolute URL path without a trailing slash, such as /_console',
      })
      .refine((p) => !/^\/(servers|mcp|sse|messages|health|ready|oauth|\.well-known)(\/|$)/.test(p), {
        message: 'path must not shadow a gateway path (/servers, /mcp, /sse, /messages, /health, /ready, /oauth, /.well-known); use /_console',
      })
      .default(DEFAULT_CONSOLE_PATH),
    /** Keys that sign in to the console as an admin (`Authorization: Bearer <key>`). @default none */
    adminKeys: z.array(ConsoleAdminKeySchema).default([]),
    /** OAuth scope that makes a principal an admin (its access token signs in to the console). @default none */
    adminScope: ScopeSchema.optional(),
  })
  .strict();

/** Parsed console settings. */
export type ConsoleConfig = z.infer<typeof ConsoleSchema>;

/** The console settings of a config that sets none. */
export const DEFAULT_CONSOLE: ConsoleConfig = ConsoleSchema.parse({});

/** True for an address that only this machine can reach. */
export function isLoopbackBind(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** A problem of the console settings: the field path below `gateway` and what to do. */
export interface ConsoleIssue {
  /** Path below `gateway`, e.g. `['console', 'adminKeys']`. */
  readonly path: (string | number)[];
  /** What is wrong and what to do. */
  readonly message: string;
}

/**
 * Checks that the console is never reachable without an admin credential except
 * from this machine on a gateway without auth. Used by the schema (for the
 * config's `gateway.host`) and again by the gateway (a `--host` flag may change it).
 */
export function consoleAccessIssues(gateway: {
  readonly host: string;
  readonly auth?: { readonly oauth?: unknown; readonly authorizationServer?: unknown } | undefined;
  readonly console?: ConsoleConfig | undefined;
}): ConsoleIssue[] {
  const console = gateway.console;
  if (console === undefined || !console.enabled) return [];
  const issues: ConsoleIssue[] = [];
  const hasAdmin = console.adminKeys.length > 0 || console.adminScope !== undefined;
  if (!hasAdmin && gateway.auth !== undefined) {
    issues.push({
      path: ['console', 'adminKeys'],
      message:
        'gateway.auth is on but the console has no admin credential: add gateway.console.adminKeys (a key from `mcp-fleet keys new`) or gateway.console.adminScope (an OAuth scope), or set gateway.console.enabled: false',
    });
  } else if (!hasAdmin && !isLoopbackBind(gateway.host)) {
    issues.push({
      path: ['console', 'adminKeys'],
      message: `the console would be open to anyone who reaches ${gateway.host}: add gateway.console.adminKeys (a key from \`mcp-fleet keys new\`) or gateway.console.adminScope, bind gateway.host to 127.0.0.1, or set gateway.console.enabled: false`,
    });
  }
  const names = new Set<string>();
  for (const [i, key] of console.adminKeys.entries()) {
    if (names.has(key.name)) issues.push({ path: ['console', 'adminKeys', i, 'name'], message: `console admin key name "${key.name}" is used twice; give each key its own name` });
    names.add(key.name);
  }
  if (console.adminScope !== undefined && gateway.auth?.oauth === undefined && gateway.auth?.authorizationServer === undefined) {
    issues.push({
      path: ['console', 'adminScope'],
      message: 'adminScope needs OAuth tokens to carry it: configure gateway.auth.oauth or gateway.auth.authorizationServer, or use gateway.console.adminKeys',
    });
  }
  return issues;
}
