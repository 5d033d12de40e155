/**
 * Raft storage in memory, with LevelStorage's semantics (the same LogShape decides what is
 * accepted), for tests and the simulator. It can simulate a crash: `crash()` returns a new
 * instance holding what a restarted process would find — every write whose promise resolved
 * (sync or not, as LevelDB keeps unsynced writes across a process crash), or with
 * `{ powerLoss: true }` only what the last synced write made durable. With `manualFlush`, writes
 * stay pending until `flush()`, so a simulator can crash a node in the middle of a write.
 */
import { crc32 } from 'node:zlib';
import { assertNever } from '../common/assert.js';
import { StorageFatalError } from '../common/errors.js';
import type { Entry, HardState, Snapshot } from '../raft/types.js';
import { StorageClosedError } from './errors.js';
import { EMPTY_HARD_STATE, LogShape } from './log-shape.js';
import { copyBytes, parseEntry, parseIdentity, parseInput, parseSnapshot, parseStorageWrite, type ParsedWrite } from './records.js';
import { SnapshotStream, checkChunkSize } from './snapshot-stream.js';
import type { NodeIdentity, RaftStorage, SnapshotChunkReader, SnapshotChunks, StorageWrite, StoredState } from './types.js';

/** Options of MemoryStorage. */
export interface MemoryStorageOptions {
  /** Writes stay pending (unresolved, not applied) until flush(); reads see only flushed writes. Default false. */
  readonly manualFlush?: boolean;
}

/** Options of MemoryStorage.crash(). */
export interface CrashOptions {
  /** Lose also resolved writes that were not synced (a machine crash, not just a process crash). Default false. */
  readonly powerLoss?: boolean;
}

/** One accepted write, as applied to a state. */
type Op =
  | { readonly type: 'save'; readonly write: ParsedWrite; readonly sync: boolean }
  | { readonly type: 'compact'; readonly snapshot: Snapshot }
  | { readonly type: 'identity'; readonly identity: NodeIdentity };

/** What a node would find on its "disk". Mutated in place by apply(). */
interface State {
  shape: LogShape;
  identity: NodeIdentity | undefined;
  hardState: HardState;
  snapshot: Snapshot | undefined;
  /** Entries after the snapshot index, contiguous. */
  entries: Entry[];
}

interface Pending {
  readonly op: Op;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

function emptyState(): State {
  return { shape: LogShape.empty(), identity: undefined, hardState: EMPTY_HARD_STATE, snapshot: undefined, entries: [] };
}

function copyState(s: State): State {
  return { ...s, entries: s.entries.slice() };
}

/** Applies an accepted op (already planned against `s.shape`, yielding `next`). */
function apply(s: State, op: Op, next: LogShape): void {
  switch (op.type) {
    case 'save': {
      const w = op.write;
      if (w.snapshot) {
        s.snapshot = w.snapshot;
        s.entries = [];
      }
      const first = w.entries[0];
      if (first) {
        const base = s.snapshot?.meta.index ?? 0;
        s.entries.length = first.index - base - 1; // conflict truncation
        for (const e of w.entries) s.entries.push(e);
      }
      if (w.hardState) s.hardState = w.hardState;
      break;
    }
    case 'compact': {
      const base = s.snapshot?.meta.index ?? 0;
      s.entries.splice(0, op.snapshot.meta.index - base);
      s.snapshot = op.snapshot;
      break;
    }
    case 'identity':
      s.identity = op.identity;
      break;
    default:
      return assertNever(op, 'storage op');
  }
  s.shape = next;
}

/** Plans `op` against `s.shape`; throws StorageArgumentError when refused, returns undefined for a no-op. */
function plan(s: State, op: Op): LogShape | undefined {
  switch (op.type) {
    case 'save':
      return s.shape.planSave({ ...op.write, snapshot: op.write.snapshot?.meta }).next;
    case 'compact':
      return s.shape.planCompact(op.snapshot.meta).next;
    case 'identity':
      return s.shape.planIdentity(op.identity);
    default:
      return assertNever(op, 'storage op');
  }
}

/** In-memory Raft storage; see the module comment. */
export class MemoryStorage implements RaftStorage, SnapshotChunkReader {
  private current: State;
  /** What survives a power loss: the state as of the last synced write. */
  private synced: State;
  /** Resolved, unsynced ops since the last sync, with their planned shapes (replayed onto `synced` at the next sync). */
  private unsynced: { op: Op; next: LogShape }[] = [];
  private readonly pending: Pending[] = [];
  private closed = false;
  private crashed = false;

  constructor(private readonly options: MemoryStorageOptions = {}) {
    this.current = emptyState();
    this.synced = emptyState();
  }

  /** Number of writes waiting for flush() (manualFlush only). */
  get pendingWrites(): number {
    return this.pending.length;
  }

  async load(): Promise<StoredState> {
    this.checkOpen('load');
    const s = this.current;
    return {
      ...(s.identity ? { identity: { ...s.identity } } : {}),
      hardState: { ...s.hardState },
      ...(s.snapshot ? { snapshot: s.snapshot.meta } : {}),
      entries: s.entries.map((e) => parseEntry(e)),
    };
  }

  async setIdentity(identity: NodeIdentity): Promise<void> {
    this.checkOpen('setIdentity');
    return this.submit({ type: 'identity', identity: parseInput(() => parseIdentity(identity)) });
  }

  async save(write: StorageWrite, sync: boolean): Promise<void> {
    this.checkOpen('save');
    return this.submit({ type: 'save', write: parseInput(() => parseStorageWrite(write)), sync });
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.checkOpen('compact');
    return this.submit({ type: 'compact', snapshot: parseInput(() => parseSnapshot(snapshot)) });
  }

  async readSnapshot(): Promise<Snapshot | undefined> {
    this.checkOpen('readSnapshot');
    const s = this.current.snapshot;
    return s ? { meta: s.meta, data: copyBytes(s.data) } : undefined;
  }

  async readSnapshotChunks(chunkSize: number): Promise<SnapshotChunks | undefined> {
    this.checkOpen('readSnapshotChunks');
    checkChunkSize(chunkSize);
    const s = this.current.snapshot;
    if (!s) return undefined;
    return new SnapshotStream(
      {
        meta: s.meta,
        size: s.data.length,
        crc: crc32(s.data) >>> 0,
        pieces: async function* () {
          yield s.data;
        },
        release: async () => undefined,
        corrupt: (message) => new StorageFatalError('(memory)', message),
      },
      chunkSize,
    );
  }

  /** Flushes pending writes (as LevelStorage finishes queued operations), then refuses further calls. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  /**
   * Applies up to `max` pending writes in order, settling their promises (manualFlush only).
   * Returns how many were applied or refused.
   */
  flush(max = Infinity): number {
    let n = 0;
    while (n < max && this.pending.length > 0) {
      const p = this.pending.shift()!;
      n++;
      try {
        this.execute(p.op);
        p.resolve();
      } catch (err) {
        p.reject(err as Error);
      }
    }
    return n;
  }

  /**
   * Simulates a crash and returns the restarted storage. This instance refuses every later call;
   * its pending writes are lost (their promises reject with StorageClosedError). Also usable after
   * close() for a clean restart.
   */
  crash(options: CrashOptions = {}): MemoryStorage {
    if (this.crashed) throw new StorageClosedError('this MemoryStorage has already crashed');
    this.crashed = true;
    this.closed = true;
    for (const p of this.pending.splice(0)) p.reject(new StorageClosedError('the write was lost in a crash'));
    const survivor = options.powerLoss ? this.synced : this.current;
    const next = new MemoryStorage(this.options);
    next.current = copyState(survivor);
    next.synced = copyState(survivor);
    return next;
  }

  private checkOpen(what: string): void {
    if (this.closed) throw new StorageClosedError(`${what} after ${this.crashed ? 'crash' : 'close'}`);
  }

  private submit(op: Op): Promise<void> {
    if (this.options.manualFlush) {
      return new Promise((resolve, reject) => this.pending.push({ op, resolve, reject }));
    }
    this.execute(op);
    return Promise.resolve();
  }

  /** Plans and applies one op to the current state, and to the synced state when it is synced. */
  private execute(op: Op): void {
    const next = plan(this.current, op);
    if (!next) return;
    apply(this.current, op, next);
    this.unsynced.push({ op, next });
    const synced = op.type !== 'save' || op.sync;
    if (synced) {
      for (const u of this.unsynced) apply(this.synced, u.op, u.next);
      this.unsynced = [];
    }
  }
}

