/**
 * The storage port of a Raft node: log entries, hard state, snapshot and node metadata.
 * Implemented by `LevelStorage` (LevelDB, durable) and `MemoryStorage` (tests, simulator).
 */
import type { Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.js';

/** Identity fixed at bootstrap; a node refuses to start with a different one. */
export interface NodeIdentity {
  readonly clusterId: string;
  readonly nodeId: string;
}

/** Everything a node needs to restart. */
export interface StoredState {
  readonly identity?: NodeIdentity;
  readonly hardState: HardState;
  /** Latest snapshot metadata; entries before and at its index are gone. */
  readonly snapshot?: SnapshotMeta;
  /** Entries after the snapshot, in index order, contiguous. */
  readonly entries: readonly Entry[];
}

/** One Ready's worth of writes, applied atomically. */
export interface StorageWrite {
  readonly hardState?: HardState;
  /**
   * Entries to append. Any stored entry with index ≥ entries[0].index is deleted first (conflict
   * truncation), all in the same atomic batch.
   */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: replaces the whole log (every stored entry is deleted), then `entries` are appended. */
  readonly snapshot?: Snapshot;
}

/** Durable Raft storage. Every method rejects with StorageFatalError on an I/O or corruption error. */
export interface RaftStorage {
  /** Opens (creating if absent) and reads everything back. */
  load(): Promise<StoredState>;
  /** Records the node's identity (once, at bootstrap); fsynced. */
  setIdentity(identity: NodeIdentity): Promise<void>;
  /** Writes one batch atomically; with `sync` it is fsynced before the promise resolves. */
  save(write: StorageWrite, sync: boolean): Promise<void>;
  /** Stores a locally taken snapshot and deletes entries with index ≤ meta.index, atomically and fsynced. */
  compact(snapshot: Snapshot): Promise<void>;
  /** The latest stored snapshot, if any. */
  readSnapshot(): Promise<Snapshot | undefined>;
  /** Closes the database; further calls reject. */
  close(): Promise<void>;
}

/**
 * A consistent view of the stored snapshot for streaming it to a follower in chunks. It is taken
 * when opened: a compaction that happens meanwhile does not change what it yields. Iterate it
 * once; every chunk holds `chunkSize` bytes except the last. Iteration rejects with
 * StorageFatalError if the stored bytes do not match the recorded size and checksum. Call
 * `close()` if it is not iterated to the end.
 */
export interface SnapshotChunks extends AsyncIterable<Uint8Array> {
  readonly meta: SnapshotMeta;
  /** Total length in bytes. */
  readonly size: number;
  /** Releases the view; idempotent. */
  close(): Promise<void>;
}

/** Storage that can stream its snapshot in chunks (both LevelStorage and MemoryStorage). */
export interface SnapshotChunkReader {
  /** Opens the latest snapshot for chunked reading, or resolves undefined when there is none. */
  readSnapshotChunks(chunkSize: number): Promise<SnapshotChunks | undefined>;
}
