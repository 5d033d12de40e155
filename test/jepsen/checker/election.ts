/**
 * The election checker. Leadership is a lock grant (DESIGN §4): each campaign that wins gets a
 * token, and a leader's term runs from its grant to the next grant in token order. So "never two
 * leaders at once" means grants happen in token order and the service never acts for a leader
 * after a newer one was granted; "every observer sees the same order" means each observer's
 * sequence of leaders is a subsequence of the grant order.
 *
 * History encoding (`name` optional, default `"default"`; tokens are safe integers):
 * | f          | invoke value              | ok value                                      |
 * |------------|---------------------------|-----------------------------------------------|
 * | `campaign` | `{name?, value?}`         | `{token}`: elected                            |
 * | `proclaim` | `{name?, token, value?}`  | anything: the service accepted it as leader   |
 * | `resign`   | `{name?, token}`          | anything: resigned                            |
 * | `observe`  | `{name?}`                 | `{token}` or `{token: null}`: one event of the observer's stream |
 * | `leader`   | `{name?}`                 | `{token}` or `{token: null}`: a linearizable leader query |
 * Other ops are ignored.
 *
 * Findings (each definite):
 * - `double-grant`: one token won twice;
 * - `grant-order`: a campaign won with a lower token than a win acknowledged before it was invoked
 *   (two terms overlap);
 * - `stale-leader-accepted`: a proclaim with token a accepted although a newer grant had been
 *   acknowledged, or `a` had resigned, before it was invoked;
 * - `observer-reorder`: an observer saw a leader with a lower token after a higher one (in its
 *   observe stream, or in its sequence of leader queries);
 * - `unknown-leader`: an observer saw a token that no campaign won and no campaign with an unknown
 *   outcome could have won;
 * - `stale-leader-read`: a leader query returned a token older than a grant acknowledged before it.
 */

import { assertNever } from '../../../src/common/assert.js';
import { HistoryError } from './history-error.js';
import { groupBy, HighestBefore } from './highest-before.js';
import { describePaired, pairHistory, type History, type PairedOp } from './history.js';
import { DEFAULT_KEY } from './register-model.js';
import { brief, expectInt, expectRecord, isRecord, optionalName } from './values.js';

/** One definite election violation. */
export type ElectionFinding =
  | { readonly type: 'double-grant'; readonly name: string; readonly token: number; readonly first: PairedOp; readonly second: PairedOp }
  | { readonly type: 'grant-order'; readonly name: string; readonly earlier: PairedOp; readonly earlierToken: number; readonly later: PairedOp; readonly laterToken: number }
  | {
      readonly type: 'stale-leader-accepted';
      readonly name: string;
      readonly op: PairedOp;
      readonly token: number;
      /** The newer grant, or the resignation, that ended the term before `op` was invoked. */
      readonly endedBy: PairedOp;
      readonly reason: 'newer-grant' | 'resigned';
    }
  | { readonly type: 'observer-reorder'; readonly name: string; readonly process: number; readonly op: PairedOp; readonly token: number; readonly previous: PairedOp; readonly previousToken: number }
  | { readonly type: 'unknown-leader'; readonly name: string; readonly process: number; readonly op: PairedOp; readonly token: number }
  | { readonly type: 'stale-leader-read'; readonly name: string; readonly op: PairedOp; readonly token: number; readonly newer: PairedOp; readonly newerToken: number };

/** The election checker's verdict. */
export interface ElectionResult {
  readonly type: 'election';
  readonly valid: boolean;
  readonly findings: readonly ElectionFinding[];
  /** Winning campaigns (with a known token). */
  readonly grants: number;
  /** Processes that observed or queried the leader. */
  readonly observers: number;
}

interface Tok {
  readonly op: PairedOp;
  readonly name: string;
  readonly token: number;
  readonly start: number;
  readonly end: number;
}

interface Observation extends Tok {
  readonly kind: 'observe' | 'leader';
}

/** Checks an election history. Throws HistoryError when it is malformed. */
export function checkElection(history: History): ElectionResult {
  const grants: Tok[] = [];
  const pendingCampaigns: Array<{ name: string; start: number }> = [];
  const proclaims: Tok[] = [];
  const resigns: Tok[] = [];
  const observations: Observation[] = [];

  for (const p of pairHistory(history)) {
    try {
      switch (p.f) {
        case 'campaign': {
          const name = nameOf(p.invoke.value, 'campaign');
          if (p.outcome === 'info') pendingCampaigns.push({ name, start: p.start });
          else if (p.outcome === 'ok' && p.completion) grants.push({ op: p, name, token: expectInt(expectRecord(p.completion.value, 'campaign ok value'), 'token', 'campaign ok value'), start: p.start, end: p.end });
          break;
        }
        case 'proclaim':
        case 'resign': {
          const inv = expectRecord(p.invoke.value, `${p.f} invoke value`);
          const t: Tok = { op: p, name: optionalName(inv, 'name', DEFAULT_KEY, `${p.f} invoke value`), token: expectInt(inv, 'token', `${p.f} invoke value`), start: p.start, end: p.end };
          if (p.outcome === 'ok') (p.f === 'proclaim' ? proclaims : resigns).push(t);
          break;
        }
        case 'observe':
        case 'leader': {
          const name = nameOf(p.invoke.value, p.f);
          if (p.outcome !== 'ok' || !p.completion) break;
          const out = expectRecord(p.completion.value, `${p.f} ok value`);
          if (out.token === null || out.token === undefined) break;
          observations.push({ op: p, name, token: expectInt(out, 'token', `${p.f} ok value`), start: p.start, end: p.end, kind: p.f });
          break;
        }
        default:
          break;
      }
    } catch (err) {
      if (err instanceof HistoryError) throw new HistoryError(`${p.f} of process ${p.process}: ${err.message}`, { index: p.invoke.index, cause: err });
      throw err;
    }
  }

  const findings: ElectionFinding[] = [];
  const grantsByName = groupBy(grants, (g) => g.name);
  for (const [name, list] of grantsByName) {
    const seen = new Map<number, Tok>();
    for (const g of list) {
      const first = seen.get(g.token);
      if (first) findings.push({ type: 'double-grant', name, token: g.token, first: first.op, second: g.op });
      else seen.set(g.token, g);
    }
    const done = new HighestBefore(list, (g) => g.end);
    for (const g of list) {
      const h = done.before(g.start);
      if (h !== undefined && g.token < h.token) findings.push({ type: 'grant-order', name, earlier: h.op, earlierToken: h.token, later: g.op, laterToken: g.token });
    }
  }
  const doneGrants = new Map([...grantsByName].map(([name, list]) => [name, new HighestBefore(list, (g) => g.end)]));

  const resignedAt = new Map<string, Tok>();
  for (const r of resigns) {
    const k = `${r.name}\u0000${r.token}`;
    const prev = resignedAt.get(k);
    if (prev === undefined || r.end < prev.end) resignedAt.set(k, r);
  }
  for (const p of proclaims) {
    const newer = doneGrants.get(p.name)?.before(p.start);
    if (newer !== undefined && newer.token > p.token) {
      findings.push({ type: 'stale-leader-accepted', name: p.name, op: p.op, token: p.token, endedBy: newer.op, reason: 'newer-grant' });
      continue;
    }
    const resigned = resignedAt.get(`${p.name}\u0000${p.token}`);
    if (resigned !== undefined && resigned.end < p.start) findings.push({ type: 'stale-leader-accepted', name: p.name, op: p.op, token: p.token, endedBy: resigned.op, reason: 'resigned' });
  }

  const granted = new Set(grants.map((g) => `${g.name}\u0000${g.token}`));
  const observers = new Set<number>();
  // A stream may lag behind a leader query, so each process's observe stream and its leader
  // queries are two separate sequences; each must follow the grant order.
  for (const [, list] of groupBy(observations, (o) => `${o.name}\u0000${o.op.process}\u0000${o.kind}`)) {
    let prev: Observation | undefined;
    for (const o of [...list].sort((a, b) => a.end - b.end)) {
      observers.add(o.op.process);
      if (prev !== undefined && o.token < prev.token) {
        findings.push({ type: 'observer-reorder', name: o.name, process: o.op.process, op: o.op, token: o.token, previous: prev.op, previousToken: prev.token });
      }
      if (!granted.has(`${o.name}\u0000${o.token}`) && !pendingCampaigns.some((c) => c.name === o.name && c.start < o.end)) {
        findings.push({ type: 'unknown-leader', name: o.name, process: o.op.process, op: o.op, token: o.token });
      }
      if (o.kind === 'leader') {
        const newer = doneGrants.get(o.name)?.before(o.start);
        if (newer !== undefined && newer.token > o.token) findings.push({ type: 'stale-leader-read', name: o.name, op: o.op, token: o.token, newer: newer.op, newerToken: newer.token });
      }
      if (prev === undefined || o.token > prev.token) prev = o;
    }
  }

  return { type: 'election', valid: findings.length === 0, findings, grants: grants.length, observers: observers.size };
}

function nameOf(invokeValue: unknown, f: string): string {
  if (invokeValue === null || invokeValue === undefined) return DEFAULT_KEY;
  if (!isRecord(invokeValue)) throw new HistoryError(`${f} invoke value must be an object or null, got ${brief(invokeValue)}`);
  return optionalName(invokeValue, 'name', DEFAULT_KEY, `${f} invoke value`);
}

const SHOWN = 20;

/** One line per finding (at most 20), plus a summary line. */
export function renderElection(result: ElectionResult): string {
  const lines = [`election: ${result.valid ? 'ok' : `${result.findings.length} violation(s)`} (${result.grants} grants, ${result.observers} observer(s))`];
  for (const f of result.findings.slice(0, SHOWN)) lines.push(`  ${describeFinding(f)}`);
  if (result.findings.length > SHOWN) lines.push(`  … ${result.findings.length - SHOWN} more`);
  return lines.join('\n');
}

function describeFinding(f: ElectionFinding): string {
  switch (f.type) {
    case 'double-grant':
      return `two leaders: ${f.name} token ${f.token} won twice: ${describePaired(f.first)} and ${describePaired(f.second)}`;
    case 'grant-order':
      return `two leaders: ${f.name} token ${f.laterToken} won after token ${f.earlierToken} had won: ${describePaired(f.later)} invoked after ${describePaired(f.earlier)} completed`;
    case 'stale-leader-accepted':
      return `two leaders: ${f.name} accepted ${f.op.f} from token ${f.token} after ${f.reason === 'resigned' ? 'it resigned' : 'a newer leader won'}: ${describePaired(f.op)} after ${describePaired(f.endedBy)}`;
    case 'observer-reorder':
      return `observer p${f.process} saw ${f.name} token ${f.token} after token ${f.previousToken}: ${describePaired(f.op)} after ${describePaired(f.previous)}`;
    case 'unknown-leader':
      return `observer p${f.process} saw ${f.name} token ${f.token}, which no campaign won: ${describePaired(f.op)}`;
    case 'stale-leader-read':
      return `leader query on ${f.name} returned token ${f.token} after token ${f.newerToken} had won: ${describePaired(f.op)} after ${describePaired(f.newer)}`;
    default:
      return assertNever(f, 'election finding');
  }
}
