import { describe, expect, it } from 'vitest';
import { createJsonLogger, createLogger, prettyLine } from '../src/log.js';

/** A logger whose lines are collected. */
function collecting(options: Parameters<typeof createLogger>[0] = {}): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ ...options, write: (line) => void lines.push(line) }) };
}

describe('logger (pino)', () => {
  it('GIVEN the JSON format WHEN a record is written THEN it is one line {level as a word, ISO time, fields, msg}', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (line) => void lines.push(line) });
    logger.info('server ready', { server: 'memory', era: 'legacy' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\n$/);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toEqual({ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), msg: 'server ready', server: 'memory', era: 'legacy' });
    // The deployed log alarm matches this text.
    expect(lines[0]).toContain('"level":"info"');
  });

  it('GIVEN secret-looking fields WHEN logged THEN their values never reach the line, in records and in child fields', () => {
    const { lines, logger } = collecting();
    logger.child({ apiKey: 'mcpf_child_secret' }).warn('refused', { Authorization: 'Bearer s3cret', token: 't0k', password: 'pw', user: 'ann' });
    expect(lines.join('')).not.toMatch(/s3cret|t0k|"pw"|mcpf_child_secret/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ Authorization: '[redacted]', token: '[redacted]', password: '[redacted]', apiKey: '[redacted]', user: 'ann' });
  });

  it('GIVEN a child with a field WHEN a record sets it again THEN the key appears once, with the record value', () => {
    const { lines, logger } = collecting();
    logger.child({ server: 'a', pid: 1 }).info('x', { pid: 2 });
    expect(lines[0]!.match(/"pid"/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ server: 'a', pid: 2 });
  });

  it('GIVEN level warn WHEN info and debug are logged THEN nothing is written and enabled() says so', () => {
    const { lines, logger } = collecting({ level: 'warn' });
    logger.info('no');
    logger.debug('no');
    logger.error('yes', { error: new Error('boom') });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([expect.objectContaining({ level: 'error', msg: 'yes', error: 'boom' })]);
    expect([logger.enabled('debug'), logger.enabled('info'), logger.enabled('warn')]).toEqual([false, false, true]);
  });

  it('GIVEN the pretty format WHEN a record is written THEN it is one readable line: time LEVEL [server] msg key=value', () => {
    const { lines, logger } = collecting({ format: 'pretty', colour: false });
    logger.child({ server: 'everything' }).warn('child exited', { code: 1, command: 'npx -y thing', detail: { a: 1 } });
    expect(lines).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} WARN  \[everything\] child exited code=1 command="npx -y thing" detail=\{"a":1\}\n$/)]);
  });

  it('GIVEN colour WHEN a pretty line is rendered THEN the level is coloured, and NO colour codes without it', () => {
    const json = JSON.stringify({ level: 'error', time: '2026-12-02T13:00:00.000Z', msg: 'failed' });
    expect(prettyLine(json, true)).toContain('\u001b[31mERROR\u001b[0m');
    expect(prettyLine(json, false)).toBe('13:00:00.000 ERROR failed\n');
  });
});
