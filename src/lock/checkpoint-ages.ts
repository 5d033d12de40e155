/**
 * When this node applied each lease-bearing entry (`open-session`, `checkpoint-sessions`), on its own
 * monotonic clock. A checkpoint says "at most `remainingMs` left when this entry was proposed"; a node
 * that applied it `age` ms ago knows at most `remainingMs − age` is left now, so a new leader's grace
 * does not restart the countdown at every election (DESIGN §3). Apply happens after the proposal, so
 * the age never overstates elapsed time; an unknown age counts as 0 (later expiry, never earlier).
 */
import type { LeaseSessionInput } from './lease-tracker.js';
import type { SessionLease } from './types.js';

/** Per-node record of entry apply times, for LeaseTracker.becomeLeader. */
export class CheckpointAges {
  private readonly appliedAt = new Map<number, number>();

  /** Records that the entry at `index` was applied at `now` (first record wins). */
  applied(index: number, now: number): void {
    if (!this.appliedAt.has(index)) this.appliedAt.set(index, now);
  }

  /** Ms since the entry at `index` was applied here; 0 when unknown. */
  ageMs(index: number | null, now: number): number {
    const t = index === null ? undefined : this.appliedAt.get(index);
    return t === undefined ? 0 : Math.max(0, now - t);
  }

  /** Forgets every index not in `keep` (pass the `checkpointIndex`es still referenced by sessions). */
  retain(keep: Iterable<number | null>): void {
    const k = new Set<number | null>(keep);
    for (const i of [...this.appliedAt.keys()]) if (!k.has(i)) this.appliedAt.delete(i);
  }

  /** Number of remembered indexes. */
  get size(): number {
    return this.appliedAt.size;
  }

  /** The state machine's session leases with their checkpoint ages at `now`: `becomeLeader` input. */
  leaseInputs(sessions: readonly SessionLease[], now: number): LeaseSessionInput[] {
    return sessions.map((s) => ({
      id: s.id,
      ttlMs: s.ttlMs,
      lapsed: s.lapsed,
      remainingMs: s.remainingMs,
      checkpointAgeMs: this.ageMs(s.checkpointIndex, now),
    }));
  }
}
