/** Public API of the storage layer: the RaftStorage port and its LevelDB, segment-log and in-memory implementations. */
export type { NodeIdentity, RaftStorage, SnapshotChunkReader, SnapshotChunks, StorageWrite, StoredState } from './types.js';
export { StorageArgumentError, StorageClosedError } from './errors.js';
export { DEFAULT_SNAPSHOT_CHUNK_SIZE, LevelStorage, STORAGE_FORMAT, type LevelStorageOptions } from './level-storage.js';
export { MemoryStorage, type CrashOptions, type MemoryStorageOptions } from './memory-storage.js';
export { DEFAULT_SEGMENT_BYTES, SegmentStorage, type EntryLocation, type SegmentStorageOptions } from './segment-storage.js';
export { openRaftStorage, storageKindOf, type StorageKind } from './open-storage.js';
