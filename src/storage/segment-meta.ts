/**
 * SegmentStorage's metadata: a small LevelDB holding the format marker, the node identity and the
 * snapshots, keyed by group and, for snapshots, by index, so a new snapshot is written next to
 * the current one and the log's records decide which one is current (see segment-storage.ts).
 * LevelDB also provides the data dir's LOCK (released by the kernel if the process dies).
 *
 * Keys: `format`; `g/<group, 8 hex>/identity`; `g/<group>/log` (written once the first segment
 * exists, so a log whose segments all vanished is refused); `g/<group>/snap/<index, 16 hex>/meta` (a
 * SnapshotRecord); `g/<group>/snap/<index>/data/<chunk, 8 hex>` (the bytes, in chunks).
 */
import { crc32 } from 'node:zlib';
import { describe, openLevelDb, type Db } from './level-db.js';
import { decode, encode } from '../common/codec.js';
import { StorageFatalError } from '../common/errors.js';
import type { Snapshot } from '../raft/types.js';
import { parseFormat, parseIdentity, parseSnapshotRecord, type SnapshotRecord } from './records.js';
import { SnapshotStream } from './snapshot-stream.js';
import type { NodeIdentity } from './types.js';

type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/** The format marker of a SegmentStorage meta db. */
export const SEGMENT_STORAGE_FORMAT = 1;

const FORMAT_KEY = 'format';

/** Everything the meta db holds for one group. */
export interface MetaContents {
  readonly identity: NodeIdentity | undefined;
  /** Stored snapshots by index. */
  readonly snapshots: ReadonlyMap<number, SnapshotRecord>;
  /** True when the db held nothing (not even a format marker) and was just marked. */
  readonly fresh: boolean;
  /** True once the group's first segment was created. */
  readonly logCreated: boolean;
}

/** Builds errors naming the data dir. */
type Fatal = (message: string, cause?: unknown) => Error;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** The meta db of one group; calls are serialized by the owner. */
export class SegmentMeta {
  private readonly prefix: string;

  private constructor(
    private readonly db: Db,
    group: number,
    private readonly fatal: Fatal,
  ) {
    this.prefix = `g/${hex(group, 8)}/`;
  }

  /** Opens (creating) the db at `path`, mapping LevelDB's failures to fatal errors. */
  static async open(path: string, group: number, fatal: Fatal): Promise<SegmentMeta> {
    const db = await openLevelDb(path, { what: 'the meta db', owner: 'SegmentStorage' }, (why, err) => fatal(why, err));
    return new SegmentMeta(db, group, fatal);
  }

  private logKey(): string {
    return `${this.prefix}log`;
  }

  private identityKey(): string {
    return `${this.prefix}identity`;
  }

  private snapPrefix(index: number): string {
    return `${this.prefix}snap/${hex(index, 16)}/`;
  }

  /** Reads and checks every key; marks an empty db with the format. */
  async read(): Promise<MetaContents> {
    let identity: NodeIdentity | undefined;
    let format: number | undefined;
    let logCreated = false;
    const snapshots = new Map<number, SnapshotRecord>();
    const chunks = new Map<number, number[]>();
    let keys = 0;
    const value = <T>(key: string, raw: Uint8Array, parse: (x: unknown) => T): T => {
      try {
        return parse(decode(raw));
      } catch (err) {
        throw this.fatal(`undecodable value under meta key ${key}: ${describe(err)}`, err);
      }
    };
    const snapKey = new RegExp(`^${this.prefix}snap/([0-9a-f]{16})/(meta|data/([0-9a-f]{8}))$`);
    try {
      for await (const key of this.db.keys()) {
        keys++;
        if (key === FORMAT_KEY) {
          format = value(key, (await this.db.get(key))!, (x) => parseFormat(x)).format;
          continue;
        }
        if (key === this.logKey()) {
          logCreated = value(key, (await this.db.get(key))!, (x) => parseFormat(x)).format === 1;
          continue;
        }
        if (key === this.identityKey()) {
          identity = value(key, (await this.db.get(key))!, (x) => parseIdentity(x));
          continue;
        }
        const m = snapKey.exec(key);
        const index = m ? parseInt(m[1]!, 16) : NaN;
        if (!m || !Number.isSafeInteger(index)) throw this.fatal(`unknown meta key ${JSON.stringify(key)}`);
        if (m[2] === 'meta') {
          const rec = value(key, (await this.db.get(key))!, (x) => parseSnapshotRecord(x));
          if (rec.meta.index !== index) throw this.fatal(`meta key ${key} holds the snapshot at ${rec.meta.index}`);
          snapshots.set(index, rec);
        } else {
          const list = chunks.get(index) ?? [];
          list.push(parseInt(m[3]!, 16));
          chunks.set(index, list);
        }
      }
    } catch (err) {
      if (err instanceof StorageFatalError) throw err;
      throw this.fatal(`cannot read the meta db: ${describe(err)}`, err);
    }
    let fresh = false;
    if (keys === 0) {
      await this.write([{ type: 'put', key: FORMAT_KEY, value: encode({ format: SEGMENT_STORAGE_FORMAT }) }], true);
      format = SEGMENT_STORAGE_FORMAT;
      fresh = true;
    }
    if (format === undefined) throw this.fatal('the meta db holds data but no format marker');
    if (format !== SEGMENT_STORAGE_FORMAT) throw this.fatal(`unsupported meta db format ${format} (this build reads ${SEGMENT_STORAGE_FORMAT})`);
    for (const [index, list] of chunks) {
      const rec = snapshots.get(index);
      if (!rec) throw this.fatal(`${list.length} chunks of a snapshot at ${index} are stored without its record`);
    }
    for (const [index, rec] of snapshots) {
      const list = chunks.get(index) ?? [];
      for (let i = 0; i < Math.max(list.length, rec.chunks); i++) {
        if (list[i] !== i) {
          throw this.fatal(
            i < rec.chunks ? `chunk ${i} of ${rec.chunks} of the snapshot at ${index} is missing` : `unexpected chunk ${String(list[i])} of the snapshot at ${index}`,
          );
        }
      }
    }
    return { identity, snapshots, fresh, logCreated };
  }

  /** Records that the group's first segment exists, synced. */
  async markLogCreated(): Promise<void> {
    await this.write([{ type: 'put', key: this.logKey(), value: encode({ format: 1 }) }], true);
  }

  /** Records the identity, synced. */
  async putIdentity(identity: NodeIdentity): Promise<void> {
    await this.write([{ type: 'put', key: this.identityKey(), value: encode(identity) }], true);
  }

  /**
   * Stores a snapshot under its index in one synced batch, replacing whatever was stored under
   * that index (`previous`: its record, so its extra chunks are deleted too). Other snapshots stay.
   */
  async putSnapshot(s: Snapshot, chunkSize: number, previous: SnapshotRecord | undefined): Promise<SnapshotRecord> {
    const p = this.snapPrefix(s.meta.index);
    const size = s.data.length;
    const chunks = Math.ceil(size / chunkSize);
    const ops: BatchOp[] = [];
    for (let c = 0; c < chunks; c++) ops.push({ type: 'put', key: `${p}data/${hex(c, 8)}`, value: s.data.subarray(c * chunkSize, (c + 1) * chunkSize) });
    for (let c = chunks; c < (previous?.chunks ?? 0); c++) ops.push({ type: 'del', key: `${p}data/${hex(c, 8)}` });
    const record: SnapshotRecord = { meta: s.meta, size, chunkSize, chunks, crc: crc32(s.data) >>> 0 };
    ops.push({ type: 'put', key: `${p}meta`, value: encode(record) });
    await this.write(ops, true);
    return record;
  }

  /** Deletes stored snapshots (not synced: a snapshot left behind is ignored and deleted later). */
  async deleteSnapshots(records: readonly SnapshotRecord[]): Promise<void> {
    const ops: BatchOp[] = [];
    for (const r of records) {
      const p = this.snapPrefix(r.meta.index);
      for (let c = 0; c < r.chunks; c++) ops.push({ type: 'del', key: `${p}data/${hex(c, 8)}` });
      ops.push({ type: 'del', key: `${p}meta` });
    }
    if (ops.length > 0) await this.write(ops, false);
  }

  /** A consistent view of one stored snapshot, as chunks of `chunkSize` bytes. */
  openSnapshot(record: SnapshotRecord, chunkSize: number, wrapRead: (err: unknown) => Error): SnapshotStream {
    const view = this.db.snapshot();
    const p = this.snapPrefix(record.meta.index);
    const db = this.db;
    const fatal = this.fatal;
    async function* pieces(): AsyncGenerator<Uint8Array> {
      let expected = 0;
      try {
        for await (const [key, value] of db.iterator({ gte: `${p}data/`, lt: `${p}data0`, snapshot: view })) {
          if (key !== `${p}data/${hex(expected, 8)}`) throw fatal(`snapshot chunk ${expected} is missing (found key ${key})`);
          expected++;
          yield value;
        }
      } catch (err) {
        throw wrapRead(err);
      }
      if (expected !== record.chunks) throw fatal(`snapshot has ${expected} chunks, recorded ${record.chunks}`);
    }
    return new SnapshotStream(
      { meta: record.meta, size: record.size, crc: record.crc, pieces, release: () => view.close(), corrupt: (message) => fatal(message) },
      chunkSize,
    );
  }

  /** Closes the db. */
  async close(): Promise<void> {
    await this.db.close();
  }

  private async write(ops: BatchOp[], sync: boolean): Promise<void> {
    try {
      await this.db.batch(ops, { sync });
    } catch (err) {
      throw this.fatal(`meta db write failed: ${describe(err)}`, err);
    }
  }
}

export { describe } from './level-db.js';
