import { getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/server';
/** Path prefix of Protected Resource Metadata documents (RFC 9728 section 3). */
export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/**
 * The canonical form of a resource URL (MCP authorization, "Canonical Server
 * URI"): lower-case scheme and host, no default port, no fragment, no query, no
 * trailing slash unless the path is `/` alone. Returns undefined for a value
 * that is not an absolute http(s) URL.
 */
export function canonicalResourceUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  // URL already lower-cases scheme and host and drops default ports.
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * Where the metadata of a resource lives: the well-known path inserted between
 * host and path, so `https://h/servers/x/mcp` gives
 * `https://h/.well-known/oauth-protected-resource/servers/x/mcp`.
 */
export function protectedResourceMetadataUrl(resourceUrl: string): string {
  return getOAuthProtectedResourceMetadataUrl(new URL(resourceUrl));
}

/**
 * The resource path a metadata request asks about (`/servers/x/mcp`, or `''` for
 * the root document), or undefined when `pathname` is not a metadata path.
 */
export function resourcePathOfMetadataRequest(pathname: string): string | undefined {
  if (pathname === PROTECTED_RESOURCE_METADATA_PATH || pathname === `${PROTECTED_RESOURCE_METADATA_PATH}/`) return '';
  if (pathname.startsWith(`${PROTECTED_RESOURCE_METADATA_PATH}/`)) return pathname.slice(PROTECTED_RESOURCE_METADATA_PATH.length);
  return undefined;
}

/** Contents of a Protected Resource Metadata document. */
export interface ProtectedResourceMetadataInput {
  /** The resource identifier: the canonical URL of the MCP endpoint. */
  readonly resource: string;
  /** Issuer identifiers of the authorization servers (at least one, as MCP requires). */
  readonly authorizationServers: readonly string[];
  /** Scopes a client should ask for. @default none listed */
  readonly scopesSupported?: readonly string[];
  /** Human-readable name. @default none */
  readonly resourceName?: string;
  /** Developer documentation URL. @default none */
  readonly resourceDocumentation?: string;
}

/** The RFC 9728 document as JSON-ready data; only the bearer header method is supported. */
export function buildProtectedResourceMetadata(input: ProtectedResourceMetadataInput): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    resource: input.resource,
    authorization_servers: [...input.authorizationServers],
    bearer_methods_supported: ['header'],
  };
  if (input.scopesSupported !== undefined && input.scopesSupported.length > 0) doc['scopes_supported'] = [...input.scopesSupported];
  if (input.resourceName !== undefined) doc['resource_name'] = input.resourceName;
  if (input.resourceDocumentation !== undefined) doc['resource_documentation'] = input.resourceDocumentation;
  return doc;
}

/**
 * The HTTP answer carrying a metadata document. It is public by design, so any
 * origin may read it (browser-based MCP clients fetch it cross-origin).
 */
export function protectedResourceMetadataResponse(input: ProtectedResourceMetadataInput, method = 'GET'): Response {
  const headers = {
    'content-type': 'application/json',
    'cache-control': 'public, max-age=300',
    'access-control-allow-origin': '*',
  };
  if (method === 'OPTIONS') {
    // Clients that send MCP headers make the browser preflight even this public GET.
    return new Response(null, {
      status: 204,
      headers: {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET, HEAD, OPTIONS',
        'access-control-allow-headers': '*',
        'access-control-max-age': '86400',
      },
    });
  }
  if (method !== 'GET' && method !== 'HEAD') {
    return new Response(null, { status: 405, headers: { allow: 'GET, HEAD, OPTIONS', 'access-control-allow-origin': '*' } });
  }
  const body = JSON.stringify(buildProtectedResourceMetadata(input));
  return new Response(method === 'HEAD' ? null : body, { status: 200, headers });
}
