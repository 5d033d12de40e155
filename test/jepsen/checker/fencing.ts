/**
 * The fencing checker: over a history of critical sections and writes to a fenced resource, finds
 * what fencing tokens exist to prevent (Chubby §2.4; Kleppmann, "How to do distributed locking").
 *
 * History encoding (`name` and `key` optional, default `"default"`; tokens are safe integers):
 * | f       | invoke value              | ok value                                  |
 * |---------|---------------------------|-------------------------------------------|
 * | `enter` | `{name?}`                 | `{token}`: the lock was granted (a grant) |
 * | `exit`  | `{name?, token}`          | anything; the section ends at the invoke (unless the exit fails) |
 * | `write` | `{key?, token, value?}`   | `{accepted: boolean}` or a boolean        |
 * Other ops are ignored, so the same history can also feed the linearizability checker.
 *
 * Real time is history order. Findings (each is definite, never a guess about concurrent ops):
 * - `double-grant`: one token granted twice for the same lock;
 * - `token-regression`: a grant invoked after a grant with a higher token completed;
 * - `stale-write-accepted`: the resource accepted a write with token a invoked after it had accepted
 *   (and acknowledged) a write with a higher token b: sections a and b were not fenced apart;
 * - `unjustified-rejection`: a write rejected although no write with a higher token could have been
 *   accepted before it (a lost write).
 * Overlapping critical sections are listed too; they are expected (a lock holder can lose its lock
 * without knowing) and are only a violation when the resource failed to reject the stale writes.
 */

import { assertNever } from '../../../src/common/assert.js';
import { HistoryError } from './history-error.js';
import { describePaired, pairHistory, type History, type PairedOp } from './history.js';
import { acceptedOf } from './fencing-register-model.js';
import { groupBy, HighestBefore } from './highest-before.js';
import { DEFAULT_KEY } from './register-model.js';
import { expectInt, expectRecord, optionalName } from './values.js';

/** A critical section: from the grant (enter ok) to the exit invoke (or forever). */
export interface CriticalSection {
  readonly process: number;
  readonly name: string;
  readonly token: number;
  /** History index of the grant's completion. */
  readonly start: number;
  /** History index of the exit's invoke; `Infinity` if the process never exited. */
  readonly end: number;
  readonly enter: PairedOp;
}

/** One definite fencing violation. */
export type FencingFinding =
  | { readonly type: 'double-grant'; readonly name: string; readonly token: number; readonly first: PairedOp; readonly second: PairedOp }
  | {
      readonly type: 'token-regression';
      readonly name: string;
      /** The grant with the higher token, completed first. */
      readonly earlier: PairedOp;
      readonly earlierToken: number;
      /** The grant with the lower token, invoked after `earlier` completed. */
      readonly later: PairedOp;
      readonly laterToken: number;
    }
  | {
      readonly type: 'stale-write-accepted';
      readonly key: string;
      readonly write: PairedOp;
      readonly token: number;
      /** The accepted write with a higher token that completed before `write` was invoked. */
      readonly newer: PairedOp;
      readonly newerToken: number;
      /** Whether the two writers' critical sections overlapped (null when a write is outside any section). */
      readonly overlapping: boolean | null;
    }
  | { readonly type: 'unjustified-rejection'; readonly key: string; readonly write: PairedOp; readonly token: number };

/** The fencing checker's verdict. */
export interface FencingResult {
  readonly type: 'fencing';
  readonly valid: boolean;
  readonly findings: readonly FencingFinding[];
  readonly sections: readonly CriticalSection[];
  /** Pairs of overlapping sections of the same lock (older token first). */
  readonly overlaps: ReadonlyArray<readonly [CriticalSection, CriticalSection]>;
  readonly writes: { readonly accepted: number; readonly rejected: number; readonly unknown: number };
}

interface Grant {
  readonly op: PairedOp;
  readonly name: string;
  readonly token: number;
  readonly start: number;
  readonly end: number;
}

interface Write {
  readonly op: PairedOp;
  readonly key: string;
  readonly token: number;
  readonly start: number;
  readonly end: number;
  /** Undefined when the outcome is unknown. */
  readonly accepted: boolean | undefined;
  /** The writer's critical section, once resolved. */
  section: CriticalSection | undefined;
  /** The id of the enter op of the section the write was made in, if any. */
  readonly enterId: number | undefined;
}

/** Checks a history of critical sections and fenced writes. Throws HistoryError when it is malformed. */
export function checkFencing(history: History): FencingResult {
  const grants: Grant[] = [];
  const sections: CriticalSection[] = [];
  const writes: Write[] = [];
  const openSections = new Map<number, Array<{ name: string; token: number; start: number; enter: PairedOp }>>();
  const closeSection = (process: number, name: string, token: number, end: number): boolean => {
    const list = openSections.get(process) ?? [];
    const i = list.findIndex((s) => s.name === name && s.token === token);
    const s = list[i];
    if (s === undefined) return false;
    list.splice(i, 1);
    sections.push({ process, name, token, start: s.start, end, enter: s.enter });
    return true;
  };
  const sectionOf = (process: number, token: number, at: number): number | undefined =>
    openSections.get(process)?.find((s) => s.token === token && s.start < at)?.enter.id;

  for (const p of pairHistory(history)) {
    const where = { index: p.invoke.index };
    try {
      switch (p.f) {
        case 'enter': {
          const name = optionalName(expectRecord(p.invoke.value ?? {}, 'enter invoke value'), 'name', DEFAULT_KEY, 'enter invoke value');
          if (p.outcome !== 'ok' || p.completion === null) break;
          const token = expectInt(expectRecord(p.completion.value, 'enter ok value'), 'token', 'enter ok value');
          grants.push({ op: p, name, token, start: p.start, end: p.end });
          let list = openSections.get(p.process);
          if (!list) openSections.set(p.process, (list = []));
          list.push({ name, token, start: p.completion.index, enter: p });
          break;
        }
        case 'exit': {
          const inv = expectRecord(p.invoke.value, 'exit invoke value');
          const name = optionalName(inv, 'name', DEFAULT_KEY, 'exit invoke value');
          const token = expectInt(inv, 'token', 'exit invoke value');
          if (p.outcome === 'fail') break; // nothing happened: still in the section
          if (!closeSection(p.process, name, token, p.start)) throw new HistoryError(`process ${p.process} exits ${name} with token ${token} but holds no such section`);
          break;
        }
        case 'write': {
          const inv = expectRecord(p.invoke.value, 'write invoke value');
          const key = optionalName(inv, 'key', DEFAULT_KEY, 'write invoke value');
          const token = expectInt(inv, 'token', 'write invoke value');
          if (p.outcome === 'fail') break;
          const accepted = p.outcome === 'ok' && p.completion !== null ? acceptedOf(p.completion.value) : undefined;
          writes.push({ op: p, key, token, start: p.start, end: p.end, accepted, section: undefined, enterId: sectionOf(p.process, token, p.start) });
          break;
        }
        default:
          break;
      }
    } catch (err) {
      if (err instanceof HistoryError) throw new HistoryError(`${p.f} of process ${p.process}: ${err.message}`, { ...where, cause: err });
      throw err;
    }
  }
  for (const [process, list] of openSections) for (const s of list) sections.push({ process, name: s.name, token: s.token, start: s.start, end: Infinity, enter: s.enter });
  sections.sort((a, b) => a.start - b.start);
  const byEnter = new Map(sections.map((s) => [s.enter.id, s]));
  for (const w of writes) w.section = w.enterId === undefined ? undefined : byEnter.get(w.enterId);

  const findings: FencingFinding[] = [...grantFindings(grants), ...staleWriteFindings(writes), ...rejectionFindings(writes)];
  return {
    type: 'fencing',
    valid: findings.length === 0,
    findings,
    sections,
    overlaps: overlapsOf(sections),
    writes: {
      accepted: writes.filter((w) => w.accepted === true).length,
      rejected: writes.filter((w) => w.accepted === false).length,
      unknown: writes.filter((w) => w.accepted === undefined).length,
    },
  };
}

/** Double grants and token regressions, per lock name. */
function grantFindings(grants: readonly Grant[]): FencingFinding[] {
  const out: FencingFinding[] = [];
  for (const [name, list] of groupBy(grants, (g) => g.name)) {
    const seen = new Map<number, Grant>();
    for (const g of list) {
      const first = seen.get(g.token);
      if (first) out.push({ type: 'double-grant', name, token: g.token, first: first.op, second: g.op });
      else seen.set(g.token, g);
    }
    const done = new HighestBefore(list, (x) => x.end);
    for (const g of list) {
      const h = done.before(g.start);
      // An equal token is reported as a double grant.
      if (h !== undefined && g.token < h.token) out.push({ type: 'token-regression', name, earlier: h.op, earlierToken: h.token, later: g.op, laterToken: g.token });
    }
  }
  return out;
}

/** Accepted writes with a lower token than an accepted write acknowledged before they were invoked. */
function staleWriteFindings(writes: readonly Write[]): FencingFinding[] {
  const out: FencingFinding[] = [];
  for (const [key, list] of groupBy(writes.filter((w) => w.accepted === true), (w) => w.key)) {
    const done = new HighestBefore(list, (x) => x.end);
    for (const w of list) {
      const h = done.before(w.start);
      if (h === undefined || !(w.token < h.token)) continue;
      const overlapping = w.section && h.section ? w.section.start < h.section.end && h.section.start < w.section.end : null;
      out.push({ type: 'stale-write-accepted', key, write: w.op, token: w.token, newer: h.op, newerToken: h.token, overlapping });
    }
  }
  return out;
}

/** Rejected writes that no higher-token write (accepted or unknown) invoked before the rejection can explain. */
function rejectionFindings(writes: readonly Write[]): FencingFinding[] {
  const out: FencingFinding[] = [];
  for (const [key, list] of groupBy(writes, (w) => w.key)) {
    const raisers = new HighestBefore(
      list.filter((w) => w.accepted !== false),
      (w) => w.start,
    );
    for (const w of list) {
      if (w.accepted !== false) continue;
      const h = raisers.before(w.end);
      if (h === undefined || !(h.token > w.token)) out.push({ type: 'unjustified-rejection', key, write: w.op, token: w.token });
    }
  }
  return out;
}

/** Overlapping section pairs of the same lock, by a sweep over start positions. */
function overlapsOf(sections: readonly CriticalSection[]): Array<readonly [CriticalSection, CriticalSection]> {
  const out: Array<readonly [CriticalSection, CriticalSection]> = [];
  const active = new Map<string, CriticalSection[]>();
  for (const s of sections) {
    const list = (active.get(s.name) ?? []).filter((a) => a.end > s.start);
    for (const a of list) out.push(a.token <= s.token ? [a, s] : [s, a]);
    list.push(s);
    active.set(s.name, list);
  }
  return out;
}

const SHOWN = 20;

/** One line per finding (at most 20), plus a summary line. */
export function renderFencing(result: FencingResult): string {
  const lines = [
    `fencing: ${result.valid ? 'ok' : `${result.findings.length} violation(s)`} (${result.sections.length} sections, ${result.overlaps.length} overlapping pair(s), writes ${result.writes.accepted} accepted / ${result.writes.rejected} rejected / ${result.writes.unknown} unknown)`,
  ];
  for (const f of result.findings.slice(0, SHOWN)) {
    switch (f.type) {
      case 'double-grant':
        lines.push(`  double grant of ${f.name} token ${f.token}: ${describePaired(f.first)} and ${describePaired(f.second)}`);
        break;
      case 'token-regression':
        lines.push(`  token went backwards on ${f.name}: ${f.laterToken} granted after ${f.earlierToken} (${describePaired(f.later)} invoked after ${describePaired(f.earlier)} completed)`);
        break;
      case 'stale-write-accepted':
        lines.push(
          `  stale write accepted on ${f.key}: token ${f.token} after token ${f.newerToken}${f.overlapping ? ' (overlapping critical sections)' : ''}: ${describePaired(f.write)} after ${describePaired(f.newer)}`,
        );
        break;
      case 'unjustified-rejection':
        lines.push(`  write rejected with no higher token before it on ${f.key}: ${describePaired(f.write)}`);
        break;
      default:
        assertNever(f, 'fencing finding');
    }
  }
  if (result.findings.length > SHOWN) lines.push(`  … ${result.findings.length - SHOWN} more`);
  return lines.join('\n');
}
