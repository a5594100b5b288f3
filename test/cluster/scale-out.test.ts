import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSse, connectStreamable, newMarker, processesWithMarker, REPO_ROOT, textOf, waitFor, within } from '../gateway/helpers.js';

/**
 * Three `mcp-fleet serve` processes on 127.0.0.1 behind nginx in plain
 * round-robin (no stickiness): legacy sessions, HTTP+SSE sessions, MRTR retries and
 * listen streams work from SDK clients because every replica forwards a session's
 * requests to the replica that owns it; a replica killed with SIGKILL gives clean
 * 404s for its sessions only; a rolling replacement loses no modern request.
 */

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);
const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'legacy-server.mjs');
const SECRET = 'scale-out-test-fleet-secret-0123456789abcdef';
const marker = newMarker('scale-out');
const dir = mkdtempSync(join(tmpdir(), 'mcp-fleet-scale-'));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

interface Replica {
  port: number;
  process: ChildProcess;
}

let ports: number[] = [];
let proxyPort = 0;
let nginx: ChildProcess | undefined;
const replicas: Replica[] = [];
const configFile = join(dir, 'fleet.yaml');

function startReplica(port: number): Replica {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', configFile, '--port', String(port)], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      MCP_FLEET_CLUSTER_SECRET: SECRET,
      MCP_FLEET_PEERS: ports.map((p) => `http://127.0.0.1:${p}`).join(','),
      MCP_FLEET_ADVERTISE_URL: `http://127.0.0.1:${port}`,
    },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  return { port, process: child };
}

async function ready(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

const url = (): URL => new URL(`http://127.0.0.1:${proxyPort}/servers/fixture/mcp`);
const modern = (capabilities: Record<string, unknown> = {}): ModernClient =>
  new ModernClient({ name: 'scale-out', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' }, capabilities });

beforeAll(async () => {
  expect(NGINX, 'nginx must be installed (.ci/run installs it from Debian)').toBeDefined();
  ports = [await freePort(), await freePort(), await freePort()];
  proxyPort = await freePort();
  writeFileSync(
    configFile,
    [
      'gateway:',
      '  logLevel: warn',
      '  shutdownGraceSeconds: 4',
      'servers:',
      '  fixture:',
      `    command: ${JSON.stringify(process.execPath)}`,
      `    args: [${JSON.stringify(FIXTURE)}, ${JSON.stringify(marker)}]`,
      '',
    ].join('\n'),
  );
  for (const port of ports) replicas.push(startReplica(port));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  # max_fails=0: no passive marks. With marks, a replica that answered 503 while draining in one test
  # stayed out for fail_timeout into the next, and with the SIGKILLed one out too nginx had no live upstream.
  upstream fleet { ${ports.map((p) => `server 127.0.0.1:${p} max_fails=0;`).join(' ')} }
  server {
    listen 127.0.0.1:${proxyPort};
    location / {
      proxy_pass http://fleet;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout 300s;
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
    }
  }
}
`,
  );
  nginx = spawn(NGINX as string, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
  for (const port of ports) await waitFor(() => ready(port), { timeoutMs: 60_000, what: `replica ${port} ready` });
  await waitFor(() => ready(proxyPort), { timeoutMs: 20_000, what: 'nginx up' });
}, 120_000);

afterAll(async () => {
  nginx?.kill('SIGKILL');
  for (const replica of replicas) replica.process.kill('SIGTERM');
  await Promise.all(replicas.map((r) => within(exited(r.process), 20_000, 'replica exit').catch(() => r.process.kill('SIGKILL'))));
  await waitFor(() => processesWithMarker(marker).length === 0, { timeoutMs: 20_000, what: 'children to exit' });
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('three replicas behind nginx round-robin, no stickiness', () => {
  it('keeps a legacy Streamable HTTP session whichever replica each request lands on', async () => {
    const { client } = await connectStreamable(url());
    try {
      for (let i = 0; i < 9; i++) {
        expect(textOf(await client.callTool({ name: 'echo', arguments: { message: `r${i}` } }))).toBe(`echo: r${i}`);
      }
      // Every call went to the one child that owns the session: its pid never changes.
      const pids = new Set<string>();
      for (let i = 0; i < 6; i++) pids.add(textOf(await client.callTool({ name: 'pid', arguments: {} })));
      expect(pids.size).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('keeps an HTTP+SSE session: POST /messages is forwarded to the replica holding the stream', async () => {
    const { client } = await connectSse(new URL(`http://127.0.0.1:${proxyPort}/servers/fixture/sse`));
    try {
      for (let i = 0; i < 6; i++) expect(textOf(await client.callTool({ name: 'echo', arguments: { message: `s${i}` } }))).toBe(`echo: s${i}`);
    } finally {
      await client.close();
    }
  });

  it('completes MRTR retries wherever they land', async () => {
    const client = modern({ elicitation: {} });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { answer: 'yes' } }));
    await client.connect(new ModernTransport(url()));
    try {
      for (let i = 0; i < 4; i++) {
        expect(textOf(await client.callTool({ name: 'ask', arguments: { question: `q${i}?` } }))).toBe('answer: {"answer":"yes"} (accept)');
      }
    } finally {
      await client.close();
    }
  });

  it('delivers change notifications on a listen stream', async () => {
    const client = modern();
    let changed = 0;
    client.setNotificationHandler('notifications/tools/list_changed', async () => {
      changed++;
    });
    await client.connect(new ModernTransport(url()));
    try {
      await client.listen({ toolsListChanged: true });
      // Each replica has its own children: change the tools on every one of them.
      await waitFor(
        async () => {
          await client.callTool({ name: 'add-tool', arguments: {} });
          return changed > 0;
        },
        { timeoutMs: 20_000, intervalMs: 50, what: 'tools/list_changed on the listen stream' },
      );
    } finally {
      await client.close();
    }
  });

  it('refuses forged session ids with 404', async () => {
    const forged = `f1.${Buffer.from('http://169.254.169.254').toString('base64url')}.AAAA.BBBB`;
    for (let i = 0; i < 3; i++) {
      const response = await fetch(url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': forged },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(response.status).toBe(404);
    }
  });

  it('loses no modern request while the replicas are replaced one by one, and legacy clients only re-initialize', async () => {
    const client = modern();
    await client.connect(new ModernTransport(url()));
    const legacy = await connectStreamable(url());
    let calls = 0;
    let failures = 0;
    let legacyNotFound = 0;
    let rolling = true;
    const loop = (async () => {
      while (rolling) {
        try {
          const text = textOf(await client.callTool({ name: 'echo', arguments: { message: `c${calls}` } }));
          if (text !== `echo: c${calls}`) failures++;
        } catch {
          failures++;
        }
        calls++;
      }
    })();
    try {
      for (let i = 0; i < replicas.length; i++) {
        const old = replicas[i] as Replica;
        old.process.kill('SIGTERM');
        await within(exited(old.process), 30_000, 'the drained replica to exit');
        replicas[i] = startReplica(old.port);
        await waitFor(() => ready(old.port), { timeoutMs: 60_000, what: 'the replacement replica' });
      }
    } finally {
      rolling = false;
      await loop;
    }
    // The legacy session's owner was replaced: the spec's path is 404, then a new session.
    try {
      await legacy.client.callTool({ name: 'echo', arguments: { message: 'after' } });
    } catch (error) {
      if (/404|Session not found/i.test(String(error))) legacyNotFound++;
      else throw error;
    }
    expect(legacyNotFound).toBe(1);
    const again = await connectStreamable(url());
    expect(textOf(await again.client.callTool({ name: 'echo', arguments: { message: 'new session' } }))).toBe('echo: new session');
    await again.client.close();
    await client.close();
    expect(calls).toBeGreaterThan(10);
    expect(failures).toBe(0);
  }, 240_000);

  it('answers a session whose replica was killed with SIGKILL with 404, and nothing else breaks', async () => {
    const sessions = await Promise.all(Array.from({ length: 6 }, () => connectStreamable(url())));
    const victim = replicas[0] as Replica;
    victim.process.kill('SIGKILL');
    await exited(victim.process);
    let notFound = 0;
    for (const { client } of sessions) {
      try {
        expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'still here' } }))).toBe('echo: still here');
      } catch (error) {
        expect(String(error)).toMatch(/404|Session not found/i);
        notFound++;
      }
    }
    // Round-robin spread six sessions over three replicas: the victim owned some, not all.
    expect(notFound).toBeGreaterThan(0);
    expect(notFound).toBeLessThan(6);
    const fresh = await connectStreamable(url());
    expect(textOf(await fresh.client.callTool({ name: 'echo', arguments: { message: 'fresh' } }))).toBe('echo: fresh');
    await fresh.client.close();
    for (const { client } of sessions) await client.close().catch(() => undefined);
    replicas[0] = startReplica(victim.port);
    await waitFor(() => ready(victim.port), { timeoutMs: 60_000, what: 'the replacement replica' });
  }, 120_000);
});
