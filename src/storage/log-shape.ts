/**
 * The in-memory summary of a stored log that both storage implementations keep: the snapshot
 * base, the last index, the term of every run of entries, the stored hard state and identity.
 * It decides whether a write is acceptable and which stored entries it deletes, so LevelStorage
 * and MemoryStorage accept and refuse exactly the same requests. Immutable: every accepted
 * request yields a new shape, adopted by the caller only once the write is durable.
 */
import type { Entry, HardState, SnapshotMeta } from '../raft/types.js';
import { StorageArgumentError } from './errors.js';
import type { NodeIdentity } from './types.js';

/** A run of consecutive entries with the same term, starting at `start`. */
interface TermRun {
  readonly start: number;
  readonly term: number;
}

/** An inclusive range of log indexes whose stored entries must be deleted (empty when from > to). */
export interface IndexRange {
  readonly from: number;
  readonly to: number;
}

/** What an accepted save or compaction does to the log. */
export interface LogChange {
  /** The shape after the write. */
  readonly next: LogShape;
  /** Stored entries to delete, in the same atomic batch as the puts. */
  readonly deletes: IndexRange;
}

/** The empty hard state of a fresh node. */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

/** Summary of the stored log; see the module comment. */
export class LogShape {
  private constructor(
    /** Index covered by the latest snapshot (0 when there is none). */
    readonly snapshotIndex: number,
    /** Term at snapshotIndex (0 when there is no snapshot). */
    readonly snapshotTerm: number,
    /** Index of the last stored entry, or snapshotIndex when there are none. */
    readonly lastIndex: number,
    private readonly runs: readonly TermRun[],
    readonly hardState: HardState,
    readonly identity: NodeIdentity | undefined,
  ) {}

  /** The shape of a fresh, empty data dir. */
  static empty(): LogShape {
    return new LogShape(0, 0, 0, [], EMPTY_HARD_STATE, undefined);
  }

  /**
   * Builds the shape of loaded state, checking the invariants a stored log must hold: entries
   * contiguous right after the snapshot, terms never decreasing, commit ≤ last index.
   * Returns a description of the first violation instead of a shape when there is one.
   */
  static fromStored(
    hardState: HardState,
    snapshot: SnapshotMeta | undefined,
    entries: readonly Entry[],
    identity: NodeIdentity | undefined,
  ): LogShape | string {
    const base = snapshot?.index ?? 0;
    const baseTerm = snapshot?.term ?? 0;
    const runs: TermRun[] = [];
    let prevTerm = baseTerm;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const want = base + 1 + i;
      if (e.index !== want) {
        return i === 0
          ? `log starts at index ${e.index} but the snapshot ends at ${base}: entries before ${e.index} are missing`
          : `gap in the log: expected index ${want} after ${want - 1}, found ${e.index}`;
      }
      if (e.term < prevTerm) return `entry ${e.index} has term ${e.term}, below the previous term ${prevTerm}`;
      if (runs.length === 0 || e.term !== prevTerm) runs.push({ start: e.index, term: e.term });
      prevTerm = e.term;
    }
    const last = base + entries.length;
    if (hardState.commit > last) return `hard state commit ${hardState.commit} is beyond the last stored index ${last}`;
    return new LogShape(base, baseTerm, last, runs, hardState, identity);
  }

  /** Index of the first stored entry (snapshotIndex + 1; greater than lastIndex when the log is empty). */
  get firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  /** Term of the entry at `index`, the snapshot term at snapshotIndex, or undefined outside the log. */
  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex) return undefined;
    // Binary search for the last run starting at or before `index`.
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runs[mid]!.start <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.runs[lo]?.term;
  }

  /**
   * Checks one save (entries, hard state and snapshot already shape-checked) and returns the
   * resulting shape and deletes. Throws StorageArgumentError when the write would break the log.
   */
  planSave(write: { readonly hardState?: HardState; readonly entries: readonly Entry[]; readonly snapshot?: SnapshotMeta }): LogChange {
    let base = this.snapshotIndex;
    let baseTerm = this.snapshotTerm;
    let last = this.lastIndex;
    let runs = this.runs;
    let deleteFrom = Infinity;
    let deleteTo = -Infinity;
    const del = (from: number, to: number): void => {
      if (from > to) return;
      deleteFrom = Math.min(deleteFrom, from);
      deleteTo = Math.max(deleteTo, to);
    };

    if (write.snapshot) {
      const s = write.snapshot;
      if (s.index <= this.snapshotIndex) {
        throw new StorageArgumentError(`snapshot at index ${s.index} is not newer than the stored snapshot at ${this.snapshotIndex}`);
      }
      del(this.firstIndex, this.lastIndex); // the whole log goes
      base = s.index;
      baseTerm = s.term;
      last = s.index;
      runs = [];
    }

    const es = write.entries;
    if (es.length > 0) {
      const first = es[0]!;
      for (let i = 1; i < es.length; i++) {
        const prev = es[i - 1]!;
        const e = es[i]!;
        if (e.index !== prev.index + 1) throw new StorageArgumentError(`entries are not contiguous: ${e.index} follows ${prev.index}`);
        if (e.term < prev.term) throw new StorageArgumentError(`entry ${e.index} has term ${e.term}, below the previous entry's ${prev.term}`);
      }
      if (first.index <= base) {
        throw new StorageArgumentError(`entry ${first.index} is at or below the snapshot index ${base}`);
      }
      if (first.index > last + 1) {
        throw new StorageArgumentError(`entry ${first.index} would leave a gap after the last stored index ${last}`);
      }
      const prevTerm = first.index - 1 === base ? baseTerm : termIn(runs, first.index - 1);
      if (first.term < prevTerm) {
        throw new StorageArgumentError(`entry ${first.index} has term ${first.term}, below the preceding stored term ${prevTerm}`);
      }
      const newLast = es[es.length - 1]!.index;
      // Conflict truncation: stored entries past the new last index disappear; the rest are overwritten.
      if (!write.snapshot) del(newLast + 1, last);
      runs = appendRuns(
        runs.filter((r) => r.start < first.index),
        es,
      );
      last = newLast;
    }

    const hs = write.hardState ?? this.hardState;
    if (write.hardState && write.hardState.term < this.hardState.term) {
      throw new StorageArgumentError(`hard state term ${write.hardState.term} is below the stored term ${this.hardState.term}`);
    }
    if (hs.commit > last) {
      throw new StorageArgumentError(
        write.hardState
          ? `hard state commit ${hs.commit} is beyond the last index ${last} after this write`
          : `this write would truncate the log to ${last}, below the stored commit ${hs.commit}`,
      );
    }
    const next = new LogShape(base, baseTerm, last, runs, hs, this.identity);
    return { next, deletes: { from: deleteFrom, to: deleteTo } };
  }

  /** Checks a local compaction to `meta` and returns the resulting shape and deletes. */
  planCompact(meta: SnapshotMeta): LogChange {
    if (meta.index <= this.snapshotIndex) {
      throw new StorageArgumentError(`compaction to ${meta.index} is not newer than the stored snapshot at ${this.snapshotIndex}`);
    }
    if (meta.index > this.lastIndex) {
      throw new StorageArgumentError(`compaction to ${meta.index} is beyond the last stored index ${this.lastIndex}`);
    }
    const term = this.termAt(meta.index);
    if (term !== meta.term) {
      throw new StorageArgumentError(`snapshot term ${meta.term} does not match the stored entry ${meta.index} of term ${String(term)}`);
    }
    const kept = this.runs.filter((r, i) => (this.runs[i + 1]?.start ?? Infinity) > meta.index + 1);
    const runs = kept.map((r) => (r.start <= meta.index ? { start: meta.index + 1, term: r.term } : r));
    const next = new LogShape(
      meta.index,
      meta.term,
      this.lastIndex,
      meta.index === this.lastIndex ? [] : runs,
      this.hardState,
      this.identity,
    );
    return { next, deletes: { from: this.firstIndex, to: meta.index } };
  }

  /**
   * Checks setting the identity. Returns the next shape, or undefined when the same identity is
   * already stored (nothing to write). A different stored identity is refused.
   */
  planIdentity(identity: NodeIdentity): LogShape | undefined {
    const cur = this.identity;
    if (cur) {
      if (cur.clusterId === identity.clusterId && cur.nodeId === identity.nodeId) return undefined;
      throw new StorageArgumentError(
        `identity is already ${cur.clusterId}/${cur.nodeId}; refusing to change it to ${identity.clusterId}/${identity.nodeId}`,
      );
    }
    return new LogShape(this.snapshotIndex, this.snapshotTerm, this.lastIndex, this.runs, this.hardState, identity);
  }
}

function termIn(runs: readonly TermRun[], index: number): number {
  let term = 0;
  for (const r of runs) {
    if (r.start > index) break;
    term = r.term;
  }
  return term;
}

function appendRuns(runs: readonly TermRun[], entries: readonly Entry[]): TermRun[] {
  const out = runs.slice();
  for (const e of entries) {
    const lastRun = out[out.length - 1];
    if (!lastRun || lastRun.term !== e.term) out.push({ start: e.index, term: e.term });
  }
  return out;
}
