/**
 * The client's view of its session lease (DESIGN §3), pure: time comes from the injected Clock and
 * transitions happen only in the methods below, which return the events they caused.
 *
 * - The local lease runs from the SEND time of the last acknowledged keepalive (or of the Open
 *   call) for `ttl − driftMargin`, so it always ends before the leader's deadline, which runs from
 *   the later receive time.
 * - `safe` → `jeopardy` when the local lease runs out; the grace period (`graceMs`, default the
 *   TTL) starts there.
 * - `jeopardy` → `safe` when a keepalive is acknowledged whose send time puts the lease end back
 *   in the future; → `expired` when the grace period ends first, or the server says the session
 *   is gone. `expired` and `closed` are final.
 */
import type { Clock } from '../common/clock.js';
import { InvalidArgumentError } from './errors.js';

/** The state of a session as the client sees it. */
export type LeaseState = 'safe' | 'jeopardy' | 'expired' | 'closed';

/** Why a session is considered expired. */
export type ExpiryCause = 'grace-ended' | 'server';

/** A state change of the local lease. */
export type LeaseEvent =
  | { readonly type: 'jeopardy'; readonly at: number; readonly graceEndsAt: number }
  | { readonly type: 'safe'; readonly at: number; readonly leaseEndsAt: number }
  | { readonly type: 'expired'; readonly at: number; readonly cause: ExpiryCause };

/** Settings of a local lease, in milliseconds. */
export interface LocalLeaseOptions {
  /** The TTL the server granted. */
  readonly ttlMs: number;
  /** Subtracted from the TTL to allow for clock-rate differences and scheduling delays. */
  readonly driftMarginMs: number;
  /** How long to keep trying after the local lease ran out before giving the session up. */
  readonly graceMs: number;
}

/** The default drift margin for a TTL: 5 % of it, at least 50 ms. */
export function defaultDriftMargin(ttlMs: number): number {
  return Math.max(50, Math.round(ttlMs / 20));
}

/** Keepalive send times kept for matching acknowledgements. */
const MAX_PENDING = 64;

/** The client-side lease state machine of one session. */
export class LocalLease {
  private current: LeaseState = 'safe';
  private ttl: number;
  private leaseEnd: number;
  private graceEnd: number | undefined;
  private readonly pending = new Map<bigint, number>();

  /** `openedSentAt`: the clock reading taken just before the Open call was sent. */
  constructor(
    private readonly opts: LocalLeaseOptions,
    private readonly clock: Clock,
    openedSentAt: number,
  ) {
    if (!Number.isFinite(opts.ttlMs) || opts.ttlMs <= 0) throw new InvalidArgumentError(`ttlMs must be positive, got ${opts.ttlMs}`);
    if (!Number.isFinite(opts.driftMarginMs) || opts.driftMarginMs < 0 || opts.driftMarginMs * 2 >= opts.ttlMs) {
      throw new InvalidArgumentError(`driftMarginMs must be in [0, ttl/2), got ${opts.driftMarginMs} for ttl ${opts.ttlMs}`);
    }
    if (!Number.isFinite(opts.graceMs) || opts.graceMs < 0) throw new InvalidArgumentError(`graceMs must be >= 0, got ${opts.graceMs}`);
    this.ttl = opts.ttlMs;
    this.leaseEnd = openedSentAt + this.ttl - opts.driftMarginMs;
  }

  /** The current state (as of the last transition; call `poll` to catch up with the clock). */
  get state(): LeaseState {
    return this.current;
  }

  /** When the local lease runs out (clock time). */
  get leaseEndsAt(): number {
    return this.leaseEnd;
  }

  /** When the grace period ends, while in jeopardy. */
  get graceEndsAt(): number | undefined {
    return this.graceEnd;
  }

  /** The TTL last granted by the server. */
  get ttlMs(): number {
    return this.ttl;
  }

  /** True when the session is safe and its local lease has not run out at this instant (no transition). */
  valid(): boolean {
    return this.current === 'safe' && this.clock.now() < this.leaseEnd;
  }

  /** Records that keepalive `nonce` is being sent now. */
  sent(nonce: bigint): void {
    if (this.current === 'expired' || this.current === 'closed') return;
    this.pending.set(nonce, this.clock.now());
    if (this.pending.size > MAX_PENDING) {
      const oldest = this.pending.keys().next();
      if (!oldest.done) this.pending.delete(oldest.value);
    }
  }

  /** The send time of the oldest keepalive not yet acknowledged, if any. */
  oldestUnacked(): number | undefined {
    let min: number | undefined;
    for (const t of this.pending.values()) if (min === undefined || t < min) min = t;
    return min;
  }

  /** Forgets unacknowledged keepalives (their stream is gone; their answers cannot arrive). */
  forgetPending(): void {
    this.pending.clear();
  }

  /** Records the acknowledgement of keepalive `nonce` with the TTL the server reports. */
  acked(nonce: bigint, ttlMs: number): LeaseEvent[] {
    const events = this.poll();
    const sentAt = this.pending.get(nonce);
    if (sentAt === undefined || this.current === 'expired' || this.current === 'closed') return events;
    // Older keepalives are superseded: their answers could only give an earlier lease end.
    for (const n of [...this.pending.keys()]) if (n <= nonce) this.pending.delete(n);
    if (Number.isFinite(ttlMs) && ttlMs > this.opts.driftMarginMs * 2) this.ttl = ttlMs;
    const end = sentAt + this.ttl - this.opts.driftMarginMs;
    if (end > this.leaseEnd) this.leaseEnd = end;
    const now = this.clock.now();
    if (this.current === 'jeopardy' && now < this.leaseEnd) {
      this.current = 'safe';
      this.graceEnd = undefined;
      events.push({ type: 'safe', at: now, leaseEndsAt: this.leaseEnd });
    }
    return events;
  }

  /** The server reported the session gone. */
  serverExpired(): LeaseEvent[] {
    if (this.current === 'expired' || this.current === 'closed') return [];
    return [this.expire('server')];
  }

  /** The session was closed by its owner; no further events. */
  close(): void {
    this.current = 'closed';
    this.graceEnd = undefined;
    this.pending.clear();
  }

  /** Applies the time-based transitions due at the current clock reading. */
  poll(): LeaseEvent[] {
    const events: LeaseEvent[] = [];
    const now = this.clock.now();
    if (this.current === 'safe' && now >= this.leaseEnd) {
      this.current = 'jeopardy';
      this.graceEnd = this.leaseEnd + this.opts.graceMs;
      events.push({ type: 'jeopardy', at: now, graceEndsAt: this.graceEnd });
    }
    if (this.current === 'jeopardy' && this.graceEnd !== undefined && now >= this.graceEnd) events.push(this.expire('grace-ended'));
    return events;
  }

  /** The clock time at which `poll` next has something to do, or undefined in a final state. */
  nextCheckAt(): number | undefined {
    if (this.current === 'safe') return this.leaseEnd;
    if (this.current === 'jeopardy') return this.graceEnd;
    return undefined;
  }

  private expire(cause: ExpiryCause): LeaseEvent {
    this.current = 'expired';
    this.graceEnd = undefined;
    this.pending.clear();
    return { type: 'expired', at: this.clock.now(), cause };
  }
}
