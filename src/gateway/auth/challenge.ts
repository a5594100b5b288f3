import { ErrorCode } from '../../protocol.js';

/** Error codes of a Bearer challenge (RFC 6750 section 3.1). */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** Parameters of a `WWW-Authenticate: Bearer ...` challenge. */
export interface BearerChallenge {
  /** URL of the Protected Resource Metadata (RFC 9728 section 5.1). @default none */
  readonly resourceMetadata?: string;
  /** What went wrong; left out when the request simply had no credentials. @default none */
  readonly error?: BearerError;
  /** Human-readable detail; must not contain the token. @default none */
  readonly errorDescription?: string;
  /** Scopes needed for the request. @default none */
  readonly scope?: readonly string[];
  /** Protection space. @default none */
  readonly realm?: string;
}

/** Makes a value safe inside a quoted-string: printable ASCII only, `"` and `\` escaped. */
function quote(value: string): string {
  const printable = value.replace(/[^\x20-\x7E]/g, '?');
  return `"${printable.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Builds a `WWW-Authenticate` value such as
 * `Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`.
 */
export function buildWwwAuthenticate(challenge: BearerChallenge): string {
  const params: string[] = [];
  if (challenge.realm !== undefined) params.push(`realm=${quote(challenge.realm)}`);
  if (challenge.error !== undefined) params.push(`error=${quote(challenge.error)}`);
  if (challenge.errorDescription !== undefined) params.push(`error_description=${quote(challenge.errorDescription)}`);
  if (challenge.scope !== undefined && challenge.scope.length > 0) params.push(`scope=${quote(challenge.scope.join(' '))}`);
  if (challenge.resourceMetadata !== undefined) params.push(`resource_metadata=${quote(challenge.resourceMetadata)}`);
  return params.length === 0 ? 'Bearer' : `Bearer ${params.join(', ')}`;
}

/** JSON-RPC error code of an authentication or authorization failure at the HTTP edge. */
export const UNAUTHORIZED_RPC_CODE = ErrorCode.Unauthorized;

/**
 * An HTTP error answer with a JSON-RPC error body
 * `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":...}}`.
 */
export function authErrorResponse(
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): Response {
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: UNAUTHORIZED_RPC_CODE, message } });
  return new Response(body, {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  });
}
