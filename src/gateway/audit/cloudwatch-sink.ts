import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Audit lines to a CloudWatch Logs group of their own, through the Logs API
 * (`CreateLogStream` once, then `PutLogEvents`). A deployed fleet sets
 * `MCP_FLEET_AUDIT_LOG_GROUP`, and its task role may write to that group only, so
 * the audit trail has its own retention and its own readers, apart from the
 * operational log the container's awslogs driver ships.
 */

/** The environment variable naming the audit log group (set by the deploy construct). */
export const AUDIT_LOG_GROUP_ENV = 'MCP_FLEET_AUDIT_LOG_GROUP';

/** PutLogEvents limits: 1 MiB per batch, counting 26 bytes per event; 10,000 events. */
const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD_BYTES = 26;
const MAX_BATCH_EVENTS = 10_000;
/** Largest event CloudWatch takes (256 KiB less the overhead). */
const MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES;

/** The part of the CloudWatch Logs client the sink uses (the SDK's, or a stand-in in tests). */
export interface LogsApi {
  createLogStream(input: { logGroupName: string; logStreamName: string }): Promise<unknown>;
  putLogEvents(input: { logGroupName: string; logStreamName: string; logEvents: { timestamp: number; message: string }[] }): Promise<unknown>;
}

/** Options of {@link createCloudWatchAuditSink}. */
export interface CloudWatchSinkOptions {
  /** The audit log group. */
  readonly logGroupName: string;
  /** This replica's stream. @default `<host name>/<random>` */
  readonly logStreamName?: string;
  /** The Logs API. @default the AWS SDK's client, with the task role's credentials */
  readonly api?: LogsApi;
}

/** Splits JSON lines into PutLogEvents batches within the API's limits (an oversized line is cut, and says so). */
export function batchesOf(chunk: string, now: number): { timestamp: number; message: string }[][] {
  const batches: { timestamp: number; message: string }[][] = [];
  let batch: { timestamp: number; message: string }[] = [];
  let bytes = 0;
  for (const line of chunk.split('\n')) {
    if (line === '') continue;
    let message = line;
    if (Buffer.byteLength(message) > MAX_EVENT_BYTES) message = JSON.stringify({ audit: true, truncated: true, start: line.slice(0, 1024) });
    const size = Buffer.byteLength(message) + EVENT_OVERHEAD_BYTES;
    if (batch.length > 0 && (bytes + size > MAX_BATCH_BYTES || batch.length >= MAX_BATCH_EVENTS)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ timestamp: now, message });
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * A sink for the audit log writing to CloudWatch Logs. The AWS SDK client is
 * loaded on first use: it is an optional dependency, present in the deploy image.
 */
export function createCloudWatchAuditSink(options: CloudWatchSinkOptions): (chunk: string) => Promise<void> {
  const logGroupName = options.logGroupName;
  const logStreamName = options.logStreamName ?? `${hostname()}/${randomUUID()}`;
  let ready: Promise<LogsApi> | undefined;
  const start = async (): Promise<LogsApi> => {
    const api = options.api ?? (await sdkApi());
    try {
      await api.createLogStream({ logGroupName, logStreamName });
    } catch (error) {
      if ((error as { name?: string }).name !== 'ResourceAlreadyExistsException') throw error;
    }
    return api;
  };
  return async (chunk) => {
    ready ??= start().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    const api = await ready;
    for (const logEvents of batchesOf(chunk, Date.now())) await api.putLogEvents({ logGroupName, logStreamName, logEvents });
  };
}

async function sdkApi(): Promise<LogsApi> {
  let sdk: typeof import('@aws-sdk/client-cloudwatch-logs');
  try {
    sdk = await import('@aws-sdk/client-cloudwatch-logs');
  } catch (error) {
    throw new Error(`${AUDIT_LOG_GROUP_ENV} is set but @aws-sdk/client-cloudwatch-logs is not installed; install it, or unset ${AUDIT_LOG_GROUP_ENV}`, { cause: error });
  }
  const client = new sdk.CloudWatchLogsClient({});
  return {
    createLogStream: (input) => client.send(new sdk.CreateLogStreamCommand(input)),
    putLogEvents: (input) => client.send(new sdk.PutLogEventsCommand(input)),
  };
}
