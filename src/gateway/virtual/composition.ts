import { randomUUID } from 'node:crypto';
import { inputRequired, ProtocolError } from '@modelcontextprotocol/server';
import type { ClientCapabilities, JSONRPCRequest, Notification } from '@modelcontextprotocol/sdk/types.js';
import { selectionShows, type NameSelection, type VirtualServerConfig } from '../../config/virtual-schema.js';
import type { Logger } from '../../log.js';
import { ErrorCode } from '../../protocol.js';
import { MemberLink, memberRpcError, MemberUnavailableError, type MemberFetch, type MemberLinkEvents } from './member-link.js';
import { decodeCursor, encodeCursor, NameTable, type NameOwner } from './naming.js';

/**
 * The members of a virtual server as one caller sees them: a {@link MemberLink}
 * per member, the merged lists with cursors that carry (member, member cursor),
 * and the routing of a call to the member that owns its name. One per 2025-era
 * virtual session, one per principal for 2026-07-28 requests.
 */

/** The `_meta` key under which a list says which members are missing and which names clash. */
export const VIRTUAL_META_KEY = 'io.github.mcp-fleet/virtual';

/** The lists a virtual server merges. */
export type ListKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';

interface KindSpec {
  readonly method: string;
  readonly field: string;
  readonly key: string;
  readonly capability: 'tools' | 'prompts' | 'resources';
  readonly renamed: boolean;
  readonly selection: (member: VirtualServerConfig['servers'][string]) => NameSelection | undefined;
}

const KINDS: Readonly<Record<ListKind, KindSpec>> = {
  tools: { method: 'tools/list', field: 'tools', key: 'name', capability: 'tools', renamed: true, selection: (m) => m.tools },
  prompts: { method: 'prompts/list', field: 'prompts', key: 'name', capability: 'prompts', renamed: true, selection: (m) => m.prompts },
  resources: { method: 'resources/list', field: 'resources', key: 'uri', capability: 'resources', renamed: false, selection: (m) => m.resources },
  resourceTemplates: {
    method: 'resources/templates/list',
    field: 'resourceTemplates',
    key: 'uriTemplate',
    capability: 'resources',
    renamed: false,
    selection: (m) => m.resources,
  },
};

/** At most this many pages are read of one member's list (a member paging forever is cut off, and logged). */
const MAX_PAGES_PER_MEMBER = 200;

/** A member that could not be asked, for a list's `_meta` and for errors. */
export interface MissingMember {
  /** The member server. */
  readonly server: string;
  /** Why (the member's own short cause). */
  readonly reason: string;
}

/** Where the virtual server's own client gets what members send on their own. */
export interface RelayTarget {
  /** Sends a member's request (sampling, elicitation, roots) to the client and returns its result. */
  request?(request: { method: string; params?: Record<string, unknown> }, signal: AbortSignal): Promise<Record<string, unknown>>;
  /** Sends a notification (a log line, a resource update) to the client. */
  notify?(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
  /** One of the merged lists changed. */
  listChanged(kind: 'tools' | 'prompts' | 'resources'): void;
}

/** What a handler of the virtual server passes on to a member's call. */
export interface CallContext {
  /** Aborts when the client cancels (or goes away): the member gets `notifications/cancelled`. */
  readonly signal: AbortSignal;
  /** Receives the member's progress, when the client asked for progress. */
  readonly onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
}

/** A member's request to the client, waiting for a 2026-07-28 client to answer it in a retry. */
interface PendingInput {
  readonly key: string;
  readonly request: { method: string; params?: Record<string, unknown> };
  readonly respond: (result: Record<string, unknown>) => void;
  readonly fail: (error: Error) => void;
}

/** A 2026-07-28 call whose member asked the client something: parked until the retry brings the answer. */
interface ParkedCall {
  readonly id: string;
  readonly result: Promise<Record<string, unknown>>;
  readonly abort: AbortController;
  /** Resolves with the member's next request to the client. */
  next: Promise<PendingInput>;
  offer: (input: PendingInput) => void;
  waiting: PendingInput | undefined;
  expiry: NodeJS.Timeout | undefined;
}

/** How long a parked 2026-07-28 call waits for the client's retry before the member's request fails. */
const PARKED_CALL_MS = 5 * 60_000;

interface MemberPage {
  readonly items: readonly Record<string, unknown>[];
  readonly next: string | undefined;
}

/** One full reading of a list over every member. */
interface Snapshot {
  readonly pages: Map<string, Map<string, MemberPage>>;
  readonly missing: MissingMember[];
  readonly names: NameTable | undefined;
  /** Shown-name candidates of items a member's selection hides, to say "filtered out" rather than "unknown". */
  readonly hidden: Map<string, string>;
}

/** Options of {@link Composition}. */
export interface CompositionOptions {
  /** The virtual server's name. */
  readonly name: string;
  /** Its config. */
  readonly config: VirtualServerConfig;
  /** In-process fetch to a member's endpoint, as this composition's caller. */
  readonly fetchMember: (member: string) => MemberFetch;
  /** Capabilities the members are told the client has. */
  readonly clientCapabilities: ClientCapabilities;
  /** Request timeout of a member (its `requestTimeoutSeconds`, plus a little so the member's own timeout answers first). */
  readonly timeoutMsOf: (member: string) => number;
  /** Logger. */
  readonly logger: Logger;
}

/** The members of one virtual server for one caller. */
export class Composition implements MemberLinkEvents {
  /** Links in the config's member order (cursors carry the index). */
  readonly links: readonly MemberLink[];
  /** Where members' requests and notifications go; unset when nothing can receive them (2026-07-28). */
  relay: RelayTarget | undefined;
  /** When this composition last served a request (for reaping). */
  lastUsed = Date.now();
  private readonly snapshots = new Map<ListKind, Promise<Snapshot>>();
  /** Every owner a tool or prompt name had, kept when its member goes down, so a call names that member. */
  private readonly knownOwners = new Map<string, NameOwner>();
  private readonly missing = new Map<string, string>();
  private readonly resourceOwners = new Map<string, string>();
  /** Resource URIs a member listed but its selection hides: a read of one is refused, not tried elsewhere. */
  private readonly hiddenResources = new Map<string, string>();
  /** 2026-07-28 calls running at a member, that a member's request to the client may belong to. */
  private readonly modernInFlight = new Set<ParkedCall>();
  /** 2026-07-28 calls waiting for the client's retry, by their requestState. */
  private readonly parked = new Map<string, ParkedCall>();

  constructor(private readonly options: CompositionOptions) {
    this.links = Object.keys(options.config.servers).map(
      (member) => new MemberLink(member, options.fetchMember(member), options.clientCapabilities, this, options.timeoutMsOf(member)),
    );
  }

  /** Connects every member (in parallel), tolerating the ones that cannot be reached. */
  async connectAll(): Promise<void> {
    await Promise.all(this.links.map((link) => this.tryConnect(link)));
  }

  /** The members not reachable at their last attempt. */
  missingMembers(): MissingMember[] {
    return [...this.missing].map(([server, reason]) => ({ server, reason }));
  }

  /** The union of what the connected members serve, as the virtual server's capabilities. */
  capabilities(): Record<string, Record<string, unknown>> {
    const caps: Record<string, Record<string, unknown>> = {};
    for (const link of this.links) {
      const member = link.serverCapabilities;
      if (member === undefined) continue;
      // listChanged is always offered: a member coming back, or one that changes its list, changes the merged list.
      if (member.tools) caps['tools'] = { listChanged: true };
      if (member.prompts) caps['prompts'] = { listChanged: true };
      if (member.resources) caps['resources'] = { listChanged: true };
      if (member.logging) caps['logging'] = {};
    }
    return caps;
  }

  /** The members' instructions, each under its member's name; undefined when none has any. */
  instructions(): string | undefined {
    const parts = this.links.flatMap((link) => {
      const text = link.instructions?.trim();
      return text ? [`## ${link.member}\n\n${text}`] : [];
    });
    return parts.length === 0 ? undefined : `This server combines ${this.links.map((l) => l.member).join(', ')}.\n\n${parts.join('\n\n')}`;
  }

  /**
   * One page of a merged list. Pages follow the members' own pages: a page ends
   * where a member's page has a next cursor, and the cursor returned carries
   * (member, that cursor). A missing member is skipped and named in `_meta`.
   */
  async list(kind: ListKind, cursor: string | undefined): Promise<Record<string, unknown>> {
    this.lastUsed = Date.now();
    const spec = KINDS[kind];
    let position = { member: 0, cursor: undefined as string | undefined };
    if (cursor !== undefined) {
      const decoded = decodeCursor(cursor, this.links.length);
      if (decoded === undefined) throw new ProtocolError(ErrorCode.InvalidParams, `Invalid params: unknown cursor for ${spec.method} of virtual server "${this.options.name}"`);
      position = decoded;
    }
    // A first page reads every list afresh (and so learns names and collisions); later pages use that reading.
    const snapshot = cursor === undefined ? await this.refresh(kind) : await this.snapshot(kind);
    const items: Record<string, unknown>[] = [];
    for (let index = position.member; index < this.links.length; index++) {
      const link = this.links[index] as MemberLink;
      const pageKey = index === position.member ? (position.cursor ?? '') : '';
      let page = snapshot.pages.get(link.member)?.get(pageKey);
      if (page === undefined) {
        if (!snapshot.pages.has(link.member)) continue;
        page = await this.readPage(link, spec, pageKey === '' ? undefined : pageKey).catch(() => ({ items: [], next: undefined }));
      }
      items.push(...this.shown(kind, link.member, page.items, snapshot.names));
      if (page.next !== undefined) return this.withMeta({ [spec.field]: items, nextCursor: encodeCursor({ member: index, cursor: page.next }) }, snapshot);
    }
    return this.withMeta({ [spec.field]: items }, snapshot);
  }

  /**
   * Calls a tool (`tools/call`) or gets a prompt (`prompts/get`) at the member
   * that owns the shown name, with the member's name; the result comes back as
   * the member wrote it.
   */
  async call(kind: 'tools' | 'prompts', params: Record<string, unknown>, context: CallContext): Promise<Record<string, unknown>> {
    this.lastUsed = Date.now();
    const method = kind === 'tools' ? 'tools/call' : 'prompts/get';
    const what = kind === 'tools' ? 'tool' : 'prompt';
    const shown = params['name'];
    if (typeof shown !== 'string') throw new ProtocolError(ErrorCode.InvalidParams, `Invalid params: ${method} needs a name`);
    let snapshot = await this.snapshot(kind);
    let owner = snapshot.names?.resolve(shown);
    if (owner === undefined && !snapshot.hidden.has(shown)) {
      // A name learned since the last reading (or a member back up): read again once.
      snapshot = await this.refresh(kind);
      owner = snapshot.names?.resolve(shown);
    }
    if (owner === undefined) throw this.unknownName(what, shown, snapshot);
    const link = this.links.find((l) => l.member === owner.member) as MemberLink;
    return this.forward(link, method, { ...params, name: owner.name }, context);
  }

  /**
   * {@link call} for a 2026-07-28 request: a member's request to the client
   * (sampling, elicitation, roots) becomes an `input_required` answer whose
   * `requestState` names the parked member call; the client's retry brings the
   * answer to the member and waits for what comes next (a result, or another
   * request). The state is a random id, only meaningful to this principal's
   * composition, and expires after five minutes.
   */
  async callModern(
    kind: 'tools' | 'prompts',
    params: Record<string, unknown>,
    context: CallContext & { readonly requestState: string | undefined; readonly inputResponses: Record<string, unknown> | undefined },
  ): Promise<Record<string, unknown>> {
    let call: ParkedCall;
    if (context.requestState !== undefined) {
      const parked = this.parked.get(context.requestState);
      if (parked === undefined || parked.waiting === undefined) {
        throw new ProtocolError(ErrorCode.InvalidParams, `Invalid params: requestState is unknown or expired on virtual server "${this.options.name}"; call again without it`);
      }
      this.parked.delete(parked.id);
      clearTimeout(parked.expiry);
      const waiting = parked.waiting;
      parked.waiting = undefined;
      const answer = context.inputResponses?.[waiting.key];
      if (answer === undefined || answer === null || typeof answer !== 'object') waiting.fail(new Error(`the client did not answer ${waiting.request.method}`));
      else waiting.respond(answer as Record<string, unknown>);
      call = parked;
    } else {
      // The member call outlives this HTTP exchange when it is parked: it has its own signal (the exchange's is
      // aborted when the exchange ends), cancelled with the client's only while an exchange waits on it.
      const abort = new AbortController();
      let offer: (input: PendingInput) => void = () => undefined;
      const next = new Promise<PendingInput>((resolve) => (offer = resolve));
      call = {
        id: randomUUID(),
        abort,
        result: this.call(kind, params, { signal: abort.signal, ...(context.onProgress ? { onProgress: context.onProgress } : {}) }),
        next,
        offer,
        waiting: undefined,
        expiry: undefined,
      };
    }
    const parkedCall = call;
    const onAbort = (): void => parkedCall.abort.abort(context.signal.reason);
    context.signal.addEventListener('abort', onAbort, { once: true });
    this.modernInFlight.add(call);
    try {
      const outcome = await Promise.race([call.result.then((result) => ({ result })), call.next.then((input) => ({ input }))]);
      if ('result' in outcome) return outcome.result;
      const input = outcome.input;
      call.waiting = input;
      call.next = new Promise<PendingInput>((resolve) => (call.offer = resolve));
      call.expiry = setTimeout(() => {
        this.parked.delete(call.id);
        input.fail(new Error('the client did not retry in time'));
        call.abort.abort(new Error('input_required expired'));
      }, PARKED_CALL_MS);
      call.expiry.unref();
      this.parked.set(call.id, call);
      return inputRequired({ inputRequests: { [input.key]: input.request as never }, requestState: call.id }) as unknown as Record<string, unknown>;
    } finally {
      context.signal.removeEventListener('abort', onAbort);
      this.modernInFlight.delete(call);
    }
  }

  /** Reads a resource at the member that listed its URI, or else at the members whose selection shows it, in order. */
  async readResource(params: Record<string, unknown>, context: CallContext): Promise<Record<string, unknown>> {
    this.lastUsed = Date.now();
    const uri = params['uri'];
    if (typeof uri !== 'string') throw new ProtocolError(ErrorCode.InvalidParams, 'Invalid params: resources/read needs a uri');
    const shownBy = this.links.filter((l) => selectionShows(this.options.config.servers[l.member]?.resources, uri));
    if (shownBy.length === 0) {
      throw new ProtocolError(ErrorCode.InvalidParams, `Resource ${uri} is filtered out of virtual server "${this.options.name}" (virtualServers.${this.options.name}.servers.<member>.resources)`);
    }
    const owner = this.resourceOwners.get(uri);
    const hiddenBy = this.hiddenResources.get(uri);
    if (owner === undefined && hiddenBy !== undefined) {
      throw new ProtocolError(ErrorCode.InvalidParams, `Resource ${uri} is filtered out of virtual server "${this.options.name}" (virtualServers.${this.options.name}.servers.${hiddenBy}.resources)`);
    }
    const first = shownBy.find((l) => l.member === owner);
    const order = first ? [first, ...shownBy.filter((l) => l !== first)] : shownBy;
    let lastError: unknown;
    for (const link of order) {
      if (link !== first && link.serverCapabilities !== undefined && !link.serverCapabilities.resources) continue;
      try {
        return await this.forward(link, 'resources/read', params, context);
      } catch (error) {
        lastError = error;
        if (link === first) break;
      }
    }
    if (lastError instanceof ProtocolError) throw lastError;
    throw new ProtocolError(ErrorCode.InvalidParams, `Resource ${uri} not found on virtual server "${this.options.name}"`);
  }

  /** Sets the log level at every member that logs. */
  async setLogLevel(params: Record<string, unknown>): Promise<void> {
    await Promise.all(
      this.links.filter((l) => l.serverCapabilities?.logging).map((l) => l.request('logging/setLevel', params).catch(() => undefined)),
    );
  }

  /** Ends every member session. */
  async close(): Promise<void> {
    for (const call of this.parked.values()) {
      clearTimeout(call.expiry);
      call.waiting?.fail(new Error('the virtual server is closing'));
      call.abort.abort(new Error('the virtual server is closing'));
    }
    this.parked.clear();
    await Promise.all(this.links.map((l) => l.close()));
  }

  onNotification(member: string, notification: Notification): void {
    const method = notification.method;
    const kind = /^notifications\/(tools|prompts|resources)\/list_changed$/.exec(method)?.[1] as 'tools' | 'prompts' | 'resources' | undefined;
    if (kind !== undefined) {
      this.snapshots.delete(kind);
      if (kind === 'resources') this.snapshots.delete('resourceTemplates');
      this.relay?.listChanged(kind);
      return;
    }
    if (method === 'notifications/message' || method === 'notifications/resources/updated') {
      void this.relay?.notify?.(notification as { method: string; params?: Record<string, unknown> }).catch((error: unknown) => {
        this.options.logger.debug('virtual server could not relay a notification', { virtual: this.options.name, member, method, error: String(error) });
      });
    }
  }

  async onRequest(member: string, request: JSONRPCRequest, signal: AbortSignal): Promise<Record<string, unknown>> {
    const relay = this.relay;
    if (relay?.request === undefined && this.modernInFlight.size === 1) {
      // 2026-07-28: the one call in flight takes the request to its client as input_required.
      const call = [...this.modernInFlight][0] as ParkedCall;
      return new Promise<Record<string, unknown>>((respond, fail) => {
        signal.addEventListener('abort', () => fail(signal.reason instanceof Error ? signal.reason : new Error('cancelled')), { once: true });
        call.offer({
          key: `${member}-${randomUUID().slice(0, 8)}`,
          request: { method: request.method, ...(request.params === undefined ? {} : { params: request.params as Record<string, unknown> }) },
          respond,
          fail,
        });
      });
    }
    if (relay?.request === undefined) {
      throw new ProtocolError(
        ErrorCode.MethodNotFound,
        `${request.method} cannot reach the client through virtual server "${this.options.name}": ${this.modernInFlight.size > 1 ? 'several 2026-07-28 calls are in flight and it cannot be told which one asked' : 'no call is in flight to carry it'}`,
      );
    }
    return relay.request({ method: request.method, ...(request.params === undefined ? {} : { params: request.params as Record<string, unknown> }) }, signal);
  }

  private async forward(link: MemberLink, method: string, params: Record<string, unknown>, context: CallContext): Promise<Record<string, unknown>> {
    const { _meta: meta, ...rest } = params as { _meta?: Record<string, unknown> };
    // The client's progress token stays here; the member gets the SDK's own, and its progress is relayed under the client's.
    const { progressToken: _clientToken, ...otherMeta } = meta ?? {};
    const forwarded = Object.keys(otherMeta).length > 0 ? { ...rest, _meta: otherMeta } : rest;
    try {
      const result = await link.request(method, forwarded, {
        signal: context.signal,
        ...(context.onProgress ? { onprogress: context.onProgress } : {}),
      });
      this.missing.delete(link.member);
      return result;
    } catch (error) {
      throw this.memberError(link.member, error);
    }
  }

  /** An error of a member as the virtual server's client gets it: JSON-RPC, with the member named. */
  private memberError(member: string, error: unknown): ProtocolError {
    const prefix = `server "${member}" (member of virtual server "${this.options.name}")`;
    if (error instanceof MemberUnavailableError) {
      this.missing.set(member, error.reason);
      return new ProtocolError(ErrorCode.UpstreamUnavailable, `${prefix} is unavailable: ${error.reason}`);
    }
    const rpcError = memberRpcError(error);
    if (rpcError !== undefined) {
      // The SDK prefixes "MCP error <code>: "; the member's own words follow.
      const message = rpcError.message.replace(/^MCP error -?\d+: /, '');
      return new ProtocolError(rpcError.code, `${prefix}: ${message}`, rpcError.data);
    }
    const message = error instanceof Error ? error.message : String(error);
    return new ProtocolError(ErrorCode.UpstreamUnavailable, `${prefix}: ${message}`);
  }

  private unknownName(what: string, shown: string, snapshot: Snapshot): ProtocolError {
    const hiddenBy = snapshot.hidden.get(shown);
    if (hiddenBy !== undefined) {
      return new ProtocolError(
        ErrorCode.InvalidParams,
        `${what} "${shown}" is filtered out of virtual server "${this.options.name}" (virtualServers.${this.options.name}.servers.${hiddenBy}.${what}s)`,
      );
    }
    const collision = snapshot.names?.collisions.find((c) => c.name === shown);
    if (collision !== undefined) {
      return new ProtocolError(
        ErrorCode.InvalidParams,
        `${what} "${shown}" is hidden on virtual server "${this.options.name}": members ${collision.owners.map((o) => `"${o.member}"`).join(' and ')} both have it; give one of them another prefix`,
      );
    }
    const known = this.knownOwners.get(shown);
    const reason = known === undefined ? undefined : this.missing.get(known.member);
    if (known !== undefined && reason !== undefined) {
      return new ProtocolError(ErrorCode.UpstreamUnavailable, `server "${known.member}" (member of virtual server "${this.options.name}") is unavailable: ${reason}`);
    }
    const missing = snapshot.missing.map((m) => `"${m.server}" (${m.reason})`);
    return new ProtocolError(
      ErrorCode.InvalidParams,
      `unknown ${what} "${shown}" on virtual server "${this.options.name}"${missing.length > 0 ? `; unavailable members: ${missing.join(', ')}` : ''}`,
    );
  }

  private shown(kind: ListKind, member: string, items: readonly Record<string, unknown>[], names: NameTable | undefined): Record<string, unknown>[] {
    const spec = KINDS[kind];
    const selection = spec.selection(this.options.config.servers[member] ?? {});
    const out: Record<string, unknown>[] = [];
    for (const item of items) {
      const key = item[spec.key];
      if (typeof key !== 'string') continue;
      if (!selectionShows(selection, key)) {
        if (kind === 'resources') this.hiddenResources.set(key, member);
        continue;
      }
      if (kind === 'resources') this.resourceOwners.set(key, member);
      if (!spec.renamed) {
        out.push(item);
        continue;
      }
      const shownName = names?.shownName(member, key);
      if (shownName === undefined) continue;
      // Only the name changes: annotations, schemas and _meta stay as the member wrote them.
      out.push(shownName === key ? item : { ...item, name: shownName });
    }
    return out;
  }

  private withMeta(result: Record<string, unknown>, snapshot: Snapshot): Record<string, unknown> {
    const collisions = snapshot.names?.collisions ?? [];
    if (snapshot.missing.length === 0 && collisions.length === 0) return result;
    return {
      ...result,
      _meta: {
        [VIRTUAL_META_KEY]: {
          ...(snapshot.missing.length > 0 ? { unavailable: snapshot.missing } : {}),
          ...(collisions.length > 0 ? { collisions: collisions.map((c) => ({ name: c.name, servers: c.owners.map((o) => o.member) })) } : {}),
        },
      },
    };
  }

  private snapshot(kind: ListKind): Promise<Snapshot> {
    return this.snapshots.get(kind) ?? this.refresh(kind);
  }

  private refresh(kind: ListKind): Promise<Snapshot> {
    const reading = this.read(kind);
    this.snapshots.set(kind, reading);
    reading.catch(() => this.snapshots.delete(kind));
    return reading;
  }

  private async read(kind: ListKind): Promise<Snapshot> {
    const spec = KINDS[kind];
    const pages = new Map<string, Map<string, MemberPage>>();
    const missing: MissingMember[] = [];
    const hidden = new Map<string, string>();
    const namesByMember = new Map<string, string[]>();
    await Promise.all(this.links.map((link) => this.tryConnect(link)));
    await Promise.all(
      this.links.map(async (link) => {
        const reason = this.missing.get(link.member);
        if (reason !== undefined) {
          missing.push({ server: link.member, reason });
          return;
        }
        if (!link.serverCapabilities?.[spec.capability]) return;
        const memberPages = new Map<string, MemberPage>();
        try {
          let cursor: string | undefined;
          for (let n = 0; n < MAX_PAGES_PER_MEMBER; n++) {
            const page = await this.readPage(link, spec, cursor);
            memberPages.set(cursor ?? '', page);
            if (page.next === undefined) break;
            cursor = page.next;
          }
        } catch (error) {
          const described = this.memberError(link.member, error);
          missing.push({ server: link.member, reason: described.message });
          return;
        }
        pages.set(link.member, memberPages);
        const selection = spec.selection(this.options.config.servers[link.member] ?? {});
        const names: string[] = [];
        for (const page of memberPages.values()) {
          for (const item of page.items) {
            const key = item[spec.key];
            if (typeof key !== 'string') continue;
            if (selectionShows(selection, key)) {
              names.push(key);
              if (kind === 'resources') this.resourceOwners.set(key, link.member);
            } else if (kind === 'resources') this.hiddenResources.set(key, link.member);
            else if (spec.renamed) {
              const prefix = this.options.config.servers[link.member]?.prefix;
              for (const candidate of [key, `${link.member}__${key}`, ...(prefix === undefined ? [] : [`${prefix}${key}`])]) hidden.set(candidate, link.member);
            }
          }
        }
        namesByMember.set(link.member, names);
      }),
    );
    let names: NameTable | undefined;
    if (spec.renamed) {
      // The rule reads members in config order, whatever order their answers came in.
      const ordered = new Map(this.links.flatMap((l) => (namesByMember.has(l.member) ? [[l.member, namesByMember.get(l.member) as string[]] as const] : [])));
      names = new NameTable(this.options.config, ordered);
      for (const [member, list] of ordered) {
        for (const name of list) {
          const shownName = names.shownName(member, name);
          if (shownName !== undefined) {
            this.knownOwners.set(shownName, { member, name });
            hidden.delete(shownName);
          }
        }
      }
      if (names.collisions.length > 0) {
        this.options.logger.warn('virtual server hides clashing names', { virtual: this.options.name, kind, collisions: names.collisions.map((c) => c.name) });
      }
    }
    return { pages, missing, names, hidden };
  }

  private async readPage(link: MemberLink, spec: KindSpec, cursor: string | undefined): Promise<MemberPage> {
    const result = await link.request(spec.method, cursor === undefined ? undefined : { cursor });
    const items = result[spec.field];
    const next = result['nextCursor'];
    return { items: Array.isArray(items) ? (items as Record<string, unknown>[]) : [], next: typeof next === 'string' && next !== '' ? next : undefined };
  }

  private async tryConnect(link: MemberLink): Promise<void> {
    try {
      await link.connect();
      this.missing.delete(link.member);
    } catch (error) {
      const reason = error instanceof MemberUnavailableError ? error.reason : String(error);
      this.missing.set(link.member, reason);
      this.options.logger.warn('virtual server member unavailable', { virtual: this.options.name, server: link.member, reason });
    }
  }
}
