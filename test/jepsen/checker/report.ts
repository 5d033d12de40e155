/**
 * Combines checker results into one verdict (Jepsen's `:valid?`: true, false, or unknown) and
 * renders it as a text table followed by each failing check's details.
 */

import { assertNever } from '../../../src/common/assert.js';
import { renderElection, type ElectionResult } from './election.js';
import { renderFencing, type FencingResult } from './fencing.js';
import { renderLinearizability, type LinearizabilityResult } from './linearizability.js';

/** Any checker's result. */
export type CheckerResult = LinearizabilityResult | FencingResult | ElectionResult;

/** One row of the verdict. */
export interface CheckOutcome {
  /** The caller's name for this check, e.g. `locks` or `fenced-writes`. */
  readonly name: string;
  readonly checker: CheckerResult['type'];
  readonly valid: boolean | 'unknown';
  /** A one-line summary. */
  readonly summary: string;
  /** The checker's full rendering. */
  readonly details: string;
  readonly result: CheckerResult;
}

/** The combined verdict: false if any check failed, else unknown if any was inconclusive (or none ran), else true. */
export interface Verdict {
  readonly valid: boolean | 'unknown';
  readonly checks: readonly CheckOutcome[];
}

function outcomeOf(name: string, result: CheckerResult): CheckOutcome {
  switch (result.type) {
    case 'linearizability': {
      const failed = result.partitions.filter((p) => p.valid === false).length;
      const unknown = result.partitions.filter((p) => p.valid === 'unknown').length;
      const summary =
        result.valid === true
          ? `${result.ops} ops in ${result.partitions.length} partition(s) linearizable`
          : result.valid === false
            ? `${failed} of ${result.partitions.length} partition(s) not linearizable; first: ${JSON.stringify(result.failure?.partition ?? '')}`
            : `timed out; ${unknown} of ${result.partitions.length} partition(s) unchecked`;
      return { name, checker: result.type, valid: result.valid, summary, details: renderLinearizability(result), result };
    }
    case 'fencing': {
      const summary = result.valid ? `${result.sections.length} sections, ${result.overlaps.length} overlaps, all fenced` : countTypes(result.findings);
      return { name, checker: result.type, valid: result.valid, summary, details: renderFencing(result), result };
    }
    case 'election': {
      const summary = result.valid ? `${result.grants} grants, ${result.observers} observer(s) consistent` : countTypes(result.findings);
      return { name, checker: result.type, valid: result.valid, summary, details: renderElection(result), result };
    }
    default:
      return assertNever(result, 'checker result');
  }
}

function countTypes(findings: ReadonlyArray<{ readonly type: string }>): string {
  const counts = new Map<string, number>();
  for (const f of findings) counts.set(f.type, (counts.get(f.type) ?? 0) + 1);
  return [...counts].map(([t, n]) => `${n} ${t}`).join(', ');
}

/** Combines named checker results (in the given order) into a verdict. */
export function combineResults(results: ReadonlyArray<readonly [name: string, result: CheckerResult]>): Verdict {
  const checks = results.map(([name, r]) => outcomeOf(name, r));
  const valid = checks.some((c) => c.valid === false) ? false : checks.length === 0 || checks.some((c) => c.valid === 'unknown') ? 'unknown' : true;
  return { valid, checks };
}

function mark(v: boolean | 'unknown'): string {
  return v === true ? 'PASS' : v === false ? 'FAIL' : 'UNKNOWN';
}

/** The verdict as a text table (check, checker, result, summary), then the details of every check that did not pass. */
export function renderVerdict(verdict: Verdict): string {
  const rows = [['check', 'checker', 'result', 'summary'], ...verdict.checks.map((c) => [c.name, c.checker, mark(c.valid), c.summary])];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell))
      .join(' | ')
      .trimEnd();
  const out = [`verdict: ${mark(verdict.valid)}`, line(rows[0] ?? []), widths.map((w) => '-'.repeat(w)).join('-+-') + '-+-' + '-'.repeat(7)];
  for (const r of rows.slice(1)) out.push(line(r));
  for (const c of verdict.checks) if (c.valid !== true) out.push('', `${c.name}:`, c.details);
  return out.join('\n');
}
