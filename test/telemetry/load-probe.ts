/**
 * Run by `off.test.ts` in a process of its own (`node --import tsx`): starts a
 * gateway with telemetry on or off (argv[2]) on a 127.0.0.1 socket, makes one tools/call through it,
 * drains it, and prints which OpenTelemetry SDK modules the process loaded.
 * `@opentelemetry/api` is left out: prom-client loads it whatever the config.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FleetConfigSchema } from '../../src/config/schema.js';
import { createGateway } from '../../src/gateway/app.js';
import { listen } from '../../src/gateway/http/node.js';

const on = process.argv[2] === 'on';
const endpoint = process.argv[3] ?? 'http://127.0.0.1:4318';
const crashy = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'crashy-server.mjs');
const config = FleetConfigSchema.parse({
  gateway: { telemetry: { enabled: on, endpoint } },
  servers: { crashy: { command: process.execPath, args: [crashy] } },
});
const gateway = createGateway(config);
const listening = await listen(gateway, { host: '127.0.0.1', port: 0, keepAliveTimeoutMs: 1000, maxBodyBytes: config.gateway.maxBodyBytes });
await gateway.start();
const url = `${listening.url}/servers/crashy/mcp`;
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
const init = await fetch(url, {
  method: 'POST',
  headers,
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } } }),
});
await init.text();
const session = init.headers.get('mcp-session-id') ?? '';
const call = await fetch(url, {
  method: 'POST',
  headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'probe' } } }),
});
const answer = await call.text();
await gateway.drain(1000);
await listening.close();
const loaded = Object.keys(createRequire(import.meta.url).cache)
  .filter((path) => path.includes('/@opentelemetry/') && !path.includes('/@opentelemetry/api/'))
  .map((path) => path.replace(/^.*\/node_modules\//, ''));
// Exit at once: a keep-alive socket of an exporter must not hold the probe open.
process.stdout.write(`${JSON.stringify({ answered: answer.includes('echo: probe'), loaded })}\n`, () => process.exit(0));
