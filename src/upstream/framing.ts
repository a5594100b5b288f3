/**
 * Newline-delimited framing of a child's stdout (MCP stdio: one JSON-RPC message
 * per line). Linear: each byte is scanned once and copied at most once, however
 * the line is cut into chunks; a line longer than the limit is discarded as it
 * streams in, never assembled.
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
  private readonly parts: Buffer[] = [];
  private partsLength = 0;
  private discarding = false;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
  ) {}

  /** Bytes held for a line not yet complete. */
  get pendingBytes(): number {
    return this.partsLength;
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
    const dropped = this.partsLength;
    this.parts.length = 0;
    this.partsLength = 0;
    this.discarding = false;
    return dropped;
  }

  private hold(chunk: Buffer, start: number, end: number): void {
    if (start === end || this.discarding) return;
    if (this.partsLength + (end - start) > this.maxLineBytes) {
      this.startDiscarding(this.partsLength + (end - start));
      return;
    }
    this.parts.push(chunk.subarray(start, end));
    this.partsLength += end - start;
  }

  private finishLine(chunk: Buffer, start: number, end: number): void {
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    let line: Buffer;
    if (this.parts.length === 0) {
      line = chunk.subarray(start, end);
    } else {
      if (this.partsLength + (end - start) > this.maxLineBytes) {
        this.startDiscarding(this.partsLength + (end - start));
        this.discarding = false;
        return;
      }
      this.parts.push(chunk.subarray(start, end));
      line = Buffer.concat(this.parts, this.partsLength + (end - start));
      this.parts.length = 0;
      this.partsLength = 0;
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
    this.parts.length = 0;
    this.partsLength = 0;
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
