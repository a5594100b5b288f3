import { HeldBytes } from '../held-bytes.js';

/**
 * Newline-delimited framing of a child's stdout (MCP stdio: one JSON-RPC message
 * per line). Linear: each byte is scanned once and copied at most twice (see
 * HeldBytes), however the line is cut into chunks; a line longer than the limit
 * is discarded as it streams in, never assembled.
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Receives what a {@link LineSplitter} finds. */
export interface LineSink {
  /** One complete line, without its newline (and without a trailing `\r`); never blank. */
  line(bytes: Buffer): void;
  /** A line grew past the limit: it is dropped up to its newline. Called once per such line. */
  overflow(bytesSeen: number): void;
}

/** Splits a byte stream into lines of at most `maxLineBytes`. */
export class LineSplitter {
  /** The pieces of the line not yet complete (many small reads joined: see HeldBytes). */
  private readonly parts = new HeldBytes();
  private discarding = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
  ) {}

  /** Bytes held for a line not yet complete. */
  get pendingBytes(): number {
    return this.parts.length;
  }

  /** Feeds one chunk. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) {
        this.hold(chunk, start, chunk.length);
        return;
      }
      this.finishLine(chunk, start, newline);
      start = newline + 1;
    }
  }

  /** The stream ended: a last line without a newline is not a message, and is dropped. */
  end(): number {
    const dropped = this.parts.length;
    this.parts.clear();
    this.discarding = false;
    return dropped;
  }

  private hold(chunk: Buffer, start: number, end: number): void {
    if (start === end || this.discarding) return;
    if (this.parts.length + (end - start) > this.maxLineBytes) {
      this.startDiscarding(this.parts.length + (end - start));
      return;
    }
    this.parts.push(chunk.subarray(start, end));
  }

  private finishLine(chunk: Buffer, start: number, end: number): void {
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    let line: Buffer;
    if (this.parts.count === 0) {
      line = chunk.subarray(start, end);
    } else {
      if (this.parts.length + (end - start) > this.maxLineBytes) {
        this.startDiscarding(this.parts.length + (end - start));
        this.discarding = false;
        return;
      }
      this.parts.push(chunk.subarray(start, end));
      line = this.parts.take();
    }
    if (line.length > this.maxLineBytes) {
      this.sink.overflow(line.length);
      return;
    }
    let length = line.length;
    if (length > 0 && line[length - 1] === CARRIAGE_RETURN) length--;
    if (length === 0 || isBlank(line, length)) return;
    this.sink.line(length === line.length ? line : line.subarray(0, length));
  }

  private startDiscarding(seen: number): void {
    this.parts.clear();
    this.discarding = true;
    this.sink.overflow(seen);
  }
}

function isBlank(line: Buffer, length: number): boolean {
  for (let i = 0; i < length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== CARRIAGE_RETURN) return false;
  }
  return true;
}

/**
 * Splits a child's stderr text into lines for the log. Linear: each chunk is
 * searched once, never the text held before it (a child dripping stderr a
 * character per read would otherwise have the whole held line searched again
 * for each one). A line longer than `maxLineChars` is passed on in pieces of
 * that length, as it grows: never held whole.
 */
export class TextLines {
  private pending = '';

  constructor(
    private readonly maxLineChars: number,
    private readonly sink: (line: string) => void,
  ) {}

  push(chunk: string): void {
    let start = 0;
    let newline: number;
    while ((newline = chunk.indexOf('\n', start)) !== -1) {
      const line = this.pending + chunk.slice(start, newline);
      this.pending = '';
      this.emit(line);
      start = newline + 1;
    }
    this.pending += chunk.slice(start);
    if (this.pending.length > this.maxLineChars) {
      // Whole pieces go now; at least one character stays, so that a newline next ends a piece, not an empty line.
      const keep = ((this.pending.length - 1) % this.maxLineChars) + 1;
      this.emit(this.pending.slice(0, this.pending.length - keep));
      this.pending = this.pending.slice(this.pending.length - keep);
    }
  }

  /** The stream ended: a last line without a newline is passed on. */
  end(): void {
    if (this.pending !== '') this.emit(this.pending);
    this.pending = '';
  }

  private emit(line: string): void {
    if (line.length <= this.maxLineChars) {
      this.sink(line);
      return;
    }
    for (let at = 0; at < line.length; at += this.maxLineChars) this.sink(line.slice(at, at + this.maxLineChars));
  }
}
