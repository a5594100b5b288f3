import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Unforgeable ownership of session ids: with a fleet secret shared by every
 * replica, a session id carries the URL of the replica that owns it and a MAC over
 * both, so any replica can tell (without asking anyone) where the session lives,
 * and a forged or altered id is refused before anything is forwarded.
 *
 * Format (visible ASCII only): `f1.<owner, base64url>.<random, base64url>.<mac, base64url>`.
 */

const PREFIX = 'f1';

/** What a signed id says. */
export type OwnedId = { readonly kind: 'owned'; readonly owner: string } | { readonly kind: 'forged' } | { readonly kind: 'plain' };

/** Mints and checks owned session ids with the fleet secret. */
export class OwnershipSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    // A key of its own for session ids, derived from the fleet secret.
    this.key = createHmac('sha256', secret).update('mcp-fleet/session-id').digest();
  }

  /** A fresh session id owned by `owner` (a replica URL). */
  mint(owner: string): string {
    const body = `${PREFIX}.${Buffer.from(owner).toString('base64url')}.${randomBytes(18).toString('base64url')}`;
    return `${body}.${this.mac(body)}`;
  }

  /** Reads an id: who owns it, or `forged` when it claims an owner its MAC does not prove; `plain` for an id of another form. */
  read(id: string): OwnedId {
    if (!id.startsWith(`${PREFIX}.`)) return { kind: 'plain' };
    const parts = id.split('.');
    if (parts.length !== 4) return { kind: 'forged' };
    const body = parts.slice(0, 3).join('.');
    const given = Buffer.from(parts[3] as string, 'base64url');
    const expected = Buffer.from(this.mac(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'forged' };
    return { kind: 'owned', owner: Buffer.from(parts[1] as string, 'base64url').toString('utf8') };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url').slice(0, 22);
  }
}

/** The key that signs MRTR `requestState` on every replica, derived from the fleet secret. */
export function requestStateKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('mcp-fleet/request-state').digest();
}
