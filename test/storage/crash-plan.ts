/**
 * A seeded, deterministic sequence of storage writes for the crash test, shared by the parent
 * (which replays prefixes of it on MemoryStorage as the expected states) and the child writer.
 * Each op is valid after every op before it: appends, conflict-truncating appends, local
 * compactions and received snapshots, with indexes that cross 2^32.
 */
import { SeededRng } from '../../src/common/rng.js';
import type { Entry, HardState } from '../../src/raft/types.js';
import type { RaftStorage } from '../../src/storage/types.js';
import { bytes, meta } from './helpers.js';

/** One planned write. `count` entries start at `from` (`append`) or right after the snapshot (`install`). */
export type PlanOp =
  | { readonly type: 'append'; readonly from: number; readonly count: number; readonly term: number; readonly hardState: HardState; readonly sync: boolean }
  | {
      readonly type: 'install';
      readonly index: number;
      readonly term: number;
      readonly size: number;
      readonly count: number;
      readonly hardState: HardState;
    }
  | { readonly type: 'compact'; readonly index: number; readonly term: number; readonly size: number };

/** Snapshot chunk size the writer uses, small so snapshots span several chunks. */
export const CRASH_CHUNK_SIZE = 16 * 1024;

/** Segment size of SegmentStorage in the crash test: small, so the plan rotates and deletes segments often (some frames are larger). */
export const CRASH_SEGMENT_BYTES = 16 * 1024;

/** Builds `length` ops from `seed`. */
export function buildPlan(seed: number, length: number): PlanOp[] {
  const rng = new SeededRng(seed);
  const terms = new Map<number, number>();
  let snapIndex = 0;
  let snapTerm = 0;
  let last = 0;
  let term = 1;
  let commit = 0;
  let jumped = false;
  const between = (lo: number, hi: number): number => lo + rng.int(hi - lo + 1);
  const termAt = (i: number): number => (i === snapIndex ? snapTerm : terms.get(i)!);
  const plan: PlanOp[] = [];

  while (plan.length < length) {
    const r = rng.next();
    const sync = rng.next() < 0.8;
    if (r < 0.2 && last > Math.max(snapIndex, commit)) {
      // Conflict: a new leader's entries overwrite an uncommitted suffix.
      const from = between(Math.max(snapIndex, commit) + 1, last);
      term++;
      const count = between(1, 30);
      for (let i = from; i <= last; i++) terms.delete(i);
      for (let i = from; i < from + count; i++) terms.set(i, term);
      last = from + count - 1;
      commit = between(commit, last);
      plan.push({ type: 'append', from, count, term, hardState: { term, vote: 'n2', commit }, sync });
    } else if (r < 0.35 && commit > snapIndex) {
      const index = between(snapIndex + 1, commit);
      const t = termAt(index);
      for (let i = snapIndex + 1; i <= index; i++) terms.delete(i);
      snapIndex = index;
      snapTerm = t;
      plan.push({ type: 'compact', index, term: t, size: between(0, 80_000) });
    } else if (r < 0.42) {
      // A snapshot from the leader, ahead of the log; the first one jumps just below 2^32.
      const index = !jumped && last < 2 ** 32 - 100 ? 2 ** 32 - between(5, 40) : last + between(1, 50);
      jumped = true;
      term++;
      const count = between(0, 10);
      terms.clear();
      for (let i = index + 1; i <= index + count; i++) terms.set(i, term);
      snapIndex = index;
      snapTerm = term;
      last = index + count;
      commit = index;
      plan.push({ type: 'install', index, term, size: between(1, 120_000), count, hardState: { term, vote: null, commit } });
    } else {
      const from = last + 1;
      const count = between(0, 40);
      for (let i = from; i < from + count; i++) terms.set(i, term);
      last = from + count - 1;
      commit = between(commit, last);
      plan.push({ type: 'append', from, count, term, hardState: { term, vote: 'n1', commit }, sync });
    }
  }
  return plan;
}

/** The entries an op writes; data is derived from the op number and index. */
function entriesOf(n: number, from: number, count: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i < from + count; i++) {
    const size = (i * 7 + n) % 97 === 0 ? 0 : 16 + ((i * 13 + n * 31) % 600);
    out.push(i % 11 === 0 ? { type: 'noop', index: i, term } : { type: 'normal', index: i, term, data: bytes(size, n * 1000003 + (i % 1000003)) });
  }
  return out;
}

/** Performs op number `n` of a plan on `storage`. */
export async function applyOp(storage: RaftStorage, op: PlanOp, n: number): Promise<void> {
  switch (op.type) {
    case 'append':
      await storage.save({ entries: entriesOf(n, op.from, op.count, op.term), hardState: op.hardState }, op.sync);
      return;
    case 'install':
      await storage.save(
        {
          snapshot: { meta: meta(op.index, op.term), data: bytes(op.size, n) },
          entries: entriesOf(n, op.index + 1, op.count, op.term),
          hardState: op.hardState,
        },
        true,
      );
      return;
    case 'compact':
      await storage.compact({ meta: meta(op.index, op.term), data: bytes(op.size, n) });
      return;
  }
}
