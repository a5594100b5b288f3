import { randomBytes } from 'node:crypto';

/**
 * `JSON.parse` of a request body that makes one copy of each long string value,
 * not two. Parsing a body's text makes the text (one string as long as the body)
 * and then every value again; at 8 MiB per call those two strings were one full
 * collection per call (bench/FINDINGS.md). Here a large body's long plain string
 * values are cut out of the bytes, the rest is parsed, and each value is decoded
 * straight from its bytes into its place: the same value `JSON.parse` would give,
 * one string instead of two.
 */

/** Bodies from this size on are parsed this way; smaller ones by `JSON.parse` of their text. */
export const LARGE_BODY_BYTES = 1024 * 1024;

/** A string value this long (in bytes) is decoded from the bytes, not parsed. */
const LONG_VALUE_BYTES = 64 * 1024;

/** The long values must make up at least this share of a body; what is left is parsed and walked. */
const MIN_CUT_SHARE = 0.5;

/**
 * Quotes the scan may visit per byte of body before it gives up (a body of
 * many strings is parsed as it is): one per 256 bytes keeps the scan's loop
 * far below the cost of `JSON.parse`, whatever the body.
 */
const BYTES_PER_QUOTE = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
/** JSON forbids these bytes unescaped in a string. */
const FIRST_PRINTABLE = 0x20;

/**
 * What stands in for a long value while the rest is parsed: plain ASCII, so it
 * needs no escape, and random per process, so a client cannot write a string
 * that would be taken for one.
 */
const PLACEHOLDER = `mcp-fleet-${randomBytes(16).toString('hex')}-`;

/** Parses a JSON body; throws `JSON.parse`'s own error for one that is not JSON. */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length < LARGE_BODY_BYTES) return JSON.parse(raw.toString('utf8'));
  const spans = longValues(raw);
  // Mostly structure, or more strings than a body of a few long values has: parsed as it is.
  if (spans === undefined || spans.reduce((cut, [start, end]) => cut + end - start, 0) < raw.length * MIN_CUT_SHARE) return JSON.parse(raw.toString('utf8'));
  const pieces: Buffer[] = [];
  const byPlaceholder = new Map<string, Span>();
  let from = 0;
  for (const span of spans) {
    const placeholder = PLACEHOLDER + byPlaceholder.size;
    byPlaceholder.set(placeholder, span);
    pieces.push(raw.subarray(from, span[0]), Buffer.from(placeholder, 'latin1'));
    from = span[1];
  }
  pieces.push(raw.subarray(from));
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(pieces).toString('utf8'));
  } catch {
    // Not JSON: the error comes from the body as sent, so that it names the client's own bytes (never the placeholder).
    return JSON.parse(raw.toString('utf8'));
  }
  return restore(parsed, byPlaceholder, raw);
}

/**
 * Puts each long value in its placeholder's place, walking the parsed tree (a
 * reviver would be called for every value of the body, ten times dearer than
 * this loop). Stops when every placeholder is found.
 */
function restore(root: unknown, byPlaceholder: ReadonlyMap<string, Span>, raw: Buffer): unknown {
  const valueOf = (value: unknown): string | undefined => {
    // The prefix first: a long value that was not cut out is never hashed for the lookup.
    const span = typeof value === 'string' && value.startsWith(PLACEHOLDER) ? byPlaceholder.get(value) : undefined;
    return span === undefined ? undefined : raw.toString('utf8', span[0], span[1]);
  };
  if (root === null || typeof root !== 'object') return valueOf(root) ?? root;
  let left = byPlaceholder.size;
  // A stack, not recursion: JSON.parse takes nesting deeper than the call stack.
  const stack: object[] = [root];
  while (left > 0 && stack.length > 0) {
    const node = stack.pop() as Record<string, unknown> | unknown[];
    const keys = Array.isArray(node) ? undefined : Object.keys(node);
    const count = keys === undefined ? (node as unknown[]).length : keys.length;
    for (let i = 0; i < count; i++) {
      const key = keys === undefined ? i : (keys[i] as string);
      const value = (node as Record<string | number, unknown>)[key];
      if (value !== null && typeof value === 'object') {
        stack.push(value);
        continue;
      }
      const decoded = valueOf(value);
      if (decoded === undefined) continue;
      // An own property, even one named __proto__: JSON.parse made it, and it shadows the accessor.
      (node as Record<string | number, unknown>)[key] = decoded;
      left--;
    }
  }
  return root;
}

/** Where a string value's contents start and end in the body. */
type Span = readonly [start: number, end: number];

/**
 * The contents of the body's long string values that need no decoding beyond
 * UTF-8: no escape, no control byte, and not an object's key. Quotes pair up from
 * the start as in any JSON text; a text that is not JSON stays not JSON with its
 * values cut out. Undefined when the body has more quotes than the budget.
 */
function longValues(raw: Buffer): Span[] | undefined {
  const spans: Span[] = [];
  const budget = { quotes: Math.floor(raw.length / BYTES_PER_QUOTE) };
  let at = 0;
  for (;;) {
    if (--budget.quotes < 0) return undefined;
    const open = raw.indexOf(QUOTE, at);
    if (open === -1) return spans;
    const close = closingQuote(raw, open + 1, budget);
    if (close === -1) return budget.quotes < 0 ? undefined : spans;
    if (close - open - 1 >= LONG_VALUE_BYTES && !isKey(raw, close + 1) && isPlain(raw.subarray(open + 1, close))) spans.push([open + 1, close]);
    at = close + 1;
  }
}

/** The quote that ends the string whose contents start at `from` (one not escaped), or -1; each quote visited spends the budget. */
function closingQuote(raw: Buffer, from: number, budget: { quotes: number }): number {
  let quote = raw.indexOf(QUOTE, from);
  while (quote !== -1) {
    if (--budget.quotes < 0) return -1;
    let backslashes = 0;
    while (raw[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = raw.indexOf(QUOTE, quote + 1);
  }
  return -1;
}

/** Whether the string ending just before `after` is an object's key: a colon follows it. */
function isKey(raw: Buffer, after: number): boolean {
  let i = after;
  while (i < raw.length) {
    const c = raw[i] as number;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c === COLON;
    i++;
  }
  return false;
}

/** Whether string contents decode as they are: no backslash and no byte JSON forbids unescaped. */
function isPlain(contents: Buffer): boolean {
  if (contents.indexOf(BACKSLASH) !== -1) return false;
  // One native search per forbidden byte beats a loop over the bytes in JavaScript.
  for (let c = 0; c < FIRST_PRINTABLE; c++) if (contents.indexOf(c) !== -1) return false;
  return true;
}
