import { open, type FileHandle } from 'node:fs/promises';
import type { AuditConfig } from '../../config/audit-schema.js';
import { FleetError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ChildAnswer, JsonRpcId } from '../../upstream/channel.js';
import { AUDIT_LOG_GROUP_ENV, createCloudWatchAuditSink } from './cloudwatch-sink.js';
import { createArgumentRedactor, type ArgumentRedactor } from './redact.js';

/**
 * The audit log (`gateway.audit`): one JSON line per `tools/call`, `prompts/get`
 * and `resources/read`, saying who (the principal's id: an API key's name or an
 * OAuth subject, never a credential) called what on which server, how it ended
 * and how long it took; the arguments only when configured, redacted. Records go
 * to their own destination, apart from the operational log, and are written
 * asynchronously from a bounded buffer: a slow or stuck destination costs dropped
 * records (counted, and warned about), never a waiting request.
 */

/** Methods that get an audit record. */
export const AUDITED_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);

/**
 * How the caller reached the gateway: `2026-07-28` (stateless), `streamable-http`
 * (a 2025-era session), `http+sse` (a 2024-11-05 session).
 */
export type AuditEra = '2026-07-28' | 'streamable-http' | 'http+sse';

/** What is known of a call when it starts. */
export interface AuditCallStart {
  /** The principal's id (`key:<name>`, `oauth:<sub>`, `anonymous`). */
  readonly principal: string;
  /** The server name. */
  readonly server: string;
  /** The method. */
  readonly method: string;
  /** The request's params (the name, uri and arguments are read from them). */
  readonly params: unknown;
  /** The client's request id. */
  readonly requestId: JsonRpcId;
  /** The session, for a legacy session. */
  readonly sessionId?: string | undefined;
  /** How the caller reached the gateway. */
  readonly era: AuditEra;
}

/** How a call ended, as the record says it. */
export type AuditOutcome = 'ok' | 'tool-error' | 'error' | 'input-required' | 'cancelled';

/** One call being audited; each method may be called, the first one counts. */
export interface AuditTicket {
  /** The child answered (ok, a JSON-RPC error, or a tool result with `isError`). */
  answered(answer: ChildAnswer): void;
  /** The gateway failed the call (timeout, child gone, too large...). */
  failed(code: number): void;
  /** The client cancelled or went away before the answer. */
  cancelled(): void;
}

/** Options of {@link AuditLog}. */
export interface AuditLogOptions {
  /** The operational logger, for warnings about the audit log itself (dropped records, write errors). */
  readonly logger: Logger;
  /** Where lines go instead of the configured destination (tests, embedders): called with a batch of lines, resolves when written. */
  readonly write?: (chunk: string) => Promise<void>;
  /**
   * The gateway's environment: with `MCP_FLEET_AUDIT_LOG_GROUP` set (a deployed
   * fleet), records go to that CloudWatch Logs group instead of the destination.
   * @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Largest serialized arguments kept in a record; larger ones are replaced by their size. */
const MAX_ARGUMENT_BYTES = 16 * 1024;
/** Most lines written in one go. */
const MAX_BATCH_LINES = 512;

/** The audit log of a gateway. */
export class AuditLog {
  /** Records dropped because the destination was too slow (the buffer was full). */
  dropped = 0;
  /** Records written. */
  written = 0;
  private readonly queue: string[] = [];
  private writing: Promise<void> | undefined;
  private readonly redactor: ArgumentRedactor;
  private readonly sink: (chunk: string) => Promise<void>;
  private file: Promise<FileHandle> | undefined;
  private warnedAt = 0;
  private readonly usesCloudWatch: boolean;
  private closed = false;

  constructor(
    private readonly config: AuditConfig,
    private readonly options: AuditLogOptions,
  ) {
    this.redactor = createArgumentRedactor(config.redact);
    const group = (options.env ?? process.env)[AUDIT_LOG_GROUP_ENV];
    this.usesCloudWatch = group !== undefined && group !== '';
    this.sink = options.write ?? (group !== undefined && group !== '' ? createCloudWatchAuditSink({ logGroupName: group }) : this.destinationSink());
  }

  /** An audit log for the config, or undefined when it is off. */
  static create(config: AuditConfig, options: AuditLogOptions): AuditLog | undefined {
    return config.enabled ? new AuditLog(config, options) : undefined;
  }

  /**
   * Opens a file destination now, so that a path that cannot be written is a
   * clear error at start rather than lost records later.
   */
  async ready(): Promise<void> {
    if (this.options.write !== undefined || this.config.destination === 'stdout' || this.usesCloudWatch) return;
    try {
      await this.openFile();
    } catch (error) {
      throw new FleetError('AUDIT_DESTINATION', `gateway.audit.destination: cannot open ${this.config.destination} for appending: ${(error as Error).message}`, {
        cause: error,
        hint: 'create its directory and let the gateway write there, or set destination: stdout',
      });
    }
  }

  /** Records still waiting to be written. */
  get buffered(): number {
    return this.queue.length;
  }

  /** Starts auditing one call; undefined for a method that is not audited. */
  begin(start: AuditCallStart): AuditTicket | undefined {
    if (!AUDITED_METHODS.has(start.method) || this.closed) return undefined;
    const started = performance.now();
    const time = new Date().toISOString();
    let done = false;
    const finish = (outcome: AuditOutcome, errorCode?: number): void => {
      if (done) return;
      done = true;
      this.push(this.record(start, time, Math.round((performance.now() - started) * 100) / 100, outcome, errorCode));
    };
    return {
      answered: (answer) => {
        if (answer.isError) {
          const code = (answer.message.error as { code?: unknown } | undefined)?.code;
          finish('error', typeof code === 'number' ? code : undefined);
          return;
        }
        finish(outcomeOfResult(answer));
      },
      failed: (code) => finish('error', code),
      cancelled: () => finish('cancelled'),
    };
  }

  /** Writes what is buffered and closes the destination; later calls are not audited. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing) await this.writing;
    if (this.file) await (await this.file.catch(() => undefined))?.close();
  }

  private record(start: AuditCallStart, time: string, durationMs: number, outcome: AuditOutcome, errorCode: number | undefined): string {
    const params = (start.params ?? {}) as Record<string, unknown>;
    const name = typeof params['name'] === 'string' ? params['name'] : undefined;
    const record: Record<string, unknown> = {
      time,
      audit: true,
      principal: start.principal,
      server: start.server,
      method: start.method,
      ...(start.method === 'tools/call' ? { tool: name } : {}),
      ...(start.method === 'prompts/get' ? { prompt: name } : {}),
      ...(start.method === 'resources/read' && typeof params['uri'] === 'string' ? { uri: params['uri'] } : {}),
      outcome,
      ...(errorCode === undefined ? {} : { errorCode }),
      durationMs,
      requestId: start.requestId,
      ...(start.sessionId === undefined ? {} : { sessionId: start.sessionId }),
      era: start.era,
    };
    if (this.config.includeArguments && params['arguments'] !== undefined) {
      const redacted = JSON.stringify(this.redactor.redact(params['arguments']));
      record['arguments'] = redacted.length > MAX_ARGUMENT_BYTES ? { truncatedBytes: redacted.length } : JSON.parse(redacted);
    }
    return `${JSON.stringify(record)}\n`;
  }

  private push(line: string): void {
    if (this.queue.length >= this.config.maxBufferedRecords) {
      this.dropped++;
      // Said at most once a minute, with the running count.
      const now = Date.now();
      if (now - this.warnedAt > 60_000) {
        this.warnedAt = now;
        this.options.logger.warn('audit records dropped: the audit destination is not keeping up', { dropped: this.dropped, buffered: this.queue.length });
      }
      return;
    }
    this.queue.push(line);
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
  }

  /** Writes batches until the queue is empty; one write at a time. */
  private async drain(): Promise<void> {
    // Yield first, so the request that made the record answers before any write.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH_LINES);
      try {
        await this.sink(batch.join(''));
        this.written += batch.length;
      } catch (error) {
        this.dropped += batch.length;
        this.options.logger.error('audit records could not be written', { error: (error as Error).message, dropped: batch.length });
      }
    }
  }

  private destinationSink(): (chunk: string) => Promise<void> {
    const destination = this.config.destination;
    if (destination === 'stdout') {
      return (chunk) => new Promise((resolve, reject) => process.stdout.write(chunk, (error) => (error ? reject(error) : resolve())));
    }
    return async (chunk) => {
      await (await this.openFile()).appendFile(chunk);
    };
  }

  /** The destination file: appended to, readable by the owner only; opened again after a failed open. */
  private openFile(): Promise<FileHandle> {
    this.file ??= open(this.config.destination, 'a', 0o600).catch((error: unknown) => {
      this.file = undefined;
      throw error;
    });
    return this.file;
  }
}

/** `tool-error` for a tool result with `isError: true`, `input-required` for a 2026-07-28 input round, else `ok`. */
function outcomeOfResult(answer: ChildAnswer): AuditOutcome {
  const line = answer.line;
  // Most answers say neither; parse only those that might.
  if (line.length > 0 && !line.includes('"isError"') && !line.includes('"input_required"')) return 'ok';
  const result = answer.message.result as { isError?: unknown; resultType?: unknown } | undefined;
  if (result?.resultType === 'input_required') return 'input-required';
  return result?.isError === true ? 'tool-error' : 'ok';
}
