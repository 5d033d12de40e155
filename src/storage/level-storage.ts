/**
 * Durable Raft storage on LevelDB (`level`). Layout in keys.ts; every value but snapshot chunks is
 * a versioned codec envelope. Each save(), compact() and setIdentity() is ONE atomic batch, synced
 * when asked (compact and setIdentity always): entries, hard state, snapshot record, snapshot
 * chunks and every delete they imply. Deletes are enumerated from the in-memory LogShape so they
 * are part of the batch (abstract-level's clear() is not atomic).
 *
 * A data dir that cannot be read or is inconsistent is never reset or repaired: load() rejects
 * with StorageFatalError naming the path and the problem, and the dir is left untouched.
 */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { decode, encode } from '../common/codec.js';
import { StorageFatalError } from '../common/errors.js';
import type { Entry, HardState, Snapshot } from '../raft/types.js';
import { StorageArgumentError, StorageClosedError } from './errors.js';
import {
  CHUNK_END,
  CHUNK_PREFIX,
  FORMAT_KEY,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  LOG_PREFIX,
  SNAPSHOT_KEY,
  chunkKey,
  logKey,
  parseChunkKey,
  parseLogKey,
} from './keys.js';
import { EMPTY_HARD_STATE, LogShape, type IndexRange } from './log-shape.js';
import {
  parseEntry,
  parseFormat,
  parseHardState,
  parseIdentity,
  parseInput,
  parseSnapshot,
  parseSnapshotRecord,
  parseStorageWrite,
  type SnapshotRecord,
} from './records.js';
import { describe, openLevelDb, type Db } from './level-db.js';
import { SerialQueue } from './serial-queue.js';
import { SnapshotStream, checkChunkSize, readWholeSnapshot } from './snapshot-stream.js';
import type { NodeIdentity, RaftStorage, SnapshotChunkReader, SnapshotChunks, StorageWrite, StoredState } from './types.js';

/** Default size of the stored snapshot chunks: 1 MiB. */
export const DEFAULT_SNAPSHOT_CHUNK_SIZE = 1 << 20;

/** The on-disk format this code reads and writes (stored under meta/format). */
export const STORAGE_FORMAT = 1;

/** Options of LevelStorage. */
export interface LevelStorageOptions {
  /** Size of the chunks snapshot bytes are stored in. Default 1 MiB. */
  readonly snapshotChunkSize?: number;
}

/** Files LevelDB may leave in a dir it was creating when it stopped before writing CURRENT. */
const BOOTSTRAP_FILE = /^(LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.dbtmp)$/;

type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/** The result of reading a data dir. */
interface Loaded {
  readonly state: StoredState;
  readonly shape: LogShape;
  readonly snapshot: SnapshotRecord | undefined;
}

/** Durable Raft storage on LevelDB; see the module comment. Operations run one at a time, in call order. */
export class LevelStorage implements RaftStorage, SnapshotChunkReader {
  /** The absolute path of the data dir. */
  readonly path: string;
  private readonly chunkSize: number;
  private readonly queue = new SerialQueue();
  private db: Db | undefined;
  private shape: LogShape | undefined;
  private snapshotRecord: SnapshotRecord | undefined;
  private failure: StorageFatalError | undefined;
  private closing: Promise<void> | undefined;

  constructor(path: string, options: LevelStorageOptions = {}) {
    this.path = resolve(path);
    this.chunkSize = options.snapshotChunkSize ?? DEFAULT_SNAPSHOT_CHUNK_SIZE;
    checkChunkSize(this.chunkSize);
  }

  /** Opens the data dir (creating it if absent), validates everything in it and returns it. */
  async load(): Promise<StoredState> {
    if (this.closing) throw new StorageClosedError(`load after close (${this.path})`);
    return this.queue.run(async () => {
      if (this.failure) throw this.failure;
      return (await this.loadNow()).state;
    });
  }

  async setIdentity(identity: NodeIdentity): Promise<void> {
    const id = parseInput(() => parseIdentity(identity));
    return this.op('setIdentity', async (db, shape) => {
      const next = shape.planIdentity(id);
      if (!next) return;
      await this.write(db, [{ type: 'put', key: IDENTITY_KEY, value: encode(id) }], true);
      this.shape = next;
    });
  }

  async save(write: StorageWrite, sync: boolean): Promise<void> {
    const w = parseInput(() => parseStorageWrite(write));
    return this.op('save', async (db, shape) => {
      const change = shape.planSave({ ...w, snapshot: w.snapshot?.meta });
      const ops: BatchOp[] = [];
      deleteLog(ops, change.deletes);
      const record = w.snapshot ? this.putSnapshot(ops, w.snapshot) : undefined;
      for (const e of w.entries) ops.push({ type: 'put', key: logKey(e.index), value: encode(e) });
      if (w.hardState) ops.push({ type: 'put', key: HARD_STATE_KEY, value: encode(w.hardState) });
      if (ops.length === 0) return;
      await this.write(db, ops, sync);
      this.shape = change.next;
      if (record) this.snapshotRecord = record;
    });
  }

  async compact(snapshot: Snapshot): Promise<void> {
    const s = parseInput(() => parseSnapshot(snapshot));
    return this.op('compact', async (db, shape) => {
      const change = shape.planCompact(s.meta);
      const ops: BatchOp[] = [];
      deleteLog(ops, change.deletes);
      const record = this.putSnapshot(ops, s);
      await this.write(db, ops, true);
      this.shape = change.next;
      this.snapshotRecord = record;
    });
  }

  async readSnapshot(): Promise<Snapshot | undefined> {
    return readWholeSnapshot(await this.openSnapshot('readSnapshot', 'whole'), (err) => this.readError(err, 'reading the snapshot'));
  }

  async readSnapshotChunks(chunkSize: number): Promise<SnapshotChunks | undefined> {
    checkChunkSize(chunkSize);
    return this.openSnapshot('readSnapshotChunks', chunkSize);
  }

  /** Waits for every submitted operation, then closes the database. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.queue.run(async () => {
      const db = this.db;
      this.db = undefined;
      this.shape = undefined;
      if (!db) return;
      try {
        await db.close();
      } catch (err) {
        throw new StorageFatalError(this.path, `cannot close LevelDB: ${describe(err)}`, { cause: err });
      }
    });
    return this.closing;
  }

  /** Runs `task` in call order, loading first if needed; refuses after close or a fatal error. */
  private op<T>(what: string, task: (db: Db, shape: LogShape) => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new StorageClosedError(`${what} after close (${this.path})`));
    return this.queue.run(async () => {
      if (this.failure) throw this.failure;
      if (!this.db || !this.shape) await this.loadNow();
      return task(this.db!, this.shape!);
    });
  }

  /** Writes one atomic batch; any failure is fatal because memory and disk may now disagree. */
  private async write(db: Db, ops: BatchOp[], sync: boolean): Promise<void> {
    try {
      await db.batch(ops, { sync });
    } catch (err) {
      this.failure = new StorageFatalError(this.path, `LevelDB write failed: ${describe(err)}`, { cause: err });
      throw this.failure;
    }
  }

  /** Adds the puts of a snapshot's chunks and record, and deletes the previous snapshot's extra chunks. */
  private putSnapshot(ops: BatchOp[], s: Snapshot): SnapshotRecord {
    const size = s.data.length;
    const cs = this.chunkSize;
    const chunks = Math.ceil(size / cs);
    for (let c = 0; c < chunks; c++) ops.push({ type: 'put', key: chunkKey(c), value: s.data.subarray(c * cs, (c + 1) * cs) });
    for (let c = chunks; c < (this.snapshotRecord?.chunks ?? 0); c++) ops.push({ type: 'del', key: chunkKey(c) });
    const record: SnapshotRecord = { meta: s.meta, size, chunkSize: cs, chunks, crc: crc32(s.data) >>> 0 };
    ops.push({ type: 'put', key: SNAPSHOT_KEY, value: encode(record) });
    return record;
  }

  /** Opens a consistent view of the stored snapshot (taken in call order), or undefined. */
  private async openSnapshot(what: string, chunkSize: number | 'whole'): Promise<SnapshotStream | undefined> {
    const view = await this.op(what, async (db) => {
      if (!this.snapshotRecord) return undefined;
      return { db, snap: db.snapshot(), record: this.snapshotRecord };
    });
    if (!view) return undefined;
    const { db, snap, record } = view;
    return new SnapshotStream(
      {
        meta: record.meta,
        size: record.size,
        crc: record.crc,
        pieces: () => this.chunkPieces(db, snap, record),
        release: () => snap.close(),
        corrupt: (message) => new StorageFatalError(this.path, message),
      },
      chunkSize === 'whole' ? Math.max(1, record.size) : chunkSize,
    );
  }

  private async *chunkPieces(db: Db, snapshot: ReturnType<Db['snapshot']>, record: SnapshotRecord): AsyncGenerator<Uint8Array> {
    let expected = 0;
    try {
      for await (const [key, value] of db.iterator({ gte: CHUNK_PREFIX, lt: CHUNK_END, snapshot })) {
        const n = parseChunkKey(key);
        if (n !== expected) throw new StorageFatalError(this.path, `snapshot chunk ${expected} is missing (found key ${key})`);
        expected++;
        yield value;
      }
    } catch (err) {
      throw this.readError(err, 'reading snapshot chunks');
    }
    if (expected !== record.chunks) throw new StorageFatalError(this.path, `snapshot has ${expected} chunks, recorded ${record.chunks}`);
  }

  /** Maps a read failure: our own typed errors pass through; after close it is StorageClosedError. */
  private readError(err: unknown, what: string): Error {
    if (err instanceof StorageFatalError || err instanceof StorageClosedError || err instanceof StorageArgumentError) return err;
    if (this.closing) return new StorageClosedError(`${what} interrupted by close (${this.path})`);
    return new StorageFatalError(this.path, `${what} failed: ${describe(err)}`, { cause: err });
  }

  /** Opens if needed and reads everything; on any failure closes the db and fails for good. */
  private async loadNow(): Promise<Loaded> {
    try {
      this.db ??= await this.openDb();
      const loaded = await this.readAll(this.db);
      this.shape = loaded.shape;
      this.snapshotRecord = loaded.snapshot;
      return loaded;
    } catch (err) {
      const fatal = err instanceof StorageFatalError ? err : new StorageFatalError(this.path, `cannot load: ${describe(err)}`, { cause: err });
      this.failure = fatal;
      const db = this.db;
      this.db = undefined;
      this.shape = undefined;
      await db?.close().catch(() => undefined);
      throw fatal;
    }
  }

  private fatal(message: string, cause?: unknown): StorageFatalError {
    return new StorageFatalError(this.path, message, cause === undefined ? undefined : { cause });
  }

  /** Checks the dir before LevelDB sees it, so a wrong or damaged path is never turned into a fresh db. */
  private async checkDir(): Promise<void> {
    let isDir: boolean;
    try {
      isDir = (await stat(this.path)).isDirectory();
    } catch (err) {
      if (errno(err) === 'ENOENT') return; // LevelDB creates it
      throw this.fatal(`cannot stat the data dir: ${describe(err)}`, err);
    }
    if (!isDir) throw this.fatal('the data dir path exists but is not a directory');
    try {
      await access(this.path, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      throw this.fatal(`permission denied: the data dir is not readable and writable (${errno(err) ?? describe(err)})`, err);
    }
    let names: string[];
    try {
      names = await readdir(this.path);
    } catch (err) {
      throw this.fatal(`cannot list the data dir: ${describe(err)}`, err);
    }
    if (!names.includes('CURRENT')) {
      const foreign = names.filter((n) => !BOOTSTRAP_FILE.test(n));
      if (foreign.length > 0) {
        const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ', …' : '');
        throw this.fatal(`the data dir has no LevelDB CURRENT file but is not empty (${shown}); refusing to create a database over it`);
      }
    }
  }

  private async openDb(): Promise<Db> {
    await this.checkDir();
    return openLevelDb(this.path, { what: 'the LevelDB', owner: 'LevelStorage' }, (why, err) => this.fatal(why, err));
  }

  /** Reads and validates every key. Never writes, except the format marker into an empty db. */
  private async readAll(db: Db): Promise<Loaded> {
    const entries: Entry[] = [];
    let hardState: HardState | undefined;
    let identity: NodeIdentity | undefined;
    let format: number | undefined;
    let record: SnapshotRecord | undefined;
    const chunks: number[] = [];
    let keys = 0;

    const value = <T>(key: string, raw: Uint8Array, parse: (x: unknown) => T): T => {
      try {
        return parse(decode(raw));
      } catch (err) {
        throw this.fatal(`undecodable value under key ${key}: ${describe(err)}`, err);
      }
    };

    try {
      // Everything below the chunk range, with values: the log and the meta keys.
      for await (const [key, raw] of db.iterator({ lt: CHUNK_PREFIX })) {
        keys++;
        if (key.startsWith(LOG_PREFIX)) {
          const idx = parseLogKey(key);
          if (idx === undefined) throw this.fatal(`malformed log key ${JSON.stringify(key)}`);
          const e = value(key, raw, (x) => parseEntry(x));
          if (e.index !== idx) throw this.fatal(`log key ${key} holds entry ${e.index}`);
          entries.push(e);
        } else if (key === HARD_STATE_KEY) {
          hardState = value(key, raw, (x) => parseHardState(x));
        } else if (key === IDENTITY_KEY) {
          identity = value(key, raw, (x) => parseIdentity(x));
        } else if (key === FORMAT_KEY) {
          format = value(key, raw, (x) => parseFormat(x)).format;
        } else {
          throw this.fatal(`unknown key ${JSON.stringify(key)}`);
        }
      }
      // Snapshot chunks by key only (their bytes are read and checked by readSnapshot), then the record.
      for await (const key of db.keys({ gte: CHUNK_PREFIX })) {
        keys++;
        const n = parseChunkKey(key);
        if (n !== undefined) chunks.push(n);
        else if (key !== SNAPSHOT_KEY) throw this.fatal(`unknown key ${JSON.stringify(key)}`);
      }
      const raw = await db.get(SNAPSHOT_KEY);
      if (raw !== undefined) record = value(SNAPSHOT_KEY, raw, (x) => parseSnapshotRecord(x));
    } catch (err) {
      if (err instanceof StorageFatalError) throw err;
      throw this.fatal(`cannot read LevelDB: ${describe(err)}`, err);
    }

    if (keys === 0) {
      // A brand-new database: mark its format so a later open can tell it from a foreign one.
      await this.write(db, [{ type: 'put', key: FORMAT_KEY, value: encode({ format: STORAGE_FORMAT }) }], true);
      format = STORAGE_FORMAT;
    }
    if (format === undefined) throw this.fatal('the database holds data but no format marker (meta/format)');
    if (format !== STORAGE_FORMAT) throw this.fatal(`unsupported storage format ${format} (this build reads ${STORAGE_FORMAT})`);

    if (record) {
      for (let i = 0; i < Math.max(chunks.length, record.chunks); i++) {
        if (chunks[i] !== i) {
          throw this.fatal(i < record.chunks ? `snapshot chunk ${i} of ${record.chunks} is missing` : `unexpected snapshot chunk ${String(chunks[i])} (recorded ${record.chunks})`);
        }
      }
    } else if (chunks.length > 0) {
      throw this.fatal(`${chunks.length} snapshot chunks are stored without a snapshot record`);
    }

    const hs = hardState ?? EMPTY_HARD_STATE;
    const shape = LogShape.fromStored(hs, record?.meta, entries, identity);
    if (typeof shape === 'string') throw this.fatal(shape);
    const state: StoredState = {
      ...(identity ? { identity } : {}),
      hardState: hs,
      ...(record ? { snapshot: record.meta } : {}),
      entries,
    };
    return { state, shape, snapshot: record };
  }
}

/** Adds a delete for every log key in `range`. */
function deleteLog(ops: BatchOp[], range: IndexRange): void {
  for (let i = range.from; i <= range.to; i++) ops.push({ type: 'del', key: logKey(i) });
}

function errno(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

