import { jsonReply, type BytesReply } from '../http/reply.js';
import type { ServedServer } from '../served-server.js';

/**
 * `/ready/<virtual>`: the load balancer's check of a virtual server's task. A
 * virtual server serves while any member does (a member that is down fails only
 * its own tools), so it is ready when at least one member is ready and the
 * gateway is not draining; the body lists each member's state.
 */
export function virtualReadinessReply(name: string, members: readonly ServedServer[], draining: boolean): BytesReply {
  const states = Object.fromEntries(members.map((m) => [m.name, m.upstream.state]));
  const ok = !draining && members.some((m) => m.upstream.state === 'ready');
  return jsonReply(JSON.stringify({ server: name, virtual: true, state: draining ? 'draining' : ok ? 'ready' : 'not-ready', members: states }), ok ? 200 : 503);
}
