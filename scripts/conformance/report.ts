/**
 * Judging a conformance run: per-scenario verdicts from the suite's checks.json
 * files, the expected-failures baseline, and the pass/fail table. Pure
 * functions, so test/conformance/report.test.ts can check them without a run.
 */

/** One check as the suite writes it to checks.json. */
export interface SuiteCheck {
  readonly id: string;
  readonly status: string;
  readonly errorMessage?: string;
}

/** The checks of one scenario run. */
export interface ScenarioRun {
  readonly scenario: string;
  readonly checks: readonly SuiteCheck[];
}

/** Everything one leg (a requirement set or a wire version) produced for one target. */
export interface LegRun {
  readonly target: string;
  readonly leg: string;
  /** Through the gateway, or against the server's own HTTP transport (for comparison). */
  readonly via: 'gateway' | 'direct';
  readonly scenarios: readonly ScenarioRun[];
  /** Scenarios the requirement set runs but does not score (extensions, pending, added after release). */
  readonly notScored: readonly string[];
  /** Why the leg produced no results (the suite crashed or timed out). */
  readonly error?: string;
}

/** What the checks of a scenario add up to. */
export type Outcome = 'pass' | 'fail' | 'warn' | 'skip';

/** A scenario's outcome judged against the baseline. */
export type Verdict =
  /** passed (warnings included) or skipped */
  | 'ok'
  /** failed, and the baseline does not excuse every failing check */
  | 'unexpected'
  /** failed, and every failing check is in the baseline */
  | 'expected'
  /** in the baseline, but passed: remove the entry */
  | 'stale'
  /** failed or passed in a scenario the requirement set does not score */
  | 'not-scored';

/** One judged scenario of one leg. */
export interface JudgedScenario {
  readonly target: string;
  readonly leg: string;
  readonly via: 'gateway' | 'direct';
  readonly scenario: string;
  readonly outcome: Outcome;
  readonly verdict: Verdict;
  readonly passed: number;
  readonly failing: readonly SuiteCheck[];
  readonly warnings: readonly SuiteCheck[];
}

/**
 * Expected failures by target and leg (`*`: every leg): `scenario` excuses the
 * whole scenario, `scenario:check-id` one check of it (the suite's own baseline syntax).
 */
export type Baseline = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

/** The outcome of a scenario from its checks (INFO checks only describe traffic). */
export function outcomeOf(checks: readonly SuiteCheck[]): Outcome {
  if (checks.some((c) => c.status === 'FAILURE')) return 'fail';
  if (checks.some((c) => c.status === 'WARNING')) return 'warn';
  if (checks.some((c) => c.status === 'SUCCESS')) return 'pass';
  return 'skip';
}

/** Reads a baseline entry list into whole-scenario and per-check excuses. */
function excusesFor(entries: readonly string[], scenario: string): { whole: boolean; checks: Set<string> } {
  const checks = new Set<string>();
  let whole = false;
  for (const entry of entries) {
    if (entry === scenario) whole = true;
    else if (entry.startsWith(`${scenario}:`)) checks.add(entry.slice(scenario.length + 1));
  }
  return { whole, checks };
}

/** Judges every scenario of every leg; the baseline applies to gateway runs only. */
export function judge(runs: readonly LegRun[], baseline: Baseline): JudgedScenario[] {
  const judged: JudgedScenario[] = [];
  for (const run of runs) {
    const entries = run.via === 'gateway' ? [...(baseline[run.target]?.[run.leg] ?? []), ...(baseline[run.target]?.['*'] ?? [])] : [];
    for (const { scenario, checks } of run.scenarios) {
      const outcome = outcomeOf(checks);
      const failing = checks.filter((c) => c.status === 'FAILURE');
      const excuses = excusesFor(entries, scenario);
      let verdict: Verdict;
      if (run.notScored.includes(scenario)) verdict = 'not-scored';
      else if (failing.length > 0) {
        verdict = excuses.whole || failing.every((c) => excuses.checks.has(c.id)) ? 'expected' : 'unexpected';
      } else {
        const excusedButPassing = checks.some((c) => excuses.checks.has(c.id) && c.status === 'SUCCESS');
        verdict = (excuses.whole && outcome !== 'skip') || excusedButPassing ? 'stale' : 'ok';
      }
      judged.push({
        target: run.target,
        leg: run.leg,
        via: run.via,
        scenario,
        outcome,
        verdict,
        passed: checks.filter((c) => c.status === 'SUCCESS').length,
        failing,
        warnings: checks.filter((c) => c.status === 'WARNING'),
      });
    }
  }
  return judged;
}

/**
 * Leg-specific baseline entries whose scenario did not run at all in a gateway
 * leg that did run (a typo, or a scenario the suite dropped); `*` entries are
 * not checked, since no leg runs every scenario.
 */
export function unmatchedBaselineEntries(runs: readonly LegRun[], baseline: Baseline): string[] {
  const unmatched: string[] = [];
  for (const run of runs) {
    if (run.via !== 'gateway' || run.error !== undefined) continue;
    const ran = new Set(run.scenarios.map((s) => s.scenario));
    for (const entry of baseline[run.target]?.[run.leg] ?? []) {
      if (!ran.has(entry.split(':')[0] ?? entry)) unmatched.push(`${run.target} ${run.leg}: ${entry}`);
    }
  }
  return unmatched;
}

/** Whether the run as a whole failed: an unexpected failure, a stale baseline entry, or a leg that produced nothing. */
export function runFailed(judged: readonly JudgedScenario[], runs: readonly LegRun[]): boolean {
  return (
    judged.some((j) => j.via === 'gateway' && (j.verdict === 'unexpected' || j.verdict === 'stale')) ||
    runs.some((r) => r.via === 'gateway' && r.error !== undefined)
  );
}

/** The text of one table cell. */
function cell(j: JudgedScenario | undefined): string {
  if (!j) return '-';
  // Capital FAIL is kept for what fails the run; a direct run only informs.
  const base = { pass: 'pass', warn: 'warn', skip: 'skip', fail: j.via === 'direct' ? 'fail' : 'FAIL' }[j.outcome];
  switch (j.verdict) {
    case 'expected':
      return 'xfail';
    case 'stale':
      return 'STALE';
    case 'not-scored':
      return `${base.toLowerCase()} (ns)`;
    default:
      return base;
  }
}

function pad(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/**
 * One table per target: a row per scenario, a column per leg. With direct runs
 * a cell reads `gateway/direct`.
 */
export function renderTables(judged: readonly JudgedScenario[], legs: readonly string[]): string {
  const out: string[] = [];
  const targets = [...new Set(judged.map((j) => j.target))];
  for (const target of targets) {
    const mine = judged.filter((j) => j.target === target);
    const withDirect = mine.some((j) => j.via === 'direct');
    const scenarios = [...new Set(mine.map((j) => j.scenario))];
    const header = ['scenario', ...legs.map((l) => (withDirect ? `${l} (gw/direct)` : l))];
    const rows = scenarios.map((scenario) => [
      scenario,
      ...legs.map((leg) => {
        const find = (via: 'gateway' | 'direct') => mine.find((j) => j.scenario === scenario && j.leg === leg && j.via === via);
        return withDirect ? `${cell(find('gateway'))}/${cell(find('direct'))}` : cell(find('gateway'));
      }),
    ]);
    out.push(`${target}\n${pad([header, ...rows])}`);
  }
  out.push(
    'pass/warn/skip: the scenario passed (warnings are SHOULDs) or had nothing to check; FAIL: an unexpected failure;\n' +
      'xfail: a failure the baseline expects; STALE: the baseline expects a failure that did not happen;\n' +
      '(ns): run but not scored by the requirement set; -: not in that leg.',
  );
  return out.join('\n\n');
}

/**
 * Every failing or warning check of the scored scenarios, one line each, message
 * shortened to `width`; scenarios that are not scored get one line each unless
 * `allChecks` is set.
 */
export function renderFailures(judged: readonly JudgedScenario[], options: { width?: number; allChecks?: boolean } = {}): string {
  const width = options.width ?? 240;
  const lines: string[] = [];
  for (const j of judged) {
    const where = `${j.target} ${j.leg}${j.via === 'direct' ? ' direct' : ''} ${j.scenario}`;
    if (j.verdict === 'not-scored' && !options.allChecks) {
      if (j.failing.length > 0) lines.push(`${where} [FAIL (ns)]: ${j.failing.length} failing check(s), not scored (--all-checks lists them)`);
      continue;
    }
    for (const [kind, checks] of [
      ['FAIL', j.failing],
      ['warn', j.warnings],
    ] as const) {
      for (const c of checks) {
        const message = (c.errorMessage ?? '').replace(/\s+/g, ' ');
        const tag = kind === 'FAIL' && j.verdict === 'expected' ? 'xfail' : j.verdict === 'not-scored' ? `${kind} (ns)` : kind;
        lines.push(`${where} ${c.id} [${tag}]: ${message.length > width ? `${message.slice(0, width)}...` : message}`);
      }
    }
  }
  return lines.join('\n');
}
