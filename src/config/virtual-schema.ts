import { z } from 'zod';

/**
 * Virtual servers: one MCP endpoint that composes several configured servers
 * (`virtualServers.<name>.servers.<member>`), with a tool, prompt and resource
 * selection per member and a naming rule that never lets one member's name hide
 * another's. See docs/VIRTUAL-SERVERS.md.
 */

/** A glob over names (`search_*`, `get_?ssue`): `*` is any run of characters, `?` one character. */
const GlobSchema = z.string().min(1, { message: 'a glob must not be empty; use "*" for every name' });

/**
 * Which names of one kind (tools, prompts or resource URIs) a member shows: a list
 * of globs (the names to include), or `{ include, exclude }`. Exclusion wins.
 */
export const NameSelectionSchema = z.union([
  z.array(GlobSchema),
  z
    .object({
      /** Globs of the names shown. @default every name */
      include: z.array(GlobSchema).optional(),
      /** Globs of the names hidden, even when included. @default none */
      exclude: z.array(GlobSchema).default([]),
    })
    .strict(),
]);

/** A prefix put before every tool and prompt name of a member (`gh_`, `memory__`). */
const PrefixSchema = z.string().regex(/^[A-Za-z0-9_.-]{0,32}$/, {
  message: 'a prefix is up to 32 letters, digits, "_", "." or "-" (such as "gh_" or "memory__"); "" means no prefix even on a collision',
});

/** One member of a virtual server: a configured server and what of it is shown. */
export const VirtualMemberSchema = z
  .object({
    /** Tools shown (by name). @default all */
    tools: NameSelectionSchema.optional(),
    /** Prompts shown (by name). @default all */
    prompts: NameSelectionSchema.optional(),
    /** Resources and resource templates shown (by URI or URI template). @default all */
    resources: NameSelectionSchema.optional(),
    /**
     * Put before every tool and prompt name of this member. Without it a name is
     * shown as is while no other member shows the same name, and as
     * `<member>__<name>` when one does.
     * @default none, `<member>__` on a collision
     */
    prefix: PrefixSchema.optional(),
  })
  .strict();

/** One virtual server. */
export const VirtualServerSchema = z
  .object({
    /** The configured servers composed, by name, with what of each is shown. */
    servers: z.record(z.string(), VirtualMemberSchema).refine((m) => Object.keys(m).length > 0, {
      message: 'a virtual server lists at least one member under servers:, such as servers: { memory: {} }',
    }),
    /** Host names routed to this virtual server at `/mcp` (like a server's). */
    hostnames: z.array(z.string()).default([]),
  })
  .strict();

/** `virtualServers` of a fleet config, by name (the same rules as server names). */
export type VirtualServersConfig = Record<string, VirtualServerConfig>;
/** One parsed virtual server. */
export type VirtualServerConfig = z.infer<typeof VirtualServerSchema>;
/** One parsed member of a virtual server. */
export type VirtualMemberConfig = z.infer<typeof VirtualMemberSchema>;
/** A parsed name selection. */
export type NameSelection = z.infer<typeof NameSelectionSchema>;

/** One problem found by {@link virtualServerIssues}. */
export interface VirtualServerIssue {
  /** Path below the config root. */
  readonly path: readonly (string | number)[];
  /** The offending value. */
  readonly input: unknown;
  /** What is wrong and what to do. */
  readonly message: string;
}

/**
 * The checks that need the whole config: members that are not servers, names
 * and host names taken by a server or another virtual server, and explicit
 * prefixes that would make two members' names the same. (Collisions of the
 * names the members report at run time are resolved by the prefix rule.)
 */
export function virtualServerIssues(
  virtualServers: VirtualServersConfig,
  servers: Readonly<Record<string, { readonly hostnames: readonly string[]; readonly fromRequest?: Readonly<Record<string, unknown>> | undefined }>>,
): VirtualServerIssue[] {
  const issues: VirtualServerIssue[] = [];
  const serverNames = Object.keys(servers);
  const hostOwner = new Map<string, string>();
  for (const [name, server] of Object.entries(servers)) for (const host of server.hostnames) hostOwner.set(host, `server "${name}"`);
  for (const [name, virtual] of Object.entries(virtualServers)) {
    if (Object.hasOwn(servers, name)) {
      issues.push({ path: ['virtualServers', name], input: name, message: `virtual server "${name}" has the name of a server; give it another name (it becomes the path /servers/${name}/mcp)` });
    }
    for (const [i, host] of virtual.hostnames.entries()) {
      const other = hostOwner.get(host);
      if (other !== undefined) {
        issues.push({ path: ['virtualServers', name, 'hostnames', i], input: host, message: `host name ${host} is already used by ${other}; give each server and virtual server its own host name` });
      }
      hostOwner.set(host, `virtual server "${name}"`);
    }
    const prefixOwner = new Map<string, string>();
    for (const [member, settings] of Object.entries(virtual.servers)) {
      if (!Object.hasOwn(servers, member)) {
        issues.push({
          path: ['virtualServers', name, 'servers', member],
          input: member,
          message: `virtual server "${name}" names member "${member}", which is not a server (servers: ${serverNames.join(', ')})`,
        });
      }
      if (servers[member]?.fromRequest !== undefined) {
        // The virtual server reaches its members with its own requests: the caller's headers stop at the virtual server.
        issues.push({
          path: ['virtualServers', name, 'servers', member],
          input: member,
          message: `virtual server "${name}" cannot include "${member}": it takes per-caller values (fromRequest), which do not pass through a virtual server; call /servers/${member}/mcp directly`,
        });
      }
      const prefix = settings.prefix;
      if (prefix === undefined || prefix === '') continue;
      const other = prefixOwner.get(prefix);
      if (other !== undefined) {
        issues.push({
          path: ['virtualServers', name, 'servers', member, 'prefix'],
          input: prefix,
          message: `members "${other}" and "${member}" of virtual server "${name}" have the same prefix "${prefix}", so a tool of each could get the same name; give each its own prefix`,
        });
      }
      prefixOwner.set(prefix, member);
      for (const otherMember of Object.keys(virtual.servers)) {
        // `<other>__` is the rule's own prefix: an explicit one equal to it would make the rule ambiguous.
        if (otherMember !== member && prefix === `${otherMember}__`) {
          issues.push({
            path: ['virtualServers', name, 'servers', member, 'prefix'],
            input: prefix,
            message: `member "${member}" of virtual server "${name}" has the prefix "${prefix}", which the prefix rule gives member "${otherMember}" on a collision; choose another prefix`,
          });
        }
      }
    }
  }
  return issues;
}

/** True when `name` matches the glob (`*` any run, `?` one character; everything else literal). */
export function globMatches(glob: string, name: string): boolean {
  let pattern = '^';
  for (const ch of glob) {
    if (ch === '*') pattern += '.*';
    else if (ch === '?') pattern += '.';
    else pattern += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${pattern}$`, 's').test(name);
}

/** True when a member's selection shows `name` (no selection shows everything). */
export function selectionShows(selection: NameSelection | undefined, name: string): boolean {
  if (selection === undefined) return true;
  const include = Array.isArray(selection) ? selection : selection.include;
  const exclude = Array.isArray(selection) ? [] : selection.exclude;
  if (include !== undefined && !include.some((g) => globMatches(g, name))) return false;
  return !exclude.some((g) => globMatches(g, name));
}
