import { Meta } from '../../protocol.js';
import type { Channel, ChannelCaller, JsonRpcId, WireMessage } from '../../upstream/channel.js';
import type { ChannelPool } from '../../upstream/pool.js';
import { errorText } from '../http/errors.js';
import type { AnswerSink } from './legacy-child.js';

/**
 * `subscriptions/listen` (2026-07-28) streams. For a modern child the listen
 * request is relayed as a long-lived call (not counted against the request queue)
 * and its notifications come back by subscription id. For a legacy child the
 * gateway listens itself: list changes come from every child of the pool, and
 * resource subscriptions are made on each child once, shared with sessions.
 */

/** The notifications a listen request asks for. */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** One open listen stream. */
interface Listener extends ChannelCaller {
  readonly clientId: JsonRpcId;
  readonly sink: AnswerSink;
  close(): void;
}

/** The listen streams of one server. */
export class ListenHub {
  private readonly listeners = new Set<Listener>();

  /** Open streams. */
  get size(): number {
    return this.listeners.size;
  }

  /** Relays a listen request to a modern child. */
  relay(channel: Channel, message: WireMessage, raw: Buffer | undefined, sink: AnswerSink & { onClientGone?: (() => void) | undefined; toSse(): void }): void {
    const clientId = message.id as JsonRpcId;
    const hub = this;
    sink.toSse();
    const listener: Listener = {
      key: `listen:${String(clientId)}:${Math.random()}`,
      clientId,
      sink,
      serverRequest: (request) => request.answer({ error: { code: -32601, message: 'Not available on a listen stream' } }),
      notification: () => {},
      close: () => {
        sink.final(JSON.stringify({ jsonrpc: '2.0', id: clientId, result: { resultType: 'complete', _meta: { [Meta.subscriptionId]: clientId } } }));
      },
    };
    this.listeners.add(listener);
    const call = channel.request(
      listener,
      { method: 'subscriptions/listen', id: clientId, message, raw },
      {
        response: (answer) => {
          hub.listeners.delete(listener);
          const result = (answer.message.result ?? {}) as Record<string, unknown>;
          const meta = (result['_meta'] ?? {}) as Record<string, unknown>;
          sink.final(JSON.stringify({ jsonrpc: '2.0', id: clientId, result: { ...result, _meta: { ...meta, [Meta.subscriptionId]: clientId } } }));
        },
        event: (text) => void sink.event(text),
        failed: (code, text) => {
          hub.listeners.delete(listener);
          sink.final(errorText(clientId, code, text));
        },
      },
      { timeoutMs: 0, stream: true },
    );
    sink.onClientGone = () => {
      this.listeners.delete(listener);
      call.cancel('the client closed the listen stream');
    };
  }

  /** Serves a listen request for a legacy server from the pool's children. */
  serve(pool: ChannelPool, message: WireMessage, sink: AnswerSink & { onClientGone?: (() => void) | undefined; toSse(): void }): void {
    const clientId = message.id as JsonRpcId;
    const requested = ((message.params as { notifications?: ListenFilter } | undefined)?.notifications ?? {}) as ListenFilter;
    const capabilities = (pool.initializeResult?.['capabilities'] ?? {}) as Record<string, { listChanged?: boolean; subscribe?: boolean }>;
    const honored: ListenFilter = {};
    if (requested.toolsListChanged && capabilities['tools']?.listChanged) honored.toolsListChanged = true;
    if (requested.promptsListChanged && capabilities['prompts']?.listChanged) honored.promptsListChanged = true;
    if (requested.resourcesListChanged && capabilities['resources']?.listChanged) honored.resourcesListChanged = true;
    if (requested.resourceSubscriptions?.length && capabilities['resources']?.subscribe) honored.resourceSubscriptions = [...requested.resourceSubscriptions];
    const stamp = (note: WireMessage): string => {
      const params = (note.params ?? {}) as Record<string, unknown>;
      const meta = (params['_meta'] ?? {}) as Record<string, unknown>;
      return JSON.stringify({ jsonrpc: '2.0', method: note.method, params: { ...params, _meta: { ...meta, [Meta.subscriptionId]: clientId } } });
    };
    const wanted = (note: WireMessage): boolean => {
      const method = note.method;
      if (method === 'notifications/tools/list_changed') return honored.toolsListChanged === true;
      if (method === 'notifications/prompts/list_changed') return honored.promptsListChanged === true;
      if (method === 'notifications/resources/list_changed') return honored.resourcesListChanged === true;
      return false;
    };
    const attached = new Set<Channel>();
    const listener: Listener = {
      key: `listen:${String(clientId)}:${Math.random()}`,
      clientId,
      sink,
      serverRequest: (request) => request.answer({ error: { code: -32601, message: 'Not available on a listen stream' } }),
      // The children send a resource update only to callers subscribed to it: this listener's subscriptions.
      notification: (_text, note) => {
        if (note.method === 'notifications/resources/updated') sink.event(stamp(note));
      },
      close: () => {
        stop();
        sink.final(JSON.stringify({ jsonrpc: '2.0', id: clientId, result: { resultType: 'complete', _meta: { [Meta.subscriptionId]: clientId } } }));
      },
    };
    const attach = (channel: Channel): void => {
      if (attached.has(channel) || !honored.resourceSubscriptions) return;
      attached.add(channel);
      channel.attach(listener, { subscriptions: honored.resourceSubscriptions });
    };
    const offListChanged = pool.onListChanged((_text, note) => {
      if (wanted(note)) sink.event(stamp(note));
    });
    const offChannel = pool.onChannel(attach);
    for (const channel of pool.channels()) attach(channel);
    const stop = (): void => {
      this.listeners.delete(listener);
      offListChanged();
      offChannel();
      for (const channel of attached) channel.detach(listener, 'the listen stream ended');
      attached.clear();
    };
    this.listeners.add(listener);
    sink.onClientGone = stop;
    sink.toSse();
    sink.event(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'notifications/subscriptions/acknowledged',
        params: { notifications: honored, _meta: { [Meta.subscriptionId]: clientId } },
      }),
    );
  }

  /** Ends every stream gracefully (the listen result), as a draining gateway must. */
  closeAll(): void {
    for (const listener of [...this.listeners]) listener.close();
    this.listeners.clear();
  }
}
