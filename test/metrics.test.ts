import { describe, expect, it } from 'vitest';
import { createFleetMetrics, methodLabel, metricsReply, PROMETHEUS_CONTENT_TYPE } from '../src/gateway/metrics.js';

describe('mcp-fleet metrics', () => {
  it('GIVEN the fleet metric set WHEN updated THEN a scrape shows every metric with its labels', async () => {
    const m = createFleetMetrics();
    m.requests.inc({ server: 'fetch', method: methodLabel('tools/call'), status: '200' });
    m.requestDuration.observe({ server: 'fetch', method: 'tools/call' }, 0.02);
    m.sessionsOpen.inc({ server: 'fetch' });
    m.childrenRunning.set({ server: 'fetch' }, 2);
    m.childRestarts.inc({ server: 'fetch' });
    m.authFailures.inc({ server: 'fetch', reason: 'token-expired' });
    m.rateLimited.inc({ server: 'fetch', limit: 'rate' });
    const reply = await metricsReply(m.registry);
    expect(reply.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    const text = String(reply.body);
    for (const line of [
      'mcp_fleet_requests_total{server="fetch",method="tools/call",status="200"} 1',
      'mcp_fleet_request_duration_seconds_count{server="fetch",method="tools/call"} 1',
      'mcp_fleet_request_duration_seconds_bucket{le="0.025",server="fetch",method="tools/call"} 1',
      'mcp_fleet_sessions_open{server="fetch"} 1',
      'mcp_fleet_children_running{server="fetch"} 2',
      'mcp_fleet_child_restarts_total{server="fetch"} 1',
      'mcp_fleet_auth_failures_total{server="fetch",reason="token-expired"} 1',
      'mcp_fleet_rate_limited_total{server="fetch",limit="rate"} 1',
    ]) {
      expect(text).toContain(`${line}\n`);
    }
  });

  it('runs the gateway collectors before each scrape, so gauges mirror state kept elsewhere', async () => {
    const m = createFleetMetrics();
    let open = 0;
    m.onCollect(() => m.sessionsOpen.set({ server: 'memory' }, open));
    open = 3;
    expect(String((await metricsReply(m.registry)).body)).toContain('mcp_fleet_sessions_open{server="memory"} 3\n');
    open = 1;
    expect(String((await metricsReply(m.registry)).body)).toContain('mcp_fleet_sessions_open{server="memory"} 1\n');
  });

  it('keeps each gateway in a registry of its own (two gateways in one process do not clash)', async () => {
    const a = createFleetMetrics();
    const b = createFleetMetrics();
    a.requests.inc({ server: 'x', method: 'ping', status: '200' });
    expect(String((await metricsReply(b.registry)).body)).not.toContain('server="x"');
  });

  it('counts unknown JSON-RPC methods as "other" so a client cannot create unbounded series', () => {
    expect(methodLabel('tools/call')).toBe('tools/call');
    expect(methodLabel('subscriptions/listen')).toBe('subscriptions/listen');
    expect(methodLabel('x'.repeat(1000))).toBe('other');
    expect(methodLabel(undefined)).toBe('none');
  });
});
