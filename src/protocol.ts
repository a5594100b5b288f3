/**
 * The MCP protocol revisions mcp-fleet speaks and the identity it gives when it
 * talks to a server itself. One place, so the probe, the pools, the bridges and the
 * HTTP validation agree.
 */

/** Revisions of the legacy era (initialize handshake, sessions). */
export const LEGACY_PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;

/** The newest legacy revision: what the gateway asks for when it initializes a child itself. */
export const NEWEST_LEGACY_VERSION = '2025-11-25';

/** Revisions of the modern era (per-request `_meta`, no sessions). */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'] as const;

/** The modern revision the gateway speaks to children and clients. */
export const MODERN_VERSION = '2026-07-28';

/** How mcp-fleet introduces itself to a server (probes, pool children). */
export const GATEWAY_INFO = { name: 'mcp-fleet', version: '0.1.0' } as const;

/** True for a revision of the legacy era. */
export function isLegacyVersion(version: string): boolean {
  return (LEGACY_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/** True for a modern revision the gateway serves. */
export function isModernVersion(version: string): boolean {
  return (MODERN_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}
