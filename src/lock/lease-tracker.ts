/**
 * The leader's in-memory session deadlines (DESIGN §3). Pure: every call takes `now`, the leader's
 * monotonic clock in ms. Keepalives never go through the log; this tracker decides when a session
 * is due for `expire-session` and which sessions need a `checkpoint-sessions` entry.
 *
 * Per session it keeps two instants:
 * - `lease`: an upper bound of the lease any client was promised (last acknowledged keepalive + ttl,
 *   or what the log's checkpoint implies). Checkpoints record `lease − now`, never the grace, so
 *   grace periods do not compound across leader changes (the etcd #9395 / #9888 trap).
 * - `deadline`: when this leader expires it: the lease, or for inherited sessions the grace
 *   deadline `now + min(ttl, remaining + electionTimeout)`.
 *
 * Safety rules (a client's acknowledged lease is never cut short by any later leader):
 * 1. A session the log marks lapsed (or that this leader has put in a checkpoint it proposed,
 *    committed or not) is answered `renew-first`: the server proposes `renew-session`, and acks
 *    only after it commits and `renewed()` returns true. So the log never holds a checkpoint that
 *    understates a promised lease.
 * 2. While a renew is in flight the session is left out of checkpoints (a checkpoint ordered after
 *    the renew would re-mark it lapsed with a stale remaining time).
 * 3. Once a session's deadline has passed it is never extended: `keepalive` answers `expired` and
 *    `renewed` returns false, so an ack can never race an `expire-session` already proposed.
 *
 * Liveness: with checkpoints committed by the leader in office, a session whose client is gone is
 * due within `lastAck + ttl + electionTimeout` on any later leader (plus the time to elect one).
 * Sessions inherited without a checkpoint (the previous leader fell before writing one) are
 * checkpointed at once by the new leader, so repeated elections cannot keep resetting them.
 */
import { LatchError } from '../common/index.js';

/** A session as `becomeLeader` needs it (SessionLease from the state machine, plus an optional age). */
export interface LeaseSessionInput {
  readonly id: number;
  readonly ttlMs: number;
  readonly lapsed: boolean;
  /** The checkpointed remaining lease, when lapsed. */
  readonly remainingMs?: number | null;
  /**
   * How long ago (on this node's monotonic clock) this node applied the entry that recorded
   * `remainingMs` (see CheckpointAges). Unknown → 0, which is safe but later.
   */
  readonly checkpointAgeMs?: number | null;
}

/** How the server must answer a keepalive. */
export type KeepaliveOutcome =
  /** Acknowledge now; the deadline moved to `now + ttl`. */
  | 'ack'
  /** Propose `renew-session`, then call `renewed()` after it commits and ack only if that returns true. */
  | 'renew-first'
  /** The session's deadline has passed (an `expire-session` is due or in flight): refuse. */
  | 'expired'
  /** The tracker does not know the session: answer SESSION_NOT_FOUND. */
  | 'unknown';

/** Tracker tuning. */
export interface LeaseTrackerOptions {
  /** Most sessions in one checkpoint batch. Default 1000. */
  readonly maxCheckpointBatch?: number;
  /** Re-checkpoint a lapsed session only once its remaining lease fell by at least this much. Default 1000 ms. */
  readonly minCheckpointChangeMs?: number;
}

interface Tracked {
  readonly ttlMs: number;
  lease: number;
  deadline: number;
  /** Last keepalive acknowledged by this leader (or the open), null when inherited and not heard since. */
  lastHeard: number | null;
  lapsed: boolean;
  renewPending: boolean;
  /** Remaining lease recorded by the last checkpoint this leader knows of, null when none since the last renew. */
  checkpointed: number | null;
}

function badInput(what: string, x: unknown): never {
  throw new LatchError('INVALID_ARGUMENT', `lease tracker: ${what} is invalid (${String(x)})`);
}

function checkTime(now: number): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) badInput('now', now);
}

function checkId(id: number): void {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) badInput('session id', id);
}

function checkNonNegative(what: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) badInput(what, n);
  return n;
}

/** The leader's session deadlines; build a new one (via `becomeLeader`) on every leadership change. */
export class LeaseTracker {
  private readonly sessions = new Map<number, Tracked>();
  /** No tracked deadline is below this (a lower bound: deadlines only ever move later). */
  private earliest = Infinity;
  private readonly maxBatch: number;
  private readonly minChange: number;

  constructor(options: LeaseTrackerOptions = {}) {
    const b = options.maxCheckpointBatch ?? 1000;
    if (!Number.isSafeInteger(b) || b < 1) badInput('maxCheckpointBatch', b);
    this.maxBatch = b;
    this.minChange = checkNonNegative('minCheckpointChangeMs', options.minCheckpointChangeMs ?? 1000);
  }

  /**
   * Replaces all state with the sessions the log holds, giving each a grace deadline:
   * `now + min(ttl, remaining − age + electionTimeout)` for lapsed sessions (remaining aged by how long
   * ago this node applied the checkpoint), `now + ttl` for the rest. Call it after applying the log
   * through the new term's first entry.
   */
  becomeLeader(now: number, sessions: readonly LeaseSessionInput[], electionTimeoutMs: number): void {
    checkTime(now);
    checkNonNegative('electionTimeoutMs', electionTimeoutMs);
    const fresh = new Map<number, Tracked>();
    for (const s of sessions) {
      checkId(s.id);
      if (!Number.isSafeInteger(s.ttlMs) || s.ttlMs < 1) badInput(`ttlMs of session ${s.id}`, s.ttlMs);
      if (s.lapsed && s.remainingMs !== undefined && s.remainingMs !== null) {
        const remaining = Math.min(checkNonNegative(`remainingMs of session ${s.id}`, s.remainingMs), s.ttlMs);
        const age = s.checkpointAgeMs === undefined || s.checkpointAgeMs === null ? 0 : checkNonNegative(`checkpointAgeMs of session ${s.id}`, s.checkpointAgeMs);
        const left = remaining - age;
        fresh.set(s.id, {
          ttlMs: s.ttlMs,
          lease: now + Math.max(0, left),
          deadline: now + Math.max(0, Math.min(s.ttlMs, left + electionTimeoutMs)),
          lastHeard: null,
          lapsed: true,
          renewPending: false,
          checkpointed: Math.max(0, left),
        });
      } else {
        fresh.set(s.id, { ttlMs: s.ttlMs, lease: now + s.ttlMs, deadline: now + s.ttlMs, lastHeard: null, lapsed: s.lapsed, renewPending: false, checkpointed: null });
      }
    }
    this.sessions.clear();
    this.earliest = Infinity;
    for (const [id, t] of fresh) {
      this.sessions.set(id, t);
      this.earliest = Math.min(this.earliest, t.deadline);
    }
  }

  /** A session was opened (its `session-opened` effect): the open entry is its first checkpoint (remaining = ttl). */
  opened(id: number, ttlMs: number, now: number): void {
    checkId(id);
    checkTime(now);
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) badInput('ttlMs', ttlMs);
    this.sessions.set(id, { ttlMs, lease: now + ttlMs, deadline: now + ttlMs, lastHeard: now, lapsed: true, renewPending: false, checkpointed: ttlMs });
    this.earliest = Math.min(this.earliest, now + ttlMs);
  }

  /** A session ended (closed or expired in the log). */
  ended(id: number): void {
    this.sessions.delete(id);
  }

  /** A keepalive arrived at `now`; see KeepaliveOutcome for what the server must do. */
  keepalive(id: number, now: number): KeepaliveOutcome {
    checkTime(now);
    const t = this.sessions.get(id);
    if (t === undefined) return 'unknown';
    if (now >= t.deadline) return 'expired';
    if (t.lapsed || t.renewPending) {
      t.renewPending = true;
      return 'renew-first';
    }
    this.extend(t, now);
    return 'ack';
  }

  /**
   * The `renew-session` proposed after `renew-first` committed at `now`. True: the session is live
   * again, ack the keepalive. False: it is unknown or its deadline passed first; do not ack.
   */
  renewed(id: number, now: number): boolean {
    checkTime(now);
    const t = this.sessions.get(id);
    if (t === undefined) return false;
    t.renewPending = false;
    if (now >= t.deadline) return false;
    t.lapsed = false;
    t.checkpointed = null;
    this.extend(t, now);
    return true;
  }

  /** The renew proposal failed (dropped): the session stays lapsed; the next keepalive asks again. */
  renewAborted(id: number): void {
    const t = this.sessions.get(id);
    if (t !== undefined) t.renewPending = false;
  }

  /** Sessions whose deadline is at or before `now`, earliest first (the server proposes `expire-session` for each not already in flight). */
  due(now: number): number[] {
    checkTime(now);
    // Deadlines only move later, so a bound from the last scan stays valid: most calls scan nothing.
    if (now < this.earliest) return [];
    const out: [number, number][] = [];
    let earliest = Infinity;
    for (const [id, t] of this.sessions) {
      if (t.deadline <= now) out.push([t.deadline, id]);
      if (t.deadline < earliest) earliest = t.deadline;
    }
    this.earliest = earliest;
    return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((p) => p[1]);
  }

  /**
   * The next `checkpoint-sessions` batch (at most `maxCheckpointBatch` pairs `[id, remainingMs]`):
   * sessions inherited without a checkpoint; sessions not heard for `lapseAfterMs` (a number, or a
   * function of the session's TTL) that have none;
   * and checkpointed ones whose remaining lease fell by `minCheckpointChangeMs` since. Marks them
   * lapsed at once, before the entry commits (rule 1). Sessions left out come in a later batch.
   */
  checkpoint(now: number, lapseAfterMs: number | ((ttlMs: number) => number)): [number, number][] {
    checkTime(now);
    const lapseAfter = typeof lapseAfterMs === 'function' ? lapseAfterMs : () => lapseAfterMs;
    if (typeof lapseAfterMs === 'number') checkNonNegative('lapseAfterMs', lapseAfterMs);
    const picks: { rank: number; id: number; t: Tracked; remaining: number }[] = [];
    for (const [id, t] of this.sessions) {
      if (t.renewPending || t.deadline <= now) continue;
      const remaining = Math.max(0, Math.ceil(t.lease - now));
      if (t.checkpointed === null) {
        if (t.lastHeard === null) picks.push({ rank: 0, id, t, remaining });
        else if (now - t.lastHeard >= lapseAfter(t.ttlMs)) picks.push({ rank: 1, id, t, remaining });
      } else if (t.checkpointed - remaining >= this.minChange && t.checkpointed > 0) {
        picks.push({ rank: 2, id, t, remaining });
      }
    }
    picks.sort((a, b) => a.rank - b.rank || a.id - b.id);
    return picks.slice(0, this.maxBatch).map((p) => {
      p.t.lapsed = true;
      p.t.checkpointed = p.remaining;
      return [p.id, p.remaining];
    });
  }

  /** The session's current deadline on this leader's clock, or undefined when not tracked. */
  deadline(id: number): number | undefined {
    return this.sessions.get(id)?.deadline;
  }

  /** Whether the tracker knows the session. */
  has(id: number): boolean {
    return this.sessions.has(id);
  }

  /** Number of tracked sessions. */
  get size(): number {
    return this.sessions.size;
  }

  private extend(t: Tracked, now: number): void {
    t.lastHeard = now;
    t.lease = Math.max(t.lease, now + t.ttlMs);
    t.deadline = Math.max(t.deadline, now + t.ttlMs);
  }
}
