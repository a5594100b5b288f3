import type { DeployEvent, DeployStep, StackActivityEvent } from '../deploy/toolkit.js';
import { dim, green, red, yellow } from './output.js';

/**
 * Renders the deploy library's events (it never prints): the long steps (image
 * context, synth, deploy, diff, destroy) and CloudFormation's stack events, each
 * with the time elapsed since the command started. On a terminal a spinner line
 * under the history says what is running and for how long; elsewhere (CI logs,
 * pipes) every line is plain and final. Progress goes to stderr only, so stdout
 * keeps the data a user may pipe.
 */

/** Where and how progress is written. */
export interface ProgressOptions {
  /** Writes to stderr. */
  readonly write: (text: string) => void;
  /** Redraw a spinner line in place: true only when stderr is a terminal. */
  readonly tty: boolean;
  /** Show the toolkit's debug messages. @default false */
  readonly verbose?: boolean;
  /** Clock, in ms. @default Date.now */
  readonly now?: () => number;
  /** Spinner redraw interval. @default 100 */
  readonly frameMs?: number;
  /** Width of the terminal: a longer spinner line would wrap, and `\r` could not redraw it. @default no limit */
  readonly columns?: () => number | undefined;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** `8.3s`, `1m05s`, `1h02m`. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.floor(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

/** A stack event as one line: status, type, resource, progress and, for a failure, the reason. */
export function formatActivity(a: StackActivityEvent): string {
  const progress = a.completed === undefined ? '' : a.total === undefined ? ` [${a.completed}]` : ` [${a.completed}/${a.total}]`;
  const resource = a.constructPath === undefined ? a.logicalId : `${a.constructPath} (${a.logicalId})`;
  const failed = /FAILED/.test(a.status);
  const status = failed ? red(a.status) : /COMPLETE$/.test(a.status) && !/ROLLBACK/.test(a.status) ? green(a.status) : a.status;
  const reason = a.reason !== undefined && (failed || /ROLLBACK/.test(a.status)) ? `: ${a.reason}` : '';
  return `${status} ${a.resourceType} ${resource}${progress}${reason}`;
}

/** Renders {@link DeployEvent}s as progress on stderr. */
export class ProgressRenderer {
  private readonly now: () => number;
  private readonly startedAt: number;
  /** Steps running now, innermost last, with when they started. */
  private readonly running: Array<{ readonly step: DeployStep['name']; readonly message: string; readonly since: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private spinnerShown = false;
  private lastProgress = '';

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** Renders one event. */
  readonly event = (e: DeployEvent): void => {
    if (e.step !== undefined) return this.onStep(e.step, e.message);
    if (e.activity !== undefined) {
      const a = e.activity;
      if (a.completed !== undefined) this.lastProgress = a.total === undefined ? `${a.completed} resources done` : `${a.completed}/${a.total} resources`;
      return this.line(`${this.stamp()} ${formatActivity(a)}`);
    }
    if (e.level === 'debug' && !this.options.verbose) return;
    const text = e.message.replace(/\n$/, '');
    if (text === '') return;
    if (e.level === 'error') this.line(`${red('error:')} ${text}`);
    else if (e.level === 'warn') this.line(`${yellow('warning:')} ${text}`);
    else if (e.level === 'debug') this.line(dim(text));
    else this.line(text);
  };

  /** Stops the spinner and clears its line (idempotent); the last step's end does it too. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clearSpinner();
  }

  private onStep(step: DeployStep, message: string): void {
    if (step.state === 'start') {
      this.running.push({ step: step.name, message, since: this.now() });
      // On a terminal the spinner says it; elsewhere a line says it once.
      if (!this.options.tty) this.line(`${this.stamp()} ${step.name}: ${message}...`);
      this.startSpinner();
      return;
    }
    const index = this.running.map((r) => r.step).lastIndexOf(step.name);
    const since = index === -1 ? this.startedAt : this.running[index]!.since;
    if (index !== -1) this.running.splice(index, 1);
    const took = formatElapsed(this.now() - since);
    this.line(step.ok === false ? `${this.stamp()} ${step.name}: ${red('failed')} after ${took}` : `${this.stamp()} ${step.name}: done in ${took}`);
    if (this.running.length === 0) this.stop();
  }

  private stamp(): string {
    return dim(`[${formatElapsed(this.now() - this.startedAt).padStart(6)}]`);
  }

  /** Writes a final line; on a terminal, above the spinner. */
  private line(text: string): void {
    this.clearSpinner();
    this.options.write(`${text}\n`);
    this.drawSpinner();
  }

  private startSpinner(): void {
    if (!this.options.tty || this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.frame = (this.frame + 1) % SPINNER.length;
      this.drawSpinner();
    }, this.options.frameMs ?? 100);
    // A spinner never keeps the process alive.
    this.timer.unref();
    this.drawSpinner();
  }

  private drawSpinner(): void {
    const current = this.running.at(-1);
    if (!this.options.tty || current === undefined) return;
    const progress = this.lastProgress === '' || (current.step !== 'deploy' && current.step !== 'destroy') ? '' : `, ${this.lastProgress}`;
    const head = `${SPINNER[this.frame]} ${current.step}: `;
    const tail = `(${formatElapsed(this.now() - current.since)}${progress})`;
    const room = (this.options.columns?.() ?? Infinity) - 1 - head.length - tail.length - 1;
    const message = current.message.length <= room ? current.message : `${current.message.slice(0, Math.max(0, room - 1))}…`;
    this.options.write(`\r\u001b[2K${head}${message} ${dim(tail)}`);
    this.spinnerShown = true;
  }

  private clearSpinner(): void {
    if (!this.spinnerShown) return;
    this.options.write('\r\u001b[2K');
    this.spinnerShown = false;
  }
}
