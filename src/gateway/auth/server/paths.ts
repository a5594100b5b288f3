/**
 * The paths of the built-in authorization server, kept apart from its code so the
 * router can name them without loading it.
 */

/** Paths of the authorization server, below its issuer. */
export const AUTHORIZATION_SERVER_PATHS = {
  metadata: '/.well-known/oauth-authorization-server',
  authorize: '/oauth/authorize',
  callback: '/oauth/callback',
  token: '/oauth/token',
  register: '/oauth/register',
  revoke: '/oauth/revoke',
  jwks: '/oauth/jwks',
} as const;

/**
 * The endpoints an MCP client of the 2025-03-26 revision assumes at the server's
 * origin when it finds no metadata; answered (with a pointer to the real ones, or
 * with "this gateway uses API keys") instead of a bare 404.
 */
const DEFAULT_ENDPOINT_PATHS = new Set(['/authorize', '/token', '/register', '/.well-known/openid-configuration']);

/** True for a path the authorization server answers: its own, RFC 8414 metadata, and the 2025-03-26 default endpoints. */
export function isAuthorizationServerPath(pathname: string): boolean {
  return (
    pathname.startsWith('/oauth/') ||
    pathname === AUTHORIZATION_SERVER_PATHS.metadata ||
    pathname.startsWith(`${AUTHORIZATION_SERVER_PATHS.metadata}/`) ||
    pathname.startsWith('/.well-known/openid-configuration') ||
    DEFAULT_ENDPOINT_PATHS.has(pathname)
  );
}
