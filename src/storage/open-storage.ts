/**
 * Which durable store a node's data dir gets: the segment log (SegmentStorage) for a new dir, and
 * LevelStorage for a dir that an earlier version wrote with it (LevelDB files at its top level),
 * so upgrading never strands or rewrites a node's data.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LevelStorage } from './level-storage.js';
import { SegmentStorage } from './segment-storage.js';
import type { RaftStorage } from './types.js';

/** The store kinds a data dir can hold. */
export type StorageKind = 'segment' | 'level';

/** The kind of store `dir` already holds, or the default (segment) for a new or empty dir. */
export function storageKindOf(dir: string): StorageKind {
  return existsSync(join(dir, 'CURRENT')) ? 'level' : 'segment';
}

/** Opens the Raft store for `dir` (not yet loaded): see storageKindOf. */
export function openRaftStorage(dir: string): RaftStorage {
  return storageKindOf(dir) === 'level' ? new LevelStorage(dir) : new SegmentStorage(dir);
}
