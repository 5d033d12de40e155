/**
 * Property: any sequence of saves, compactions, received snapshots and identity writes — valid or
 * not — gives the same results and the same load() on MemoryStorage and on each durable storage
 * (LevelStorage, SegmentStorage), also after the durable one is reopened from disk.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry, Snapshot } from '../../src/raft/types.js';
import { LevelStorage } from '../../src/storage/level-storage.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { SegmentStorage } from '../../src/storage/segment-storage.js';
import type { RaftStorage, SnapshotChunkReader, StorageWrite, StoredState } from '../../src/storage/types.js';
import { bytes, ents, hex, meta, plainState, tempDir } from './helpers.js';

/** An operation described relative to the current state, so most generated ops are valid. */
type AbstractOp =
  | { readonly kind: 'append'; readonly count: number; readonly bump: boolean; readonly commit: number; readonly sync: boolean }
  | { readonly kind: 'truncate'; readonly at: number; readonly count: number; readonly sync: boolean }
  | { readonly kind: 'compact'; readonly at: number; readonly size: number }
  | { readonly kind: 'install'; readonly ahead: number; readonly count: number; readonly size: number }
  | { readonly kind: 'identity'; readonly node: string }
  | { readonly kind: 'raw'; readonly from: number; readonly count: number; readonly term: number; readonly commit: number; readonly hsTerm: number }
  | { readonly kind: 'raw-compact'; readonly offset: number; readonly term: number };

const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const abstractOp: fc.Arbitrary<AbstractOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), count: fc.nat(6), bump: fc.boolean(), commit: frac, sync: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: frac, count: fc.integer({ min: 1, max: 5 }), sync: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), at: frac, size: fc.nat(200) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('install' as const), ahead: fc.nat(5), count: fc.nat(3), size: fc.nat(200) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('identity' as const), node: fc.constantFrom('n1', 'n2') }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      from: fc.integer({ min: -3, max: 3 }),
      count: fc.nat(3),
      term: fc.integer({ min: -1, max: 1 }),
      commit: fc.integer({ min: -2, max: 2 }),
      hsTerm: fc.integer({ min: -1, max: 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw-compact' as const), offset: fc.integer({ min: -1, max: 4 }), term: fc.integer({ min: 0, max: 1 }) }) },
);

type Concrete = { readonly type: 'save'; readonly write: StorageWrite; readonly sync: boolean } | { readonly type: 'compact'; readonly snapshot: Snapshot } | { readonly type: 'identity'; readonly nodeId: string };

/** Turns an abstract op into a concrete call against the state `st`. */
function concretize(op: AbstractOp, st: StoredState, n: number): Concrete {
  const snapIndex = st.snapshot?.index ?? 0;
  const lastEntry = st.entries[st.entries.length - 1];
  const last = lastEntry?.index ?? snapIndex;
  const term = Math.max(1, st.hardState.term, lastEntry?.term ?? st.snapshot?.term ?? 0);
  const commit = st.hardState.commit;
  const termAt = (i: number): number => (i === snapIndex ? (st.snapshot?.term ?? 0) : (st.entries.find((e) => e.index === i)?.term ?? 0));
  switch (op.kind) {
    case 'append': {
      const t = op.bump ? term + 1 : term;
      const newLast = last + op.count;
      const c = commit + Math.floor(op.commit * (newLast - commit + 1));
      return { type: 'save', write: { entries: ents(last + 1, newLast, t, n % 5), hardState: { term: t, vote: 'n1', commit: c } }, sync: op.sync };
    }
    case 'truncate': {
      const lo = Math.max(snapIndex, commit);
      const from = last > lo ? lo + 1 + Math.floor(op.at * (last - lo)) : last + 1;
      return { type: 'save', write: { entries: ents(from, from + op.count - 1, term + 1, 3), hardState: { term: term + 1, vote: 'n2', commit } }, sync: op.sync };
    }
    case 'compact': {
      const hi = Math.min(commit, last);
      const index = hi > snapIndex ? snapIndex + 1 + Math.floor(op.at * (hi - snapIndex)) : snapIndex; // the latter is refused
      return { type: 'compact', snapshot: { meta: meta(index, termAt(index) || 1), data: bytes(op.size, n) } };
    }
    case 'install': {
      const index = last + op.ahead;
      const entries: Entry[] = ents(index + 1, index + op.count, term + 1, 2);
      return { type: 'save', write: { snapshot: { meta: meta(index, term + 1), data: bytes(op.size, n) }, entries, hardState: { term: term + 1, vote: null, commit: index } }, sync: true };
    }
    case 'identity':
      return { type: 'identity', nodeId: op.node };
    case 'raw': {
      const from = Math.max(1, last + 1 + op.from);
      const t = Math.max(1, term + op.term);
      return {
        type: 'save',
        write: { entries: ents(from, from + op.count - 1, t, 1), hardState: { term: Math.max(0, st.hardState.term + op.hsTerm), vote: 'n3', commit: Math.max(0, last + op.commit) } },
        sync: false,
      };
    }
    case 'raw-compact': {
      const index = Math.max(1, snapIndex + op.offset);
      return { type: 'compact', snapshot: { meta: meta(index, Math.max(1, termAt(index) + op.term)), data: bytes(5, n) } };
    }
  }
}

async function run(s: RaftStorage, c: Concrete): Promise<string> {
  try {
    if (c.type === 'save') await s.save(c.write, c.sync);
    else if (c.type === 'compact') await s.compact(c.snapshot);
    else await s.setIdentity({ clusterId: 'c', nodeId: c.nodeId });
    return 'ok';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

async function view(s: RaftStorage & SnapshotChunkReader): Promise<unknown> {
  const sn = await s.readSnapshot();
  return { state: plainState(await s.load()), snapshot: sn ? hex(sn.data) : null };
}

type Durable = RaftStorage & SnapshotChunkReader;

const DURABLE: readonly { readonly name: string; readonly open: (path: string, chunkSize: number) => Durable }[] = [
  { name: 'LevelStorage', open: (path, chunkSize) => new LevelStorage(path, { snapshotChunkSize: chunkSize }) },
  // 4 KiB segments, so the sequences rotate and delete segments too.
  { name: 'SegmentStorage', open: (path, chunkSize) => new SegmentStorage(path, { snapshotChunkSize: chunkSize, segmentBytes: 4096 }) },
];

describe.each(DURABLE)('MemoryStorage and $name agree', ({ open }) => {
  it('on every result and every loaded state, for random sequences of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(abstractOp, { minLength: 1, maxLength: 25 }), async (ops) => {
        const { dir, remove } = tempDir('latch-equiv-');
        const path = join(dir, 'data');
        const mem = new MemoryStorage();
        let lvl = open(path, 16);
        try {
          await lvl.load();
          for (let i = 0; i < ops.length; i++) {
            const c = concretize(ops[i]!, await mem.load(), i);
            const [a, b] = [await run(mem, c), await run(lvl, c)];
            expect(b, `op ${i}: ${JSON.stringify(ops[i])}`).toBe(a);
            expect(await view(lvl)).toEqual(await view(mem));
          }
          await lvl.close();
          lvl = open(path, 7);
          expect(await view(lvl)).toEqual(await view(mem));
        } finally {
          await lvl.close();
          remove();
        }
      }),
      { numRuns: 40 },
    );
  });
});
