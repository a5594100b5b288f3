import type { VirtualServerConfig } from '../../config/virtual-schema.js';

/**
 * The naming rule of a virtual server's tools and prompts, in one place:
 * - a member with `prefix` shows every name as `<prefix><name>`;
 * - any other member shows a name as is while no other member shows the same
 *   name, and as `<member>__<name>` when one does;
 * - two names still equal after that (only explicit prefixes can cause it) are
 *   both hidden and reported, never one silently shadowing the other.
 */

/** Where a shown name goes. */
export interface NameOwner {
  /** The member server. */
  readonly member: string;
  /** The name at the member. */
  readonly name: string;
}

/** Names that the rule could not tell apart, hidden from the list. */
export interface NameCollision {
  /** The shown name both would have had. */
  readonly name: string;
  /** The members (and their names) that clash. */
  readonly owners: readonly NameOwner[];
}

/** The shown names of one kind (tools or prompts) of a virtual server, both ways. */
export class NameTable {
  private readonly byShown = new Map<string, NameOwner>();
  private readonly byMember = new Map<string, Map<string, string>>();
  /** Names hidden because the rule could not tell them apart. */
  readonly collisions: NameCollision[] = [];

  /**
   * Builds the table from the names each member shows (after its selection).
   * `namesByMember` is in member order (the config's order).
   */
  constructor(virtual: VirtualServerConfig, namesByMember: ReadonlyMap<string, readonly string[]>) {
    const tentative = new Map<string, number>();
    const shownAs = (member: string, name: string, defaultPrefix: boolean): string => {
      const prefix = virtual.servers[member]?.prefix;
      if (prefix !== undefined) return `${prefix}${name}`;
      return defaultPrefix ? `${member}__${name}` : name;
    };
    for (const [member, names] of namesByMember) {
      for (const name of new Set(names)) {
        const shown = shownAs(member, name, false);
        tentative.set(shown, (tentative.get(shown) ?? 0) + 1);
      }
    }
    const finals = new Map<string, NameOwner[]>();
    for (const [member, names] of namesByMember) {
      for (const name of new Set(names)) {
        const explicit = virtual.servers[member]?.prefix !== undefined;
        const shown = shownAs(member, name, !explicit && (tentative.get(name) ?? 0) > 1);
        const owners = finals.get(shown) ?? [];
        owners.push({ member, name });
        finals.set(shown, owners);
      }
    }
    for (const [shown, owners] of finals) {
      if (owners.length > 1) {
        this.collisions.push({ name: shown, owners });
        continue;
      }
      const owner = owners[0] as NameOwner;
      this.byShown.set(shown, owner);
      let names = this.byMember.get(owner.member);
      if (names === undefined) this.byMember.set(owner.member, (names = new Map()));
      names.set(owner.name, shown);
    }
  }

  /** The member and member-side name of a shown name, if any. */
  resolve(shown: string): NameOwner | undefined {
    return this.byShown.get(shown);
  }

  /** The shown name of a member's name; undefined when hidden by a collision or unknown. */
  shownName(member: string, name: string): string | undefined {
    return this.byMember.get(member)?.get(name);
  }

  /** Number of shown names. */
  get size(): number {
    return this.byShown.size;
  }
}

/** A list cursor of a virtual server: which member, and that member's own cursor. */
export interface VirtualCursor {
  /** Index of the member in the config's order. */
  readonly member: number;
  /** The member's cursor; undefined for its first page. */
  readonly cursor: string | undefined;
}

/** Encodes a cursor as an opaque string (base64url JSON). */
export function encodeCursor(cursor: VirtualCursor): string {
  return Buffer.from(JSON.stringify(cursor.cursor === undefined ? [cursor.member] : [cursor.member, cursor.cursor]), 'utf8').toString('base64url');
}

/** Decodes a cursor of {@link encodeCursor}; undefined when it is not one. */
export function decodeCursor(value: string, members: number): VirtualCursor | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(parsed) || parsed.length < 1 || parsed.length > 2) return undefined;
    const [member, cursor] = parsed as [unknown, unknown];
    if (typeof member !== 'number' || !Number.isInteger(member) || member < 0 || member >= members) return undefined;
    if (cursor !== undefined && typeof cursor !== 'string') return undefined;
    return { member, cursor };
  } catch {
    return undefined;
  }
}
