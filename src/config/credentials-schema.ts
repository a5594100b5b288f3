import { z } from 'zod';
import { DEFAULT_INHERITED_ENV_VARS } from '@modelcontextprotocol/client/stdio';
import { EXTRA_INHERITED_ENV } from '../upstream/process.js';
import { TASK_ENV } from '../upstream/task-env.js';

/**
 * Per-caller credentials of a server (`servers.<name>.fromRequest`): environment
 * variables of the child whose values come from the caller, from a request
 * header or a claim of the caller's OAuth token. Only sound when every caller has
 * a child of its own, so the checks here refuse the combination with the pool and
 * shared policies at load time.
 */

/** An environment variable name as POSIX shells accept it. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Headers the gateway itself reads or that a proxy rewrites: a credential cannot
 * come from them (the gateway's own credential would reach every child).
 */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'host',
  'content-type',
  'content-length',
  'accept',
  'origin',
  'connection',
  'transfer-encoding',
  'traceparent',
  'tracestate',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
]);

/**
 * Variables a caller must never set: the ones every child inherits from the
 * gateway (PATH, HOME...), the AWS task variables, and those that make a runtime
 * load code (a caller choosing NODE_OPTIONS would run code of its own choice).
 */
const FORBIDDEN_VARIABLES: ReadonlySet<string> = new Set([
  ...DEFAULT_INHERITED_ENV_VARS,
  ...EXTRA_INHERITED_ENV,
  ...TASK_ENV,
  'NODE_OPTIONS',
  'NODE_PATH',
  'PYTHONPATH',
  'PYTHONSTARTUP',
  'PYTHONHOME',
  'PERL5LIB',
  'PERL5OPT',
  'RUBYOPT',
  'RUBYLIB',
  'JAVA_TOOL_OPTIONS',
  'BASH_ENV',
  'ENV',
  'IFS',
]);

/** Prefixes of loader variables a caller must never set. */
const FORBIDDEN_PREFIXES = ['LD_', 'DYLD_', 'MCP_FLEET_'] as const;

/** Where one variable's value comes from: a header or a claim, exactly one. */
export const CredentialSourceSchema = z
  .object({
    /** The request header carrying the value, such as `X-GitHub-Token` (case-insensitive). */
    header: z
      .string()
      .regex(HEADER_NAME, { message: 'a header name is letters, digits and -, such as X-GitHub-Token' })
      .transform((h) => h.toLowerCase())
      .refine((h) => !RESERVED_HEADERS.has(h), {
        message: 'this header is read by the gateway itself; use a header of your own, such as X-GitHub-Token',
      })
      .optional(),
    /** A claim of the caller's OAuth access token, such as `email` or `sub`. */
    claim: z.string().min(1, { message: 'claim names a claim of the OAuth access token, such as email' }).optional(),
  })
  .strict()
  .superRefine((source, ctx) => {
    if ((source.header === undefined) === (source.claim === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give either header (a request header, such as X-GitHub-Token) or claim (a claim of the OAuth access token, such as email), one of them',
      });
    }
  });

/** `servers.<name>.fromRequest`: child variables whose values come from the caller. */
export const FromRequestSchema = z.record(z.string(), CredentialSourceSchema).refine((m) => Object.keys(m).length > 0, {
  message: 'fromRequest lists the child variables that come from the caller, such as GITHUB_TOKEN: { header: X-GitHub-Token }; remove it if there are none',
});

/** Where one variable's value comes from. */
export type CredentialSource = z.infer<typeof CredentialSourceSchema>;
/** A parsed `fromRequest` map. */
export type FromRequest = z.infer<typeof FromRequestSchema>;

/** One problem of a `fromRequest` declaration, relative to the server's config. */
export interface CredentialIssue {
  /** Path below `servers.<name>`. */
  readonly path: (string | number)[];
  /** What is wrong and what to do. */
  readonly message: string;
}

/**
 * The problems of a server's `fromRequest`: a policy other than `per-session`,
 * a variable that is not a plain name, one the gateway passes on itself, one a
 * runtime loads code from, and one set in `env` too.
 */
export function fromRequestIssues(server: {
  readonly policy?: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly fromRequest?: FromRequest | undefined;
}): CredentialIssue[] {
  const fromRequest = server.fromRequest;
  if (fromRequest === undefined) return [];
  const issues: CredentialIssue[] = [];
  if (server.policy !== 'per-session') {
    issues.push({
      path: ['policy'],
      message: `fromRequest needs policy: per-session (a child per caller); under ${server.policy ?? 'pool (the default)'} one child serves several callers with the environment it started with, so one caller's credential would act for another. Set policy: per-session`,
    });
  }
  for (const name of Object.keys(fromRequest)) {
    if (!ENV_NAME.test(name)) {
      issues.push({ path: ['fromRequest', name], message: `${JSON.stringify(name)} is not an environment variable name; use letters, digits and _, not starting with a digit` });
      continue;
    }
    if (FORBIDDEN_VARIABLES.has(name) || FORBIDDEN_PREFIXES.some((p) => name.startsWith(p))) {
      issues.push({
        path: ['fromRequest', name],
        message: `${name} cannot come from a caller: the gateway sets it for every child, or a runtime loads code from it. Name the variable the server reads its credential from, such as GITHUB_TOKEN`,
      });
      continue;
    }
    if (name in server.env) {
      issues.push({
        path: ['fromRequest', name],
        message: `${name} is set in env too; the caller's value would win, and a caller sending none would be refused anyway, so the env value is never used. Remove ${name} from env`,
      });
    }
  }
  return issues;
}
