import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleAccessIssues } from '../../config/console-schema.js';
import type { FleetConfig } from '../../config/schema.js';
import { FleetError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { FleetConsole, type ConsoleHost } from './console.js';
import { RequestStats } from './stats.js';

export { CONSOLE_CSRF_HEADER, type ConsoleMode } from './access.js';
export { FleetConsole, sessionHandle, type ConsoleHost, type FleetConsoleOptions } from './console.js';
export { redactLine } from './redact.js';
export { RequestStats, STATS_WINDOW_SECONDS, type StatsSummary } from './stats.js';

/** The console of a gateway and the statistics the gateway feeds it. */
export interface ConsoleParts {
  /** The console (page, files, API). */
  readonly console: FleetConsole;
  /** Recent request statistics, fed by the gateway once per request. */
  readonly stats: RequestStats;
}

function packageVersion(): string | undefined {
  try {
    // src/gateway/console and dist/gateway/console are both three levels below the package root.
    const file = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * The console when `gateway.console.enabled`, else undefined. Checks its access
 * again against the address actually bound (`serve --host` may differ from the
 * config file): a console that would be open beyond this machine stops the start
 * with a FleetError (`CONSOLE_UNPROTECTED`) naming the field and the fix.
 */
export function createConsole(
  config: FleetConfig,
  host: ConsoleHost,
  options: { readonly logger: Logger; readonly env?: Readonly<Record<string, string | undefined>> },
): ConsoleParts | undefined {
  const settings = config.gateway.console;
  if (settings === undefined || !settings.enabled) return undefined;
  const issues = consoleAccessIssues(config.gateway);
  if (issues.length > 0) {
    throw new FleetError('CONSOLE_UNPROTECTED', issues.map((i) => `gateway.${i.path.join('.')}: ${i.message}`).join('\n'));
  }
  const stats = new RequestStats();
  const version = packageVersion();
  const console = new FleetConsole({
    config: settings,
    host,
    gatewayAuth: config.gateway.auth !== undefined,
    logger: options.logger.child({ component: 'console' }),
    stats,
    ...(options.env ? { env: options.env } : {}),
    ...(version ? { version } : {}),
  });
  return { console, stats };
}
