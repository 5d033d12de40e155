/**
 * The RaftStorage conformance suite (after abstract-level's): every implementation must pass it.
 * Call `storageConformance(name, makeHarness)` from a test file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Entry, Snapshot } from '../../src/raft/types.js';
import { StorageArgumentError, StorageClosedError } from '../../src/storage/errors.js';
import type { RaftStorage, SnapshotChunkReader, StorageWrite, StoredState } from '../../src/storage/types.js';
import { bytes, ents, hex, hs, indexes, meta, normal, plainState, snap } from './helpers.js';

/** What the suite needs of an implementation. */
export type ConformingStorage = RaftStorage & SnapshotChunkReader;

/** Gives the suite storages over one durable state. */
export interface StorageHarness {
  /** A storage over the harness's state: empty at first; after the previous one was closed, its data. */
  open(): ConformingStorage;
  /** Closes whatever is open and removes everything the harness created. */
  dispose(): Promise<void>;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return out;
}

function joined(chunks: readonly Uint8Array[]): string {
  return chunks.map(hex).join('');
}

/** Registers the conformance tests for one implementation. */
export function storageConformance(name: string, makeHarness: () => StorageHarness | Promise<StorageHarness>): void {
  describe(`RaftStorage conformance: ${name}`, () => {
    let h: StorageHarness;
    let s: ConformingStorage;

    beforeEach(async () => {
      h = await makeHarness();
      s = h.open();
    });
    afterEach(async () => {
      await h.dispose();
    });

    /** Closes the storage, opens a new one over the same state and loads it. */
    async function reopen(): Promise<StoredState> {
      await s.close();
      s = h.open();
      return s.load();
    }

    it('starts empty', async () => {
      const st = await s.load();
      expect(st.hardState).toEqual({ term: 0, vote: null, commit: 0 });
      expect(st.entries).toEqual([]);
      expect(st.snapshot).toBeUndefined();
      expect(st.identity).toBeUndefined();
      expect(await s.readSnapshot()).toBeUndefined();
      expect(await s.readSnapshotChunks(16)).toBeUndefined();
    });

    it('appends entries of every type and reads them back in order, also after a reopen', async () => {
      await s.load();
      const first: Entry[] = [
        normal(1, 1),
        { type: 'conf', index: 2, term: 1, change: { type: 'add-voter', node: 'n4', context: bytes(5, 9) } },
        { type: 'conf', index: 3, term: 1, change: { type: 'remove', node: 'n2' } },
        { type: 'noop', index: 4, term: 2 },
        { type: 'normal', index: 5, term: 2, data: new Uint8Array(0) },
      ];
      await s.save({ entries: first, hardState: hs(2, 3, 'n2') }, true);
      await s.save({ entries: ents(6, 8, 2) }, true);
      const want = plainState({ hardState: hs(2, 3, 'n2'), entries: [...first, ...ents(6, 8, 2)] });
      expect(plainState(await s.load())).toEqual(want);
      expect(plainState(await reopen())).toEqual(want);
    });

    it('keeps index order across hex-digit boundaries, above 2^32 and near 2^53', async () => {
      await s.load();
      const bases = [0xfc, 0xfffc, 2 ** 32 - 4, 2 ** 52 - 3, Number.MAX_SAFE_INTEGER - 10];
      let term = 1;
      for (const base of bases) {
        await s.save({ snapshot: snap(base, term), entries: ents(base + 1, base + 6, term), hardState: hs(term, base + 2) }, true);
        const want = [1, 2, 3, 4, 5, 6].map((i) => base + i);
        expect(indexes(await s.load())).toEqual(want);
        const st = await reopen();
        expect(indexes(st)).toEqual(want);
        expect(st.snapshot?.index).toBe(base);
        expect(plainState(st.entries)).toEqual(plainState(ents(base + 1, base + 6, term)));
        term++;
      }
      // Appending and truncating work at the top of the range too.
      const top = Number.MAX_SAFE_INTEGER - 4;
      await s.save({ entries: ents(top - 2, Number.MAX_SAFE_INTEGER, term) }, true);
      await s.save({ entries: [normal(top, term + 1)] }, true);
      const st = await reopen();
      expect(indexes(st)).toEqual([-9, -8, -7, -6, -5, -4].map((d) => Number.MAX_SAFE_INTEGER + d));
      expect(st.entries[st.entries.length - 1]!.term).toBe(term + 1);
    });

    it('truncates conflicting entries in the same write', async () => {
      await s.load();
      await s.save({ entries: ents(1, 10, 1), hardState: hs(1, 5) }, true);
      await s.save({ entries: ents(6, 7, 2), hardState: hs(2, 5) }, true);
      let st = await s.load();
      expect(indexes(st)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(plainState(st)).toEqual(plainState({ hardState: hs(2, 5), entries: [...ents(1, 5, 1), ...ents(6, 7, 2)] }));
      st = await reopen();
      expect(indexes(st)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      // Re-extending past the old end shows the new entries, never the truncated ones.
      await s.save({ entries: ents(8, 9, 2) }, true);
      st = await reopen();
      expect(plainState(st.entries)).toEqual(plainState([...ents(1, 5, 1), ...ents(6, 9, 2)]));
      // A longer conflicting suffix overwrites and extends.
      await s.save({ entries: ents(3, 12, 3), hardState: hs(3, 5) }, true);
      st = await reopen();
      expect(plainState(st.entries)).toEqual(plainState([...ents(1, 2, 1), ...ents(3, 12, 3)]));
    });

    it('replaces the whole log with a received snapshot, whether ahead of the log or inside it', async () => {
      await s.load();
      await s.save({ entries: ents(1, 10, 1), hardState: hs(1, 4) }, true);
      const s20 = snap(20, 3, 300);
      await s.save({ snapshot: s20, entries: ents(21, 22, 3), hardState: hs(3, 20) }, true);
      let st = await s.load();
      expect(st.snapshot).toEqual(meta(20, 3));
      expect(indexes(st)).toEqual([21, 22]);
      expect(hex((await s.readSnapshot())!.data)).toBe(hex(s20.data));
      st = await reopen();
      expect(indexes(st)).toEqual([21, 22]);
      expect(st.hardState).toEqual(hs(3, 20));
      // A snapshot inside the stored log still drops every entry.
      const s21 = snap(21, 3, 10);
      await s.save({ snapshot: s21, entries: [], hardState: hs(3, 21) }, true);
      st = await reopen();
      expect(st.entries).toEqual([]);
      expect(st.snapshot).toEqual(meta(21, 3));
      const back = await s.readSnapshot();
      expect(back?.meta).toEqual(meta(21, 3));
      expect(hex(back!.data)).toBe(hex(s21.data));
      // And the log continues right after it.
      await s.save({ entries: ents(22, 23, 4), hardState: hs(4, 22) }, true);
      expect(indexes(await reopen())).toEqual([22, 23]);
    });

    it('compacts: deletes exactly the entries up to the snapshot and keeps the rest', async () => {
      await s.load();
      await s.save({ entries: [...ents(1, 10, 1), ...ents(11, 15, 2)], hardState: hs(2, 12) }, true);
      await s.compact(snap(4, 1, 500));
      let st = await s.load();
      expect(st.snapshot).toEqual(meta(4, 1));
      expect(indexes(st)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
      const later = snap(12, 2, 120);
      await s.compact(later);
      st = await reopen();
      expect(st.snapshot).toEqual(meta(12, 2));
      expect(plainState(st.entries)).toEqual(plainState(ents(13, 15, 2)));
      expect(hex((await s.readSnapshot())!.data)).toBe(hex(later.data));
      // Compacting the whole log, then appending after it.
      await s.save({ entries: ents(16, 17, 2), hardState: hs(2, 17) }, true);
      await s.compact(snap(17, 2, 7));
      expect((await reopen()).entries).toEqual([]);
      await s.save({ entries: ents(18, 18, 3), hardState: hs(3, 18) }, true);
      st = await reopen();
      expect(indexes(st)).toEqual([18]);
      expect(st.snapshot).toEqual(meta(17, 2));
    });

    it('streams the snapshot in chunks of any size', async () => {
      await s.load();
      await s.save({ entries: ents(1, 5, 1), hardState: hs(1, 5) }, true);
      const sn = snap(5, 1, 1000);
      await s.compact(sn);
      for (const size of [1, 7, 100, 256, 1000, 4096]) {
        const stream = await s.readSnapshotChunks(size);
        expect(stream?.meta).toEqual(meta(5, 1));
        expect(stream?.size).toBe(1000);
        const chunks = await collect(stream!);
        expect(chunks.length).toBe(Math.ceil(1000 / size));
        chunks.forEach((c, i) => expect(c.length).toBe(i < chunks.length - 1 ? size : 1000 - size * (chunks.length - 1)));
        expect(joined(chunks)).toBe(hex(sn.data));
      }
    });

    it('a snapshot stream is a consistent view, iterable once', async () => {
      await s.load();
      await s.save({ entries: ents(1, 9, 1), hardState: hs(1, 9) }, true);
      const old = snap(3, 1, 900);
      await s.compact(old);
      const stream = await s.readSnapshotChunks(64);
      await s.compact(snap(8, 1, 250));
      expect(joined(await collect(stream!))).toBe(hex(old.data));
      expect(() => stream![Symbol.asyncIterator]()).toThrow(StorageArgumentError);
      const fresh = await s.readSnapshotChunks(64);
      expect(fresh?.meta).toEqual(meta(8, 1));
      await fresh!.close(); // closing without iterating releases it
      await fresh!.close();
      for (const bad of [0, -1, 1.5, Number.NaN]) await expect(s.readSnapshotChunks(bad)).rejects.toBeInstanceOf(StorageArgumentError);
    });

    it('handles an empty snapshot', async () => {
      await s.load();
      await s.save({ snapshot: { meta: meta(7, 2), data: new Uint8Array(0) }, entries: [], hardState: hs(2, 7) }, true);
      const st = await reopen();
      expect(st.snapshot).toEqual(meta(7, 2));
      expect((await s.readSnapshot())!.data.length).toBe(0);
      expect(await collect((await s.readSnapshotChunks(8))!)).toEqual([]);
    });

    it('records the identity once, idempotently, and refuses another', async () => {
      await s.load();
      await s.setIdentity({ clusterId: 'c-1', nodeId: 'n1' });
      expect((await s.load()).identity).toEqual({ clusterId: 'c-1', nodeId: 'n1' });
      expect((await reopen()).identity).toEqual({ clusterId: 'c-1', nodeId: 'n1' });
      await s.setIdentity({ clusterId: 'c-1', nodeId: 'n1' });
      await expect(s.setIdentity({ clusterId: 'c-1', nodeId: 'n2' })).rejects.toBeInstanceOf(StorageArgumentError);
      await expect(s.setIdentity({ clusterId: 'c-2', nodeId: 'n1' })).rejects.toBeInstanceOf(StorageArgumentError);
      await expect(s.setIdentity({ clusterId: '', nodeId: 'n1' })).rejects.toBeInstanceOf(StorageArgumentError);
      await expect(s.setIdentity({ clusterId: 'c', nodeId: 'not a node id' })).rejects.toBeInstanceOf(StorageArgumentError);
      expect((await reopen()).identity).toEqual({ clusterId: 'c-1', nodeId: 'n1' });
    });

    it('refuses bad writes with StorageArgumentError and changes nothing', async () => {
      await s.load();
      await s.save({ entries: [...ents(1, 3, 1), ...ents(4, 5, 2)], hardState: hs(2, 4) }, true);
      await s.compact(snap(2, 1));
      const before = plainState(await s.load());
      const badSaves: unknown[] = [
        { entries: ents(7, 7, 2) }, // gap after 5
        { entries: [normal(6, 2), normal(8, 2)] }, // not contiguous
        { entries: [normal(6, 3), normal(7, 2)] }, // term decreasing inside the batch
        { entries: [normal(6, 1)] }, // term below the preceding stored entry (2)
        { entries: [normal(2, 1)] }, // at the snapshot index
        { entries: [normal(1, 1)] }, // below the snapshot
        { entries: [], hardState: hs(2, 6) }, // commit beyond the last index
        { entries: [normal(3, 3)] }, // truncates to 3, below the stored commit 4
        { entries: [], hardState: hs(1, 4) }, // term going backwards
        { entries: [], hardState: { term: 2, vote: 'bad id!', commit: 1 } },
        { entries: [], hardState: { term: -1, vote: null, commit: 0 } },
        { entries: [{ type: 'normal', index: 6, term: 2 }] }, // no data
        { entries: [{ type: 'weird', index: 6, term: 2 }] },
        { entries: [{ type: 'noop', index: 6.5, term: 2 }] },
        { entries: [{ type: 'noop', index: 6, term: Number.NaN }] },
        { entries: [{ type: 'noop', index: 2 ** 53, term: 2 }] },
        { entries: [{ type: 'conf', index: 6, term: 2, change: { type: 'add-voter', node: '' } }] },
        { entries: [{ type: 'conf', index: 6, term: 2, change: { type: 'explode', node: 'n1' } }] },
        { entries: null },
        null,
        { entries: [], snapshot: snap(2, 1) }, // not newer than the stored snapshot
        { entries: [], snapshot: snap(1, 1) },
        { entries: [], snapshot: { meta: meta(9, 2), data: 'not bytes' } },
        { entries: [], snapshot: { meta: { index: 9, term: 2, confState: { voters: 'n1', learners: [] } }, data: bytes(3) } },
      ];
      for (const w of badSaves) {
        await expect(s.save(w as StorageWrite, true), JSON.stringify(w)).rejects.toBeInstanceOf(StorageArgumentError);
      }
      const badCompactions: unknown[] = [
        snap(2, 1), // not newer
        snap(6, 2), // beyond the last index
        snap(4, 1), // wrong term: entry 4 has term 2
        { meta: meta(3, 1), data: [1, 2, 3] },
        { meta: { index: 0, term: 1, confState: { voters: [], learners: [] } }, data: bytes(1) },
      ];
      for (const c of badCompactions) {
        await expect(s.compact(c as Snapshot), JSON.stringify(c)).rejects.toBeInstanceOf(StorageArgumentError);
      }
      expect(plainState(await s.load())).toEqual(before);
      expect(plainState(await reopen())).toEqual(before);
      // Still usable after the refusals.
      await s.save({ entries: ents(6, 6, 2), hardState: hs(2, 6) }, true);
      expect(indexes(await reopen())).toEqual([3, 4, 5, 6]);
    });

    it('applies calls in the order they were made, even when not awaited one by one', async () => {
      await s.load();
      const results = await Promise.allSettled([
        s.save({ entries: ents(1, 3, 1) }, true),
        s.save({ entries: ents(4, 6, 1), hardState: hs(1, 3) }, false),
        s.compact(snap(2, 1)),
        s.save({ entries: ents(5, 5, 2), hardState: hs(2, 4) }, true),
        s.save({ entries: ents(9, 9, 2) }, true), // a gap: refused, nothing else affected
        s.setIdentity({ clusterId: 'c', nodeId: 'n1' }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      const want = plainState({ identity: { clusterId: 'c', nodeId: 'n1' }, hardState: hs(2, 4), snapshot: meta(2, 1), entries: [...ents(3, 4, 1), normal(5, 2)] });
      expect(plainState(await s.load())).toEqual(want);
      expect(plainState(await reopen())).toEqual(want);
    });

    it('keeps unsynced writes across a clean close, and accepts empty writes', async () => {
      await s.load();
      await s.save({ entries: ents(1, 3, 1) }, false);
      await s.save({ entries: [], hardState: { term: 1, vote: null, commit: 2 } }, false);
      await s.save({ entries: [] }, true);
      const st = await reopen();
      expect(indexes(st)).toEqual([1, 2, 3]);
      expect(st.hardState).toEqual({ term: 1, vote: null, commit: 2 });
    });

    it('never aliases the caller’s buffers', async () => {
      await s.load();
      const e = normal(1, 1);
      const data = (e as { data: Uint8Array }).data;
      const original = hex(data);
      const sn = snap(1, 1, 50);
      await s.save({ entries: [e] }, true);
      data.fill(0);
      const loaded = await s.load();
      expect(hex((loaded.entries[0] as { data: Uint8Array }).data)).toBe(original);
      (loaded.entries[0] as { data: Uint8Array }).data.fill(1);
      expect(hex(((await s.load()).entries[0] as { data: Uint8Array }).data)).toBe(original);
      const snapHex = hex(sn.data);
      await s.compact(sn);
      sn.data.fill(0);
      const read = await s.readSnapshot();
      expect(hex(read!.data)).toBe(snapHex);
      read!.data.fill(2);
      expect(hex((await s.readSnapshot())!.data)).toBe(snapHex);
    });

    it('is idempotent to close, and refuses every call after it with StorageClosedError', async () => {
      await s.load();
      await s.save({ entries: ents(1, 2, 1) }, true);
      await s.close();
      await s.close();
      await expect(s.load()).rejects.toBeInstanceOf(StorageClosedError);
      await expect(s.save({ entries: ents(3, 3, 1) }, true)).rejects.toBeInstanceOf(StorageClosedError);
      await expect(s.compact(snap(1, 1))).rejects.toBeInstanceOf(StorageClosedError);
      await expect(s.setIdentity({ clusterId: 'c', nodeId: 'n1' })).rejects.toBeInstanceOf(StorageClosedError);
      await expect(s.readSnapshot()).rejects.toBeInstanceOf(StorageClosedError);
      await expect(s.readSnapshotChunks(4)).rejects.toBeInstanceOf(StorageClosedError);
      s = h.open();
      expect(indexes(await s.load())).toEqual([1, 2]);
    });
  });
}
