/**
 * The simulator's copy of a node's log as the core reported it through Ready (snapshot base plus
 * entries), used by the checker; and the entry identities the checks compare.
 */
import type { Entry } from '../../src/raft/index.js';

/** A stable numeric identity of an entry's content (not its index or term). */
export function entryKey(e: Entry): number {
  switch (e.type) {
    case 'normal': {
      const d = e.data;
      return (((d[0] ?? 0) | ((d[1] ?? 0) << 8) | ((d[2] ?? 0) << 16)) >>> 0) * 4 + 1;
    }
    case 'noop':
      return 2;
    case 'conf': {
      let h = 2166136261;
      const s = `${e.change.type}:${e.change.node}`;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
      return (h >>> 0) * 4 + 3;
    }
  }
}

/** Folds entry (index, term, key) into a running state-machine hash. */
export function mixHash(h: number, index: number, term: number, key: number): number {
  let x = Math.imul(h ^ index, 0x9e3779b1);
  x = Math.imul(x ^ term, 0x85ebca6b);
  x = Math.imul(x ^ (key % 0x7fffffff), 0xc2b2ae35);
  return (x ^ (x >>> 15)) >>> 0;
}

/** A log with a snapshot base. */
export class ShadowLog {
  snapIndex = 0;
  snapTerm = 0;
  entries: Entry[] = [];

  /** Copies another log. */
  static from(snapIndex: number, snapTerm: number, entries: readonly Entry[]): ShadowLog {
    const l = new ShadowLog();
    l.snapIndex = snapIndex;
    l.snapTerm = snapTerm;
    l.entries = [...entries];
    return l;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  term(i: number): number | undefined {
    if (i === this.snapIndex) return this.snapTerm;
    if (i < this.snapIndex || i > this.lastIndex()) return undefined;
    return this.entries[i - this.snapIndex - 1]?.term;
  }

  entry(i: number): Entry | undefined {
    return i <= this.snapIndex ? undefined : this.entries[i - this.snapIndex - 1];
  }

  /** Replaces everything by a snapshot base. */
  restore(index: number, term: number): void {
    this.snapIndex = index;
    this.snapTerm = term;
    this.entries = [];
  }

  /** Truncates at entries[0].index and appends (the storage contract of Ready.entries). */
  write(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    this.entries.length = Math.max(0, Math.min(this.entries.length, first.index - this.snapIndex - 1));
    for (const e of entries) if (e.index > this.snapIndex) this.entries.push(e);
  }

  /** Drops entries ≤ index (local compaction). */
  compact(index: number, term: number): void {
    this.entries = this.entries.filter((e) => e.index > index);
    this.snapIndex = index;
    this.snapTerm = term;
  }
}
