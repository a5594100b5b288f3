/**
 * Reading and rewriting JSON-RPC ids in wire bytes without parsing the message.
 * A relay only needs the id of most messages: where a message has one of the
 * shapes the SDKs write, the id is read from its first or last bytes and swapped
 * in place, and the rest of the bytes are passed on untouched. Anything else
 * returns undefined and the caller parses and re-serializes.
 *
 * Why a shape match is exact: in valid JSON whose top-level value is an object, a
 * text that starts with `{"jsonrpc":"2.0","id":7,` has `id` as a top-level member
 * (it is read left to right from the first byte); a text that ends with
 * `,"id":7}` has it too: the final `}` closes the top-level object, `7` is a whole
 * number token, and the quote before `id` follows a comma, so it opens a key, not
 * an escaped quote inside a string. The caller has parsed the message (requests)
 * or checks that it parses where it must (responses are relayed as the child
 * wrote them: a child that writes invalid JSON answers its own caller with it).
 */

const ASCII = 'latin1';

/** Where an id sits in a message's bytes. */
export interface IdSpan {
  /** First byte of the id's JSON text. */
  readonly start: number;
  /** One past its last byte. */
  readonly end: number;
}

/** A response read from its bytes: its numeric id and where the id sits. */
export interface PeekedResponse extends IdSpan {
  /** The id (a positive safe integer: the gateway's upstream ids are). */
  readonly id: number;
  /** Byte offset of the `result` or `error` value. */
  readonly valueStart: number;
  /** One past the value's last byte. */
  readonly valueEnd: number;
  /** Whether it is an `error` response. */
  readonly isError: boolean;
}

const HEAD = Buffer.from('{"jsonrpc":"2.0","id":', ASCII);
const RESULT_AFTER_ID = Buffer.from(',"result":', ASCII);
const ERROR_AFTER_ID = Buffer.from(',"error":', ASCII);
const RESULT_FIRST = Buffer.from('{"result":', ASCII);
const ERROR_FIRST = Buffer.from('{"error":', ASCII);
const TAIL = Buffer.from(',"jsonrpc":"2.0","id":', ASCII);

/** Whether `prefix` sits at `at`. A byte loop: the prefixes are a few dozen bytes, below what a call into `Buffer.compare` costs. */
export function startsWithAt(buffer: Buffer, prefix: Buffer, at: number): boolean {
  const n = prefix.length;
  if (at < 0 || buffer.length - at < n) return false;
  for (let i = 0; i < n; i++) if (buffer[at + i] !== prefix[i]) return false;
  return true;
}

/** The value of the decimal digits in `[start, end)` (at most 15 of them: a safe integer). */
function digitsValue(buffer: Buffer, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + ((buffer[i] as number) - 0x30);
  return value;
}

/** Reads a run of decimal digits starting at `at` (no sign, no leading zero); returns its end, or -1. */
function digitsEnd(buffer: Buffer, at: number): number {
  let i = at;
  while (i < buffer.length && i - at < 16) {
    const c = buffer[i] as number;
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  if (i === at || i - at > 15 || (buffer[at] === 0x30 && i - at > 1)) return -1;
  return i;
}

/**
 * Reads a response's numeric id from the shapes SDKs write:
 * `{"jsonrpc":"2.0","id":7,"result":...}` (Python, most others) and
 * `{"result":...,"jsonrpc":"2.0","id":7}` (the TypeScript SDK). Undefined for any
 * other shape (a string id, a request, whitespace): parse it instead.
 */
export function peekResponse(line: Buffer): PeekedResponse | undefined {
  if (line.length < 20 || line[line.length - 1] !== 0x7d) return undefined;
  if (startsWithAt(line, HEAD, 0)) {
    const start = HEAD.length;
    const end = digitsEnd(line, start);
    if (end === -1) return undefined;
    let isError: boolean;
    let valueStart: number;
    if (startsWithAt(line, RESULT_AFTER_ID, end)) {
      isError = false;
      valueStart = end + RESULT_AFTER_ID.length;
    } else if (startsWithAt(line, ERROR_AFTER_ID, end)) {
      isError = true;
      valueStart = end + ERROR_AFTER_ID.length;
    } else {
      return undefined;
    }
    return { id: digitsValue(line, start, end), start, end, valueStart, valueEnd: line.length - 1, isError };
  }
  const isError = startsWithAt(line, ERROR_FIRST, 0);
  if (!isError && !startsWithAt(line, RESULT_FIRST, 0)) return undefined;
  // The id is the last member: find where its digits begin, from the end.
  let start = line.length - 1;
  while (start > 0) {
    const c = line[start - 1] as number;
    if (c < 0x30 || c > 0x39) break;
    start--;
  }
  const end = line.length - 1;
  if (end - start < 1 || end - start > 15 || (line[start] === 0x30 && end - start > 1)) return undefined;
  const tailStart = start - TAIL.length;
  if (tailStart <= 0 || !startsWithAt(line, TAIL, tailStart)) return undefined;
  const valueStart = isError ? ERROR_FIRST.length : RESULT_FIRST.length;
  return { id: digitsValue(line, start, end), start, end, valueStart, valueEnd: tailStart, isError };
}

/** The bytes of `message` with the id at `span` replaced by `idJson`, as pieces to write in order. */
export function withIdAt(message: Buffer, span: IdSpan, idJson: string): Buffer[] {
  return [message.subarray(0, span.start), Buffer.from(idJson), message.subarray(span.end)];
}

const NEWLINE = 0x0a;

/**
 * Where the id of a client's request sits in its body, for the shapes clients
 * write: `{"jsonrpc":"2.0","id":<id>,...`, `{"id":<id>,...` and `...,"id":<id>}`.
 * `idJson` is `JSON.stringify` of the parsed id; a body written another way
 * (escapes, spaces, a newline anywhere) gives undefined.
 */
export function findRequestId(body: Buffer, idJson: string): IdSpan | undefined {
  if (body.length === 0 || body[0] !== 0x7b || body[body.length - 1] !== 0x7d || body.indexOf(NEWLINE) !== -1) return undefined;
  const id = Buffer.from(idJson);
  for (const head of [HEAD, ID_FIRST]) {
    if (startsWithAt(body, head, 0) && startsWithAt(body, id, head.length) && body[head.length + id.length] === 0x2c) {
      return { start: head.length, end: head.length + id.length };
    }
  }
  const tailStart = body.length - 1 - id.length;
  if (tailStart > ID_TAIL.length && startsWithAt(body, id, tailStart) && startsWithAt(body, ID_TAIL, tailStart - ID_TAIL.length)) {
    return { start: tailStart, end: tailStart + id.length };
  }
  return undefined;
}

const ID_FIRST = Buffer.from('{"id":', ASCII);
const ID_TAIL = Buffer.from(',"id":', ASCII);
