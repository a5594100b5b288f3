import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { resolveExport } from '../../src/telemetry/otel.js';

const SERVERS = { servers: { a: { command: 'node' } } };

describe('gateway.telemetry config', () => {
  it('is off by default', () => {
    const config = parseConfig(SERVERS, 'fleet.yaml');
    expect(config.gateway.telemetry).toMatchObject({ enabled: false, samplingRatio: 1, metrics: true, headers: {} });
  });

  it.each([
    [{ samplingRatio: 1.5 }, /gateway\.telemetry\.samplingRatio.*between 0 and 1/],
    [{ endpoint: 'collector:4318' }, /gateway\.telemetry\.endpoint.*must be an http:\/\/ or https:\/\/ URL/],
    [{ endpoint: 'not a url' }, /gateway\.telemetry\.endpoint.*base URL of an OTLP HTTP receiver/],
    [{ endpoint: 'grpc://collector:4317' }, /gateway\.telemetry\.endpoint.*http:\/\/ or https:\/\//],
    [{ headers: { 'bad header': 'x' } }, /gateway\.telemetry\.headers.*HTTP token/],
    [{ exporter: 'zipkin' }, /gateway\.telemetry.*unknown field "exporter"/],
  ])('refuses %o, naming the field and the fix', (telemetry, message) => {
    expect(() => parseConfig({ ...SERVERS, gateway: { telemetry } }, 'fleet.yaml')).toThrow(message);
  });
});

describe('where the export goes', () => {
  const settings = parseConfig({ ...SERVERS, gateway: { telemetry: { enabled: true } } }, 'fleet.yaml').gateway.telemetry;

  it('defaults to a collector beside the gateway, as service mcp-fleet', () => {
    expect(resolveExport(settings, {})).toEqual({ tracesUrl: 'http://localhost:4318/v1/traces', metricsUrl: 'http://localhost:4318/v1/metrics', serviceName: 'mcp-fleet' });
  });

  it('follows the standard OTEL_* variables when the config names no endpoint', () => {
    expect(resolveExport(settings, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'edge' })).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      metricsUrl: 'http://collector:4318/v1/metrics',
      serviceName: 'edge',
    });
    expect(resolveExport(settings, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/custom' }).tracesUrl).toBe(
      'http://traces:9999/custom',
    );
  });

  it('lets the config win over the environment', () => {
    const configured = { ...settings, endpoint: 'https://otlp.example.com', serviceName: 'fleet' };
    expect(resolveExport(configured, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x/y', OTEL_SERVICE_NAME: 'edge' })).toEqual({
      tracesUrl: 'https://otlp.example.com/v1/traces',
      metricsUrl: 'https://otlp.example.com/v1/metrics',
      serviceName: 'fleet',
    });
  });
});
