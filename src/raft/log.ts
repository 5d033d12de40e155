/**
 * The in-memory Raft log with a snapshot base (etcd's raftLog + unstable, without a storage
 * reader: the core keeps every entry after the latest snapshot in memory).
 *
 * Indexes: entries hold (snapshotIndex, lastIndex]; term(snapshotIndex) is the snapshot's term.
 * Watermarks, each monotonic except where a truncation lowers them:
 *   applied ≤ applying ≤ committed ≤ lastIndex;  stable ≤ handed ≤ lastIndex.
 * `handed` = entries up to here were given to the driver in a Ready; `stable` = durable.
 * The configuration is the latest conf entry in the log, else the snapshot's, else the bootstrap one.
 */
import type { ConfState, Entry, Snapshot, SnapshotMeta } from './types.js';
import { nextConfiguration } from './conf.js';

/** Bytes an entry counts for in size limits (its application data). */
export function entrySize(e: Entry): number {
  return e.type === 'normal' ? e.data.byteLength : 0;
}

/** Where a log starts from. */
export interface LogInit {
  readonly snapshot?: SnapshotMeta;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly applied: number;
  readonly bootstrap: ConfState;
  /** The entries are not durable yet (genesis): hand them out in the first Ready. */
  readonly genesis?: boolean;
}

/** The outcome of a follower's append (`maybeAppend`). */
export type AppendOutcome =
  | { readonly type: 'ok'; readonly lastNew: number }
  | { readonly type: 'mismatch' }
  /** A leader's entries conflict with committed ones: a safety violation upstream; nothing was changed. */
  | { readonly type: 'conflict-below-commit'; readonly index: number };

/** The in-memory log. */
export class RaftLog {
  private snapIndex: number;
  private snapTerm: number;
  private snapConf: ConfState;
  private ents: Entry[];
  /** Conf entries currently in `ents`, with the configuration each produces, in index order. */
  private confs: { index: number; conf: ConfState }[] = [];
  private conf: ConfState;

  committed: number;
  applying: number;
  applied: number;
  stable: number;
  handed: number;
  /** A snapshot received from the leader, not yet handed out in a Ready. */
  private pendingSnap: Snapshot | undefined;

  constructor(init: LogInit) {
    this.snapIndex = init.snapshot?.index ?? 0;
    this.snapTerm = init.snapshot?.term ?? 0;
    this.snapConf = init.snapshot?.confState ?? init.bootstrap;
    this.conf = this.snapConf;
    this.ents = [];
    this.trackConfs(init.entries);
    this.ents.push(...init.entries);
    this.committed = init.commit;
    this.applied = init.applied;
    this.applying = init.applied;
    this.stable = init.genesis === true ? 0 : this.lastIndex();
    this.handed = this.stable;
  }

  // ---- reading ----

  /** Index of the first entry held in memory. */
  firstIndex(): number {
    return this.snapIndex + 1;
  }

  /** Index of the last entry (the snapshot index when there are none). */
  lastIndex(): number {
    return this.snapIndex + this.ents.length;
  }

  /** Term of the last entry. */
  lastTerm(): number {
    return this.ents.at(-1)?.term ?? this.snapTerm;
  }

  /** The snapshot base index. */
  snapshotIndex(): number {
    return this.snapIndex;
  }

  /** Metadata of the snapshot base. */
  snapshotMeta(): SnapshotMeta {
    return { index: this.snapIndex, term: this.snapTerm, confState: this.snapConf };
  }

  /** Term of entry `i`, or undefined if it is compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.snapIndex) return this.snapTerm;
    if (i < this.snapIndex || i > this.lastIndex()) return undefined;
    return this.ents[i - this.snapIndex - 1]?.term;
  }

  /** Entry `i`, if held in memory. */
  entry(i: number): Entry | undefined {
    if (i <= this.snapIndex) return undefined;
    return this.ents[i - this.snapIndex - 1];
  }

  /** True when entry `i` exists with term `t`. */
  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Raft §5.4.1: a candidate's log (lastIndex, lastTerm) is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /**
   * Entries from `lo` to the end, stopping before `maxBytes` is exceeded (at least one entry).
   * `lo` must be > snapshotIndex.
   */
  slice(lo: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= this.lastIndex(); i++) {
      const e = this.entry(i);
      if (e === undefined) break;
      const sz = entrySize(e);
      if (out.length > 0 && bytes + sz > maxBytes) break;
      out.push(e);
      bytes += sz;
    }
    return out;
  }

  /** Entries in (lo, hi], as held in memory. */
  between(lo: number, hi: number): Entry[] {
    const from = Math.max(lo, this.snapIndex) - this.snapIndex;
    const to = Math.min(hi, this.lastIndex()) - this.snapIndex;
    return from < to ? this.ents.slice(from, to) : [];
  }

  // ---- configuration ----

  /** The current configuration (same object until it changes). */
  confState(): ConfState {
    return this.conf;
  }

  /** The configuration in force at index `i` (≥ snapshotIndex). */
  confAt(i: number): ConfState {
    let conf = this.snapConf;
    for (const c of this.confs) {
      if (c.index > i) break;
      conf = c.conf;
    }
    return conf;
  }

  /** Index of the latest conf entry in the log, or 0 (one in a snapshot counts as committed). */
  lastConfIndex(): number {
    return this.confs.at(-1)?.index ?? 0;
  }

  private trackConfs(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.type !== 'conf') continue;
      const next = nextConfiguration(this.conf, e.change);
      // An invalid change in the log (impossible from a correct leader) leaves the configuration as it was.
      if (next.ok) this.conf = next.conf;
      this.confs.push({ index: e.index, conf: this.conf });
    }
  }

  private truncateFrom(i: number): void {
    this.ents.length = Math.max(0, i - this.snapIndex - 1);
    while ((this.confs.at(-1)?.index ?? 0) >= i) this.confs.pop();
    this.conf = this.confs.at(-1)?.conf ?? this.snapConf;
    this.stable = Math.min(this.stable, i - 1);
    this.handed = Math.min(this.handed, i - 1);
  }

  // ---- writing ----

  /** Leader append: `entries` continue the log at lastIndex + 1. */
  append(entries: readonly Entry[]): void {
    this.trackConfs(entries);
    this.ents.push(...entries);
  }

  /**
   * Follower append (Raft §5.3): if our log has (prevIndex, prevTerm), drop conflicting entries,
   * append the new ones and commit up to min(commit, last new index).
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: readonly Entry[]): AppendOutcome {
    if (!this.matchTerm(prevIndex, prevTerm)) return { type: 'mismatch' };
    const lastNew = prevIndex + entries.length;
    const ci = this.findConflict(entries);
    if (ci !== 0) {
      if (ci <= this.committed) return { type: 'conflict-below-commit', index: ci };
      const start = ci - (prevIndex + 1);
      if (ci <= this.lastIndex()) this.truncateFrom(ci);
      this.append(entries.slice(start));
    }
    this.commitTo(Math.min(commit, lastNew));
    return { type: 'ok', lastNew };
  }

  /** Index of the first entry of `entries` that is missing or has another term here, else 0. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (e.index <= this.snapIndex) continue; // covered by our snapshot, hence committed and matching
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term`, with that term (etcd findConflictByTerm):
   * everything after it certainly conflicts with a log whose entry at `index` has term `term`.
   * Returns term 0 when the index is compacted (unknown, assume a possible match).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Raises the commit index to `i` (clamped to the last index). */
  commitTo(i: number): boolean {
    const c = Math.min(i, this.lastIndex());
    if (c <= this.committed) return false;
    this.committed = c;
    return true;
  }

  /**
   * Installs a snapshot from the leader (etcd raftLog.restore). Returns false when it is not newer
   * than our commit, or when our log already has its last entry (then the commit is fast-forwarded).
   */
  restore(snap: Snapshot): boolean {
    const { index, term } = snap.meta;
    if (index <= this.committed) return false;
    if (this.matchTerm(index, term)) {
      this.commitTo(index);
      return false;
    }
    this.snapIndex = index;
    this.snapTerm = term;
    this.snapConf = snap.meta.confState;
    this.ents = [];
    this.confs = [];
    this.conf = this.snapConf;
    this.committed = index;
    this.stable = index;
    this.handed = index;
    this.pendingSnap = snap;
    return true;
  }

  /** The driver took a snapshot at applied index `i`: drop entries ≤ i; returns its metadata. */
  compact(i: number): SnapshotMeta {
    const term = this.term(i);
    if (term === undefined) throw new RangeError(`cannot compact at ${i}`);
    const conf = this.confAt(i);
    this.ents = this.ents.slice(i - this.snapIndex);
    this.confs = this.confs.filter((c) => c.index > i);
    this.snapIndex = i;
    this.snapTerm = term;
    this.snapConf = conf;
    return this.snapshotMeta();
  }

  // ---- Ready bookkeeping ----

  /** True when there is something to persist or apply. */
  hasWork(): boolean {
    return this.pendingSnap !== undefined || this.lastIndex() > this.handed || this.nextApplyHi() > this.applying;
  }

  /** Committed entries may be applied once they are durable here too (DESIGN §2). */
  private nextApplyHi(): number {
    return Math.min(this.committed, this.stable);
  }

  /**
   * Hands out what a Ready carries: the pending snapshot, the entries not yet handed out, and the
   * committed entries not yet handed for applying that are already durable (persisted by an
   * earlier, advanced Ready).
   */
  takeWork(): { snapshot?: Snapshot; entries: Entry[]; committed: Entry[] } {
    const snapshot = this.pendingSnap;
    this.pendingSnap = undefined;
    if (snapshot !== undefined) this.applying = Math.max(this.applying, snapshot.meta.index);
    const entries = this.between(this.handed, this.lastIndex());
    this.handed = this.lastIndex();
    const hi = this.nextApplyHi();
    const committed = hi > this.applying ? this.between(this.applying, hi) : [];
    if (committed.length > 0) this.applying = hi;
    return snapshot === undefined ? { entries, committed } : { snapshot, entries, committed };
  }

  /** The driver persisted a Ready with `entries` and `snapshot` and applied up to `appliedTo`. */
  persisted(entries: readonly Entry[], snapshot: Snapshot | undefined, appliedTo: number): void {
    if (snapshot !== undefined && this.matchTerm(snapshot.meta.index, snapshot.meta.term)) {
      this.stable = Math.max(this.stable, snapshot.meta.index);
    }
    const last = entries.at(-1);
    // Log matching: if the term at the last persisted index still matches, everything before it does too.
    if (last !== undefined && last.index <= this.handed && this.matchTerm(last.index, last.term)) {
      this.stable = Math.max(this.stable, last.index);
    }
    this.applied = Math.max(this.applied, Math.min(appliedTo, this.applying));
  }
}
