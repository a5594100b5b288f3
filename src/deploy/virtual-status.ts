import type { FleetConfig } from '../config/schema.js';
import { selectionShows, type NameSelection } from '../config/virtual-schema.js';

/**
 * The `virtual servers` table of `mcp-fleet status`: each virtual server's
 * members and what its selection hides of each member's live tools (from the
 * members' own tools/list), so a tool missing from the virtual endpoint can be
 * told apart from a tool the member does not have.
 */

/** One row: the virtual server, a member, and the member's tools shown and hidden. */
export interface VirtualStatusRow {
  readonly virtual: string;
  readonly member: string;
  /** What the member's `tools` selection says, in words. */
  readonly selection: string;
  /** Tools shown of the member's live list; undefined when the list is not known. */
  readonly shown: number | undefined;
  /** Tools hidden by the selection, by name; undefined when the list is not known. */
  readonly hidden: readonly string[] | undefined;
}

/** The rows, given the live tool names of each server (those whose list could be read). */
export function virtualStatusRows(config: FleetConfig, toolsOf: ReadonlyMap<string, readonly string[]>): VirtualStatusRow[] {
  const rows: VirtualStatusRow[] = [];
  for (const [virtual, v] of Object.entries(config.virtualServers)) {
    for (const [member, settings] of Object.entries(v.servers)) {
      const tools = toolsOf.get(member);
      const hidden = tools?.filter((t) => !selectionShows(settings.tools, t));
      rows.push({
        virtual,
        member,
        selection: describeSelection(settings.tools) + (settings.prefix === undefined ? '' : `, prefix "${settings.prefix}"`),
        shown: tools === undefined || hidden === undefined ? undefined : tools.length - hidden.length,
        hidden,
      });
    }
  }
  return rows;
}

function describeSelection(selection: NameSelection | undefined): string {
  if (selection === undefined) return 'all tools';
  if (Array.isArray(selection)) return `only ${selection.join(', ')}`;
  const parts = [selection.include === undefined ? 'all tools' : `only ${selection.include.join(', ')}`];
  if (selection.exclude.length > 0) parts.push(`except ${selection.exclude.join(', ')}`);
  return parts.join(' ');
}
