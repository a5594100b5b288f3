import { describe, expect, it } from 'vitest';
import { judge, outcomeOf, renderFailures, renderTables, runFailed, unmatchedBaselineEntries, type LegRun, type SuiteCheck } from '../../scripts/conformance/report.js';

// How scripts/conformance judges the suite's checks.json files against the
// expected-failures baseline: the part of the conformance run that decides its exit code.

const ok = (id: string): SuiteCheck => ({ id, status: 'SUCCESS' });
const bad = (id: string, errorMessage = `${id} broke`): SuiteCheck => ({ id, status: 'FAILURE', errorMessage });

function leg(scenarios: Record<string, SuiteCheck[]>, extra: Partial<LegRun> = {}): LegRun {
  return {
    target: 'fixture',
    leg: '2026-07-28',
    via: 'gateway',
    notScored: [],
    scenarios: Object.entries(scenarios).map(([scenario, checks]) => ({ scenario, checks })),
    ...extra,
  };
}

describe('outcomeOf', () => {
  it('is fail on any FAILURE, warn on a WARNING, pass on a SUCCESS, skip when only INFO or SKIPPED checks ran', () => {
    expect(outcomeOf([ok('a'), bad('b')])).toBe('fail');
    expect(outcomeOf([ok('a'), { id: 'b', status: 'WARNING' }])).toBe('warn');
    expect(outcomeOf([ok('a'), { id: 'i', status: 'INFO' }])).toBe('pass');
    expect(outcomeOf([{ id: 's', status: 'SKIPPED' }, { id: 'i', status: 'INFO' }])).toBe('skip');
    expect(outcomeOf([])).toBe('skip');
  });
});

describe('judge', () => {
  it('calls a failure unexpected unless the baseline names the scenario or every failing check', () => {
    const runs = [leg({ whole: [bad('x')], partial: [bad('x'), bad('y')], covered: [bad('x'), ok('y')], clean: [ok('x')] })];
    const verdicts = Object.fromEntries(
      judge(runs, { fixture: { '2026-07-28': ['whole', 'partial:x', 'covered:x'] } }).map((j) => [j.scenario, j.verdict]),
    );
    expect(verdicts).toEqual({ whole: 'expected', partial: 'unexpected', covered: 'expected', clean: 'ok' });
  });

  it('calls a baselined scenario or check that passed stale, and tolerates a baselined check that did not run', () => {
    const runs = [leg({ fixed: [ok('x')], 'check-fixed': [ok('x')], 'check-absent': [ok('y')] })];
    const judged = judge(runs, { fixture: { '2026-07-28': ['fixed', 'check-fixed:x', 'check-absent:x'] } });
    expect(judged.map((j) => j.verdict)).toEqual(['stale', 'stale', 'ok']);
    expect(runFailed(judged, runs)).toBe(true);
  });

  it('applies a `*` entry to every leg of its target', () => {
    const runs = [leg({ s: [bad('x')] }), leg({ s: [bad('x')] }, { leg: '2025-11-25' }), leg({ s: [bad('x')] }, { target: 'everything' })];
    expect(judge(runs, { fixture: { '*': ['s'] } }).map((j) => j.verdict)).toEqual(['expected', 'expected', 'unexpected']);
    expect(unmatchedBaselineEntries(runs, { fixture: { '*': ['s', 'not-in-any-leg'] } })).toEqual([]);
  });

  it('applies a baseline to its own target and leg only', () => {
    const runs = [leg({ s: [bad('x')] }), leg({ s: [bad('x')] }, { leg: '2025-11-25' }), leg({ s: [bad('x')] }, { target: 'everything' })];
    expect(judge(runs, { fixture: { '2026-07-28': ['s'] } }).map((j) => j.verdict)).toEqual(['expected', 'unexpected', 'unexpected']);
  });

  it('never fails the run for a scenario the requirement set does not score, nor for a direct comparison run', () => {
    const runs = [leg({ 'tasks-lifecycle': [bad('x')] }, { notScored: ['tasks-lifecycle'] }), leg({ s: [bad('x')] }, { via: 'direct' })];
    const judged = judge(runs, {});
    expect(judged.map((j) => j.verdict)).toEqual(['not-scored', 'unexpected']);
    expect(runFailed(judged, runs)).toBe(false);
  });

  it('fails the run when a gateway leg produced no results', () => {
    const runs = [leg({}, { error: 'the suite wrote no results' })];
    expect(runFailed(judge(runs, {}), runs)).toBe(true);
  });
});

describe('unmatchedBaselineEntries', () => {
  it('names entries whose scenario did not run in a leg that ran', () => {
    const runs = [leg({ s: [bad('x')] })];
    expect(unmatchedBaselineEntries(runs, { fixture: { '2026-07-28': ['s', 'typo-scenario', 'gone:check'], '2025-11-25': ['not-run'] } })).toEqual([
      'fixture 2026-07-28: typo-scenario',
      'fixture 2026-07-28: gone:check',
    ]);
  });
});

describe('rendering', () => {
  it('puts a scenario per row and a leg per column, gateway/direct when there are direct runs', () => {
    const runs = [
      leg({ a: [ok('x')], b: [bad('x')], c: [ok('x')] }),
      leg({ a: [ok('x')] }, { leg: '2025-11-25' }),
      leg({ a: [ok('x')], b: [ok('x')], c: [bad('x')] }, { via: 'direct' }),
    ];
    const table = renderTables(judge(runs, {}), ['2026-07-28', '2025-11-25']);
    const rows = table.split('\n').filter((l) => /^(scenario|a|b|c) /.test(l)).map((l) => l.split(/\s{2,}/));
    expect(rows).toEqual([
      ['scenario', '2026-07-28 (gw/direct)', '2025-11-25 (gw/direct)'],
      ['a', 'pass/pass', 'pass/-'],
      ['b', 'FAIL/pass', '-/-'],
      ['c', 'pass/fail', '-/-'],
    ]);
  });

  it('lists each failing check of a scored scenario with its message, and a count for one that is not scored', () => {
    const runs = [leg({ s: [bad('x', 'Expected -32021,\n got -32601')], t: [bad('y'), bad('z')] }, { notScored: ['t'] })];
    expect(renderFailures(judge(runs, {})).split('\n')).toEqual([
      'fixture 2026-07-28 s x [FAIL]: Expected -32021, got -32601',
      'fixture 2026-07-28 t [FAIL (ns)]: 2 failing check(s), not scored (--all-checks lists them)',
    ]);
  });
});
