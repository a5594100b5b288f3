/**
 * The idle timeouts of the HTTP path, in one place: the load balancer's idle
 * timeout (`deploy.loadBalancer.idleTimeoutSeconds`), the gateway's HTTP
 * keep-alive (`gateway.httpKeepAliveSeconds`, passed by `serve` to Node's
 * `server.keepAliveTimeout`) and the interval of SSE keep-alive comments
 * (`gateway.sseKeepAliveSeconds`). The schema takes its defaults from here and
 * `planDeployment` refuses a config that breaks {@link idleTimeoutProblems}.
 *
 * The two relations, and why:
 * - keep-alive > idle: the load balancer reuses idle connections to a target.
 *   If the target closes one first, a request the load balancer sends on it at
 *   that moment fails with a 502. With the target's keep-alive longer, the load
 *   balancer always closes first (the AWS guidance for every ALB target).
 * - SSE keep-alive < idle: the load balancer closes a connection on which no
 *   byte moved for the idle timeout. Every response that can stay silent (an SSE
 *   stream, or a POST whose answer takes long, which the gateway turns into an
 *   SSE stream) carries a comment each interval, so it is never idle that long.
 */

/** Interval of SSE keep-alive comments on every stream the gateway holds open. */
export const SSE_KEEP_ALIVE_SECONDS = 15;

/**
 * The load balancer's idle timeout. Eight keep-alive intervals: a stream stays
 * up through a lost or delayed comment, and an idle client connection is
 * released after two minutes instead of the hour the ALB allows.
 */
export const LOAD_BALANCER_IDLE_TIMEOUT_SECONDS = 120;

/** The gateway's HTTP keep-alive: a little above the load balancer's idle timeout. */
export const GATEWAY_HTTP_KEEP_ALIVE_SECONDS = LOAD_BALANCER_IDLE_TIMEOUT_SECONDS + 5;

/** The three timeouts as a config sets them. */
export interface IdleTimeouts {
  /** `deploy.loadBalancer.idleTimeoutSeconds`. */
  readonly loadBalancerIdleSeconds: number;
  /** `gateway.httpKeepAliveSeconds`. */
  readonly httpKeepAliveSeconds: number;
  /** `gateway.sseKeepAliveSeconds`. */
  readonly sseKeepAliveSeconds: number;
}

/** What is wrong with a set of timeouts, one message per broken relation, each naming the field and the fix. */
export function idleTimeoutProblems(t: IdleTimeouts): string[] {
  const problems: string[] = [];
  if (t.httpKeepAliveSeconds <= t.loadBalancerIdleSeconds) {
    problems.push(
      `gateway.httpKeepAliveSeconds: is ${t.httpKeepAliveSeconds}, not above deploy.loadBalancer.idleTimeoutSeconds ${t.loadBalancerIdleSeconds}, so the gateway would close connections the load balancer still reuses (intermittent 502s); set it to ${t.loadBalancerIdleSeconds + 5} or lower the idle timeout`,
    );
  }
  if (t.sseKeepAliveSeconds >= t.loadBalancerIdleSeconds) {
    problems.push(
      `gateway.sseKeepAliveSeconds: is ${t.sseKeepAliveSeconds}, not below deploy.loadBalancer.idleTimeoutSeconds ${t.loadBalancerIdleSeconds}, so the load balancer would cut quiet SSE streams; set it to at most ${Math.floor(t.loadBalancerIdleSeconds / 4)}`,
    );
  }
  return problems;
}
