import { describe, expect, it } from 'vitest';
import { StdioProcess } from '../../src/upstream/process.js';
import { recordingLogger } from '../gateway/helpers.js';

/**
 * A child's stderr goes to the gateway's log a line at a time. A child that
 * writes a long line a few characters per read must cost the gateway about the
 * line, not the held line searched again for every read.
 */

/** Writes `length` characters `e` to stderr, one per write with a pause between (so the gateway reads them in many chunks), then a newline. */
const DRIP = `
const pause = new Int32Array(new SharedArrayBuffer(4));
const fs = require('node:fs');
for (let i = 0; i < Number(process.argv[1]); i++) { fs.writeSync(2, 'e'); Atomics.wait(pause, 0, 0, 0.05); }
fs.writeSync(2, '\\n');
`;

describe('StdioProcess stderr', () => {
  it('GIVEN a child that drips a stderr line a character at a time THEN the line is logged whole, and the held text is not searched again per read', async () => {
    const length = 20_000;
    const logger = recordingLogger();
    // Counts the characters searched in strings made of the child's text (its run of e).
    let searched = 0;
    const ours = (text: string): boolean => text.startsWith('eeeeeeeeee');
    const { indexOf, split } = String.prototype;
    String.prototype.indexOf = function (this: string, search: string, from?: number) {
      if (ours(this)) searched += this.length - (from ?? 0);
      return indexOf.call(this, search, from);
    };
    String.prototype.split = function (this: string, ...args: Parameters<typeof split>) {
      if (ours(this)) searched += this.length;
      return split.apply(this, args);
    } as typeof split;
    try {
      const child = new StdioProcess(
        { server: 'drip', command: process.execPath, args: ['-e', DRIP, String(length)], env: { ...process.env } as Record<string, string>, maxMessageBytes: 1 << 20, logger },
        { line: () => {}, overflow: () => {}, exit: () => {} },
      );
      child.start();
      await child.exited;
    } finally {
      String.prototype.indexOf = indexOf;
      String.prototype.split = split;
    }
    expect(logger.records.filter((r) => r.fields['stream'] === 'stderr').map((r) => r.message)).toEqual(['e'.repeat(length)]);
    // Split again from the start of the held line on every read: tens of millions of characters here.
    expect(searched).toBeLessThan(3 * length);
  }, 60_000);
});
