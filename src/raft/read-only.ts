/**
 * The leader's side of linearizable reads (Raft dissertation §6.4) and of its lease.
 *
 * Every heartbeat broadcast is a numbered *round*; the round travels in the heartbeat's `context`
 * and is echoed in the response, so the leader knows exactly which broadcast each ack answers,
 * even when the network duplicates and reorders. A read registered at round r is confirmed once a
 * quorum of voters acked a round ≥ r (it was sent after the read arrived). The lease holds while a
 * quorum acked a round sent within the last (electionTicks − leaseDriftTicks) ticks.
 */
import type { NodeId } from '../common/index.js';
import { majorityValue } from './quorum.js';

/** A read waiting for confirmation. `from` is the follower that forwarded it, or null for a local read. */
export interface PendingRead {
  readonly context: string;
  readonly from: NodeId | null;
  /** The commit index when the read arrived: the read is served at or after it. */
  readonly index: number;
  readonly round: number;
}

const ROUND_PREFIX = 'r';

/** Encodes a round number as a heartbeat context. */
export function roundContext(round: number): string {
  return `${ROUND_PREFIX}${round}`;
}

/** Decodes a heartbeat context into a round number, or undefined when it is not one. */
export function parseRoundContext(context: string | undefined): number | undefined {
  if (context === undefined || !context.startsWith(ROUND_PREFIX)) return undefined;
  const body = context.slice(ROUND_PREFIX.length);
  if (!/^[0-9]{1,15}$/.test(body)) return undefined;
  return Number(body);
}

/** Heartbeat rounds, their acks, and the reads waiting on them. */
export class ReadOnly {
  private round = 0;
  /** True while the latest round's heartbeats have not yet left in a Ready (new reads may join it). */
  private unsent = false;
  /** Send tick of recent rounds (older ones are pruned: too old for a lease anyway). */
  private readonly roundTicks = new Map<number, number>();
  private readonly acks = new Map<NodeId, number>();
  private pending: PendingRead[] = [];

  /** The latest round number. */
  currentRound(): number {
    return this.round;
  }

  /** True when the latest round's heartbeats are still queued in this node (not yet handed out). */
  hasUnsentRound(): boolean {
    return this.unsent;
  }

  /** Starts a new round at `tick` (the caller broadcasts heartbeats carrying it). */
  startRound(tick: number, maxAge: number): number {
    this.round++;
    this.unsent = true;
    this.roundTicks.set(this.round, tick);
    for (const [r, t] of this.roundTicks) {
      if (t >= tick - maxAge) break;
      this.roundTicks.delete(r);
    }
    return this.round;
  }

  /** The queued heartbeats were handed out to the driver. */
  markSent(): void {
    this.unsent = false;
  }

  /** `from` acknowledged round `round`. */
  ack(from: NodeId, round: number): void {
    if (round > this.round) return; // not one of ours (a previous incarnation's): ignore
    if ((this.acks.get(from) ?? 0) < round) this.acks.set(from, round);
  }

  /** The highest round a quorum of `voters` acknowledged (`self` counts as acking every round). */
  confirmedRound(voters: readonly NodeId[], self: NodeId): number {
    return majorityValue(voters, (id) => (id === self ? this.round : (this.acks.get(id) ?? 0)));
  }

  /**
   * The tick at which the newest quorum-acknowledged round was sent, or undefined if that round
   * is too old to be remembered.
   */
  quorumAckTick(voters: readonly NodeId[], self: NodeId): number | undefined {
    const r = this.confirmedRound(voters, self);
    return r === 0 ? undefined : this.roundTicks.get(r);
  }

  /** Queues a read to be confirmed by round `round`. */
  add(read: PendingRead): void {
    this.pending.push(read);
  }

  /** True when a local read with this context is already waiting. */
  hasLocal(context: string): boolean {
    return this.pending.some((p) => p.from === null && p.context === context);
  }

  /** Removes and returns the reads a quorum has now confirmed, in arrival order. */
  takeConfirmed(voters: readonly NodeId[], self: NodeId): PendingRead[] {
    if (this.pending.length === 0) return [];
    const confirmed = this.confirmedRound(voters, self);
    const done = this.pending.filter((p) => p.round <= confirmed);
    if (done.length > 0) this.pending = this.pending.filter((p) => p.round > confirmed);
    return done;
  }

  /** Leadership ended: forget acks and return every waiting read (to be failed). */
  reset(): PendingRead[] {
    const dropped = this.pending;
    this.pending = [];
    this.acks.clear();
    this.roundTicks.clear();
    this.unsent = false;
    return dropped;
  }

  /** Number of reads waiting. */
  size(): number {
    return this.pending.length;
  }
}
