/**
 * The two pages the authorization server shows a person: the consent page (which
 * client, which server, where the answer goes) and the error page for requests
 * that cannot be answered by redirecting back to the client. Plain HTML, no
 * script, every value escaped; never framed (clickjacking) and never cached.
 */

function contentSecurityPolicy(formTargets: string): string {
  return `default-src 'none'; style-src 'unsafe-inline'; form-action ${formTargets}; frame-ancestors 'none'; base-uri 'none'`;
}

/** Headers of every page: no framing, no scripts, no caching, no referrer leaking the query. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': contentSecurityPolicy("'self' http: https:"),
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/**
 * Headers of the consent page for a client whose redirect URI has `scheme`
 * (`https:`, `http:` or an app's own, such as `cursor:`). Browsers apply
 * `form-action` to every redirect that follows the form's submission, so the
 * answer (a code, or `access_denied`) could never reach an app's own scheme
 * unless that scheme is listed. The scheme was validated at registration
 * (letters, digits, `+.-`), so it is safe in a header.
 */
export function consentPageHeaders(scheme: string): Readonly<Record<string, string>> {
  if (scheme === 'http:' || scheme === 'https:') return PAGE_HEADERS;
  return { ...PAGE_HEADERS, 'content-security-policy': contentSecurityPolicy(`'self' http: https: ${scheme}`) };
}

/** HTML-escapes a value for text and attribute positions. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1f2328;line-height:1.5}
h1{font-size:1.4rem}.box{border:1px solid #d0d7de;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
.warn{background:#fff8c5;border-color:#d4a72c}code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px;word-break:break-all}
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem;border-radius:6px;border:1px solid #1f883d;cursor:pointer}
button[value=approve]{background:#1f883d;color:#fff}button[value=deny]{background:#fff;color:#1f2328;border-color:#d0d7de}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** What the consent page shows. */
export interface ConsentPage {
  /** Name of the client (from its registration; chosen by the client, so shown with its id). */
  readonly clientName: string;
  /** The client id (a URL for metadata-document clients). */
  readonly clientId: string;
  /** What the token will be for: a server's name, or the whole fleet. */
  readonly target: string;
  /** Host the answer goes to (the redirect URI's host, or its scheme for app redirects). */
  readonly redirectHost: string;
  /** True when the redirect goes to this computer (loopback): any local program could be it. */
  readonly loopback: boolean;
  /** Scopes asked for. */
  readonly scopes: readonly string[];
  /** The pending request id (a form field). */
  readonly requestId: string;
  /** Form action (the authorization endpoint). */
  readonly action: string;
}

/** The consent page: approve or deny one client's request. */
export function consentPage(c: ConsentPage): string {
  const scopes = c.scopes.length === 0 ? '' : `<p>Permissions: ${c.scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(' ')}</p>`;
  const loopback = c.loopback
    ? `<div class="box warn">The answer goes to a program on this computer (<code>${escapeHtml(c.redirectHost)}</code>). Approve only if you just started signing in from an MCP client here.</div>`
    : '';
  return page(
    'Allow access?',
    `<h1>Allow <strong>${escapeHtml(c.clientName)}</strong> to use ${escapeHtml(c.target)}?</h1>
<div class="box"><p>Client: <code>${escapeHtml(c.clientId)}</code></p><p>After you sign in, you are sent back to <code>${escapeHtml(c.redirectHost)}</code>.</p>${scopes}</div>${loopback}
<form method="post" action="${escapeHtml(c.action)}"><input type="hidden" name="request" value="${escapeHtml(c.requestId)}">
<button type="submit" name="decision" value="approve">Continue to sign in</button><button type="submit" name="decision" value="deny">Cancel</button></form>`,
  );
}

/** An error page for a request that must not be redirected (unknown client, redirect URI not registered, expired request). */
export function errorPage(title: string, detail: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><div class="box"><p>${escapeHtml(detail)}</p></div><p>Close this window and start the sign-in again from your MCP client.</p>`);
}
