import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

/**
 * "Zero cost when off": a gateway whose config leaves telemetry off serves a
 * tools/call without loading a single OpenTelemetry SDK module. Each run is a
 * process of its own, so what another test loaded cannot hide or fake the result;
 * the run with telemetry on shows the check sees the SDK when it is there.
 */

const here = dirname(fileURLToPath(import.meta.url));
const PROBE = join(here, 'load-probe.ts');
const run = promisify(execFile);

async function probe(mode: 'on' | 'off', endpoint: string): Promise<{ answered: boolean; loaded: string[] }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', PROBE, mode, endpoint], { cwd: join(here, '..', '..'), timeout: 100_000 });
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as { answered: boolean; loaded: string[] };
}

describe('telemetry off costs nothing', () => {
  let receiver: OtlpReceiver;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
  });

  it('GIVEN telemetry off WHEN a tools/call is served THEN no OpenTelemetry SDK module is loaded and nothing is exported', async () => {
    const result = await probe('off', receiver.url);
    expect(result.answered).toBe(true);
    expect(result.loaded).toEqual([]);
    expect(receiver.spans).toEqual([]);
  }, 120_000);

  it('GIVEN telemetry on WHEN the same call is served THEN the SDK is loaded and the call exported (the check can fail)', async () => {
    const result = await probe('on', receiver.url);
    expect(result.answered).toBe(true);
    expect(result.loaded.some((path) => path.startsWith('@opentelemetry/sdk-trace-base/'))).toBe(true);
    expect(result.loaded.some((path) => path.startsWith('@opentelemetry/exporter-trace-otlp-proto/'))).toBe(true);
    expect(receiver.spans.some((span) => span.name === 'tools/call echo')).toBe(true);
  }, 120_000);
});
