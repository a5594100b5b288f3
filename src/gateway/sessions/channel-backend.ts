import { ErrorCode, GATEWAY_INFO, isLegacyVersion, NEWEST_LEGACY_VERSION } from '../../protocol.js';
import type { Call, Channel, ChannelCaller, JsonRpcId, ServerRequest, WireMessage } from '../../upstream/channel.js';
import { sessionNotFound } from '../http/errors.js';
import type { SignalSource } from '../http/request.js';
import type { ReleaseSlot } from '../limits.js';
import { CallGate, type ServedServer } from '../served-server.js';
import type { Delivery, LegacySession, SessionBackend } from './legacy-session.js';

/**
 * A legacy session served by a child channel: a child of its own (`own-child`:
 * the client's initialize and notifications go to it as they are) or a shared
 * child of the server's pool (`shared-child`: the gateway initialized the child
 * once and answers the session's initialize from that; the session keeps its
 * child while it lives, and moves to another with its log level and resource
 * subscriptions if the child dies). Either way the session relays what the child
 * answers as the child wrote it, ids aside.
 */
export class ChannelBackend implements SessionBackend, ChannelCaller {
  readonly key: string;
  readonly servedBy: 'own-child' | 'shared-child';
  private channel: Channel | undefined;
  private acquiring: Promise<Channel> | undefined;
  private readonly gate: CallGate;
  private readonly calls = new Map<Call, Delivery>();
  /** What the session asked of its child, to replay on a new one. */
  private logLevel: string | undefined;
  private readonly subscriptions = new Set<string>();
  private closed = false;

  constructor(
    private readonly session: LegacySession,
    private readonly served: ServedServer,
    mode: 'own-child' | 'shared-child',
    ownGate: CallGate | undefined,
  ) {
    this.key = `session:${session.id}`;
    this.servedBy = mode;
    this.gate = ownGate ?? served.gate;
    if (mode === 'own-child') {
      const credentials = session.credentials;
      const channel = served.upstream.openChannel(
        credentials === undefined ? {} : { env: credentials.env, secrets: credentials.secrets },
      );
      this.channel = channel;
      channel.attach(this);
      channel.onGone((exit, description) => {
        if (this.closed) return;
        served.upstream.noteStart(exit.code !== null || exit.signal !== null, description);
        this.session.ended(`${description}. The session has ended; start a new one.`);
      });
    }
  }

  /** Process id of the session's child, when it has one now. */
  get childPid(): number | undefined {
    return this.channel?.pid;
  }

  async request(message: WireMessage, raw: Buffer | undefined, delivery: Delivery, signal: SignalSource | undefined): Promise<void> {
    const clientId = message.id as JsonRpcId;
    if (this.servedBy === 'shared-child' && message.method === 'initialize') {
      await this.answerInitialize(message, delivery);
      return;
    }
    // A free slot and a live child are the usual case: taken without a promise turn each.
    const release = this.gate.tryEnter() ?? (await this.gate.enter(signal, clientId));
    let channel: Channel;
    try {
      channel = this.channel?.alive ? this.channel : await this.channelNow(clientId);
    } catch (error) {
      release();
      throw error;
    }
    this.remember(message);
    const ticket = this.served.audit?.begin({
      principal: this.session.owner,
      server: this.served.name,
      method: message.method as string,
      params: message.params,
      requestId: clientId,
      sessionId: this.session.id,
      era: this.session.transport === 'sse' ? 'http+sse' : 'streamable-http',
    });
    const initialize = message.method === 'initialize';
    const idJson = JSON.stringify(clientId);
    const call = channel.request(
      this,
      { method: message.method as string, id: clientId, message, raw },
      {
        response: (answer) => {
          this.finish(call, release);
          ticket?.answered(answer);
          if (initialize) this.session.agreedVersion((answer.message.result as { protocolVersion?: unknown } | undefined)?.protocolVersion);
          delivery.response(answer.withId(idJson));
        },
        event: (text) => delivery.event(text),
        failed: (code, text) => {
          this.finish(call, release);
          ticket?.failed(code);
          delivery.failed(code, text);
          if (initialize && code === ErrorCode.RequestTimeout) void this.session.close('initialize timed out', text);
        },
      },
      { timeoutMs: initialize ? this.served.startupTimeoutMs : this.served.requestTimeoutMs },
    );
    this.calls.set(call, delivery);
    delivery.cancel = (reason) => {
      this.finish(call, release);
      ticket?.cancelled();
      call.cancel(reason);
    };
    delivery.clientGone = release;
  }

  clientNotification(message: WireMessage, raw: Buffer | undefined): void {
    // On a shared child the gateway is the one client: a session's own handshake and root changes stay here,
    // even while that session is the only one attached.
    if (this.servedBy !== 'own-child') return;
    this.channel?.notifyFrom(this, message, raw);
  }

  async close(reason: string): Promise<void> {
    this.closed = true;
    const channel = this.channel;
    this.channel = undefined;
    if (!channel) return;
    channel.detach(this, reason);
    if (this.servedBy === 'own-child') await channel.close(`its session ended: ${reason}`);
  }

  // ChannelCaller

  serverRequest(request: ServerRequest): void {
    const delivery = request.call ? this.calls.get(request.call) : undefined;
    this.session.serverRequest(request.id, request.method, request.text, delivery, {
      answer: (message) =>
        request.answer(
          message.error !== undefined
            ? { error: message.error as { code: number; message: string } }
            : { result: message.result ?? {} },
        ),
    });
  }

  notification(text: string): void {
    this.session.unsolicited(text);
  }

  private finish(call: Call, release: ReleaseSlot): void {
    this.calls.delete(call);
    release();
  }

  /** Records what the session asked that a new child must hear again. */
  private remember(message: WireMessage): void {
    const params = message.params as { level?: unknown; uri?: unknown } | undefined;
    if (message.method === 'logging/setLevel' && typeof params?.level === 'string') this.logLevel = params.level;
    if (message.method === 'resources/subscribe' && typeof params?.uri === 'string') this.subscriptions.add(params.uri);
    if (message.method === 'resources/unsubscribe' && typeof params?.uri === 'string') this.subscriptions.delete(params.uri);
  }

  /** The session's child: its own, or a shared one (taken on first use, again after the last one died). */
  private async channelNow(clientId: JsonRpcId): Promise<Channel> {
    if (this.channel?.alive) return this.channel;
    if (this.servedBy === 'own-child') {
      throw sessionNotFound(clientId);
    }
    this.acquiring ??= this.served
      .sessionPool(clientId)
      .then((pool) => pool.acquireForSession())
      .then((channel) => {
        if (this.closed) return channel;
        this.channel = channel;
        channel.attach(this, { logLevel: this.logLevel, subscriptions: this.subscriptions });
        channel.onGone(() => {
          if (this.channel === channel) this.channel = undefined;
        });
        return channel;
      })
      .finally(() => (this.acquiring = undefined));
    return this.acquiring;
  }

  /** A shared child was initialized by the gateway: the session's initialize is answered from that. */
  private async answerInitialize(message: WireMessage, delivery: Delivery): Promise<void> {
    const pool = await this.served.sessionPool(message.id as JsonRpcId);
    await this.channelNow(message.id as JsonRpcId);
    const init = pool.initializeResult ?? this.served.upstream.verdict?.initialize ?? {};
    const requested = (message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    const protocolVersion = typeof requested === 'string' && isLegacyVersion(requested) ? requested : NEWEST_LEGACY_VERSION;
    this.session.agreedVersion(protocolVersion);
    delivery.response(
      JSON.stringify({
        jsonrpc: '2.0',
        id: message.id,
        result: {
          protocolVersion,
          capabilities: init['capabilities'] ?? {},
          serverInfo: init['serverInfo'] ?? GATEWAY_INFO,
          ...(typeof init['instructions'] === 'string' ? { instructions: init['instructions'] } : {}),
        },
      }),
    );
  }
}
