/**
 * Which checkers judge which workload, and the combined verdict of a run: the checkers' results
 * (linearizability of the lock and register models, fencing, election), the lease checker, the
 * session-lease checker (every workload: no session expired on the server inside a lease its
 * client was acknowledged), and two health rows (nodes that crashed on their own; harness
 * protocol problems). Pure.
 */
import { assertNever } from '../../../src/common/assert.js';
import {
  checkElection,
  checkFencing,
  checkLinearizability,
  checkSessionLeases,
  combineResults,
  fencedRegisterModel,
  HistoryError,
  lockModel,
  renderSessionLeases,
  summarizeSessionLeases,
  type CheckerResult,
  type History,
  type Op,
  type SessionLeaseResult,
} from '../checker/index.js';
import { checkLeases, renderLeases, type LeaseResult } from './lease-check.js';
import type { WorkloadName } from './options.js';

/** One row of the verdict table. */
export interface CheckRow {
  readonly name: string;
  readonly checker: string;
  readonly valid: boolean | 'unknown';
  readonly summary: string;
  /** The full rendering (shown for rows that did not pass). */
  readonly details: string;
}

/** The verdict of a run. */
export interface RunVerdict {
  /** False if any row failed; unknown if any row is unknown; else true. */
  readonly valid: boolean | 'unknown';
  /** The linearizability rows combined; null when the workload has none. */
  readonly linearizable: boolean | 'unknown' | null;
  readonly rows: readonly CheckRow[];
  /** Raw results, for report.json. */
  readonly results: {
    readonly checkers: ReadonlyArray<readonly [string, CheckerResult]>;
    readonly lease: LeaseResult;
    /** Null when the history was malformed for it (its row is then UNKNOWN). */
    readonly sessionLease: SessionLeaseResult | null;
  };
}

/** Inputs besides the history. */
export interface CheckInputs {
  readonly lockDelayMs: number;
  readonly checkTimeoutMs: number;
  /** Descriptions of node exits the harness did not cause. */
  readonly crashes: readonly string[];
  /** Harness protocol problems (the history may be incomplete). */
  readonly problems: readonly string[];
}

/** The ops whose `f` is a key of `rename`, renamed; everything else dropped (pairing is kept: an op and its completion share `f`). */
export function project(history: History, rename: Readonly<Record<string, string>>): Op[] {
  const out: Op[] = [];
  for (const op of history) {
    const f = rename[op.f];
    if (f !== undefined) out.push(f === op.f ? op : { ...op, f });
  }
  return out;
}

/** The lock model's view of a history: sections as acquire/release, plus sequencer checks. */
export function lockView(history: History): Op[] {
  return project(history, { enter: 'acquire', exit: 'release', check: 'check' });
}

/** The fenced register's view: reads and writes. */
export function registerView(history: History): Op[] {
  return project(history, { read: 'read', write: 'write' });
}

/** Runs one checker; a malformed history becomes an error instead of a result. */
function attempt(name: string, run: () => CheckerResult): readonly [string, CheckerResult] | { readonly name: string; readonly error: string } {
  try {
    return [name, run()] as const;
  } catch (err) {
    if (err instanceof HistoryError) return { name, error: err.message };
    throw err;
  }
}

/** Runs the workload's checkers over `history` and combines them with the health rows. */
export function checkRun(workload: WorkloadName, history: History, inputs: CheckInputs): RunVerdict {
  const lin = { timeoutMs: inputs.checkTimeoutMs };
  const planned: Array<readonly [string, () => CheckerResult]> = [];
  const linNames: string[] = [];
  switch (workload) {
    case 'mutex':
    case 'sessions':
      planned.push(['locks', () => checkLinearizability(lockModel, lockView(history), lin)]);
      planned.push(['register', () => checkLinearizability(fencedRegisterModel, registerView(history), lin)]);
      planned.push(['fencing', () => checkFencing(history)]);
      linNames.push('locks', 'register');
      break;
    case 'sequencer':
      planned.push(['locks', () => checkLinearizability(lockModel, lockView(history), lin)]);
      planned.push(['fencing', () => checkFencing(history)]);
      linNames.push('locks');
      break;
    case 'election':
      planned.push(['election', () => checkElection(history)]);
      break;
    default:
      assertNever(workload, 'workload');
  }
  const checkers: Array<readonly [string, CheckerResult]> = [];
  const rows: CheckRow[] = [];
  for (const [name, run] of planned) {
    const r = attempt(name, run);
    if ('error' in r) {
      rows.push({ name, checker: 'history', valid: 'unknown', summary: 'the history is malformed (a harness bug)', details: r.error });
      continue;
    }
    checkers.push(r);
    const c = combineResults([r]).checks[0];
    if (c) rows.push({ name: c.name, checker: c.checker, valid: c.valid, summary: c.summary, details: c.details });
  }
  let lease: LeaseResult = { type: 'lease', valid: true, findings: [], proofs: 0, grants: 0, handovers: [] };
  try {
    lease = checkLeases(history, { lockDelayMs: inputs.lockDelayMs });
    rows.push({
      name: 'leases',
      checker: 'lease',
      valid: lease.valid,
      summary: lease.valid ? `${lease.proofs} proofs, ${lease.grants} grants, ${lease.handovers.length} killed holder(s)` : `${lease.findings.length} violation(s)`,
      details: renderLeases(lease),
    });
  } catch (err) {
    if (!(err instanceof HistoryError)) throw err;
    rows.push({ name: 'leases', checker: 'history', valid: 'unknown', summary: 'the history is malformed (a harness bug)', details: err.message });
  }
  let sessionLease: SessionLeaseResult | null = null;
  try {
    sessionLease = checkSessionLeases(history);
    rows.push({ name: 'session-leases', checker: 'session-lease', valid: sessionLease.valid, summary: summarizeSessionLeases(sessionLease), details: renderSessionLeases(sessionLease) });
  } catch (err) {
    if (!(err instanceof HistoryError)) throw err;
    rows.push({ name: 'session-leases', checker: 'history', valid: 'unknown', summary: 'the history is malformed (a harness bug)', details: err.message });
  }
  rows.push({
    name: 'nodes',
    checker: 'crashes',
    valid: inputs.crashes.length === 0,
    summary: inputs.crashes.length === 0 ? 'no node exited on its own' : `${inputs.crashes.length} unexpected exit(s)`,
    details: inputs.crashes.join('\n'),
  });
  rows.push({
    name: 'harness',
    checker: 'protocol',
    valid: inputs.problems.length === 0 ? true : 'unknown',
    summary: inputs.problems.length === 0 ? 'history complete' : `${inputs.problems.length} protocol problem(s): the history may be incomplete`,
    details: inputs.problems.slice(0, 20).join('\n'),
  });
  const linRows = rows.filter((r) => linNames.includes(r.name));
  return {
    valid: combine(rows.map((r) => r.valid)),
    linearizable: linRows.length === 0 ? null : combine(linRows.map((r) => r.valid)),
    rows,
    results: { checkers, lease, sessionLease },
  };
}

function combine(vs: ReadonlyArray<boolean | 'unknown'>): boolean | 'unknown' {
  if (vs.some((v) => v === false)) return false;
  if (vs.some((v) => v === 'unknown')) return 'unknown';
  return true;
}
