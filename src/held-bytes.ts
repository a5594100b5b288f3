/**
 * Bytes that arrive in pieces and are held until they are whole: a line of a
 * child's stdout, a request's body. Each piece is held as it came, except that
 * many small ones in a row are joined into one. A peer that sends a byte per
 * read (a hostile child, a client dripping its body) would otherwise make the
 * gateway hold a Buffer, some hundred bytes, per byte. Linear: a byte is copied
 * at most once before {@link HeldBytes.take}, and only among pieces that average
 * under 1 KiB.
 */

/** Pieces held past this count have the newest ones joined into one, when they are small. */
const MAX_LOOSE_PIECES = 1024;
/** Pieces are joined only when their average is below this: larger reads are held as they came, never copied twice. */
const SMALL_PIECE_BYTES = 1024;

export class HeldBytes {
  private readonly pieces: Buffer[] = [];
  /** Pieces at the end of `pieces` not yet looked at for joining. */
  private loose = 0;
  private bytes = 0;

  /** How many bytes are held. */
  get length(): number {
    return this.bytes;
  }

  /** How many pieces hold them. */
  get count(): number {
    return this.pieces.length;
  }

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.bytes += piece.length;
    if (++this.loose >= MAX_LOOSE_PIECES) this.joinLoose();
  }

  /** Every byte held, as one Buffer (the one piece itself when there is one); the holder is empty after. */
  take(): Buffer {
    const whole = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces, this.bytes);
    this.clear();
    return whole;
  }

  clear(): void {
    this.pieces.length = 0;
    this.bytes = 0;
    this.loose = 0;
  }

  /** Joins the loose pieces into one when they are small. */
  private joinLoose(): void {
    const first = this.pieces.length - this.loose;
    this.loose = 0;
    let bytes = 0;
    for (let i = first; i < this.pieces.length; i++) bytes += (this.pieces[i] as Buffer).length;
    if (bytes >= MAX_LOOSE_PIECES * SMALL_PIECE_BYTES) return;
    // Outside Buffer's shared pool: a piece held for long must not keep a pool slab, and whatever else is in it, alive.
    const joined = Buffer.allocUnsafeSlow(bytes);
    let at = 0;
    for (const piece of this.pieces.splice(first)) at += piece.copy(joined, at);
    this.pieces.push(joined);
  }
}
