import { describe, expect, it } from 'vitest';
import { planDeployment } from '../../src/deploy/plan.js';
import { ConfigError } from '../../src/errors.js';
import { configOf } from '../deploy/helpers.js';

/** The console in a deployment: tasks listen on 0.0.0.0, so `synth` checks it before any task starts. */

const fetch = { command: 'uvx', args: ['mcp-server-fetch==1.2.3'] };

describe('deploy plan of a fleet with the console on', () => {
  it('refuses a console without an admin credential, which would stop every task at start', () => {
    let problems: readonly string[] = [];
    try {
      planDeployment(configOf({ gateway: { console: { enabled: true } }, servers: { fetch } }), 'fleet.yaml');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    expect(problems).toContainEqual(expect.stringMatching(/^gateway\.console\.adminKeys: the console would be open to anyone who reaches 0\.0\.0\.0: add gateway\.console\.adminKeys/));
  });

  it('injects an admin key given by env from deploy.secrets into the tasks', () => {
    const plan = planDeployment(
      configOf({
        gateway: { console: { enabled: true, adminKeys: [{ name: 'ops', env: 'MCP_FLEET_CONSOLE_KEY' }] } },
        servers: { fetch },
        deploy: { secrets: { MCP_FLEET_CONSOLE_KEY: { secretName: 'fleet/console-key' } } },
      }),
    );
    expect(plan.services.every((s) => s.secretNames.includes('MCP_FLEET_CONSOLE_KEY'))).toBe(true);
    expect(plan.warnings.join('\n')).not.toMatch(/MCP_FLEET_CONSOLE_KEY/);
  });
});
