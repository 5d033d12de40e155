/** MemoryStorage's crash simulation: what a restarted node finds, with and without power loss and manual flush. */
import { describe, expect, it } from 'vitest';
import { StorageArgumentError, StorageClosedError } from '../../src/storage/errors.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { ents, hs, indexes, plainState, snap } from './helpers.js';

describe('MemoryStorage crash simulation', () => {
  it('keeps every resolved write across a process crash, synced or not', async () => {
    const s = new MemoryStorage();
    await s.save({ entries: ents(1, 3, 1), hardState: hs(1, 1) }, true);
    await s.save({ entries: ents(4, 5, 1), hardState: hs(1, 4) }, false);
    const before = plainState(await s.load());
    const after = s.crash();
    expect(plainState(await after.load())).toEqual(before);
    await expect(s.load()).rejects.toBeInstanceOf(StorageClosedError);
    await expect(s.save({ entries: ents(6, 6, 1) }, true)).rejects.toBeInstanceOf(StorageClosedError);
    expect(() => s.crash()).toThrow(StorageClosedError);
  });

  it('on power loss keeps only what the last synced write made durable', async () => {
    const s = new MemoryStorage();
    await s.save({ entries: ents(1, 3, 1), hardState: hs(1, 1) }, false);
    await s.save({ entries: ents(4, 4, 1) }, true); // syncs the earlier write too
    await s.save({ entries: ents(5, 6, 1), hardState: hs(1, 5) }, false);
    await s.save({ entries: [], hardState: hs(2, 6) }, false);
    const lost = s.crash({ powerLoss: true });
    const st = await lost.load();
    expect(indexes(st)).toEqual([1, 2, 3, 4]);
    expect(st.hardState).toEqual(hs(1, 1));
    // Compaction and identity are always synced.
    await lost.save({ entries: ents(5, 6, 2) }, false);
    await lost.compact(snap(5, 2));
    await lost.save({ entries: ents(7, 7, 2) }, false);
    await lost.setIdentity({ clusterId: 'c', nodeId: 'n1' });
    await lost.save({ entries: ents(8, 8, 2) }, false);
    const again = await lost.crash({ powerLoss: true }).load();
    expect(indexes(again)).toEqual([6, 7]);
    expect(again.snapshot?.index).toBe(5);
    expect(again.identity).toEqual({ clusterId: 'c', nodeId: 'n1' });
  });

  it('with manualFlush, writes wait for flush() and a crash loses the pending ones', async () => {
    const s = new MemoryStorage({ manualFlush: true });
    const settled: string[] = [];
    const track = (name: string, p: Promise<void>): Promise<void> =>
      p.then(
        () => void settled.push(`${name} ok`),
        (e: unknown) => void settled.push(`${name} ${(e as Error).name}`),
      );
    const p1 = track('a', s.save({ entries: ents(1, 2, 1) }, true));
    const p2 = track('b', s.save({ entries: ents(9, 9, 1) }, true)); // a gap: refused at flush time
    const p3 = track('c', s.save({ entries: ents(3, 3, 1), hardState: hs(1, 3) }, true));
    const p4 = track('d', s.save({ entries: ents(4, 4, 1) }, true));
    expect(s.pendingWrites).toBe(4);
    expect((await s.load()).entries).toEqual([]);
    expect(s.flush(3)).toBe(3);
    await Promise.all([p1, p2, p3]);
    expect(settled).toEqual(['a ok', 'b StorageArgumentError', 'c ok']);
    expect(indexes(await s.load())).toEqual([1, 2, 3]);
    const restarted = s.crash();
    await p4;
    expect(settled[3]).toBe('d StorageClosedError');
    expect(indexes(await restarted.load())).toEqual([1, 2, 3]);
    expect(restarted.pendingWrites).toBe(0);
  });

  it('close() completes pending writes first, and a closed storage can be restarted', async () => {
    const s = new MemoryStorage({ manualFlush: true });
    const p = s.save({ entries: ents(1, 2, 1) }, true);
    await s.close();
    await p;
    await expect(s.compact(snap(1, 1))).rejects.toBeInstanceOf(StorageClosedError);
    const restarted = s.crash();
    expect(indexes(await restarted.load())).toEqual([1, 2]);
    const refused = restarted.compact(snap(3, 1)); // the restarted storage keeps manualFlush
    expect(restarted.pendingWrites).toBe(1);
    expect(restarted.flush()).toBe(1);
    await expect(refused).rejects.toBeInstanceOf(StorageArgumentError);
  });
});
