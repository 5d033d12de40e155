/**
 * What only the leader does (DESIGN §3): keep session deadlines in memory from keepalives, propose
 * ExpireSession when one passes, checkpoint lapsed sessions' remaining TTLs, and arm the timers for
 * wait deadlines and lock-delays. Built fresh on each election from the replicated state; torn down
 * on step-down. All time is the process's monotonic clock.
 */
import type { Clock } from '../common/clock.js';
import type { TimerHandle, Timers } from '../common/timers.js';
import { LatchError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { LeaseTracker, type CheckpointAges, type LockCommand, type LockEffect, type LockStateMachine } from '../lock/index.js';

/** Most sessions one expire-sessions entry lists. */
const MAX_EXPIRE_BATCH = 1000;

/** The ports leader duties need. */
export interface DutyPorts {
  /** Proposes a command; resolves once applied (rejects if leadership is lost). */
  propose(cmd: LockCommand): Promise<unknown>;
  /** The current lock state machine. */
  sm(): LockStateMachine;
  /**
   * True while this node holds the leader lease (no other leader can have been elected yet).
   * A keepalive is acknowledged only in the same synchronous step as a true answer.
   */
  leaseHeld(): boolean;
  readonly clock: Clock;
  /** Timers on the clock's time base. */
  readonly timers: Timers;
  readonly log: Logger;
  readonly electionTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly lockDelayMs: number;
  /** A session not heard from for this long (given its TTL) is checkpointed as lapsed. */
  readonly lapseAfterMs: (ttlMs: number) => number;
  /** When this node applied each lease-bearing entry (ages the inherited checkpoints). */
  readonly ages: CheckpointAges;
}

/** Leader-only session leases and timers; one instance per leadership term. */
export class LeaderDuties {
  private readonly tracker = new LeaseTracker();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly expiring = new Set<number>();
  private readonly renewing = new Map<number, Promise<boolean>>();
  private loop: TimerHandle | undefined;
  private checkpointLoop: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly ports: DutyPorts) {
    const now = ports.clock.now();
    this.tracker.becomeLeader(now, ports.ages.leaseInputs(ports.sm().sessionLeases(), now), ports.electionTimeoutMs);
    for (const e of ports.sm().pendingTimers()) this.onEffect(e);
    const expireEvery = Math.max(10, Math.floor(ports.heartbeatMs / 2));
    const checkpointEvery = Math.max(50, Math.floor(ports.electionTimeoutMs / 2));
    const expireLoop = (): void => {
      this.expireDue();
      if (!this.closed) this.loop = ports.timers.setTimeout(expireLoop, expireEvery);
    };
    const checkpointLoop = (): void => {
      this.checkpoint();
      if (!this.closed) this.checkpointLoop = ports.timers.setTimeout(checkpointLoop, checkpointEvery);
    };
    this.loop = ports.timers.setTimeout(expireLoop, expireEvery);
    this.checkpointLoop = ports.timers.setTimeout(checkpointLoop, checkpointEvery);
    ports.log.info({ sessions: ports.sm().sessionLeases().length }, 'leader duties started: session deadlines from checkpoints + grace');
  }

  /**
   * Handles a keepalive. Resolves with the session's TTL once it is safe to acknowledge (after a
   * RenewSession commits if the log marks it lapsed), or null if the session is unknown. Rejects
   * with NO_QUORUM when the leader lease does not hold at the moment of the acknowledgement: for
   * an ack at t, every later leader's deadline for the session must be at least t + TTL, and only
   * the lease guarantees that no later leader was elected before t (docs/leases.md).
   */
  async keepalive(sessionId: number): Promise<number | null> {
    if (this.closed) return null;
    this.requireLease();
    const verdict = this.tracker.keepalive(sessionId, this.ports.clock.now());
    if (verdict === 'expired' || verdict === 'unknown') return null;
    if (verdict === 'renew-first') {
      let p = this.renewing.get(sessionId);
      if (!p) {
        p = this.ports
          .propose({ type: 'renew-session', sessionId })
          .then(
            () => this.tracker.renewed(sessionId, this.ports.clock.now()),
            (err: unknown) => {
              this.tracker.renewAborted(sessionId);
              throw err;
            },
          )
          .finally(() => this.renewing.delete(sessionId));
        this.renewing.set(sessionId, p);
      }
      if (!(await p)) return null;
      // The renew committed, but this node may have lost its lease while it waited.
      this.requireLease();
    }
    return this.ports.sm().getSession(sessionId)?.ttlMs ?? null;
  }

  private requireLease(): void {
    if (this.ports.leaseHeld()) return;
    throw new LatchError('NO_QUORUM', 'this leader has not heard from a quorum within its lease (election timeout less the drift bound); the keepalive is not acknowledged here; retry on another node');
  }

  /** Runs one effect of an applied entry. Idempotent: timers are keyed and replaced. */
  onEffect(e: LockEffect): void {
    if (this.closed) return;
    const now = this.ports.clock.now();
    switch (e.type) {
      case 'session-opened':
        this.tracker.opened(e.sessionId, e.ttlMs, now);
        return;
      case 'session-ended':
        this.tracker.ended(e.sessionId);
        return;
      case 'wait-deadline':
        this.arm(`wait:${e.waiterId}`, e.waitMs, { type: 'cancel-wait', waiterId: e.waiterId });
        return;
      case 'lock-delay':
        this.arm(`delay:${e.name}`, e.delayMs, { type: 'end-lock-delay', name: e.name, since: e.since });
        return;
      case 'granted':
        this.disarm(`wait:${e.waiterId}`);
        return;
      case 'wait-ended':
        this.disarm(`wait:${e.waiterId}`);
        return;
    }
  }

  /** Stops every timer (step-down or shutdown). */
  close(): void {
    this.closed = true;
    for (const t of [this.loop, this.checkpointLoop, ...this.timers.values()]) if (t !== undefined) this.ports.timers.clearTimeout(t);
    this.timers.clear();
  }

  /** The leader's deadline for a session (monotonic ms), for status pages. */
  deadline(sessionId: number): number | undefined {
    return this.tracker.deadline(sessionId);
  }

  private arm(key: string, ms: number, cmd: LockCommand): void {
    this.disarm(key);
    const t = this.ports.timers.setTimeout(() => {
      this.timers.delete(key);
      this.proposeQuietly(cmd, key);
    }, Math.max(0, ms));
    this.timers.set(key, t);
  }

  private disarm(key: string): void {
    const t = this.timers.get(key);
    if (t) {
      this.ports.timers.clearTimeout(t);
      this.timers.delete(key);
    }
  }

  private proposeQuietly(cmd: LockCommand, what: string): void {
    if (this.closed) return;
    this.ports.propose(cmd).catch((err: unknown) => {
      if (this.closed) return;
      this.ports.log.warn({ err: err instanceof LatchError ? err.message : err, what }, 'leader timer proposal failed; retrying');
      // Retry later while still leader: a lost proposal must not leave a waiter or a delay forever.
      const key = `retry:${what}`;
      if (!this.timers.has(key)) {
        this.timers.set(
          key,
          this.ports.timers.setTimeout(() => {
            this.timers.delete(key);
            this.proposeQuietly(cmd, what);
          }, this.ports.heartbeatMs * 5),
        );
      }
    });
  }

  /** Proposes the expiry of every session whose deadline passed: one entry per batch of up to 1000. */
  private expireDue(): void {
    if (this.closed) return;
    const due = this.tracker.due(this.ports.clock.now()).filter((id) => !this.expiring.has(id));
    for (let i = 0; i < due.length; i += MAX_EXPIRE_BATCH) {
      const batch = due.slice(i, i + MAX_EXPIRE_BATCH);
      for (const id of batch) this.expiring.add(id);
      this.ports.log.info({ sessions: batch.length, first: batch[0] }, 'session deadlines passed; expiring');
      const cmd: LockCommand =
        batch.length === 1
          ? { type: 'expire-session', sessionId: batch[0]!, lockDelayMs: this.ports.lockDelayMs }
          : { type: 'expire-sessions', sessionIds: batch, lockDelayMs: this.ports.lockDelayMs };
      this.ports
        .propose(cmd)
        .catch((err: unknown) => this.ports.log.warn({ err, sessions: batch.length }, 'expire proposal failed'))
        .finally(() => {
          for (const id of batch) this.expiring.delete(id);
        });
    }
  }

  private checkpoint(): void {
    if (this.closed) return;
    const batch = this.tracker.checkpoint(this.ports.clock.now(), this.ports.lapseAfterMs);
    if (batch.length === 0) return;
    this.ports.propose({ type: 'checkpoint-sessions', sessions: batch }).catch((err: unknown) => this.ports.log.warn({ err }, 'checkpoint proposal failed'));
  }
}
