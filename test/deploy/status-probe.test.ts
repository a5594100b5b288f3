import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTools } from '../../src/deploy/aws.js';
import { CRASHY_ENTRY, newMarker, startGateway, type TestGateway } from '../gateway/helpers.js';

// `mcp-fleet status` lists each endpoint's tools with the official SDK client. A
// server behind the gateway that cannot start must show why in that row (its
// command and the OS error), not a raw HTTP body. A real gateway, real children.

const MISSING = 'mcp-fleet-status-no-such-command';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway({
    servers: {
      crashy: { command: process.execPath, args: [CRASHY_ENTRY, newMarker('status-probe')] },
      ghost: { command: MISSING, args: ['--port', '1'] },
    },
  });
}, 60_000);

afterAll(async () => {
  await gw.close();
});

describe('status tools/list probe', () => {
  it('GIVEN a server that cannot start WHEN status probes it THEN the row names the command and the OS error', async () => {
    const probe = await probeTools(gw.mcpUrl('ghost').href);
    expect(probe).toEqual({ ok: false, error: expect.stringMatching(new RegExp(`^HTTP 503: MCP server "ghost" could not be started: command not found: ${MISSING} \\(spawn ${MISSING} ENOENT;`)) });
  });

  it('GIVEN a server that runs WHEN status probes it THEN it lists its tools', async () => {
    const probe = await probeTools(gw.mcpUrl('crashy').href);
    expect(probe.ok).toBe(true);
  });
});
