/**
 * SegmentStorage specifics beyond the conformance and crash suites: the layout, a torn tail cut
 * silently on open, a flipped byte anywhere else refused with STORAGE_FATAL naming the file and
 * offset, whole segments deleted by compaction, orphaned snapshots ignored, and refusing a
 * LevelStorage, foreign, damaged or locked data dir while leaving it untouched.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/common/codec.js';
import { StorageFatalError } from '../../src/common/errors.js';
import { LevelStorage } from '../../src/storage/level-storage.js';
import { SegmentStorage, type SegmentStorageOptions } from '../../src/storage/segment-storage.js';
import { Writer } from './child.js';
import { ents, hex, hs, indexes, meta, normal, plainState, snap, tempDir } from './helpers.js';

let dir: string;
let remove: () => void;
const storages: { close(): Promise<void> }[] = [];
const writers: Writer[] = [];

beforeEach(() => {
  ({ dir, remove } = tempDir('latch-segment-'));
});
afterEach(async () => {
  for (const w of writers.splice(0)) await w.kill();
  for (const s of storages.splice(0)) await s.close().catch(() => undefined);
  remove();
});

const SEG = 16 * 1024;

function open(options: SegmentStorageOptions = {}, path = join(dir, 'data')): SegmentStorage {
  const s = new SegmentStorage(path, { segmentBytes: SEG, snapshotChunkSize: 100, ...options });
  storages.push(s);
  return s;
}

/** Hashes of every file under `path` (LevelDB's info logs, which rotate on every open, excepted). */
function files(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string): void => {
    for (const name of readdirSync(p)) {
      if (name === 'LOG' || name === 'LOG.old') continue;
      const full = join(p, name);
      if (statSync(full).isDirectory()) walk(full, `${rel}${name}/`);
      else out[`${rel}${name}`] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  walk(path, '');
  return out;
}

/** A SegmentStorage dir's contents: the segment bytes, and the meta db's keys and values (LevelDB rewrites its own files on open). */
async function contents(path: string): Promise<unknown> {
  const db = new Level<string, Uint8Array>(join(path, 'meta'), { valueEncoding: 'view' });
  await db.open();
  const kv: string[] = [];
  for await (const [k, v] of db.iterator()) kv.push(`${k}=${hex(v)}`);
  await db.close();
  return { log: files(join(path, 'log')), meta: kv };
}

/** Loads, expecting StorageFatalError naming the data dir and matching `why`; the failure sticks. */
async function expectFatal(s: SegmentStorage, why: RegExp): Promise<StorageFatalError> {
  const err = await s.load().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageFatalError);
  const fatal = err as StorageFatalError;
  expect(fatal.code).toBe('STORAGE_FATAL');
  expect(fatal.path).toBe(s.path);
  expect(fatal.message).toMatch(why);
  await expect(s.save({ entries: [normal(999, 9)] }, true)).rejects.toBe(fatal);
  await expect(s.load()).rejects.toBe(fatal);
  return fatal;
}

/** Entries 1..`batches`*10 in batches of ten 200-byte entries (a frame of ~2 KiB each), commit trailing by 5. */
async function fill(s: SegmentStorage, batches: number, from = 1, term = 1): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const lo = from + b * 10;
    await s.save({ entries: ents(lo, lo + 9, term, 200), hardState: hs(term, Math.max(0, lo + 4)) }, true);
  }
}

function frameLength(file: string, offset: number): number {
  return readFileSync(file).readUInt32LE(offset);
}

function flip(file: string, offset: number): void {
  const b = readFileSync(file);
  b[offset] = b[offset]! ^ 0x40;
  writeFileSync(file, b);
}

function zero(file: string, from: number, to: number): void {
  const b = readFileSync(file);
  b.fill(0, from, to);
  writeFileSync(file, b);
}

describe('SegmentStorage layout', () => {
  it('keeps segments under log/ named by group, seq and first index, and LevelDB under meta/', async () => {
    const s = open({ groupId: 3 });
    await s.load();
    await fill(s, 20);
    const names = s.segmentFiles().map((f) => basename(f));
    expect(names.length).toBeGreaterThan(2);
    expect(names[0]).toBe('00000003-0000000000000001-0000000000000001.seg');
    names.forEach((n, i) => expect(n).toMatch(new RegExp(`^00000003-${(i + 1).toString(16).padStart(16, '0')}-[0-9a-f]{16}\\.seg$`)));
    // A segment's name carries the index of its first entry.
    const second = parseInt(names[1]!.split('-')[2]!.slice(0, 16), 16);
    expect(s.locate(second)!.file).toBe(s.segmentFiles()[1]);
    expect(s.locate(second - 1)!.file).toBe(s.segmentFiles()[0]);
    for (const f of s.segmentFiles().slice(0, -1)) expect(statSync(f).size).toBe(SEG); // preallocated
    expect(readdirSync(join(dir, 'data')).sort()).toEqual(['log', 'meta']);
    // The header records magic, format and group.
    const head = readFileSync(s.segmentFiles()[0]!);
    expect(head.subarray(17, 25).toString('latin1')).toBe('LATCHSEG');
    expect(head.readUInt32LE(26)).toBe(3);
    await s.close();
    expect(indexes(await open({ groupId: 3 }).load()).length).toBe(200);
  });

  it('stores a batch larger than a segment in one frame', async () => {
    const s = open();
    await s.load();
    await s.save({ entries: ents(1, 3, 1), hardState: hs(1, 1) }, true);
    await s.save({ entries: ents(4, 100, 1, 400), hardState: hs(1, 50) }, true); // ~40 KiB
    await s.save({ entries: ents(101, 102, 1), hardState: hs(1, 100) }, true);
    await s.close();
    const st = await open().load();
    expect(indexes(st)).toEqual(ents(1, 102, 1).map((e) => e.index));
    expect(plainState(st.entries.slice(3, 100))).toEqual(plainState(ents(4, 100, 1, 400)));
  });
});

describe('SegmentStorage torn tail', () => {
  it('drops a last frame cut at a page boundary (a write interrupted by SIGKILL), silently, and carries on', async () => {
    const s = open({ segmentBytes: 1 << 20 });
    await s.load();
    await fill(s, 3);
    await s.save({ entries: ents(31, 70, 1, 300), hardState: hs(1, 60) }, true); // ~12.5 KiB frame
    const at = s.locate(70)!;
    await s.close();
    const end = at.offset + 16 + frameLength(at.file, at.offset);
    const page = Math.ceil((at.offset + 100) / 4096) * 4096;
    expect(page).toBeLessThan(end);
    zero(at.file, page, end);
    const t = open({ segmentBytes: 1 << 20 });
    const st = await t.load();
    expect(indexes(st)).toEqual(ents(1, 30, 1).map((e) => e.index));
    expect(st.hardState).toEqual(hs(1, 25));
    expect(readFileSync(at.file).subarray(at.offset, end).every((b) => b === 0)).toBe(true); // the debris is zeroed
    await t.save({ entries: ents(31, 32, 2), hardState: hs(2, 31) }, true);
    await t.close();
    const again = await open({ segmentBytes: 1 << 20 }).load();
    expect(plainState(again.entries)).toEqual(plainState([...ents(1, 30, 1, 200), ...ents(31, 32, 2)]));
  });

  it('drops a last frame that runs past the end of the file', async () => {
    const s = open();
    await s.load();
    await fill(s, 4);
    const at = s.locate(40)!;
    await s.close();
    truncateSync(at.file, at.offset + 16 + Math.floor(frameLength(at.file, at.offset) / 2));
    const st = await open().load();
    expect(indexes(st).at(-1)).toBe(30);
    expect(st.hardState).toEqual(hs(1, 25));
  });
});

describe('SegmentStorage refuses corruption', () => {
  it('a flipped byte in a middle record: STORAGE_FATAL naming the file and byte offset, nothing changed', async () => {
    const s = open();
    await s.load();
    await fill(s, 3);
    const at = s.locate(15)!;
    await s.close();
    flip(at.file, at.offset + 16 + 40);
    const before = await contents(join(dir, 'data'));
    const fatal = await expectFatal(open(), /corrupt at byte offset/);
    expect(fatal.message).toContain(`segment ${at.file} is corrupt at byte offset ${at.offset}: record checksum mismatch`);
    await storages.pop()!.close();
    expect(await contents(join(dir, 'data'))).toEqual(before);
  });

  it('a flipped byte in the last record is corruption too, not a torn write', async () => {
    const s = open();
    await s.load();
    await fill(s, 3);
    const at = s.locate(30)!;
    await s.close();
    flip(at.file, at.offset + 16 + 100);
    const before = await contents(join(dir, 'data'));
    await expectFatal(open(), new RegExp(`corrupt at byte offset ${at.offset}: record checksum mismatch`));
    await storages.pop()!.close();
    expect(await contents(join(dir, 'data'))).toEqual(before);
  });

  it('a flipped byte in a frame header (the length), in the last or a middle record', async () => {
    const s = open();
    await s.load();
    await fill(s, 3);
    const last = s.locate(30)!;
    const mid = s.locate(12)!;
    await s.close();
    flip(last.file, last.offset + 1);
    await expectFatal(open(), new RegExp(`corrupt at byte offset ${last.offset}: the frame header fails its checksum`));
    flip(last.file, last.offset + 1);
    flip(mid.file, mid.offset + 2);
    await expectFatal(open(), new RegExp(`corrupt at byte offset ${mid.offset}: the frame header fails its checksum`));
  });

  it('damage in a segment that is not the last, even if it looks torn', async () => {
    const s = open();
    await s.load();
    await fill(s, 20);
    const files0 = s.segmentFiles();
    expect(files0.length).toBeGreaterThan(2);
    const at = s.locate(parseInt(basename(files0[1]!).split('-')[2]!.slice(0, 16), 16) - 1)!; // the last frame of the first segment
    expect(at.file).toBe(files0[0]);
    await s.close();
    const end = at.offset + 16 + frameLength(at.file, at.offset);
    zero(at.file, end - 600, end);
    await expectFatal(open(), new RegExp(`segment ${at.file} is corrupt at byte offset ${at.offset}`));
  });

  it('a segment missing from the middle, or every segment gone', async () => {
    const s = open();
    await s.load();
    await fill(s, 20);
    const segs = s.segmentFiles();
    await s.close();
    unlinkSync(segs[1]!);
    await expectFatal(open(), /log segment seq 2 is missing/);
    for (const f of segs) if (f !== segs[1]) unlinkSync(f);
    await expectFatal(open(), /no log segments in .*, but the meta db says the log was created/);
  });

  it('leading segments deleted though their entries were not compacted', async () => {
    const s = open();
    await s.load();
    await fill(s, 20);
    const segs = s.segmentFiles();
    await s.close();
    unlinkSync(segs[0]!);
    await expectFatal(open(), /log entries 1\.\.\d+ are missing: the segments that held them are gone/);
  });

  it('a log whose snapshot is missing from the meta db', async () => {
    const s = open();
    await s.load();
    await fill(s, 3);
    await s.compact(snap(12, 1, 250));
    await s.close();
    const db = new Level<string, Uint8Array>(join(dir, 'data', 'meta'), { valueEncoding: 'view' });
    await db.open();
    for await (const k of db.keys()) if (k.includes('/snap/')) await db.del(k);
    await db.close();
    await expectFatal(open(), /snapshot base is index 12, but no snapshot at 12 is stored/);
  });

  it('a meta db that was deleted under existing segments', async () => {
    const s = open();
    await s.load();
    await fill(s, 2);
    await s.close();
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, 'data', 'meta'), { recursive: true });
    await expectFatal(open(), /log segments exist .* but the meta db was missing or empty/);
  });
});

describe('SegmentStorage refuses other data dirs, leaving them untouched', () => {
  it('a LevelStorage data dir', async () => {
    const path = join(dir, 'old');
    const l = new LevelStorage(path);
    await l.load();
    await l.save({ entries: ents(1, 5, 1), hardState: hs(1, 3) }, true);
    await l.close();
    const before = files(path);
    await expectFatal(open({}, path), /holds a LevelStorage database .* does not read or migrate it/);
    expect(files(path)).toEqual(before);
    expect(indexes(await new LevelStorage(path).load())).toEqual([1, 2, 3, 4, 5]); // still LevelStorage's
  });

  it('and LevelStorage refuses a SegmentStorage dir', async () => {
    const s = open();
    await s.load();
    await fill(s, 1);
    await s.close();
    const l = new LevelStorage(join(dir, 'data'));
    storages.push(l);
    await expect(l.load()).rejects.toThrow(/no LevelDB CURRENT file but is not empty \((log, meta|meta, log)\)/);
  });

  it('a foreign dir, or a path that is a file', async () => {
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'hello');
    await expectFatal(open({}, foreign), /not SegmentStorage's \(notes\.txt\)/);
    expect(readdirSync(foreign)).toEqual(['notes.txt']);
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    await expectFatal(open({}, file), /exists but is not a directory/);
  });

  it('a dir locked by another SegmentStorage, in this process or another', async () => {
    const first = open();
    await first.load();
    await fill(first, 1);
    await expectFatal(open(), /locked: another process or another SegmentStorage holds its LOCK/);
    await first.save({ entries: ents(11, 11, 1) }, true);
    await first.close();
    const holder = Writer.start(['hold', join(dir, 'data'), 'segment']);
    writers.push(holder);
    expect(await holder.next()).toBe('ready');
    await expectFatal(open(), /locked/);
    await holder.kill();
    expect(indexes(await open().load()).at(-1)).toBe(11);
  });
});

describe('SegmentStorage compaction and snapshots', () => {
  it('deletes whole segments below the snapshot, keeps a partly covered one and skips its old entries', async () => {
    const s = open();
    await s.load();
    await fill(s, 30);
    const segs = s.segmentFiles();
    const at = s.locate(150)!;
    const k = segs.indexOf(at.file);
    expect(k).toBeGreaterThan(1);
    await s.compact(snap(150, 1, 500));
    expect(s.segmentFiles()).toEqual(segs.slice(k)); // the one holding 151 (and 150) stays
    await s.close();
    const st = await open().load();
    expect(st.snapshot).toEqual(meta(150, 1));
    expect(indexes(st)[0]).toBe(151);
    expect(indexes(st).at(-1)).toBe(300);
  });

  it('a received snapshot deletes every older segment', async () => {
    const s = open();
    await s.load();
    await fill(s, 20);
    await s.save({ snapshot: snap(500, 3, 300), entries: ents(501, 503, 3), hardState: hs(3, 500) }, true);
    expect(s.segmentFiles().length).toBe(1);
    await s.close();
    const st = await open().load();
    expect(indexes(st)).toEqual([501, 502, 503]);
    expect(hex((await (storages.at(-1) as SegmentStorage).readSnapshot())!.data)).toBe(hex(snap(500, 3, 300).data));
  });

  it('ignores a snapshot stored without the record that makes it current (an install cut short), then deletes it', async () => {
    const s = open();
    await s.load();
    await fill(s, 3);
    await s.compact(snap(10, 1, 250));
    const before = plainState(await s.load());
    await s.close();
    // What a crash between storing a received snapshot and appending its frame leaves behind.
    const db = new Level<string, Uint8Array>(join(dir, 'data', 'meta'), { valueEncoding: 'view' });
    await db.open();
    const orphan = 'g/00000001/snap/0000000000000063/';
    await db.put(`${orphan}data/00000000`, new Uint8Array(10).fill(9));
    await db.put(`${orphan}meta`, encode({ meta: meta(99, 4), size: 10, chunkSize: 100, chunks: 1, crc: 0 }));
    await db.close();
    const t = open();
    expect(plainState(await t.load())).toEqual(before);
    expect((await t.readSnapshot())!.meta).toEqual(meta(10, 1));
    await t.compact(snap(20, 1, 50));
    await t.close();
    const keys: string[] = [];
    const db2 = new Level<string, Uint8Array>(join(dir, 'data', 'meta'), { valueEncoding: 'view' });
    await db2.open();
    for await (const key of db2.keys()) keys.push(key);
    await db2.close();
    expect(keys.filter((key) => key.includes('/snap/'))).toEqual(['g/00000001/snap/0000000000000014/data/00000000', 'g/00000001/snap/0000000000000014/meta']);
  });
});
