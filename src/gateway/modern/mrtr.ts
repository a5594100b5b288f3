import { randomBytes } from 'node:crypto';
import { createRequestStateCodec, type RequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';

/**
 * Multi-round-trip requests (MRTR, 2026-07-28) where the gateway holds the call:
 * a legacy child asks its caller for input mid-call, the gateway answers the
 * client with `input_required` and parks the call; the client's retry carries a
 * `requestState` that names the parked call. The state is sealed with the SDK's
 * request-state codec (HMAC, expiry), bound to the principal that received it,
 * and names the method, the tool or resource, and the replica that holds the
 * call (so a retry that lands on another replica is forwarded there).
 */

/** What a requestState says. */
export interface ParkedState {
  /** The parked call. */
  readonly parkId: string;
  /** The method of the original request. */
  readonly method: string;
  /** Its tool name or resource uri. */
  readonly name: string | null;
  /** The replica holding the call (cluster), when there are several. */
  readonly owner: string | null;
}

/** How long a parked call waits for the client's retry. */
export const PARKED_TTL_SECONDS = 600;

/** The principal a state is bound to, as the codec's bind context carries it. */
interface BindContext {
  readonly mcpFleetPrincipal: string;
}

/** Seals and opens requestState values. */
export class RequestStateSigner {
  private readonly codec: RequestStateCodec<ParkedState>;

  constructor(key: Uint8Array) {
    this.codec = createRequestStateCodec<ParkedState>({
      key,
      ttlSeconds: PARKED_TTL_SECONDS,
      // The codec binds a state to a value read from the request's context; ours is the principal's id.
      bind: (ctx) => (ctx as unknown as BindContext).mcpFleetPrincipal,
    });
  }

  /** A requestState for `state`, usable only by `principal`. */
  mint(state: ParkedState, principal: string): Promise<string> {
    return this.codec.mint(state, contextOf(principal));
  }

  /**
   * What a requestState says, when it is genuine, unexpired, `principal`'s, and
   * was issued for this method and name; undefined otherwise.
   */
  async open(value: string, principal: string, method: string, name: string | undefined): Promise<ParkedState | undefined> {
    try {
      const state = await this.codec.verify(value, contextOf(principal));
      if (state.method !== method || (state.name ?? undefined) !== name) return undefined;
      return state;
    } catch {
      return undefined;
    }
  }
}

function contextOf(principal: string): ServerContext {
  const context: BindContext = { mcpFleetPrincipal: principal };
  return context as unknown as ServerContext;
}

/** A fresh random key for signing requestState on a single replica. */
export function newStateKey(): Buffer {
  return randomBytes(32);
}
