/**
 * The leader's view of one peer's replication (etcd's tracker/progress.go and inflights.go):
 * probe / replicate / snapshot states and a bounded window of in-flight AppendEntries.
 */
import type { PeerProgress } from './types.js';

/**
 * The AppendEntries sent to one follower and not yet acknowledged, as (last index, bytes) pairs in
 * index order. Full when it holds `maxMsgs` messages or `maxBytes` bytes.
 */
export class Inflights {
  private readonly items: { index: number; bytes: number }[] = [];
  private totalBytes = 0;

  constructor(
    private readonly maxMsgs: number,
    private readonly maxBytes: number,
  ) {}

  /** Records a message whose last entry is `index`; callers check `full()` first. */
  add(index: number, bytes: number): void {
    this.items.push({ index, bytes });
    this.totalBytes += bytes;
  }

  /** Frees every message whose last index is ≤ `index` (they were acknowledged). */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.items.length && (this.items[n]?.index ?? Infinity) <= index) {
      this.totalBytes -= this.items[n]?.bytes ?? 0;
      n++;
    }
    if (n > 0) this.items.splice(0, n);
  }

  /** True when no more messages may be sent. */
  full(): boolean {
    return this.items.length >= this.maxMsgs || this.totalBytes >= this.maxBytes;
  }

  /** Number of messages in flight. */
  count(): number {
    return this.items.length;
  }

  /** Bytes of entry data in flight. */
  bytes(): number {
    return this.totalBytes;
  }

  /** Forgets everything (state change). */
  reset(): void {
    this.items.length = 0;
    this.totalBytes = 0;
  }
}

/** The replication state of one follower. */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * Replication progress of one peer. Invariant: match < next. In `probe` at most one AppendEntries
 * is outstanding (paused until a response or heartbeat response); in `replicate` entries stream
 * optimistically up to the inflight limits; in `snapshot` nothing is sent until the snapshot is done.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Index of the snapshot being sent, in `snapshot` state. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = true;
  /** In probe: a probe is outstanding (cleared by its response or a heartbeat response). */
  paused = false;
  readonly inflights: Inflights;

  constructor(
    next: number,
    public learner: boolean,
    maxInflightMsgs: number,
    maxInflightBytes: number,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.paused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** Back to probing from just after the match (or after the snapshot being sent). */
  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  /** Stream entries optimistically from just after the match. */
  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  /** A snapshot at `index` is being sent; nothing else until it is reported. */
  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** True when no AppendEntries may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.paused;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** An AppendEntries with `entries` entries (`bytes` of data), the last at `lastIndex`, was sent. */
  sentEntries(entries: number, bytes: number, lastIndex: number): void {
    if (this.state === 'replicate') {
      if (entries > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe' && entries > 0) {
      this.paused = true;
    }
  }

  /** A success response up to `n`: raises match and next; true when match grew. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      if (this.state === 'probe') this.paused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of `rejected` (the prevIndex we sent) with the follower's hint `matchHint`
   * (the last index that may match). Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.paused = false;
    return true;
  }

  /** A read-only view for status(). */
  view(): PeerProgress {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      recentActive: this.recentActive,
      learner: this.learner,
      inflight: this.inflights.count(),
    };
  }
}
