/**
 * The session-lease checker: did the cluster expire a session while its client still held an
 * acknowledged lease (DESIGN §3)? The client's local lease runs from the send time of the last
 * acknowledged keepalive for the TTL less a drift margin, so it must end before the leader's
 * deadline for the session; a server-side expiry inside it means the lock service may already
 * have given the session's locks to someone else while the client was told it still held them.
 *
 * History encoding (times are ms on the run's shared monotonic clock, taken by the observer;
 * sessions are decimal strings; ok values are ignored):
 * | f                 | invoke value |
 * |-------------------|--------------|
 * | `session-lease`   | `{session, leaseEndsAt, at, driftMs?}`: at `at` the SDK's acknowledged lease of `session` ran to `leaseEndsAt` (recorded after each acknowledged keepalive; `driftMs` is the SDK's drift margin) |
 * | `session-expired` | `{session, at, via, cause?, leaseEndsAt?, node?, index?}`: at `at` an observer learned that the server expired `session`: `via: 'client'` is the session's own client told by the server (`cause: 'server'`; `leaseEndsAt` is the SDK's lease end at that moment; another cause is the client giving up, which says nothing about the server and is ignored), `via: 'watch'` a watcher that received a `session-expired` event, or an `expired` event of a lock the session held (`event`; from `node`, at log `index`) |
 * No op carries `name`, `token` or `key`, so the lock, register, fencing, election and lease
 * checkers ignore both kinds.
 *
 * For each observed server expiry of session S at time T, L is the latest lease end of S recorded
 * at or before T (the highest, as lease ends only grow; a client observation's own `leaseEndsAt`
 * counts as recorded at T). The server decided the expiry at some E ≤ T, so L > T is definite:
 * the session was expired while the client still held an acknowledged lease. Each session counts
 * once (its observation with the most lease left); sessions nobody recorded a lease for (not the
 * workers') are counted as expiries but cannot be judged.
 * Informational, not a violation: expiries inside the drift margin (L ≤ T < L + drift, before the
 * server's own promised deadline of send time + TTL, yet after the client stopped relying on
 * its lease), and the smallest T − L seen. Pure.
 */

import { HistoryError } from './history-error.js';
import { pairHistory, type History } from './history.js';
import { brief, expectRecord, type JsonRecord } from './values.js';

/** The `f` of a lease record. */
export const SESSION_LEASE_F = 'session-lease';
/** The `f` of an observed server-side expiry. */
export const SESSION_EXPIRED_F = 'session-expired';

/** Who observed an expiry. */
export type ExpiryObserver = 'client' | 'watch';

/** One observation of a server-side expiry, with the lease it is judged against. */
export interface ExpiryObservation {
  readonly session: string;
  /** When the observer learned of the expiry (T). */
  readonly at: number;
  readonly via: ExpiryObserver;
  /** The watcher's node, when known. */
  readonly node: string | null;
  /** The latest acknowledged lease end recorded at or before `at` (L); null when none was. */
  readonly leaseEndsAt: number | null;
  /** When that lease end was recorded. */
  readonly recordedAt: number | null;
  /** The drift margin of that lease (ms), when recorded. */
  readonly driftMs: number | null;
  /** L − T: how much of the acknowledged lease was left (negative: it had run out). */
  readonly leftMs: number | null;
}

/** The session-lease checker's verdict. */
export interface SessionLeaseResult {
  readonly type: 'session-lease';
  readonly valid: boolean;
  /** Lease records. */
  readonly leases: number;
  /** Sessions with at least one lease record. */
  readonly sessions: number;
  /** Distinct sessions observed expired by the server. */
  readonly expiries: number;
  /** Of those, sessions with a lease recorded before the expiry was observed (the ones that can be judged). */
  readonly judged: number;
  /** Observations of server expiries (a session can be seen by its client and by several watchers). */
  readonly observations: number;
  /** One per session expired inside an acknowledged lease: its observation with the most lease left. */
  readonly violations: readonly ExpiryObservation[];
  /** Sessions expired after the lease end but inside its drift margin (not a violation; see the file comment). */
  readonly withinDrift: readonly ExpiryObservation[];
  /** The judged observation closest to its lease end among the non-violations (largest L − T ≤ 0), or null. */
  readonly closest: ExpiryObservation | null;
}

interface LeaseRecord {
  readonly at: number;
  readonly leaseEndsAt: number;
  readonly driftMs: number | null;
}

interface RawExpiry {
  readonly session: string;
  readonly at: number;
  readonly via: ExpiryObserver;
  readonly node: string | null;
  /** The client's own reading of its lease end at `at`. */
  readonly own: number | null;
}

function finite(rec: JsonRecord, field: string, what: string): number {
  const v = rec[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HistoryError(`${what}: field "${field}" must be a finite number, got ${brief(v)}`);
  return v;
}

function optionalFinite(rec: JsonRecord, field: string, what: string): number | null {
  return rec[field] === undefined || rec[field] === null ? null : finite(rec, field, what);
}

function sessionOf(rec: JsonRecord, what: string): string {
  const v = rec.session;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new HistoryError(`${what}: field "session" must be a decimal string, got ${brief(v)}`);
  return v;
}

/** The record with the highest lease end among those at or before `t` (`best` is the running maximum of `records` sorted by `at`). */
function bestAtOrBefore(records: readonly LeaseRecord[], best: readonly LeaseRecord[], t: number): LeaseRecord | undefined {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((records[mid]?.at ?? Infinity) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : best[lo - 1];
}

/** Checks session leases against observed server expiries. Throws HistoryError on a malformed history. */
export function checkSessionLeases(history: History): SessionLeaseResult {
  const leases = new Map<string, LeaseRecord[]>();
  const expiries: RawExpiry[] = [];
  let leaseCount = 0;
  for (const p of pairHistory(history)) {
    if (p.f !== SESSION_LEASE_F && p.f !== SESSION_EXPIRED_F) continue;
    const what = `${p.f} invoke value (index ${p.invoke.index})`;
    const v = expectRecord(p.invoke.value, what);
    const session = sessionOf(v, what);
    const at = finite(v, 'at', what);
    if (p.f === SESSION_LEASE_F) {
      let list = leases.get(session);
      if (!list) leases.set(session, (list = []));
      list.push({ at, leaseEndsAt: finite(v, 'leaseEndsAt', what), driftMs: optionalFinite(v, 'driftMs', what) });
      leaseCount++;
      continue;
    }
    const via = v.via;
    if (via !== 'client' && via !== 'watch') throw new HistoryError(`${what}: field "via" must be "client" or "watch", got ${brief(via)}`);
    if (via === 'client' && v.cause !== undefined && v.cause !== 'server') continue; // the client gave up; not a server expiry
    const node = typeof v.node === 'string' ? v.node : null;
    expiries.push({ session, at, via, node, own: via === 'client' ? optionalFinite(v, 'leaseEndsAt', what) : null });
  }
  // Lease ends only grow, so the latest record before T is also the highest; the running
  // maximum makes the check robust to records that arrive out of order.
  const timelines = new Map<string, { records: LeaseRecord[]; best: LeaseRecord[] }>();
  for (const [session, list] of leases) {
    list.sort((x, y) => x.at - y.at);
    const best: LeaseRecord[] = [];
    let top: LeaseRecord | undefined;
    for (const r of list) {
      if (top === undefined || r.leaseEndsAt > top.leaseEndsAt) top = r;
      best.push(top);
    }
    timelines.set(session, { records: list, best });
  }

  const observations: ExpiryObservation[] = expiries.map((e) => {
    const tl = timelines.get(e.session);
    let rec = tl ? bestAtOrBefore(tl.records, tl.best, e.at) : undefined;
    // The client's own reading at T counts as a record at T.
    if (e.own !== null && (rec === undefined || e.own > rec.leaseEndsAt)) rec = { at: e.at, leaseEndsAt: e.own, driftMs: rec?.driftMs ?? tl?.records[0]?.driftMs ?? null };
    return {
      session: e.session,
      at: e.at,
      via: e.via,
      node: e.node,
      leaseEndsAt: rec?.leaseEndsAt ?? null,
      recordedAt: rec?.at ?? null,
      driftMs: rec?.driftMs ?? null,
      leftMs: rec === undefined ? null : rec.leaseEndsAt - e.at,
    };
  });

  // Per session: the observation with the most lease left decides.
  const worst = new Map<string, ExpiryObservation>();
  const seen = new Set<string>();
  for (const o of observations) {
    seen.add(o.session);
    if (o.leftMs === null) continue;
    const w = worst.get(o.session);
    if (w === undefined || (w.leftMs ?? -Infinity) < o.leftMs) worst.set(o.session, o);
  }
  const judged = [...worst.values()].sort((a, b) => a.at - b.at);
  const violations = judged.filter((o) => (o.leftMs ?? 0) > 0);
  const withinDrift = judged.filter((o) => o.leftMs !== null && o.leftMs <= 0 && o.driftMs !== null && o.leftMs + o.driftMs > 0);
  let closest: ExpiryObservation | null = null;
  for (const o of judged) if (o.leftMs !== null && o.leftMs <= 0 && (closest === null || (closest.leftMs ?? -Infinity) < o.leftMs)) closest = o;
  return {
    type: 'session-lease',
    valid: violations.length === 0,
    leases: leaseCount,
    sessions: leases.size,
    expiries: seen.size,
    judged: judged.length,
    observations: observations.length,
    violations,
    withinDrift,
    closest,
  };
}

/** The one-line summary: `session leases: N server expiries, M inside an acknowledged lease`. */
export function summarizeSessionLeases(r: SessionLeaseResult): string {
  return `session leases: ${r.expiries} server expiries, ${r.violations.length} inside an acknowledged lease`;
}

const SHOWN = 20;

function describeObservation(o: ExpiryObservation): string {
  const ms = (x: number): string => `${x.toFixed(1)} ms`;
  const who = o.via === 'client' ? 'its client' : `a watcher${o.node ? ` on ${o.node}` : ''}`;
  const lease = o.leaseEndsAt === null || o.leftMs === null ? 'no lease recorded' : `lease to ${ms(o.leaseEndsAt)} (recorded ${ms(o.recordedAt ?? 0)}), ${o.leftMs > 0 ? `${ms(o.leftMs)} left` : `ran out ${ms(-o.leftMs)} before`}`;
  return `session ${o.session}: expired on the server, seen by ${who} at ${ms(o.at)}; ${lease}${o.driftMs !== null ? ` (drift margin ${o.driftMs} ms)` : ''}`;
}

/** The summary line, counts, and one line per violation (at most 20). */
export function renderSessionLeases(r: SessionLeaseResult): string {
  const lines = [
    `${summarizeSessionLeases(r)} (${r.valid ? 'ok' : 'VIOLATION'}; ${r.leases} lease records of ${r.sessions} sessions; ${r.observations} observations, ${r.judged} expiries with a lease to judge)`,
  ];
  for (const o of r.violations.slice(0, SHOWN)) lines.push(`  ${describeObservation(o)}`);
  if (r.violations.length > SHOWN) lines.push(`  … ${r.violations.length - SHOWN} more`);
  if (r.withinDrift.length > 0) {
    lines.push(`  ${r.withinDrift.length} expiry(ies) after the lease end but inside its drift margin (before send time + TTL; not a client-visible violation):`);
    for (const o of r.withinDrift.slice(0, 5)) lines.push(`    ${describeObservation(o)}`);
  }
  if (r.closest !== null && r.closest.leftMs !== null) lines.push(`  closest expiry after a lease end: ${(-r.closest.leftMs).toFixed(1)} ms (${describeObservation(r.closest)})`);
  return lines.join('\n');
}

/** True for the ops this checker reads (other checkers' views leave them out). */
export function isSessionLeaseOp(f: string): boolean {
  return f === SESSION_LEASE_F || f === SESSION_EXPIRED_F;
}
