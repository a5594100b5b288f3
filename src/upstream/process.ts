import { spawn, type ChildProcess } from 'node:child_process';
import { DEFAULT_INHERITED_ENV_VARS } from '@modelcontextprotocol/client/stdio';
import type { Logger } from '../log.js';
import { LineSplitter, TextLines } from './framing.js';
import { taskEnvironment } from './task-env.js';

/**
 * One stdio MCP server process: its own process group, stdin for messages to it,
 * stdout framed into lines, stderr to the log (tagged with the server, and kept
 * only for logs and operators: never sent to a client), and a stop sequence that
 * leaves nothing behind: stdin end, SIGTERM, SIGKILL.
 */

/**
 * Variables a child inherits besides the SDK's default set (HOME, LOGNAME, PATH,
 * SHELL, TERM, USER): locale, temp dirs, certificates, proxies and the caches
 * `npx`/`uvx` use. Everything else must be set in the server's `env`.
 */
export const EXTRA_INHERITED_ENV = [
  'TMPDIR',
  'TEMP',
  'TMP',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'npm_config_cache',
  'npm_config_registry',
  'UV_CACHE_DIR',
  'UV_TOOL_DIR',
  'UV_PYTHON_INSTALL_DIR',
  'SYSTEMROOT',
  'APPDATA',
] as const;

/**
 * The child's environment: the SDK's default inherited variables and
 * {@link EXTRA_INHERITED_ENV}, read from `parent` (with the AWS task variables
 * inside an ECS task, see `task-env.ts`), then the server's own `env`.
 */
export function childEnvironment(
  parent: Readonly<Record<string, string | undefined>>,
  own: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of [...DEFAULT_INHERITED_ENV_VARS, ...EXTRA_INHERITED_ENV]) {
    const value = parent[key];
    // As the SDK's getDefaultEnvironment: a value that starts with "()" is a shell function, not inherited.
    if (value !== undefined && !value.startsWith('()')) env[key] = value;
  }
  return { ...env, ...taskEnvironment(parent), ...own };
}

/** How a child ended. */
export interface ChildExit {
  /** Exit code, when it exited. */
  readonly code: number | null;
  /** Signal, when it was killed. */
  readonly signal: NodeJS.Signals | null;
  /** Error when it could not be spawned at all (ENOENT and the like). */
  readonly spawnError?: Error;
  /** True when the gateway asked it to stop. */
  readonly requested: boolean;
  /** Why the gateway stopped it, when it did (e.g. a message over the size limit). */
  readonly reason?: string;
}

/** What a {@link StdioProcess} reports. */
export interface ProcessEvents {
  /** One line of stdout (a JSON-RPC message, not yet parsed). */
  line(bytes: Buffer): void;
  /** A stdout line longer than `maxMessageBytes`; the process is being stopped. */
  overflow(bytesSeen: number): void;
  /** The process is gone (once). */
  exit(exit: ChildExit): void;
}

/** Options of {@link StdioProcess}. */
export interface StdioProcessOptions {
  /** Server name, for logs. */
  readonly server: string;
  /** Program to run. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
  /** Its full environment (see {@link childEnvironment}). */
  readonly env: Readonly<Record<string, string>>;
  /** Working directory. */
  readonly cwd?: string | undefined;
  /** Longest stdout line accepted. */
  readonly maxMessageBytes: number;
  /** Log sink; stderr lines are logged at info level tagged with the server and pid. */
  readonly logger: Logger;
  /** How many stderr lines to keep for operators (logs, console). @default 20 */
  readonly stderrTailLines?: number;
}

/** Up to this many bytes, a message's pieces are joined into one Buffer before the write (one writev entry); above it they go out as they are, uncopied. */
const JOIN_BELOW_BYTES = 64 * 1024;
const NEWLINE = Buffer.from('\n');
/** A stderr line longer than this is logged in pieces of this length. */
const STDERR_LINE_CHARS = 64 * 1024;
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Kills every child process group still alive when the gateway process exits. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of liveGroups) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Resolves after `ms`, or at once when `until` settles. */
function delay(ms: number, until?: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void until?.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A stdio child process. Its own process group, so `npx`/`uvx` wrappers and their children stop together. */
export class StdioProcess {
  /** Process id, once spawned. */
  pid: number | undefined;
  /** Resolves when the process is gone. */
  readonly exited: Promise<ChildExit>;
  /** When it was started (ms since epoch). */
  readonly startedAt = Date.now();
  /** Receives what the process says; may be re-pointed once (a spare handed to its user). */
  events: ProcessEvents;
  private readonly options: StdioProcessOptions;
  private child: ChildProcess | undefined;
  private readonly stderrTail: string[] = [];
  private stopRequested = false;
  private corked = false;
  private stopReason: string | undefined;
  private alive = false;
  private finished = false;
  private resolveExited!: (exit: ChildExit) => void;

  constructor(options: StdioProcessOptions, events: ProcessEvents) {
    this.options = options;
    this.events = events;
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  /** True while the process runs and the gateway has not asked it to stop. */
  get running(): boolean {
    return this.alive && !this.stopRequested;
  }

  /** The last stderr lines (for logs and operators only). */
  get stderr(): readonly string[] {
    return this.stderrTail;
  }

  /** Spawns the process. Failures arrive as an exit with `spawnError`. */
  start(): void {
    installExitHook();
    const { command, args, env, cwd, logger, server } = this.options;
    let child: ChildProcess;
    try {
      child = spawn(command, [...args], { env: { ...env }, cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true });
    } catch (error) {
      this.finish(null, null, error as Error);
      return;
    }
    this.child = child;
    this.alive = true;
    this.pid = child.pid;
    if (child.pid !== undefined) liveGroups.add(child.pid);
    logger.debug('child started', { server, pid: child.pid, command });

    const splitter = new LineSplitter(this.options.maxMessageBytes, {
      line: (bytes) => this.events.line(bytes),
      overflow: (seen) => {
        this.options.logger.warn('child wrote a message larger than maxMessageBytes; stopping it', {
          server,
          pid: this.pid,
          bytesSeen: seen,
          maxMessageBytes: this.options.maxMessageBytes,
        });
        this.events.overflow(seen);
      },
    });
    child.stdout!.on('data', (chunk: Buffer) => splitter.push(chunk));
    child.stdout!.on('end', () => {
      const dropped = splitter.end();
      if (dropped > 0) logger.warn('child ended stdout in the middle of a message; dropped', { server, pid: this.pid, bytes: dropped });
    });
    child.stderr!.setEncoding('utf8');
    // A child that writes megabytes of stderr without a newline is cut, not buffered.
    const stderrLines = new TextLines(STDERR_LINE_CHARS, (line) => this.onStderrLine(line));
    child.stderr!.on('data', (chunk: string) => stderrLines.push(chunk));
    child.stdin!.on('error', () => {
      // EPIPE after the child died; the exit handler reports it.
    });
    child.once('error', (error) => {
      if (child.pid === undefined) this.finish(null, null, error);
      else logger.warn('child process error', { server, error: error.message });
    });
    child.once('close', (code, signal) => {
      stderrLines.end();
      this.finish(code, signal);
    });
  }

  /** Writes one message (its bytes in pieces, without the newline). Returns false when the process is gone. */
  write(pieces: readonly (Buffer | string)[]): boolean {
    const stdin = this.child?.stdin;
    if (!this.alive || this.stopRequested || !stdin || stdin.destroyed || !stdin.writable) return false;
    // Messages of one turn of the event loop go out in one write: a pipe write is a
    // syscall and wakes the child, so callers sharing a child share the wake-up.
    if (!this.corked) {
      this.corked = true;
      stdin.cork();
      setImmediate(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    if (pieces.length === 1 && typeof pieces[0] === 'string') {
      stdin.write(`${pieces[0]}\n`);
      return true;
    }
    const buffers: Buffer[] = [];
    let length = 1;
    for (const piece of pieces) {
      const buffer = typeof piece === 'string' ? Buffer.from(piece) : piece;
      buffers.push(buffer);
      length += buffer.length;
    }
    buffers.push(NEWLINE);
    // A large message goes out as its pieces (one writev, the stream being corked) rather than copied into one.
    if (length > JOIN_BELOW_BYTES) for (const buffer of buffers) stdin.write(buffer);
    else stdin.write(Buffer.concat(buffers, length));
    return true;
  }

  /**
   * Stops the process: stdin end, then SIGTERM to its group after `graceMs`, then
   * SIGKILL after as long again. Resolves when it is gone.
   */
  async stop(graceMs = 2000, reason?: string): Promise<ChildExit> {
    this.stopRequested = true;
    this.stopReason ??= reason;
    const child = this.child;
    if (!child || !this.alive) return this.exited;
    child.stdin?.end();
    await delay(graceMs, this.exited);
    if (this.alive) this.signalGroup('SIGTERM');
    await delay(graceMs, this.exited);
    if (this.alive) this.signalGroup('SIGKILL');
    return this.exited;
  }

  /** Kills the process group at once. */
  kill(reason?: string): void {
    this.stopRequested = true;
    this.stopReason ??= reason;
    if (this.alive) this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        this.child?.kill(signal);
      } catch {
        // gone
      }
    }
  }

  private onStderrLine(line: string): void {
    const max = this.options.stderrTailLines ?? 20;
    this.stderrTail.push(line);
    if (this.stderrTail.length > max) this.stderrTail.shift();
    this.options.logger.info(line, { server: this.options.server, stream: 'stderr', pid: this.pid });
  }

  private finish(code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.alive = false;
    if (this.pid !== undefined) {
      liveGroups.delete(this.pid);
      // Grandchildren (npx -> node) may outlive the wrapper; the group goes with it.
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // none left
      }
    }
    const exit: ChildExit = {
      code,
      signal,
      requested: this.stopRequested,
      ...(this.stopReason ? { reason: this.stopReason } : {}),
      ...(spawnError ? { spawnError } : {}),
    };
    this.events.exit(exit);
    this.resolveExited(exit);
  }
}

/**
 * One line saying why a child ended, for clients, probes and `/ready`: the
 * server, the command, and the exit code, signal or OS error. Never its stderr
 * (which may hold secrets): that is in the log.
 */
export function describeExit(server: string, command: string, exit: ChildExit): string {
  if (exit.reason) return `MCP server "${server}" was stopped: ${exit.reason}`;
  if (exit.spawnError) {
    // The OS error as Node words it ("spawn uvx ENOENT"): it names the command, never its arguments or environment.
    const code = (exit.spawnError as NodeJS.ErrnoException).code;
    const os = exit.spawnError.message;
    return code === 'ENOENT'
      ? `MCP server "${server}" could not be started: command not found: ${command} (${os}; install it, or fix "command" and PATH)`
      : `MCP server "${server}" could not be started: ${code ?? os} (${os}; command: ${command})`;
  }
  if (exit.signal) return `MCP server "${server}" was killed by ${exit.signal} (command: ${command})`;
  return `MCP server "${server}" exited with code ${exit.code} (command: ${command})`;
}

const SECRET_FLAG = /token|secret|password|api[-_]?key|auth|credential/i;

/**
 * A server's command line for the operator's console (`serve` output): the
 * command and its arguments, with the value of any secret-looking flag
 * (`--api-key X`, `--token=X`) replaced by `***`.
 */
export function displayCommandLine(command: string, args: readonly string[]): string {
  const shown: string[] = [command];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    if (arg.startsWith('-') && eq !== -1 && SECRET_FLAG.test(arg.slice(0, eq))) shown.push(`${arg.slice(0, eq)}=***`);
    else if (i > 0 && args[i - 1]!.startsWith('-') && !args[i - 1]!.includes('=') && SECRET_FLAG.test(args[i - 1]!) && !arg.startsWith('-')) shown.push('***');
    else shown.push(arg);
  }
  return shown.map((part) => (/^[\w@%+=:,./*-]+$/.test(part) ? part : JSON.stringify(part))).join(' ');
}
