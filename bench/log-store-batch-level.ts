/**
 * Option (a) of issue 13 point 3, as a benchmark prototype (not a RaftStorage): one LevelDB record
 * per save() — the batch's entries encoded together under `b/<first index>` — next to the hard
 * state, written in one synced LevelDB batch, with the batch starts kept in memory. It does the
 * same input checks as the real stores (parseStorageWrite, LogShape.planSave), conflict truncation
 * (batches at or after the conflict deleted, the one straddling it rewritten shortened) and
 * compaction (batches wholly ≤ the snapshot deleted, the snapshot stored as one record), which is
 * all bench/log-store.ts exercises. It does not load, stream snapshots or check corruption.
 */
import { Level } from 'level';
import { encode } from '../src/common/codec.js';
import type { Entry, Snapshot } from '../src/raft/types.js';
import { LogShape } from '../src/storage/log-shape.js';
import { parseSnapshot, parseStorageWrite } from '../src/storage/records.js';
import type { StorageWrite } from '../src/storage/types.js';

type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

function batchKey(first: number): string {
  return `b/${first.toString(16).padStart(16, '0')}`;
}

/** Prototype (a): one LevelDB record per Ready; see the module comment. */
export class BatchLevelLog {
  private readonly db: Level<string, Uint8Array>;
  private shape = LogShape.empty();
  /** First index and entries of every stored batch, in index order. */
  private batches: { first: number; entries: readonly Entry[] }[] = [];

  constructor(path: string) {
    this.db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' });
  }

  async open(): Promise<void> {
    await this.db.open();
  }

  async save(write: StorageWrite, sync: boolean): Promise<void> {
    const w = parseStorageWrite(write);
    const change = this.shape.planSave({ ...w, snapshot: w.snapshot?.meta });
    const ops: BatchOp[] = [];
    const first = w.entries[0];
    if (first) {
      // Conflict truncation: drop batches starting at or after the first new index, shorten the one straddling it.
      while (this.batches.length > 0 && this.batches[this.batches.length - 1]!.first >= first.index) {
        ops.push({ type: 'del', key: batchKey(this.batches.pop()!.first) });
      }
      const last = this.batches[this.batches.length - 1];
      if (last && last.first + last.entries.length > first.index) {
        last.entries = last.entries.slice(0, first.index - last.first);
        ops.push({ type: 'put', key: batchKey(last.first), value: encode(last.entries) });
      }
      ops.push({ type: 'put', key: batchKey(first.index), value: encode(w.entries) });
      this.batches.push({ first: first.index, entries: w.entries });
    }
    if (w.hardState) ops.push({ type: 'put', key: 'meta/hard-state', value: encode(w.hardState) });
    if (ops.length > 0) await this.db.batch(ops, { sync });
    this.shape = change.next;
  }

  async compact(snapshot: Snapshot): Promise<void> {
    const s = parseSnapshot(snapshot);
    const change = this.shape.planCompact(s.meta);
    const ops: BatchOp[] = [{ type: 'put', key: 'snap', value: encode(s) }];
    while (this.batches.length > 0) {
      const b = this.batches[0]!;
      if (b.first + b.entries.length - 1 > s.meta.index) break;
      ops.push({ type: 'del', key: batchKey(b.first) });
      this.batches.shift();
    }
    await this.db.batch(ops, { sync: true });
    this.shape = change.next;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
