import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../protocol.js';
import { ResultMembers, type Call, type ChannelCaller, type ChildAnswer, type JsonRpcId, type ServerRequest } from '../../upstream/channel.js';
import type { AuditTicket } from '../audit/audit-log.js';
import { errorText } from '../http/errors.js';
import type { ReplyBody } from '../http/reply.js';
import type { ReleaseSlot } from '../limits.js';
import { CAPABILITY_FOR_METHOD } from '../sessions/legacy-session.js';

/**
 * A 2026-07-28 request served by a legacy child: the answer gains the revision's
 * `resultType` (and caching hints on list results), and a request the child
 * sends mid-call (sampling, elicitation, roots) becomes an `input_required`
 * answer; the call waits, parked, for the client's retry with the input.
 */

/** Results that carry caching hints in 2026-07-28. */
export const CACHEABLE_METHODS: ReadonlySet<string> = new Set(['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list', 'resources/read']);

/** What a legacy child's result gains in 2026-07-28: its `resultType`, and caching hints where the revision has them. */
const COMPLETE = new ResultMembers({ resultType: 'complete' });
const CACHEABLE_COMPLETE = new ResultMembers({ resultType: 'complete', ttlMs: 0, cacheScope: 'private' });

/** Where the answer to one modern request goes (an HTTP answer, or the bridge of a legacy session). */
export interface AnswerSink {
  /** Sends a message that is not the final one (the answer becomes a stream). */
  event(data: ReplyBody): boolean;
  /** Sends the final message and ends. */
  final(data: ReplyBody, status?: number): void;
  /** True once the final message went out or the client left. */
  readonly finished: boolean;
  /** The client went away before the final message. */
  abandon(): void;
  /** Calls `listener` once when the answer is over (final sent, ended, or the client gone). */
  onDone(listener: () => void): void;
}

/** One client request of a call (the first, or a retry with input). */
export interface Round {
  /** Its id. */
  readonly clientId: JsonRpcId;
  /** Where its answer goes. */
  readonly sink: AnswerSink;
  /** The client capabilities it declared. */
  readonly capabilities: Record<string, unknown>;
}

/** What a bridged call needs from the endpoint. */
export interface BridgedCallHost {
  /** Answers `round` with `input_required` for the call's pending requests and parks the call. */
  askForInput(call: BridgedCall, round: Round): void;
  /** Forgets a parked call. */
  unpark(call: BridgedCall): void;
  /** Learns from a tools/list answer. */
  learned(method: string, answer: ChildAnswer): void;
}

/** HTTP status of a 2026-07-28 error answer: -32601 is 404; header, capability and version errors are 400. */
export function httpStatusOf(code: unknown): number {
  if (code === ErrorCode.MethodNotFound) return 404;
  if (code === ErrorCode.HeaderMismatch || code === ErrorCode.MissingRequiredClientCapability || code === ErrorCode.UnsupportedProtocolVersion) return 400;
  return 200;
}

let bridgedSequence = 0;

/** A call on a legacy child, across the client's rounds. */
export class BridgedCall implements ChannelCaller {
  /** Its key among the callers of its child (unique in this process). */
  readonly key = `modern:${++bridgedSequence}`;
  private parkKey: string | undefined;
  /** Key of this call in the parked table: random, made when it is first parked (most calls never are). */
  get parkId(): string {
    this.parkKey ??= randomUUID();
    return this.parkKey;
  }

  /** True once the call has been parked (it may be in the parked table). */
  get everParked(): boolean {
    return this.parkKey !== undefined;
  }

  /** The child call. */
  call: Call | undefined;
  /** The round waiting for the answer; undefined while parked. */
  round: Round | undefined;
  /** Child requests waiting for the client's input, by input key. */
  readonly pending = new Map<string, ServerRequest>();
  /** The final answer, when it came while parked. */
  parkedAnswer: ChildAnswer | undefined;
  /** The child failed the call while parked. */
  parkedFailure: { code: number; message: string } | undefined;
  /** The queue slot the call holds. */
  release: ReleaseSlot = () => {};
  private inputSerial = 0;

  constructor(
    private readonly host: BridgedCallHost,
    readonly method: string,
    readonly name: string | undefined,
    round: Round,
    /** Who made it (a parked call's retry must come from the same). */
    readonly principal: string,
    /** Its audit record, when the audit log is on. */
    readonly ticket: AuditTicket | undefined,
  ) {
    this.round = round;
  }

  /** The child answered. */
  answered(answer: ChildAnswer): void {
    this.release();
    const round = this.round;
    if (!round) {
      this.parkedAnswer = answer;
      return;
    }
    this.deliver(round, answer);
  }

  /** The child call failed (gone, timed out, too large). */
  failed(code: number, message: string): void {
    this.release();
    const round = this.round;
    this.host.unpark(this);
    if (!round) {
      this.parkedFailure = { code, message };
      return;
    }
    round.sink.final(errorText(round.clientId, code, code === ErrorCode.UpstreamUnavailable ? `${message}. Retry the request.` : message));
  }

  /** Sends the child's final answer in 2026-07-28 shape. */
  deliver(round: Round, answer: ChildAnswer): void {
    this.host.unpark(this);
    const idJson = JSON.stringify(round.clientId);
    if (answer.isError) {
      round.sink.final(answer.withId(idJson) as ReplyBody, httpStatusOf((answer.message.error as { code?: unknown } | undefined)?.code));
      return;
    }
    this.host.learned(this.method, answer);
    round.sink.final(answer.withIdAndResultMembers(idJson, CACHEABLE_METHODS.has(this.method) ? CACHEABLE_COMPLETE : COMPLETE) as ReplyBody);
  }

  // ChannelCaller

  serverRequest(request: ServerRequest): void {
    const needed = CAPABILITY_FOR_METHOD[request.method];
    if (needed === undefined) {
      request.answer({ error: { code: ErrorCode.MethodNotFound, message: `${request.method} is not supported through mcp-fleet` } });
      return;
    }
    const round = this.round;
    if (round && round.capabilities[needed] === undefined) {
      // The call cannot go on without it: the client learns which capability; the child is told and the call stopped.
      request.answer({ error: { code: ErrorCode.MethodNotFound, message: `The client did not declare the ${needed} capability` } });
      this.round = undefined;
      this.host.unpark(this);
      this.release();
      this.call?.cancel(`the client did not declare the ${needed} capability`);
      round.sink.final(
        errorText(round.clientId, ErrorCode.MissingRequiredClientCapability, `This request needs the client capability "${needed}", which the request's _meta did not declare`, {
          requiredCapabilities: { [needed]: {} },
        }),
        400,
      );
      return;
    }
    this.pending.set(`input-${++this.inputSerial}`, request);
    if (round) this.host.askForInput(this, round);
  }

  notification(text: string): void {
    this.round?.sink.event(text);
  }

  /** A progress notification or a log line of the call. */
  event(text: string): void {
    this.round?.sink.event(text);
  }
}
