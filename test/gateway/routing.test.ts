import { describe, expect, it } from 'vitest';
import { FleetConfigSchema } from '../../src/config/schema.js';
import { Router } from '../../src/gateway/routing.js';

/** The router remembers recent routes; what it remembers must never leak from one Host or path to another. */
describe('Router', () => {
  const config = FleetConfigSchema.parse({
    servers: {
      echo: { command: 'node', args: ['echo.js'] },
      fetch: { command: 'node', args: ['fetch.js'], hostnames: ['fetch.example.com'] },
    },
  });

  it('routes the same path differently by Host, in any order', () => {
    const router = new Router(config);
    for (let i = 0; i < 3; i++) {
      expect(router.route('evil.example', '/servers/echo/mcp')).toEqual({ kind: 'host-denied' });
      expect(router.route('127.0.0.1:8808', '/servers/echo/mcp')).toMatchObject({ kind: 'server', server: 'echo', endpoint: 'mcp' });
      expect(router.route('fetch.example.com', '/mcp')).toMatchObject({ kind: 'server', server: 'fetch', basePath: '' });
      expect(router.route('fetch.example.com', '/servers/echo/mcp')).toEqual({ kind: 'not-found' });
      expect(router.route(null, '/servers/echo/mcp')).toEqual({ kind: 'bad-host' });
    }
  });

  it('still routes right after more distinct requests than it remembers', () => {
    const router = new Router(config);
    for (let i = 0; i < 2000; i++) {
      expect(router.route(`h${i}.example`, '/servers/echo/mcp').kind).toBe('host-denied');
      expect(router.route('localhost', `/servers/echo/mcp`).kind).toBe('server');
      expect(router.route('localhost', `/servers/nope${i}/mcp`).kind).toBe('not-found');
    }
  });
});
