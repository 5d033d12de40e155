/** openRaftStorage: new data dirs get the segment log; a dir LevelStorage wrote keeps LevelStorage, with its data. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelStorage, SegmentStorage, openRaftStorage, storageKindOf } from '../../src/storage/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'latch-open-storage-'));
  dirs.push(d);
  return d;
}

describe('openRaftStorage', () => {
  it('gives a new or empty dir the segment log', async () => {
    const dir = join(tmp(), 'raft');
    expect(storageKindOf(dir)).toBe('segment');
    const s = openRaftStorage(dir);
    expect(s).toBeInstanceOf(SegmentStorage);
    await s.load();
    await s.close();
    expect(storageKindOf(dir)).toBe('segment');
  });

  it('keeps LevelStorage, and every entry, for a dir an earlier version wrote with it', async () => {
    const dir = join(tmp(), 'raft');
    const old = new LevelStorage(dir);
    await old.load();
    await old.setIdentity({ clusterId: 'c1', nodeId: 'n1' });
    await old.save({ hardState: { term: 2, vote: 'n1', commit: 1 }, entries: [{ type: 'normal', index: 1, term: 2, data: new Uint8Array([7]) }] }, true);
    await old.close();
    expect(storageKindOf(dir)).toBe('level');
    const s = openRaftStorage(dir);
    expect(s).toBeInstanceOf(LevelStorage);
    const st = await s.load();
    expect(st.identity).toEqual({ clusterId: 'c1', nodeId: 'n1' });
    expect(st.hardState).toEqual({ term: 2, vote: 'n1', commit: 1 });
    expect(st.entries.map((e) => e.index)).toEqual([1]);
    await s.close();
  });
});
