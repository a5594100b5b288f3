import type { FleetConfig } from '../config/schema.js';

/**
 * What the ADOT collector sidecar (`deploy.telemetry.adot`) needs of the rest of
 * the config, and its sizing; free of aws-cdk-lib, so `plan` and `cost` use it too.
 */

/** Port of the collector's OTLP HTTP receiver, on the task's localhost. */
export const ADOT_OTLP_HTTP_PORT = 4318;
/** CPU units reserved for the collector in each task (of the task's own). */
export const ADOT_CPU_UNITS = 64;
/** Memory reserved for the collector in each task, MiB (it runs at 40-80 MiB with this pipeline). */
export const ADOT_MEMORY_RESERVATION_MIB = 96;

/** Problems of a config that asks for the sidecar, each naming the field and the fix. */
export function adotProblems(config: FleetConfig): string[] {
  if (config.deploy?.telemetry.adot !== true) return [];
  const problems: string[] = [];
  const telemetry = config.gateway.telemetry;
  if (!telemetry.enabled) {
    problems.push('deploy.telemetry.adot: the collector sidecar gets nothing while gateway.telemetry.enabled is false; set gateway.telemetry.enabled: true (or remove deploy.telemetry.adot)');
  }
  if (telemetry.endpoint !== undefined) {
    problems.push(
      `gateway.telemetry.endpoint: is "${telemetry.endpoint}", which would bypass the collector sidecar of deploy.telemetry.adot; remove it (on ECS the stack points the gateway at http://127.0.0.1:${ADOT_OTLP_HTTP_PORT})`,
    );
  }
  return problems;
}
