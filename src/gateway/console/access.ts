import { readFileSync } from 'node:fs';
import type { ConsoleConfig } from '../../config/console-schema.js';
import { loadApiKeys, matchApiKey, type LoadedApiKey } from '../auth/api-keys.js';
import { bearerToken, type AuthOutcome, type AuthTarget, type Principal } from '../auth/index.js';
import type { InboundRequest } from '../http/request.js';

/**
 * Who may use the console: an admin key of `gateway.console.adminKeys`, an OAuth
 * principal whose token carries `gateway.console.adminScope`, or, on a loopback
 * bind of a gateway without auth, anybody on this machine. And the checks that
 * keep another web site from acting through an admin's browser.
 */

/** The header every state-changing console call must carry (a cross-site form cannot set it). */
export const CONSOLE_CSRF_HEADER = 'x-mcp-fleet-console';

/** How the console is protected. */
export type ConsoleMode = 'admin' | 'open-local';

/** The verdict on one console API request. */
export type ConsoleAdmission = { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly status: number; readonly message: string };

/** Options of {@link ConsoleAccess}. */
export interface ConsoleAccessOptions {
  /** Environment read by admin keys given as `env`. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Checks an OAuth token the way the gateway does (for `adminScope`). */
  readonly authenticate: (request: InboundRequest, target: AuthTarget) => Promise<AuthOutcome>;
  /** Whether the gateway has `gateway.auth`. */
  readonly gatewayAuth: boolean;
}

const OPEN_PRINCIPAL: Principal = Object.freeze({ id: 'anonymous', kind: 'anonymous', scopes: Object.freeze([]) as readonly string[] });

/** Admin authentication and request-origin checks of the console. */
export class ConsoleAccess {
  /** How the console is protected. */
  readonly mode: ConsoleMode;
  private readonly keys: LoadedApiKey[];

  constructor(
    private readonly config: ConsoleConfig,
    private readonly options: ConsoleAccessOptions,
  ) {
    // The same loader as the gateway's API keys: a missing env or file stops the start with the key's name.
    this.keys = loadApiKeys(config.adminKeys, { env: options.env ?? process.env, readFile: (p) => readFileSync(p, 'utf8') });
    this.mode = config.adminKeys.length === 0 && config.adminScope === undefined && !options.gatewayAuth ? 'open-local' : 'admin';
  }

  /** Authenticates an API request: the admin principal, or the status and message to refuse with (never quoting the credential). */
  async admit(request: InboundRequest): Promise<ConsoleAdmission> {
    if (this.mode === 'open-local') return { ok: true, principal: OPEN_PRINCIPAL };
    const token = bearerToken(request.headers.get('authorization'));
    const how = this.config.adminScope === undefined ? 'an admin key' : `an admin key or an OAuth access token with scope ${this.config.adminScope}`;
    if (token === undefined) return { ok: false, status: 401, message: `Admin credential required: send Authorization: Bearer <key>, with ${how}` };
    if (token === null) return { ok: false, status: 401, message: 'The Authorization header is not a valid Bearer credential' };
    const key = this.keys.length > 0 ? matchApiKey(this.keys, token) : undefined;
    if (key !== undefined) return { ok: true, principal: { id: `key:${key.name}`, kind: 'api-key', scopes: [] } };
    const scope = this.config.adminScope;
    if (scope !== undefined) {
      const outcome = await this.options.authenticate(request, { server: '_console', resourceUrl: consoleUrl(request, this.config.path) });
      if (outcome.ok && outcome.principal.kind === 'oauth') {
        if (outcome.principal.scopes.includes(scope)) return { ok: true, principal: outcome.principal };
        return { ok: false, status: 403, message: `Forbidden: the token lacks the admin scope ${scope}` };
      }
    }
    return { ok: false, status: 401, message: `Invalid admin credential: send ${how}` };
  }

  /**
   * Checks a state-changing request (POST, DELETE): it must carry the console's
   * header (so a cross-site form or simple request cannot be it) and, when the
   * browser names an origin, come from the console's own origin.
   */
  checkSameOrigin(request: InboundRequest): string | undefined {
    if (request.headers.get(CONSOLE_CSRF_HEADER) !== '1') return `Forbidden: console actions need the header ${CONSOLE_CSRF_HEADER}: 1`;
    return this.checkNotCrossSite(request);
  }

  /**
   * Checks any API request: a browser that says it comes from another site (by
   * `Sec-Fetch-Site` or an `Origin` other than the console's) is refused, reads
   * included, so a page elsewhere cannot read an open-local console through the
   * visitor's browser. Clients that send neither header (curl, tests) pass.
   */
  checkNotCrossSite(request: InboundRequest): string | undefined {
    const site = request.headers.get('sec-fetch-site');
    if (site !== null && site !== 'same-origin' && site !== 'none') return 'Forbidden: console requests must come from the console page itself';
    const origin = request.headers.get('origin');
    if (origin === null) return undefined;
    let originHost: string;
    try {
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      return 'Forbidden: the Origin header is not a URL';
    }
    const host = (request.headers.get('host') ?? '').toLowerCase();
    // Host and port both: another web app on the same machine is another origin.
    if (originHost !== host) return 'Forbidden: console requests must come from the console page itself (Origin differs from Host)';
    return undefined;
  }
}

/** The canonical URL of the console as a client reached it (the audience an admin's OAuth token is checked against). */
export function consoleUrl(request: InboundRequest, path: string): string {
  const host = request.headers.get('host') ?? 'localhost';
  const forwarded = request.headers.get('x-forwarded-proto')?.trim().toLowerCase();
  const scheme = forwarded === 'https' || forwarded === 'http' ? forwarded : request.url.startsWith('https:') ? 'https' : 'http';
  return `${scheme}://${host}${path}`;
}
