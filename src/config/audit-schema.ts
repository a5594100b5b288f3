import { z } from 'zod';

/**
 * `gateway.audit`: the audit log, a JSON-lines record of who called which tool,
 * prompt or resource, kept apart from the operational log.
 */

/** A key (or glob of keys) whose values are replaced in audited arguments. */
const RedactKeySchema = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9_*?.$\[\]-]+$/, {
    message: 'a redact entry is a key or a glob of keys such as password, *_token or headers.authorization',
  });

/** Settings of the audit log. */
export const AuditSchema = z
  .object({
    /** Write audit records. @default false */
    enabled: z.boolean().default(false),
    /**
     * Where records go: `stdout` (one JSON line each, with `"audit": true`), or a
     * file path (appended to; created with mode 0600).
     * @default stdout
     */
    destination: z.string().min(1, { message: 'destination is stdout or a file path' }).default('stdout'),
    /** Record the arguments of each call (after redaction). @default false */
    includeArguments: z.boolean().default(false),
    /**
     * Argument keys whose values are replaced by `[redacted]`, besides the
     * secret-looking ones (token, secret, password, key, authorization, cookie...).
     * A plain key matches at any depth; a dotted path (`headers.authorization`)
     * from the top; `*` and `?` are globs within one key.
     */
    redact: z.array(RedactKeySchema).default([]),
    /**
     * Records held in memory while the destination is slow; past it, new records
     * are dropped and counted (the hot path never waits for the audit log).
     */
    maxBufferedRecords: z.number().int().min(16).max(1_000_000).default(10_000),
  })
  .strict();

/** Parsed audit settings. */
export type AuditConfig = z.infer<typeof AuditSchema>;
