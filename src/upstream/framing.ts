/**
 * Newline-delimited framing of a child's stdout (MCP stdio: one JSON-RPC message
 * per line). Linear: each byte is scanned once and copied at most twice (once
 * only when it came in reads of 1 KiB or more), however the line is cut into
 * chunks; a line longer than the limit is discarded as it streams in, never
 * assembled.
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * A line held in this many pieces has its newest pieces joined into one, when
 * they are small. A child that drips a line a byte per read would otherwise make
 * the gateway hold a Buffer, some hundred bytes, per byte of it.
 */
const MAX_LOOSE_PIECES = 1024;
/** Pieces are joined only when their average is below this: larger reads are held as they came, never copied twice. */
const SMALL_PIECE_BYTES = 1024;

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
  /** Pieces at the end of `parts` not yet looked at for joining. */
  private loose = 0;
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
    this.clear();
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
    if (++this.loose >= MAX_LOOSE_PIECES) this.joinLoose();
  }

  /** Joins the loose pieces into one when they are small; each byte is joined at most once. */
  private joinLoose(): void {
    const first = this.parts.length - this.loose;
    this.loose = 0;
    let bytes = 0;
    for (let i = first; i < this.parts.length; i++) bytes += (this.parts[i] as Buffer).length;
    if (bytes >= MAX_LOOSE_PIECES * SMALL_PIECE_BYTES) return;
    // Outside Buffer's shared pool: a piece held for long must not keep a pool slab, and whatever else is in it, alive.
    const joined = Buffer.allocUnsafeSlow(bytes);
    let at = 0;
    for (const piece of this.parts.splice(first)) at += piece.copy(joined, at);
    this.parts.push(joined);
  }

  private clear(): void {
    this.parts.length = 0;
    this.partsLength = 0;
    this.loose = 0;
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
      this.clear();
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
    this.clear();
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
    for (let at = 0; at < line.length || at === 0; at += this.maxLineChars) this.sink(line.slice(at, at + this.maxLineChars));
  }
}
