import { join } from 'node:path';
import { LevelStorage } from '../../src/storage/level-storage.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { SegmentStorage, type SegmentStorageOptions } from '../../src/storage/segment-storage.js';
import { tempDir } from './helpers.js';
import { storageConformance, type ConformingStorage, type StorageHarness } from './storage-conformance.js';

function memoryHarness(): StorageHarness {
  let last: MemoryStorage | undefined;
  return {
    open: () => (last = last ? last.crash() : new MemoryStorage()),
    dispose: async () => {
      await last?.close();
    },
  };
}

function levelHarness(snapshotChunkSize?: number): StorageHarness {
  const { dir, remove } = tempDir();
  const opened: ConformingStorage[] = [];
  return {
    open: () => {
      const s = new LevelStorage(join(dir, 'data'), snapshotChunkSize ? { snapshotChunkSize } : {});
      opened.push(s);
      return s;
    },
    dispose: async () => {
      for (const s of opened) await s.close();
      remove();
    },
  };
}

function segmentHarness(options: SegmentStorageOptions): StorageHarness {
  const { dir, remove } = tempDir();
  const opened: ConformingStorage[] = [];
  return {
    open: () => {
      const s = new SegmentStorage(join(dir, 'data'), options);
      opened.push(s);
      return s;
    },
    dispose: async () => {
      for (const s of opened) await s.close();
      remove();
    },
  };
}

storageConformance('MemoryStorage', memoryHarness);
storageConformance('LevelStorage (1 MiB snapshot chunks)', () => levelHarness());
storageConformance('LevelStorage (100-byte snapshot chunks)', () => levelHarness(100));
storageConformance('SegmentStorage (64 KiB segments)', () => segmentHarness({ segmentBytes: 64 << 10 }));
storageConformance('SegmentStorage (4 KiB segments, 100-byte snapshot chunks)', () => segmentHarness({ segmentBytes: 4096, snapshotChunkSize: 100 }));
