import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FromRequest } from '../../config/credentials-schema.js';
import { ErrorCode } from '../../protocol.js';
import type { Principal } from '../auth/index.js';
import { HttpError, type ErrorId } from '../http/errors.js';
import type { HeaderReader } from '../http/request.js';

/**
 * The values one caller gives a server's child (`servers.<name>.fromRequest`):
 * read from the request's headers and the principal's claims, once per request,
 * and turned into the child's extra variables and a key that tells two callers'
 * children apart. The values live in memory only: never in a log record (see
 * `log-scrub.ts`), a metric, an error body or a message to the child.
 */

/** A caller's values for one server. */
export interface CallerCredentials {
  /** The child's extra variables (only the declared ones). */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Which child may serve this caller: the principal and a keyed hash of the
   * values, so two callers, or one caller with two tokens, never share a child.
   * Holds no value in clear.
   */
  readonly key: string;
  /** The values, for scrubbing what the child writes to the log. */
  readonly secrets: readonly string[];
}

/** Per-process key of the hash in {@link CallerCredentials.key}: a low-entropy value (an e-mail) cannot be guessed from a key. */
const HASH_KEY = randomBytes(32);

/**
 * The caller's values for `server`, or a refusal naming what is missing (never a
 * value): 400 for a missing header, 403 for a claim the caller's credential lacks.
 */
export function resolveCallerCredentials(
  server: string,
  fromRequest: FromRequest,
  headers: HeaderReader,
  principal: Principal,
  id: ErrorId = null,
): CallerCredentials {
  const env: Record<string, string> = {};
  for (const [name, source] of Object.entries(fromRequest)) {
    if (source.header !== undefined) {
      const value = headers.get(source.header)?.trim();
      if (value === undefined || value === '') {
        throw new HttpError(400, ErrorCode.InvalidRequest, `Bad Request: server "${server}" needs the ${source.header} header (its value becomes ${name} of your own child)`, { id });
      }
      env[name] = value;
      continue;
    }
    const claimName = source.claim ?? '';
    const claim = principal.claims?.[claimName];
    if (typeof claim !== 'string' && typeof claim !== 'number' && typeof claim !== 'boolean') {
      throw new HttpError(
        403,
        ErrorCode.Unauthorized,
        principal.kind === 'oauth'
          ? `Forbidden: server "${server}" needs the "${claimName}" claim in your access token (for ${name}), and it has none`
          : `Forbidden: server "${server}" needs an OAuth access token with the "${claimName}" claim (for ${name}); an API key or no credential has no claims`,
        { id },
      );
    }
    env[name] = String(claim);
  }
  const hash = createHmac('sha256', HASH_KEY);
  for (const name of Object.keys(env).sort()) hash.update(`${name}\0${env[name]}\0`);
  return { env, key: `${principal.id}\0${hash.digest('base64url')}`, secrets: Object.values(env) };
}

/** True when two callers' credentials are the same (constant time in the key's length). */
export function sameCredentials(a: CallerCredentials, b: CallerCredentials): boolean {
  const left = Buffer.from(a.key);
  const right = Buffer.from(b.key);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Refuses a request of a session whose child runs with other values than the
 * request brings (a rotated token, another caller's header): the child cannot
 * change its environment, so the client starts a new session.
 */
export function checkSessionCredentials(
  server: string,
  sessionCredentials: CallerCredentials | undefined,
  requestCredentials: CallerCredentials | undefined,
  id: ErrorId = null,
): void {
  if (sessionCredentials === undefined) return;
  if (requestCredentials !== undefined && sameCredentials(sessionCredentials, requestCredentials)) return;
  throw new HttpError(
    403,
    ErrorCode.Unauthorized,
    `Forbidden: this session of server "${server}" runs with the credentials it was opened with, and this request brings others; start a new session to use them`,
    { id },
  );
}
