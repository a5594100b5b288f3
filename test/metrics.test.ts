import { describe, expect, it } from 'vitest';
import {
  createFleetMetrics,
  methodLabel,
  metricsResponse,
  MetricsRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from '../src/gateway/metrics.js';

describe('MetricsRegistry', () => {
  it('GIVEN a labelled counter WHEN incremented THEN it renders HELP, TYPE and one line per series', () => {
    const registry = new MetricsRegistry();
    const c = registry.counter({ name: 'x_total', help: 'Things.', labelNames: ['server', 'status'] });
    c.inc({ server: 'fetch', status: '200' });
    c.inc({ server: 'fetch', status: '200' }, 2);
    c.inc({ status: '500', server: 'memory' });
    expect(registry.render()).toBe(
      '# HELP x_total Things.\n# TYPE x_total counter\nx_total{server="fetch",status="200"} 3\nx_total{server="memory",status="500"} 1\n',
    );
  });

  it('escapes backslash, quote and newline in label values, and backslash and newline in help', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'g', help: 'a\\b\nc', labelNames: ['v'] });
    g.set({ v: 'q"\\\n' }, 1);
    expect(registry.render()).toBe('# HELP g a\\\\b\\nc\n# TYPE g gauge\ng{v="q\\"\\\\\\n"} 1\n');
  });

  it('GIVEN a gauge WHEN set, raised, lowered and removed THEN it reads back each value', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'open', help: 'Open.', labelNames: ['server'] });
    g.inc({ server: 'a' });
    g.inc({ server: 'a' });
    g.dec({ server: 'a' });
    expect(g.get({ server: 'a' })).toBe(1);
    g.set({ server: 'a' }, 7);
    expect(registry.render()).toContain('open{server="a"} 7\n');
    g.remove({ server: 'a' });
    expect(registry.render()).not.toContain('open{');
  });

  it('GIVEN an unlabelled gauge set to special values THEN it prints +Inf, -Inf and NaN', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'special', help: 'S.' });
    g.set(undefined, Infinity);
    expect(registry.render()).toContain('special +Inf\n');
    g.set(undefined, -Infinity);
    expect(registry.render()).toContain('special -Inf\n');
    g.set(undefined, NaN);
    expect(registry.render()).toContain('special NaN\n');
  });

  it('GIVEN a histogram WHEN values are observed THEN buckets are cumulative with +Inf, sum and count', () => {
    const registry = new MetricsRegistry();
    const h = registry.histogram({ name: 'lat_seconds', help: 'Latency.', labelNames: ['server'], buckets: [0.1, 1] });
    for (const v of [0.05, 0.1, 0.5, 3]) h.observe({ server: 'a' }, v);
    expect(registry.render()).toBe(
      [
        '# HELP lat_seconds Latency.',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{server="a",le="0.1"} 2',
        'lat_seconds_bucket{server="a",le="1"} 3',
        'lat_seconds_bucket{server="a",le="+Inf"} 4',
        'lat_seconds_sum{server="a"} 3.65',
        'lat_seconds_count{server="a"} 4',
        '',
      ].join('\n'),
    );
  });

  it('GIVEN a histogram timer on an injected clock WHEN stopped THEN it observes the elapsed seconds', () => {
    let now = 1000;
    const registry = new MetricsRegistry({ now: () => now });
    const h = registry.histogram({ name: 't_seconds', help: 'T.' });
    const stop = h.startTimer();
    now += 250;
    expect(stop()).toBe(0.25);
    expect(h.get()).toEqual({ count: 1, sum: 0.25 });
  });

  it('refuses wrong labels, negative counter steps, bad names, duplicates and unsorted buckets', () => {
    const registry = new MetricsRegistry();
    const c = registry.counter({ name: 'c_total', help: 'C.', labelNames: ['a'] });
    expect(() => c.inc({ b: 'x' } as never)).toThrow(/expected labels \[a\]/);
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/cannot add -1/);
    expect(() => registry.counter({ name: 'c_total', help: 'again' })).toThrow(/already registered/);
    expect(() => registry.gauge({ name: '1bad', help: 'B.' })).toThrow(/invalid metric name/);
    expect(() => registry.gauge({ name: 'ok', help: 'B.', labelNames: ['le'] })).toThrow(/invalid label name/);
    expect(() => registry.histogram({ name: 'h', help: 'H.', buckets: [1, 0.5] })).toThrow(/strictly increasing/);
  });

  it('runs collectors before rendering, so gauges can mirror state kept elsewhere', () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: 'children', help: 'C.' });
    let running = 3;
    registry.onCollect(() => g.set(undefined, running));
    expect(registry.render()).toContain('children 3\n');
    running = 5;
    expect(registry.render()).toContain('children 5\n');
  });
});

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
    const response = metricsResponse(m.registry);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    const text = await response.text();
    for (const line of [
      'mcp_fleet_requests_total{server="fetch",method="tools/call",status="200"} 1',
      'mcp_fleet_request_duration_seconds_count{server="fetch",method="tools/call"} 1',
      'mcp_fleet_sessions_open{server="fetch"} 1',
      'mcp_fleet_children_running{server="fetch"} 2',
      'mcp_fleet_child_restarts_total{server="fetch"} 1',
      'mcp_fleet_auth_failures_total{server="fetch",reason="token-expired"} 1',
      'mcp_fleet_rate_limited_total{server="fetch",limit="rate"} 1',
    ]) {
      expect(text).toContain(`${line}\n`);
    }
  });

  it('counts unknown JSON-RPC methods as "other" so a client cannot create unbounded series', () => {
    expect(methodLabel('tools/call')).toBe('tools/call');
    expect(methodLabel('subscriptions/listen')).toBe('subscriptions/listen');
    expect(methodLabel('x'.repeat(1000))).toBe('other');
    expect(methodLabel(undefined)).toBe('none');
  });
});
