/**
 * Durable Raft storage on an append-only segment log (after hashicorp/raft-wal and etcd's WAL):
 * entries and hard state go to preallocated segment files of CRC-32C-framed records, one frame
 * and at most one fdatasync per save(); identity and snapshots go to a small LevelDB, which also
 * holds the data dir's LOCK. An in-memory index maps each entry to (segment, frame offset, term).
 *
 *   <dir>/log/   segments `<group>-<seq>-<first index>.seg` (segment-format.ts, segment-log.ts)
 *   <dir>/meta/  LevelDB: format marker, identity, snapshots keyed by index (segment-meta.ts)
 *
 * The hard state lives in the log, not in LevelDB, so that the entries and hard state of one
 * save() are one frame: one write, one fdatasync, and all-or-nothing on replay. (Hard state in
 * LevelDB would need a second fsync per Ready and still leave a window with the entries on disk
 * but the hard state not.)
 *
 * Durability and ordering (what a restart finds):
 * 1. save() writes one BATCH frame (reset, hard state, entries) at the end of the active segment
 *    and resolves after write() — and fdatasync() when `sync` — returned. Replay applies frames in
 *    file order and stops at the first invalid frame of the last segment (a torn write: zeroed and
 *    dropped silently, never acknowledged); an invalid frame anywhere else is STORAGE_FATAL. So a
 *    restart finds the effect of a prefix of the saves: every acknowledged one, and at most the
 *    one in flight, whole. (Unsynced frames survive a process crash, as LevelDB's sync:false
 *    writes do, and may be lost in a machine crash.)
 * 2. Hence a hard state never names a commit whose entries are missing: entries ≤ commit were in
 *    its own frame or in earlier ones, which precede it in the file or sit in earlier segments,
 *    each fdatasync'd before the next is created; any prefix holding the hard state holds them.
 *    Entries are removed only ≤ a snapshot index, and only after that snapshot is durable.
 * 3. A snapshot is stored in the meta db under its index, synced, BEFORE the frame that makes it
 *    current (a BATCH with reset for a received one, a COMPACT record for a local one) is written
 *    and fdatasync'd. Older snapshots and whole segments below the first live entry are deleted
 *    only AFTER that. On open the log names the current snapshot; one stored under another index
 *    is a leftover or an orphan whose frame never landed, and is ignored (deleted later).
 * 4. Each segment header repeats the log's state at its creation (snapshot base, last index and
 *    term, hard state), so deleting earlier segments never loses the current hard state or base;
 *    entries of a partly covered segment at or below the base are skipped on load.
 *
 * A data dir written by LevelStorage (a LevelDB at its top level) is refused with STORAGE_FATAL,
 * not migrated; so is any damaged, foreign or locked dir. Nothing is ever reset or repaired except
 * cutting a torn tail.
 */
import { constants } from 'node:fs';
import { access, mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StorageFatalError } from '../common/errors.js';
import type { Snapshot } from '../raft/types.js';
import { StorageArgumentError, StorageClosedError } from './errors.js';
import { EMPTY_HARD_STATE, LogShape } from './log-shape.js';
import { parseIdentity, parseInput, parseSnapshot, parseStorageWrite, type SnapshotRecord } from './records.js';
import { encodeBatch, encodeCompact, type LogPoint } from './segment-format.js';
import { SegmentLog, type Placed } from './segment-log.js';
import { SegmentMeta, describe } from './segment-meta.js';
import { SerialQueue } from './serial-queue.js';
import { checkChunkSize, readWholeSnapshot, type SnapshotStream } from './snapshot-stream.js';
import type { NodeIdentity, RaftStorage, SnapshotChunkReader, SnapshotChunks, StorageWrite, StoredState } from './types.js';

/** Default segment size: 64 MiB (etcd's and raft-wal's). */
export const DEFAULT_SEGMENT_BYTES = 64 << 20;

/** Options of SegmentStorage. */
export interface SegmentStorageOptions {
  /** Size of the chunks snapshot bytes are stored in. Default 1 MiB. */
  readonly snapshotChunkSize?: number;
  /** Size segments are preallocated to; the next segment starts when a frame does not fit. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** The Raft group, recorded in every segment and meta key. Default 1. */
  readonly groupId?: number;
}

/** Where an entry is stored. */
export interface EntryLocation {
  /** Absolute path of the segment file. */
  readonly file: string;
  /** Byte offset of the frame holding the entry. */
  readonly offset: number;
  readonly term: number;
}

const EMPTY_POINT: LogPoint = { baseIndex: 0, baseTerm: 0, lastIndex: 0, lastTerm: 0, hardState: EMPTY_HARD_STATE };

/** Durable Raft storage on a segment log; see the module comment. Operations run one at a time, in call order. */
export class SegmentStorage implements RaftStorage, SnapshotChunkReader {
  /** The absolute path of the data dir. */
  readonly path: string;
  private readonly chunkSize: number;
  private readonly segmentBytes: number;
  private readonly group: number;
  private readonly queue = new SerialQueue();
  private meta: SegmentMeta | undefined;
  private log: SegmentLog | undefined;
  private shape: LogShape | undefined;
  /** Every stored snapshot by index; the current one is at shape.snapshotIndex. */
  private snapshots = new Map<number, SnapshotRecord>();
  /** Segment seq and frame offset of the entries shape.firstIndex..shape.lastIndex. */
  private seqs: number[] = [];
  private offsets: number[] = [];
  private failure: StorageFatalError | undefined;
  private closing: Promise<void> | undefined;

  constructor(path: string, options: SegmentStorageOptions = {}) {
    this.path = resolve(path);
    this.chunkSize = options.snapshotChunkSize ?? 1 << 20;
    checkChunkSize(this.chunkSize);
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(this.segmentBytes) || this.segmentBytes < 4096) {
      throw new StorageArgumentError(`segmentBytes must be an integer ≥ 4096 (got ${String(options.segmentBytes)})`);
    }
    this.group = options.groupId ?? 1;
    if (!Number.isInteger(this.group) || this.group < 1 || this.group > 0xffffffff) {
      throw new StorageArgumentError(`groupId must be an integer in 1..2^32-1 (got ${String(options.groupId)})`);
    }
  }

  async load(): Promise<StoredState> {
    if (this.closing) throw new StorageClosedError(`load after close (${this.path})`);
    return this.queue.run(async () => {
      if (this.failure) throw this.failure;
      return this.loadNow();
    });
  }

  async setIdentity(identity: NodeIdentity): Promise<void> {
    const id = parseInput(() => parseIdentity(identity));
    return this.op('setIdentity', async (shape) => {
      const next = shape.planIdentity(id);
      if (!next) return;
      await this.io(() => this.meta!.putIdentity(id));
      this.shape = next;
    });
  }

  async save(write: StorageWrite, sync: boolean): Promise<void> {
    const w = parseInput(() => parseStorageWrite(write));
    return this.op('save', async (shape) => {
      const change = shape.planSave({ ...w, snapshot: w.snapshot?.meta });
      if (!w.snapshot && w.entries.length === 0 && !w.hardState) return;
      const next = change.next;
      await this.io(async () => {
        // A received snapshot is durable before the frame that makes it current (module comment, 3).
        if (w.snapshot) await this.putSnapshot(w.snapshot);
        const frame = encodeBatch({
          ...(w.snapshot ? { reset: { index: w.snapshot.meta.index, term: w.snapshot.meta.term } } : {}),
          ...(w.hardState ? { hardState: w.hardState } : {}),
          entries: w.entries,
        });
        const placed = await this.append(frame, sync || w.snapshot !== undefined, shape, w.entries[0]?.index ?? next.lastIndex + 1);
        if (w.snapshot) {
          this.seqs = [];
          this.offsets = [];
        }
        const first = w.entries[0];
        if (first) {
          this.seqs.length = this.offsets.length = first.index - next.firstIndex; // conflict truncation
          for (let i = 0; i < w.entries.length; i++) {
            this.seqs.push(placed.seq);
            this.offsets.push(placed.offset);
          }
        }
        this.shape = next;
        if (w.snapshot) await this.dropBelowBase(placed);
      });
    });
  }

  async compact(snapshot: Snapshot): Promise<void> {
    const s = parseInput(() => parseSnapshot(snapshot));
    return this.op('compact', async (shape) => {
      const change = shape.planCompact(s.meta);
      await this.io(async () => {
        await this.putSnapshot(s);
        const placed = await this.append(encodeCompact(s.meta.index, s.meta.term), true, shape, shape.lastIndex + 1);
        const drop = s.meta.index - shape.firstIndex + 1;
        this.seqs.splice(0, drop);
        this.offsets.splice(0, drop);
        this.shape = change.next;
        await this.dropBelowBase(placed);
      });
    });
  }

  async readSnapshot(): Promise<Snapshot | undefined> {
    return readWholeSnapshot(await this.openSnapshot('readSnapshot', 'whole'), (err) => this.readError(err, 'reading the snapshot'));
  }

  async readSnapshotChunks(chunkSize: number): Promise<SnapshotChunks | undefined> {
    checkChunkSize(chunkSize);
    return this.openSnapshot('readSnapshotChunks', chunkSize);
  }

  /** Where the entry at `index` is stored, or undefined if it is not in the loaded log. */
  locate(index: number): EntryLocation | undefined {
    const shape = this.shape;
    if (!shape || !this.log || index < shape.firstIndex || index > shape.lastIndex) return undefined;
    const k = index - shape.firstIndex;
    const name = this.log.fileOf(this.seqs[k]!);
    return { file: join(this.path, 'log', name ?? '?'), offset: this.offsets[k]!, term: shape.termAt(index)! };
  }

  /** Absolute paths of the segment files, oldest first (empty before load). */
  segmentFiles(): string[] {
    return (this.log?.files ?? []).map((f) => join(this.path, 'log', f));
  }

  /** Waits for every submitted operation, then syncs and closes the log and the meta db. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.queue.run(async () => {
      const { log, meta } = this;
      this.log = this.meta = this.shape = undefined;
      try {
        await log?.close();
        await meta?.close();
      } catch (err) {
        await meta?.close().catch(() => undefined);
        throw this.asFatal(err, 'cannot close');
      }
    });
    return this.closing;
  }

  /** Runs `task` in call order, loading first if needed; refuses after close or a fatal error. */
  private op<T>(what: string, task: (shape: LogShape) => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new StorageClosedError(`${what} after close (${this.path})`));
    return this.queue.run(async () => {
      if (this.failure) throw this.failure;
      if (!this.shape) await this.loadNow();
      return task(this.shape!);
    });
  }

  /** Runs disk work; any failure is fatal and sticks, because memory and disk may now disagree. */
  private async io<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      this.failure = this.asFatal(err, 'write failed');
      throw this.failure;
    }
  }

  private asFatal(err: unknown, what: string): StorageFatalError {
    return err instanceof StorageFatalError ? err : this.fatal(`${what}: ${describe(err)}`, err);
  }

  private fatal(message: string, cause?: unknown): StorageFatalError {
    return new StorageFatalError(this.path, message, cause === undefined ? undefined : { cause });
  }

  /** Appends a frame; `before` is the log before it (repeated in a new segment's header). */
  private append(frame: Uint8Array, sync: boolean, before: LogShape, nameIndex: number): Promise<Placed> {
    const point: LogPoint = {
      baseIndex: before.snapshotIndex,
      baseTerm: before.snapshotTerm,
      lastIndex: before.lastIndex,
      lastTerm: before.termAt(before.lastIndex) ?? 0,
      hardState: before.hardState,
    };
    return this.log!.append(frame, sync, point, nameIndex);
  }

  /** Stores a snapshot under its index (replacing a leftover under the same index), synced. */
  private async putSnapshot(s: Snapshot): Promise<void> {
    const record = await this.meta!.putSnapshot(s, this.chunkSize, this.snapshots.get(s.meta.index));
    this.snapshots.set(s.meta.index, record);
  }

  /** After a new base is durable: deletes the other snapshots and the segments before the first live entry. */
  private async dropBelowBase(placed: Placed): Promise<void> {
    const base = this.shape!.snapshotIndex;
    const stale = [...this.snapshots.values()].filter((r) => r.meta.index !== base);
    await this.meta!.deleteSnapshots(stale);
    for (const r of stale) this.snapshots.delete(r.meta.index);
    await this.log!.deleteBefore(this.seqs[0] ?? placed.seq);
  }

  /** Opens a consistent view of the current snapshot (taken in call order), or undefined. */
  private async openSnapshot(what: string, chunkSize: number | 'whole'): Promise<SnapshotStream | undefined> {
    return this.op(what, async (shape) => {
      const record = shape.snapshotIndex > 0 ? this.snapshots.get(shape.snapshotIndex) : undefined;
      if (!record) return undefined;
      return this.meta!.openSnapshot(record, chunkSize === 'whole' ? Math.max(1, record.size) : chunkSize, (err) => this.readError(err, 'reading snapshot chunks'));
    });
  }

  /** Maps a read failure: our own typed errors pass through; after close it is StorageClosedError. */
  private readError(err: unknown, what: string): Error {
    if (err instanceof StorageFatalError || err instanceof StorageClosedError || err instanceof StorageArgumentError) return err;
    if (this.closing) return new StorageClosedError(`${what} interrupted by close (${this.path})`);
    return this.fatal(`${what} failed: ${describe(err)}`, err);
  }

  /** Opens if needed and reads everything back; on any failure closes what it opened and fails for good. */
  private async loadNow(): Promise<StoredState> {
    try {
      const first = !this.log;
      if (first) {
        await this.checkDir();
        this.meta = await SegmentMeta.open(join(this.path, 'meta'), this.group, (m, c) => this.fatal(m, c));
        this.log = new SegmentLog({ dir: join(this.path, 'log'), group: this.group, segmentBytes: this.segmentBytes, fatal: (m, c) => this.fatal(m, c) });
      }
      const contents = await this.meta!.read();
      const replay = await this.log!.replay(
        first ? { repair: true, ...(contents.logCreated ? {} : { create: EMPTY_POINT }), expectEmpty: contents.fresh } : { repair: false },
      );
      // After the first segment exists (crash in between: the next open finds it and marks then).
      if (first && !contents.logCreated) await this.meta!.markLogCreated();
      let snapshot: SnapshotRecord | undefined;
      if (replay.baseIndex > 0) {
        snapshot = contents.snapshots.get(replay.baseIndex);
        if (!snapshot) throw this.fatal(`the log's snapshot base is index ${replay.baseIndex}, but no snapshot at ${replay.baseIndex} is stored`);
        if (snapshot.meta.term !== replay.baseTerm) {
          throw this.fatal(`the log's snapshot base is ${replay.baseIndex} at term ${replay.baseTerm}, the stored snapshot has term ${snapshot.meta.term}`);
        }
      }
      const shape = LogShape.fromStored(replay.hardState, snapshot?.meta, replay.entries, contents.identity);
      if (typeof shape === 'string') throw this.fatal(shape);
      this.shape = shape;
      this.snapshots = new Map(contents.snapshots);
      this.seqs = replay.seqs.slice();
      this.offsets = replay.offsets.slice();
      return {
        ...(contents.identity ? { identity: contents.identity } : {}),
        hardState: replay.hardState,
        ...(snapshot ? { snapshot: snapshot.meta } : {}),
        entries: replay.entries,
      };
    } catch (err) {
      const fatal = this.asFatal(err, 'cannot load');
      this.failure = fatal;
      const { log, meta } = this;
      this.log = this.meta = this.shape = undefined;
      await log?.abandon();
      await meta?.close().catch(() => undefined);
      throw fatal;
    }
  }

  /** Checks the dir before anything is created in it: never builds a store over a foreign or LevelStorage dir. */
  private async checkDir(): Promise<void> {
    let isDir: boolean;
    try {
      isDir = (await stat(this.path)).isDirectory();
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw this.fatal(`cannot stat the data dir: ${describe(err)}`, err);
      await mkdir(this.path, { recursive: true });
      return;
    }
    if (!isDir) throw this.fatal('the data dir path exists but is not a directory');
    try {
      await access(this.path, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      throw this.fatal(`permission denied: the data dir is not readable and writable (${describe(err)})`, err);
    }
    const names = await readdir(this.path);
    if (names.includes('CURRENT')) {
      throw this.fatal(
        'the data dir holds a LevelStorage database (LevelDB files at its top level); SegmentStorage does not read or migrate it. ' +
          'Keep running LevelStorage on it, or move it aside and let the node rejoin and catch up from the leader',
      );
    }
    const foreign = names.filter((n) => n !== 'meta' && n !== 'log');
    if (foreign.length > 0) {
      const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ', …' : '');
      throw this.fatal(`the data dir holds files that are not SegmentStorage's (${shown}); refusing to create a store over it`);
    }
  }
}
