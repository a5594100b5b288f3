import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';

/**
 * One stdio MCP server process: newline-delimited JSON-RPC on stdin/stdout,
 * stderr to the log, and a stop sequence that leaves nothing behind.
 */

/** Variables a child inherits from the gateway; everything else must be set in the server's `env`. */
export const INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'TMPDIR',
  'TEMP',
  'TMP',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TERM',
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

/** The child's environment: the allow-list from `parent`, then the server's own `env`. */
export function childEnvironment(
  parent: Readonly<Record<string, string | undefined>>,
  own: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = parent[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...own };
}

/** How a child ended. */
export interface ChildExit {
  /** Exit code, when it exited. */
  readonly code: number | null;
  /** Signal, when it was killed. */
  readonly signal: NodeJS.Signals | null;
  /** Error when it could not be spawned at all (ENOENT and the like). */
  readonly spawnError?: Error;
  /** Last lines it wrote to stderr. */
  readonly stderrTail: readonly string[];
  /** True when the gateway asked it to stop. */
  readonly requested: boolean;
}

/** Options of {@link StdioChild}. */
export interface StdioChildOptions {
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
  /** Log sink; stderr lines are logged at info level tagged with the server. */
  readonly logger: Logger;
  /** Called with each line from stdout that parses as JSON, with the parsed value. */
  readonly onMessage: (line: string, message: unknown) => void;
  /** Called once when the process is gone. */
  readonly onExit: (exit: ChildExit) => void;
  /** How many stderr lines to keep for crash reports. @default 20 */
  readonly stderrTailLines?: number;
}

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

/** Resolves after `ms`, or at once when `signal` fires. */
function delay(ms: number, signal?: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void signal?.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A stdio child process. Its own process group, so `npx`/`uvx` wrappers and their
 * grandchildren are stopped together.
 */
export class StdioChild {
  /** Process id, once spawned. */
  pid: number | undefined;
  /** Resolves when the process is gone. */
  readonly exited: Promise<ChildExit>;
  /** Receives each JSON line from stdout; may be re-pointed (a probe child handed on). */
  onMessage: (line: string, message: unknown) => void;
  /** Receives the exit once; may be re-pointed. */
  onExit: (exit: ChildExit) => void;
  private readonly options: StdioChildOptions;
  private process: ChildProcess | undefined;
  private buffered = '';
  private readonly stderrTail: string[] = [];
  private stopRequested = false;
  private alive = false;
  private finished = false;
  private resolveExited!: (exit: ChildExit) => void;

  constructor(options: StdioChildOptions) {
    this.options = options;
    this.onMessage = options.onMessage;
    this.onExit = options.onExit;
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  /** True while the process runs and its stdin is open. */
  get running(): boolean {
    return this.alive && !this.stopRequested;
  }

  /** The last stderr lines. */
  get stderr(): readonly string[] {
    return this.stderrTail;
  }

  /** Spawns the process. Failures arrive through `onExit` (with `spawnError`). */
  start(): void {
    installExitHook();
    const { command, args, env, cwd, logger, server } = this.options;
    let child: ChildProcess;
    try {
      child = spawn(command, [...args], {
        env: { ...env },
        cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        windowsHide: true,
      });
    } catch (error) {
      this.finish(null, null, error as Error);
      return;
    }
    this.process = child;
    this.alive = true;
    this.pid = child.pid;
    if (child.pid !== undefined) liveGroups.add(child.pid);
    logger.debug('child started', { server, pid: child.pid, command });

    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.setEncoding('utf8');
    let partial = '';
    child.stderr!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.onStderrLine(line);
    });
    child.stdin!.on('error', () => {
      // EPIPE after the child died; the exit handler reports it.
    });
    child.once('error', (error) => {
      if (child.pid === undefined) this.finish(null, null, error);
      else logger.warn('child process error', { server, error: error.message });
    });
    child.once('close', (code, signal) => {
      if (partial !== '') this.onStderrLine(partial);
      this.finish(code, signal);
    });
  }

  /** Writes one JSON-RPC message (wire text without a newline). Returns false when the child is gone. */
  send(text: string): boolean {
    const stdin = this.process?.stdin;
    if (!this.alive || !stdin || stdin.destroyed || !stdin.writable) return false;
    // Stdio framing forbids newlines inside a message; pretty-printed JSON is re-encoded.
    const line = text.includes('\n') ? JSON.stringify(JSON.parse(text)) : text;
    stdin.write(`${line}\n`);
    return true;
  }

  /**
   * Stops the child: stdin end, then SIGTERM to its process group after
   * `graceMs`, then SIGKILL after as long again. Resolves when it is gone.
   */
  async stop(graceMs = 2000): Promise<ChildExit> {
    this.stopRequested = true;
    const child = this.process;
    if (!child || !this.alive) return this.exited;
    child.stdin?.end();
    await delay(graceMs, this.exited);
    if (this.alive) this.signalGroup('SIGTERM');
    await delay(graceMs, this.exited);
    if (this.alive) this.signalGroup('SIGKILL');
    return this.exited;
  }

  /** Kills the process group at once. */
  kill(): void {
    this.stopRequested = true;
    if (this.alive) this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.process?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        this.process?.kill(signal);
      } catch {
        // gone
      }
    }
  }

  private onStdout(chunk: string): void {
    let start = 0;
    let text = this.buffered + chunk;
    let nl = text.indexOf('\n', start);
    while (nl !== -1) {
      let line = text.slice(start, nl);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim() !== '') this.onLine(line);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    text = text.slice(start);
    this.buffered = text;
  }

  private onLine(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.options.logger.warn('child wrote a non-JSON line to stdout; ignored', {
        server: this.options.server,
        line: line.length > 200 ? `${line.slice(0, 200)}...` : line,
      });
      return;
    }
    this.onMessage(line, parsed);
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
      stderrTail: [...this.stderrTail],
      requested: this.stopRequested,
      ...(spawnError ? { spawnError } : {}),
    };
    this.onExit(exit);
    this.resolveExited(exit);
  }
}

/** One line saying why a child ended, with its stderr tail, for errors and logs. */
export function describeExit(server: string, exit: ChildExit): string {
  let why: string;
  if (exit.spawnError) {
    const code = (exit.spawnError as NodeJS.ErrnoException).code;
    why =
      code === 'ENOENT'
        ? `could not be started: command not found (${exit.spawnError.message}); check "command" and PATH`
        : `could not be started: ${exit.spawnError.message}`;
  } else if (exit.signal) {
    why = `was killed by ${exit.signal}`;
  } else {
    why = `exited with code ${exit.code}`;
  }
  const tail = exit.stderrTail.filter((l) => l.trim() !== '').slice(-5);
  return `MCP server "${server}" ${why}${tail.length > 0 ? `; its last stderr lines: ${tail.join(' | ')}` : ''}`;
}
