/**
 * SegmentStorage's write path in system calls: a synced save() is one write() and one
 * fdatasync() on the segment, an unsynced one a single write(); rotation syncs the old segment
 * and makes the new one durable before the frame goes in. node:fs is wrapped to count the calls
 * (LevelDB's own syncs, for the meta db, are native and not counted).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SegmentStorage } from '../../src/storage/segment-storage.js';
import { ents, hs, indexes, tempDir } from './helpers.js';

const calls = vi.hoisted(() => ({ write: 0, fdatasync: 0, fsync: 0 }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    write: ((...args: unknown[]) => {
      calls.write++;
      return (fs.write as (...a: unknown[]) => void)(...args);
    }) as typeof fs.write,
    fdatasync: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      calls.fdatasync++;
      fs.fdatasync(fd, cb);
    }) as typeof fs.fdatasync,
    fsync: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      calls.fsync++;
      fs.fsync(fd, cb);
    }) as typeof fs.fsync,
  };
});

let dir: string;
let remove: () => void;
let s: SegmentStorage;

function reset(): void {
  calls.write = calls.fdatasync = calls.fsync = 0;
}

beforeEach(async () => {
  ({ dir, remove } = tempDir('latch-segsync-'));
  s = new SegmentStorage(join(dir, 'data'), { segmentBytes: 16 * 1024 });
  await s.load();
  reset();
});
afterEach(async () => {
  await s.close();
  remove();
});

describe('SegmentStorage system calls', () => {
  it('one write and one fdatasync per synced save, one write per unsynced save', async () => {
    await s.save({ entries: ents(1, 8, 1, 150), hardState: hs(1, 0) }, true);
    expect(calls).toEqual({ write: 1, fdatasync: 1, fsync: 0 });
    reset();
    await s.save({ entries: [], hardState: hs(1, 8) }, false);
    expect(calls).toEqual({ write: 1, fdatasync: 0, fsync: 0 });
    reset();
    await s.save({ entries: ents(9, 72, 1, 150), hardState: hs(1, 8) }, true); // 64 entries, still one frame
    expect(calls.fdatasync).toBe(1);
  });

  it('rotation: the old segment is synced, the new one written whole and fsynced with its directory', async () => {
    for (let i = 0; i < 7; i++) await s.save({ entries: ents(i * 10 + 1, i * 10 + 10, 1, 200), hardState: hs(1, i * 10) }, false); // 7 frames of ~2.2 KiB
    expect(s.segmentFiles().length).toBe(1);
    reset();
    await s.save({ entries: ents(71, 80, 1, 200), hardState: hs(1, 70) }, true); // the 8th does not fit: rotates
    expect(s.segmentFiles().length).toBe(2);
    // sync of the old segment, fsync of the new file and of the directory, then the frame's fdatasync.
    expect(calls.fdatasync).toBe(2);
    expect(calls.fsync).toBe(2);
    await s.close();
    s = new SegmentStorage(join(dir, 'data'), { segmentBytes: 16 * 1024 });
    expect(indexes(await s.load()).length).toBe(80);
  });
});
