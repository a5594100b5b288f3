import { FleetError } from '../errors.js';

const useColour = process.stderr.isTTY && process.env['NO_COLOR'] === undefined;
const paint = (code: number, s: string): string => (useColour ? `\u001b[${code}m${s}\u001b[0m` : s);

/** Red text on a TTY. */
export const red = (s: string): string => paint(31, s);
/** Green text on a TTY. */
export const green = (s: string): string => paint(32, s);
/** Yellow text on a TTY. */
export const yellow = (s: string): string => paint(33, s);
/** Dim text on a TTY. */
export const dim = (s: string): string => paint(2, s);
/** Bold text on a TTY. */
export const bold = (s: string): string => paint(1, s);

/** Writes a progress or status line to stderr (stdout stays for data). */
export function info(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Writes a warning line to stderr. */
export function warn(message: string): void {
  process.stderr.write(`${yellow('warning:')} ${message}\n`);
}

/** Renders an error once, in plain words: message, hint and cause; the stack only with --debug. */
export function reportError(error: unknown, debug: boolean): void {
  const lines: string[] = [];
  if (error instanceof FleetError) {
    lines.push(`${red('error:')} ${error.message}`);
    if (error.hint) lines.push(`  ${error.hint}`);
    if (error.fault === 'program') lines.push(dim('  This looks like a bug in mcp-fleet; please report it with the output of --debug.'));
  } else if (error instanceof Error) {
    lines.push(`${red('error:')} ${error.message}`);
  } else {
    lines.push(`${red('error:')} ${String(error)}`);
  }
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause instanceof Error && !debug) {
    lines.push(dim(`  caused by: ${cause.message}`));
    cause = cause.cause;
  }
  if (debug && error instanceof Error && error.stack) lines.push(dim(error.stack));
  process.stderr.write(`${lines.join('\n')}\n`);
}
